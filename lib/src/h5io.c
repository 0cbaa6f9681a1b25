/* h5io.c — reads and writes the HDF5 library file (docs/FORMAT.md); the only file that calls HDF5. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hdf5.h>

#include "kernels/kernels.h"
#include "sm_internal.h"

/* Largest element count accepted for any array read from a file. Sizes come from
 * the file, which may be damaged or hostile: refuse them before allocating. */
#define MAX_ELEMS ((uint64_t)1 << 34)
/* Longest string attribute accepted (tool version, date, checksum). */
#define MAX_ATTR_STR 4096u
/* Chunk length in elements: large enough for good compression, small enough that
 * one chunk of a small library is not mostly padding. */
#define CHUNK_ELEMS 65536u
#define DEFLATE_LEVEL 4u

/* Where errors go: every message names the library file. */
typedef struct io {
    const char *path;
    sm_error *err;
    unsigned threads; /* threads that (de)compress chunks (chunks.c); 0 counts as 1 */
} io;

/* ------------------------------------------------------------------ */
/* HDF5 errors                                                         */

/* HDF5 prints its error stack to stderr by default; the library must not print.
 * Printing is turned off only for the duration of one of our calls and the
 * caller's handler is put back afterwards. */
typedef struct quiet {
    H5E_auto2_t func;
    void *data;
    int saved;
} quiet;

static void quiet_begin(quiet *q)
{
    q->saved = H5Eget_auto2(H5E_DEFAULT, &q->func, &q->data) >= 0;
    if (q->saved)
        H5Eset_auto2(H5E_DEFAULT, NULL, NULL);
}

static void quiet_end(const quiet *q)
{
    if (q->saved)
        H5Eset_auto2(H5E_DEFAULT, q->func, q->data);
}

typedef struct walk {
    char first[256];  /* what the API call said */
    char last[256];   /* the innermost cause, usually the useful part */
    unsigned count;
} walk;

static herr_t walk_cb(unsigned n, const H5E_error2_t *e, void *data)
{
    walk *w = data;
    const char *desc = (e->desc != NULL && e->desc[0] != '\0') ? e->desc : "(no description)";
    const char *func = e->func_name != NULL ? e->func_name : "?";
    if (n == 0)
        snprintf(w->first, sizeof w->first, "%s: %s", func, desc);
    snprintf(w->last, sizeof w->last, "%s: %s", func, desc);
    w->count++;
    return 0;
}

/* Records an HDF5 failure; must run right after the failing call, before any other
 * HDF5 call clears the default error stack. */
static sm_status h5fail(const io *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static sm_status h5fail(const io *x, const char *fmt, ...)
{
    char what[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);

    walk w;
    memset(&w, 0, sizeof w);
    if (H5Ewalk2(H5E_DEFAULT, H5E_WALK_DOWNWARD, walk_cb, &w) < 0 || w.count == 0)
        return sm_seterr_(x->err, SM_ERR_HDF5, x->path, 0, "%s (HDF5 gave no details)", what);
    if (w.count == 1)
        return sm_seterr_(x->err, SM_ERR_HDF5, x->path, 0, "%s: HDF5: %s", what, w.first);
    return sm_seterr_(x->err, SM_ERR_HDF5, x->path, 0, "%s: HDF5: %s (%s)", what, w.first,
                      w.last);
}

static void close_id(hid_t *id)
{
    if (*id < 0)
        return;
    switch (H5Iget_type(*id)) {
    case H5I_FILE: H5Fclose(*id); break;
    case H5I_GROUP: H5Gclose(*id); break;
    case H5I_DATASET: H5Dclose(*id); break;
    case H5I_ATTR: H5Aclose(*id); break;
    case H5I_DATASPACE: H5Sclose(*id); break;
    case H5I_DATATYPE: H5Tclose(*id); break;
    case H5I_GENPROP_LST: H5Pclose(*id); break;
    default: break;
    }
    *id = H5I_INVALID_HID;
}

/* ------------------------------------------------------------------ */
/* Portable little-endian images for the checksum                      */

static void put_le(uint8_t *dst, uint64_t v, unsigned nbytes)
{
    for (unsigned i = 0; i < nbytes; i++)
        dst[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t f64_bits(double d)
{
    uint64_t u;
    memcpy(&u, &d, sizeof u);
    return u;
}

enum kind { K_U8, K_U16, K_U32, K_U64, K_F64, K_F32 };

static unsigned kind_width(enum kind k)
{
    return k == K_U8 ? 1u : k == K_U16 ? 2u : k == K_U32 || k == K_F32 ? 4u : 8u;
}

/* Feeds n values of the given kind as their little-endian byte images, in blocks so
 * that a big array is not copied whole (on a little-endian machine the memory is
 * that image already). */
static void hash_array(sm_sha256 *c, const void *p, size_t n, enum kind k)
{
    uint8_t buf[4096];
    unsigned w = kind_width(k);
    size_t per = sizeof buf / w;
    if (p == NULL)
        return;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    (void)buf;
    (void)per;
    sm_sha256_update_(c, p, n * w);
#else
    for (size_t i = 0; i < n;) {
        size_t m = n - i < per ? n - i : per;
        for (size_t j = 0; j < m; j++) {
            uint64_t v = 0;
            switch (k) {
            case K_U8: v = ((const uint8_t *)p)[i + j]; break;
            case K_U16: v = ((const uint16_t *)p)[i + j]; break;
            case K_U32: v = ((const uint32_t *)p)[i + j]; break;
            case K_U64: v = ((const uint64_t *)p)[i + j]; break;
            case K_F64: v = f64_bits(((const double *)p)[i + j]); break;
            case K_F32: {
                uint32_t u;
                memcpy(&u, (const float *)p + i + j, sizeof u);
                v = u;
                break;
            }
            }
            put_le(buf + j * w, v, w);
        }
        sm_sha256_update_(c, buf, m * w);
        i += m;
    }
#endif
}

static void hash_u64(sm_sha256 *c, uint64_t v)
{
    uint8_t b[8];
    put_le(b, v, 8);
    sm_sha256_update_(c, b, 8);
}

static void hash_u32(sm_sha256 *c, uint32_t v)
{
    uint8_t b[4];
    put_le(b, v, 4);
    sm_sha256_update_(c, b, 4);
}

/* An empty library may come without offset arrays; its offsets are the single 0. */
static const uint64_t zero_off[1] = {0};

static const uint64_t *offsets_of(const uint64_t *off, size_t n)
{
    return (off == NULL && n == 0) ? zero_off : off;
}

/* Everything after the peaks as read, ending in the digest. */
/* A string column: its n + 1 offsets, then the bytes of its strings (no NULs). */
static void hash_strcol(sm_sha256 *c, const sm_strcol *col, size_t n)
{
    const uint64_t *off = offsets_of(col->off, n);
    hash_array(c, off, n + 1, K_U64);
    if (col->data == NULL || off == NULL)
        return;
    for (size_t i = 0; i < n; i++)
        sm_sha256_update_(c, col->data + off[i] + i, (size_t)(off[i + 1] - off[i]));
}

static void checksum_tail(sm_sha256 *cp, const sm_library *lib, char out[80]);

void sm_content_checksum_(const sm_library *lib, char out[80])
{
    sm_sha256 c;
    size_t n = lib->n;
    sm_sha256_init_(&c);

    hash_u64(&c, n);
    hash_array(&c, offsets_of(lib->peak_off, n), n + 1, K_U64);
    hash_array(&c, lib->peak_mz, lib->n_peaks, K_F64);
    hash_array(&c, lib->peak_int, lib->n_peaks, K_F64);
    checksum_tail(&c, lib, out);
}

static void checksum_rest(sm_sha256 *cp, const sm_library *lib, char out[80]);

static void checksum_tail(sm_sha256 *cp, const sm_library *lib, char out[80])
{
    sm_sha256 c = *cp;
    size_t n = lib->n;
    hash_array(&c, offsets_of(lib->nom_off, n), n + 1, K_U64);
    hash_array(&c, lib->nom_mz, lib->n_nom, K_U16);
    hash_array(&c, lib->nom_int, lib->n_nom, K_U16);
    checksum_rest(&c, lib, out);
}

/* What follows the nominal spectra: metadata, sources, format; then the digest. */
static void checksum_rest(sm_sha256 *cp, const sm_library *lib, char out[80])
{
    sm_sha256 c = *cp;
    uint8_t digest[32];
    size_t n = lib->n;

    for (int f = 0; f < SM_FIELD_COUNT; f++)
        hash_strcol(&c, &lib->col[f], n);

    hash_array(&c, lib->mw, n, K_F64);
    hash_array(&c, lib->exact_mass, n, K_F64);
    hash_array(&c, lib->source_index, n, K_U32);

    hash_u64(&c, lib->n_sources);
    for (size_t j = 0; j < lib->n_sources; j++) {
        const char *p = lib->source_path != NULL && lib->source_path[j] ? lib->source_path[j] : "";
        const char *h =
            lib->source_sha256 != NULL && lib->source_sha256[j] ? lib->source_sha256[j] : "";
        /* The NUL after each string keeps ("ab","c") apart from ("a","bc"). */
        sm_sha256_update_(&c, p, strlen(p) + 1);
        sm_sha256_update_(&c, h, strlen(h) + 1);
        hash_u64(&c, lib->source_count != NULL ? lib->source_count[j] : 0);
    }

    hash_u32(&c, (uint32_t)lib->fmt_major);
    hash_u32(&c, (uint32_t)lib->fmt_minor);
    hash_u64(&c, f64_bits(lib->mz_round_boundary));
    hash_u32(&c, (uint32_t)lib->base_peak);

    sm_sha256_final_(&c, digest);
    memcpy(out, "sha256:", 7);
    sm_hex_(digest, sizeof digest, out + 7);
}

/* docs/FORMAT.md "/controls": n, then per control field its offsets and bytes. The
 * content checksum does not cover the table, so that the same spectra give the same
 * content checksum with or without one; this one protects the table. */
void sm_controls_checksum_(const sm_library *lib, char out[80])
{
    sm_sha256 c;
    uint8_t digest[32];
    size_t n = lib->n;
    sm_sha256_init_(&c);
    hash_u64(&c, n);
    for (int f = 0; f < SM_CONTROL_COUNT; f++)
        hash_strcol(&c, &lib->ctl[f], n);
    sm_sha256_final_(&c, digest);
    memcpy(out, "sha256:", 7);
    sm_hex_(digest, sizeof digest, out + 7);
}

/* ------------------------------------------------------------------ */
/* Writing                                                             */

static sm_status write_attr_num(const io *x, hid_t loc, const char *name, hid_t ftype,
                                hid_t mtype, const void *val)
{
    sm_status st = SM_OK;
    hid_t space = H5I_INVALID_HID, attr = H5I_INVALID_HID;

    if ((space = H5Screate(H5S_SCALAR)) < 0 ||
        (attr = H5Acreate2(loc, name, ftype, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(attr, mtype, val) < 0)
        st = h5fail(x, "cannot write attribute '%s'", name);

    close_id(&attr);
    close_id(&space);
    return st;
}

static sm_status write_attr_str(const io *x, hid_t loc, const char *name, const char *val)
{
    sm_status st = SM_OK;
    hid_t space = H5I_INVALID_HID, type = H5I_INVALID_HID, attr = H5I_INVALID_HID;
    if (val == NULL)
        val = "";

    /* Fixed-length, NUL-terminated: the simplest string every HDF5 reader handles. */
    if ((type = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(type, strlen(val) + 1) < 0 ||
        H5Tset_strpad(type, H5T_STR_NULLTERM) < 0 || (space = H5Screate(H5S_SCALAR)) < 0 ||
        (attr = H5Acreate2(loc, name, type, space, H5P_DEFAULT, H5P_DEFAULT)) < 0 ||
        H5Awrite(attr, type, val) < 0)
        st = h5fail(x, "cannot write attribute '%s'", name);

    close_id(&attr);
    close_id(&space);
    close_id(&type);
    return st;
}

static sm_status make_group(const io *x, hid_t parent, const char *name, const char *full,
                            hid_t *out)
{
    sm_status st = SM_OK;
    hid_t gcpl = H5I_INVALID_HID;
    /* No modification times in object headers: the same content gives the same file. */
    if ((gcpl = H5Pcreate(H5P_GROUP_CREATE)) < 0 || H5Pset_obj_track_times(gcpl, 0) < 0 ||
        (*out = H5Gcreate2(parent, name, H5P_DEFAULT, gcpl, H5P_DEFAULT)) < 0)
        st = h5fail(x, "cannot create group %s", full);
    close_id(&gcpl);
    return st;
}

/* Chunks read or written as stored (H5Dread_chunk, H5Dwrite_chunk), decoded or
 * encoded on threads by chunks.c, DIRECT_BATCH at a time; only little-endian types on
 * a little-endian host, whose bytes in memory are those in the file. */
#define DIRECT_BATCH 16u

static bool host_little_endian(void)
{
    const uint16_t one = 1;
    uint8_t b;
    memcpy(&b, &one, 1);
    return b == 1;
}

/* buf's n elements written chunk by chunk (`chunk` elements each), every chunk
 * shuffled and deflated here on x->threads threads (chunks.c) into the bytes HDF5's
 * filters would give it, and written as stored: HDF5 alone compresses one chunk
 * after another on one core. */
static sm_status chunks_write(const io *x, hid_t ds, const char *full, size_t n,
                              size_t chunk, size_t elsize, const void *buf)
{
    const size_t bytes = chunk * elsize, room = sm_chunk_room_(bytes);
    const unsigned t = x->threads == 0         ? 1
                       : x->threads > SM_CHUNK_THREADS ? SM_CHUNK_THREADS
                                                       : x->threads;
    uint8_t *packed = malloc(DIRECT_BATCH * room), *scratch = malloc(t * bytes);
    sm_status st = SM_OK;
    if (packed == NULL || scratch == NULL) {
        st = sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory writing %s", full);
        goto out;
    }
    sm_chunk_job job[DIRECT_BATCH];
    for (size_t c0 = 0; c0 < n; c0 += DIRECT_BATCH * chunk) {
        size_t nj = 0;
        for (size_t o = c0; o < n && nj < DIRECT_BATCH; o += chunk, nj++)
            job[nj] = (sm_chunk_job){
                .packed = packed + nj * room,
                .packed_len = room,
                /* only read when encoding */
                .plain = (uint8_t *)(uintptr_t)((const uint8_t *)buf + o * elsize),
                .n_valid = n - o < chunk ? n - o : chunk,
            };
        size_t bad = sm_chunks_encode_(job, nj, chunk, elsize, DEFLATE_LEVEL, t, scratch);
        if (bad != SIZE_MAX) {
            st = sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0,
                            "cannot compress dataset %s (zlib failed)", full);
            goto out;
        }
        for (size_t k = 0; k < nj; k++) {
            hsize_t off[1] = {c0 + k * chunk};
            if (H5Dwrite_chunk(ds, H5P_DEFAULT, 0, off, job[k].packed_len, job[k].packed) < 0) {
                st = h5fail(x, "cannot write dataset %s", full);
                goto out;
            }
        }
    }
out:
    free(packed);
    free(scratch);
    return st;
}

/* A 1-D chunked, shuffled and deflated dataset of n elements. The dimension is
 * extendible so that n = 0 is legal: HDF5 refuses a fixed zero-size dimension with a
 * non-zero chunk. */
static sm_status write_ds(const io *x, hid_t loc, const char *name, const char *full,
                          hid_t ftype, hid_t mtype, size_t n, const void *buf)
{
    sm_status st = SM_OK;
    hid_t space = H5I_INVALID_HID, dcpl = H5I_INVALID_HID, ds = H5I_INVALID_HID;
    hsize_t dims[1] = {n};
    hsize_t maxdims[1] = {H5S_UNLIMITED};
    hsize_t chunk[1] = {n == 0 ? 1 : n < CHUNK_ELEMS ? n : CHUNK_ELEMS};

    if ((space = H5Screate_simple(1, dims, maxdims)) < 0 ||
        (dcpl = H5Pcreate(H5P_DATASET_CREATE)) < 0 || H5Pset_chunk(dcpl, 1, chunk) < 0 ||
        H5Pset_obj_track_times(dcpl, 0) < 0) {
        st = h5fail(x, "cannot prepare dataset %s", full);
        goto out;
    }
    /* Compression is optional: a file without it is still a valid library. */
    bool shuffled = H5Zfilter_avail(H5Z_FILTER_SHUFFLE) > 0,
         deflated = H5Zfilter_avail(H5Z_FILTER_DEFLATE) > 0;
    if ((shuffled && H5Pset_shuffle(dcpl) < 0) ||
        (deflated && H5Pset_deflate(dcpl, DEFLATE_LEVEL) < 0)) {
        st = h5fail(x, "cannot prepare dataset %s", full);
        goto out;
    }
    if ((ds = H5Dcreate2(loc, name, ftype, space, H5P_DEFAULT, dcpl, H5P_DEFAULT)) < 0) {
        st = h5fail(x, "cannot create dataset %s", full);
        goto out;
    }
    /* Nothing to write for an empty array (and buf may be NULL then). The chunks are
     * compressed here whenever both filters are there, whatever x->threads, so that
     * the file's bytes never depend on the number of cores. */
    if (n > 0 && shuffled && deflated && host_little_endian() && H5Tequal(ftype, mtype) > 0)
        st = chunks_write(x, ds, full, n, (size_t)chunk[0], H5Tget_size(ftype), buf);
    else if (n > 0 && H5Dwrite(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
        st = h5fail(x, "cannot write dataset %s", full);

out:
    close_id(&ds);
    close_id(&dcpl);
    close_id(&space);
    return st;
}

/* Writes group/offsets and group/data for n strings given by offsets and bytes. */
static sm_status write_strings(const io *x, hid_t parent, const char *name, const char *full,
                               const uint64_t *off, size_t n, const char *bytes)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    char sub[256];

    if ((st = make_group(x, parent, name, full, &g)) != SM_OK)
        goto out;
    snprintf(sub, sizeof sub, "%s/offsets", full);
    if ((st = write_ds(x, g, "offsets", sub, H5T_STD_U64LE, H5T_NATIVE_UINT64, n + 1, off)) !=
        SM_OK)
        goto out;
    snprintf(sub, sizeof sub, "%s/data", full);
    st = write_ds(x, g, "data", sub, H5T_STD_U8LE, H5T_NATIVE_UCHAR, (size_t)off[n], bytes);

out:
    close_id(&g);
    return st;
}

/* Offsets must start at 0, never decrease and end at the data length. */
static int offsets_ok(const uint64_t *off, size_t n, uint64_t len)
{
    if (off[0] != 0 || off[n] != len)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (off[i + 1] < off[i])
            return 0;
    return 1;
}

/* Copies a column's strings without the in-memory NULs (the file form). */
static sm_status pack_strcol(const io *x, const sm_strcol *col, size_t n, const char *field,
                             const uint64_t **off_out, char **bytes_out)
{
    const uint64_t *off = offsets_of(col->off, n);
    char *bytes = NULL;
    if (off == NULL || (n > 0 && col->data == NULL) || !offsets_ok(off, n, off[n]) ||
        (col->data != NULL && col->len != off[n] + n))
        return sm_seterr_(x->err, SM_ERR_ARG, x->path, 0,
                          "cannot write library: column '%s' is inconsistent", field);
    if (off[n] > SIZE_MAX - 1 || (bytes = malloc((size_t)off[n] + 1)) == NULL)
        return sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory writing '%s'", field);
    for (size_t i = 0; i < n; i++)
        memcpy(bytes + off[i], col->data + off[i] + i, (size_t)(off[i + 1] - off[i]));
    *off_out = off;
    *bytes_out = bytes;
    return SM_OK;
}

/* Concatenates an array of C strings into offsets + bytes. */
static sm_status pack_strv(const io *x, char *const *v, size_t n, uint64_t **off_out,
                           char **bytes_out)
{
    uint64_t *off = malloc((n + 1) * sizeof *off);
    char *bytes = NULL;
    size_t total = 0;
    if (off == NULL)
        goto nomem;
    off[0] = 0;
    for (size_t j = 0; j < n; j++) {
        total += strlen(v != NULL && v[j] != NULL ? v[j] : "");
        off[j + 1] = total;
    }
    if ((bytes = malloc(total + 1)) == NULL)
        goto nomem;
    for (size_t j = 0; j < n; j++)
        if (v != NULL && v[j] != NULL)
            memcpy(bytes + off[j], v[j], (size_t)(off[j + 1] - off[j]));
    *off_out = off;
    *bytes_out = bytes;
    return SM_OK;

nomem:
    free(off);
    return sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory writing sources");
}

/* Refuses a struct whose arrays do not fit together, before anything is written. */
static sm_status check_for_write(const io *x, const sm_library *lib)
{
    size_t n = lib->n;
    const uint64_t *po = offsets_of(lib->peak_off, n), *no = offsets_of(lib->nom_off, n);
    int ok = po != NULL && no != NULL && offsets_ok(po, n, lib->n_peaks) &&
             offsets_ok(no, n, lib->n_nom) &&
             (lib->n_peaks == 0 || (lib->peak_mz != NULL && lib->peak_int != NULL)) &&
             (lib->n_nom == 0 || (lib->nom_mz != NULL && lib->nom_int != NULL)) &&
             (n == 0 || (lib->mw != NULL && lib->exact_mass != NULL &&
                         lib->source_index != NULL)) &&
             (lib->n_sources == 0 || lib->source_count != NULL) && n < MAX_ELEMS &&
             lib->n_sources <= UINT32_MAX;
    if (!ok)
        return sm_seterr_(x->err, SM_ERR_ARG, x->path, 0,
                          "cannot write library: its arrays are inconsistent");
    return SM_OK;
}

/* The control-status table (format 1.1): one string column per field and its
 * provenance and checksum as attributes of the group. */
static sm_status write_controls(const io *x, hid_t file, const sm_library *lib)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    char *bytes = NULL;
    char sum[80];
    uint64_t rows = lib->ctl_rows;
    size_t n = lib->n;

    if ((st = make_group(x, file, "controls", "/controls", &g)) != SM_OK)
        goto out;
    for (int f = 0; f < SM_CONTROL_COUNT; f++) {
        const char *fname = sm_control_field_name((sm_control_field)f);
        const uint64_t *off = NULL;
        char full[128];
        snprintf(full, sizeof full, "/controls/%s", fname);
        if ((st = pack_strcol(x, &lib->ctl[f], n, fname, &off, &bytes)) != SM_OK ||
            (st = write_strings(x, g, fname, full, off, n, bytes)) != SM_OK)
            goto out;
        free(bytes);
        bytes = NULL;
    }
    sm_controls_checksum_(lib, sum);
    if ((st = write_attr_str(x, g, "source", lib->ctl_source)) != SM_OK ||
        (st = write_attr_str(x, g, "source_sha256", lib->ctl_sha256)) != SM_OK ||
        (st = write_attr_num(x, g, "rows", H5T_STD_U64LE, H5T_NATIVE_UINT64, &rows)) != SM_OK ||
        (st = write_attr_str(x, g, "checksum", sum)) != SM_OK)
        goto out;

out:
    free(bytes);
    close_id(&g);
    return st;
}

/* docs/FORMAT.md "/index": its parameters and n, then its arrays in the order the
 * format lists them. The content checksum does not cover the index (derived data:
 * the same spectra give the same content checksum whichever index a file has). */
static void index_checksum(const sm_index *ix, size_t n, const uint64_t *off,
                           const uint16_t *w, const uint16_t *dense_mz, size_t n_dense,
                           char out[80])
{
    sm_sha256 c;
    uint8_t digest[32];
    sm_sha256_init_(&c);
    hash_u32(&c, SM_INDEX_VERSION);
    hash_u32(&c, (uint32_t)ix->block);
    hash_u32(&c, (uint32_t)ix->n_bins);
    hash_u32(&c, SM_INDEX_CUTS);
    hash_u32(&c, SM_INDEX_CUT0);
    hash_u32(&c, SM_INDEX_CUT_STEP);
    hash_u64(&c, n);
    hash_array(&c, ix->order, n, K_U32);
    hash_array(&c, off, n + 1, K_U64);
    hash_array(&c, w, (size_t)off[n], K_U16);
    hash_array(&c, dense_mz, n_dense, K_U16);
    hash_array(&c, ix->env, n_dense * ix->stride, K_U8);
    hash_array(&c, ix->sp_off, ix->n_bins + 1, K_U64);
    hash_array(&c, ix->sp_block, (size_t)ix->sp_off[ix->n_bins], K_U32);
    hash_array(&c, ix->sp_code, (size_t)ix->sp_off[ix->n_bins], K_U8);
    hash_array(&c, ix->row_scale, ix->n_bins, K_F32);
    hash_array(&c, ix->ratio, (size_t)SM_INDEX_CUTS * ix->stride, K_F32);
    sm_sha256_final_(&c, digest);
    memcpy(out, "sha256:", 7);
    sm_hex_(digest, sizeof digest, out + 7);
}

/* The search index (format 1.2), built here from the library's spectra, so that
 * opening the file for a search reads it instead of building it. */
static sm_status write_index(const io *x, hid_t file, const sm_library *lib)
{
    sm_index *ix = NULL;
    sm_packed_ pk = {0};
    uint16_t *dense_mz = NULL;
    hid_t g = H5I_INVALID_HID;
    size_t n = lib->n, n_dense = 0;
    sm_status st = sm_index_compute_(lib, &ix, &pk, x->err);
    if (st != SM_OK)
        return st;
    if ((dense_mz = malloc(ix->n_bins * sizeof *dense_mz)) == NULL) {
        st = sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory");
        goto out;
    }
    for (size_t m = 0; m < ix->n_bins; m++)
        if (ix->row_dense[m] >= 0)
            dense_mz[n_dense++] = (uint16_t)m; /* rows are numbered in m/z order */
    char sum[80];
    index_checksum(ix, n, pk.off, pk.w, dense_mz, n_dense, sum);
    const uint32_t attr_v[6] = {SM_INDEX_VERSION, (uint32_t)ix->block,
                                (uint32_t)ix->n_bins, SM_INDEX_CUTS, SM_INDEX_CUT0,
                                SM_INDEX_CUT_STEP};
    static const char *const attr_n[6] = {"version", "block", "n_bins", "cuts", "cut0",
                                          "cut_step"};
    size_t n_sparse = (size_t)ix->sp_off[ix->n_bins];
    if ((st = make_group(x, file, "index", "/index", &g)) != SM_OK)
        goto out;
    for (int a = 0; a < 6; a++)
        if ((st = write_attr_num(x, g, attr_n[a], H5T_STD_U32LE, H5T_NATIVE_UINT32,
                                 &attr_v[a])) != SM_OK)
            goto out;
    if ((st = write_attr_str(x, g, "checksum", sum)) != SM_OK ||
        (st = write_ds(x, g, "order", "/index/order", H5T_STD_U32LE, H5T_NATIVE_UINT32, n,
                       ix->order)) != SM_OK ||
        (st = write_ds(x, g, "word_offsets", "/index/word_offsets", H5T_STD_U64LE,
                       H5T_NATIVE_UINT64, n + 1, pk.off)) != SM_OK ||
        (st = write_ds(x, g, "words", "/index/words", H5T_STD_U16LE, H5T_NATIVE_UINT16,
                       pk.n_words, pk.w)) != SM_OK ||
        (st = write_ds(x, g, "dense_mz", "/index/dense_mz", H5T_STD_U16LE, H5T_NATIVE_UINT16,
                       n_dense, dense_mz)) != SM_OK ||
        (st = write_ds(x, g, "envelopes", "/index/envelopes", H5T_STD_U8LE, H5T_NATIVE_UINT8,
                       n_dense * ix->stride, ix->env)) != SM_OK ||
        (st = write_ds(x, g, "sparse_offsets", "/index/sparse_offsets", H5T_STD_U64LE,
                       H5T_NATIVE_UINT64, ix->n_bins + 1, ix->sp_off)) != SM_OK ||
        (st = write_ds(x, g, "sparse_block", "/index/sparse_block", H5T_STD_U32LE,
                       H5T_NATIVE_UINT32, n_sparse, ix->sp_block)) != SM_OK ||
        (st = write_ds(x, g, "sparse_code", "/index/sparse_code", H5T_STD_U8LE,
                       H5T_NATIVE_UINT8, n_sparse, ix->sp_code)) != SM_OK ||
        (st = write_ds(x, g, "row_scale", "/index/row_scale", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                       ix->n_bins, ix->row_scale)) != SM_OK ||
        (st = write_ds(x, g, "ratio", "/index/ratio", H5T_IEEE_F32LE, H5T_NATIVE_FLOAT,
                       (size_t)SM_INDEX_CUTS * ix->stride, ix->ratio)) != SM_OK)
        goto out;
out:
    close_id(&g);
    free(dense_mz);
    sm_packed_free_(&pk);
    sm_index_free_(ix);
    return st;
}

sm_status sm_h5_write_(const sm_library *lib, const char *path, sm_error *err)
{
    return sm_h5_write_threads_(lib, path, sm_cpu_count(), err);
}

sm_status sm_h5_write_threads_(const sm_library *lib, const char *path, unsigned threads,
                               sm_error *err)
{
    io x = {path, err, threads};
    sm_status st = SM_OK;
    quiet q;
    hid_t file = H5I_INVALID_HID, fapl = H5I_INVALID_HID, g = H5I_INVALID_HID;
    hid_t fcpl = H5I_INVALID_HID;
    uint64_t *src_off = NULL, *sha_off = NULL;
    char *src_bytes = NULL, *sha_bytes = NULL, *bytes = NULL;
    int created = 0;
    size_t n;

    if (lib == NULL || path == NULL)
        return sm_seterr_(err, SM_ERR_ARG, path, 0, "sm_h5_write_: NULL argument");
    if ((st = check_for_write(&x, lib)) != SM_OK)
        return st;
    n = lib->n;

    quiet_begin(&q);

    /* Close everything still open when the file closes, so an early exit cannot
     * leave the file half-open. */
    if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 || H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0) {
        st = h5fail(&x, "cannot create %s", path);
        goto out;
    }
    /* The first 512 bytes are an HDF5 user block that the specmatch header fills
     * once the file is complete (sm_h5_seal_). */
    if ((fcpl = H5Pcreate(H5P_FILE_CREATE)) < 0 ||
        H5Pset_userblock(fcpl, SM_HEADER_SIZE) < 0) {
        st = h5fail(&x, "cannot create %s", path);
        goto out;
    }
    if ((file = H5Fcreate(path, H5F_ACC_TRUNC, fcpl, fapl)) < 0) {
        st = h5fail(&x, "cannot create %s", path);
        goto out;
    }
    created = 1;

    /* Root attributes. */
    uint32_t major = (uint32_t)lib->fmt_major, minor = (uint32_t)lib->fmt_minor;
    uint32_t base = (uint32_t)lib->base_peak;
    uint64_t nsp = n;
    if ((st = write_attr_str(&x, file, "format", SM_FORMAT_NAME)) != SM_OK ||
        (st = write_attr_num(&x, file, "format_version_major", H5T_STD_U32LE,
                             H5T_NATIVE_UINT32, &major)) != SM_OK ||
        (st = write_attr_num(&x, file, "format_version_minor", H5T_STD_U32LE,
                             H5T_NATIVE_UINT32, &minor)) != SM_OK ||
        (st = write_attr_num(&x, file, "mz_round_boundary", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                             &lib->mz_round_boundary)) != SM_OK ||
        (st = write_attr_num(&x, file, "base_peak", H5T_STD_U32LE, H5T_NATIVE_UINT32, &base)) !=
            SM_OK ||
        (st = write_attr_str(&x, file, "tool_version", lib->tool_version)) != SM_OK ||
        (st = write_attr_str(&x, file, "created", lib->created)) != SM_OK ||
        (st = write_attr_str(&x, file, "checksum", lib->checksum)) != SM_OK ||
        (st = write_attr_num(&x, file, "n_spectra", H5T_STD_U64LE, H5T_NATIVE_UINT64, &nsp)) !=
            SM_OK)
        goto out;

    /* Peaks as read. */
    if ((st = make_group(&x, file, "peaks", "/peaks", &g)) != SM_OK ||
        (st = write_ds(&x, g, "offsets", "/peaks/offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                       n + 1, offsets_of(lib->peak_off, n))) != SM_OK ||
        (st = write_ds(&x, g, "mz", "/peaks/mz", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE,
                       lib->n_peaks, lib->peak_mz)) != SM_OK ||
        (st = write_ds(&x, g, "intensity", "/peaks/intensity", H5T_IEEE_F64LE,
                       H5T_NATIVE_DOUBLE, lib->n_peaks, lib->peak_int)) != SM_OK)
        goto out;
    close_id(&g);

    /* Preprocessed nominal spectra. */
    if ((st = make_group(&x, file, "search", "/search", &g)) != SM_OK ||
        (st = write_ds(&x, g, "offsets", "/search/offsets", H5T_STD_U64LE, H5T_NATIVE_UINT64,
                       n + 1, offsets_of(lib->nom_off, n))) != SM_OK ||
        (st = write_ds(&x, g, "mz", "/search/mz", H5T_STD_U16LE, H5T_NATIVE_UINT16, lib->n_nom,
                       lib->nom_mz)) != SM_OK ||
        (st = write_ds(&x, g, "intensity", "/search/intensity", H5T_STD_U16LE,
                       H5T_NATIVE_UINT16, lib->n_nom, lib->nom_int)) != SM_OK)
        goto out;
    close_id(&g);

    /* Compound metadata. */
    if ((st = make_group(&x, file, "compounds", "/compounds", &g)) != SM_OK)
        goto out;
    for (int f = 0; f < SM_FIELD_COUNT; f++) {
        const char *fname = sm_field_name((sm_field)f);
        const uint64_t *off = NULL;
        char full[128];
        snprintf(full, sizeof full, "/compounds/%s", fname);
        if ((st = pack_strcol(&x, &lib->col[f], n, fname, &off, &bytes)) != SM_OK ||
            (st = write_strings(&x, g, fname, full, off, n, bytes)) != SM_OK)
            goto out;
        free(bytes);
        bytes = NULL;
    }
    if ((st = write_ds(&x, g, "mw", "/compounds/mw", H5T_IEEE_F64LE, H5T_NATIVE_DOUBLE, n,
                       lib->mw)) != SM_OK ||
        (st = write_ds(&x, g, "exact_mass", "/compounds/exact_mass", H5T_IEEE_F64LE,
                       H5T_NATIVE_DOUBLE, n, lib->exact_mass)) != SM_OK ||
        (st = write_ds(&x, g, "source_index", "/compounds/source_index", H5T_STD_U32LE,
                       H5T_NATIVE_UINT32, n, lib->source_index)) != SM_OK)
        goto out;
    close_id(&g);

    /* Provenance of the source files. */
    size_t ns = lib->n_sources;
    if ((st = pack_strv(&x, lib->source_path, ns, &src_off, &src_bytes)) != SM_OK ||
        (st = pack_strv(&x, lib->source_sha256, ns, &sha_off, &sha_bytes)) != SM_OK ||
        (st = make_group(&x, file, "sources", "/sources", &g)) != SM_OK ||
        (st = write_strings(&x, g, "path", "/sources/path", src_off, ns, src_bytes)) != SM_OK ||
        (st = write_strings(&x, g, "sha256", "/sources/sha256", sha_off, ns, sha_bytes)) !=
            SM_OK ||
        (st = write_ds(&x, g, "n_spectra", "/sources/n_spectra", H5T_STD_U64LE,
                       H5T_NATIVE_UINT64, ns, lib->source_count)) != SM_OK)
        goto out;
    close_id(&g);

    if (lib->has_controls && (st = write_controls(&x, file, lib)) != SM_OK)
        goto out;
    if (n > 0 && (st = write_index(&x, file, lib)) != SM_OK)
        goto out;

    /* Closing flushes: a failure here (disk full) means the file is not complete. */
    if (H5Fclose(file) < 0) {
        file = H5I_INVALID_HID;
        st = h5fail(&x, "cannot finish writing %s", path);
        goto out;
    }
    file = H5I_INVALID_HID;
    st = sm_h5_seal_(path, err);

out:
    close_id(&g);
    close_id(&file);
    close_id(&fcpl);
    close_id(&fapl);
    quiet_end(&q);
    free(bytes);
    free(src_off);
    free(src_bytes);
    free(sha_off);
    free(sha_bytes);
    /* A half-written file is of no use to anyone; only remove what we created. */
    if (st != SM_OK && created)
        remove(path);
    return st;
}

/* ------------------------------------------------------------------ */
/* Reading                                                             */

static sm_status fmt_err(const io *x, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static sm_status fmt_err(const io *x, const char *fmt, ...)
{
    char msg[900];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sm_seterr_(x->err, SM_ERR_FORMAT, x->path, 0, "damaged or invalid library: %s", msg);
}

/* Tells a missing link (a format problem) from an HDF5 failure. */
static sm_status need_link(const io *x, hid_t loc, const char *name, const char *full,
                           const char *kind)
{
    htri_t e = H5Lexists(loc, name, H5P_DEFAULT);
    if (e < 0)
        return h5fail(x, "cannot look up %s %s", kind, full);
    if (e == 0)
        return fmt_err(x, "missing %s %s", kind, full);
    return SM_OK;
}

static sm_status open_group(const io *x, hid_t parent, const char *name, const char *full,
                            hid_t *out)
{
    sm_status st = need_link(x, parent, name, full, "group");
    if (st != SM_OK)
        return st;
    if ((*out = H5Gopen2(parent, name, H5P_DEFAULT)) < 0)
        return h5fail(x, "cannot open group %s", full);
    return SM_OK;
}

/* The file types a reader accepts for an element kind, and the memory type. Exact
 * types, not just the class: a damaged type message (say an integer millions of bytes
 * wide) would otherwise reach HDF5's conversion code, which does not survive it. */
static size_t kind_types(enum kind k, hid_t *le, hid_t *be, hid_t *mem)
{
    switch (k) {
    case K_U8: *le = H5T_STD_U8LE; *be = H5T_STD_U8BE; *mem = H5T_NATIVE_UINT8; return 1;
    case K_U16: *le = H5T_STD_U16LE; *be = H5T_STD_U16BE; *mem = H5T_NATIVE_UINT16; return 2;
    case K_U32: *le = H5T_STD_U32LE; *be = H5T_STD_U32BE; *mem = H5T_NATIVE_UINT32; return 4;
    case K_U64: *le = H5T_STD_U64LE; *be = H5T_STD_U64BE; *mem = H5T_NATIVE_UINT64; return 8;
    case K_F64: *le = H5T_IEEE_F64LE; *be = H5T_IEEE_F64BE; *mem = H5T_NATIVE_DOUBLE; return 8;
    case K_F32: *le = H5T_IEEE_F32LE; *be = H5T_IEEE_F32BE; *mem = H5T_NATIVE_FLOAT; return 4;
    }
    return 0;
}

static int type_is(hid_t t, enum kind k, hid_t *mem, size_t *size)
{
    hid_t le, be;
    *size = kind_types(k, &le, &be, mem);
    return H5Tequal(t, le) > 0 || H5Tequal(t, be) > 0;
}

/* Opens attribute name on loc and checks it holds a single value of class cls. */
static sm_status open_attr(const io *x, hid_t loc, const char *name, H5T_class_t cls,
                           hid_t *attr, hid_t *type)
{
    sm_status st = SM_OK;
    hid_t space = H5I_INVALID_HID;
    htri_t e = H5Aexists(loc, name);
    if (e < 0)
        return h5fail(x, "cannot look up attribute '%s'", name);
    if (e == 0)
        return fmt_err(x, "missing attribute '%s'", name);

    if ((*attr = H5Aopen(loc, name, H5P_DEFAULT)) < 0 || (*type = H5Aget_type(*attr)) < 0 ||
        (space = H5Aget_space(*attr)) < 0) {
        st = h5fail(x, "cannot open attribute '%s'", name);
        goto out;
    }
    hssize_t npoints = H5Sget_simple_extent_npoints(space);
    if (npoints != 1 || H5Tget_class(*type) != cls) {
        st = fmt_err(x, "attribute '%s' has the wrong type or shape", name);
        goto out;
    }

out:
    close_id(&space);
    return st;
}

static sm_status read_attr_num(const io *x, hid_t loc, const char *name, enum kind k,
                               void *val)
{
    sm_status st;
    hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, mtype;
    size_t size;
    if ((st = open_attr(x, loc, name, k == K_F64 ? H5T_FLOAT : H5T_INTEGER, &attr, &type)) !=
        SM_OK)
        goto out;
    if (!type_is(type, k, &mtype, &size)) {
        st = fmt_err(x, "attribute '%s' has the wrong type", name);
        goto out;
    }
    if (H5Aread(attr, mtype, val) < 0)
        st = h5fail(x, "cannot read attribute '%s'", name);
out:
    close_id(&type);
    close_id(&attr);
    return st;
}

/* Reads a string attribute, fixed-length or variable-length, into a new C string. */
static sm_status read_attr_str(const io *x, hid_t loc, const char *name, char **out)
{
    sm_status st;
    hid_t attr = H5I_INVALID_HID, type = H5I_INVALID_HID, mtype = H5I_INVALID_HID;
    char *s = NULL;
    *out = NULL;

    if ((st = open_attr(x, loc, name, H5T_STRING, &attr, &type)) != SM_OK)
        goto out;
    htri_t vlen = H5Tis_variable_str(type);
    if (vlen < 0) {
        st = h5fail(x, "cannot read attribute '%s'", name);
        goto out;
    }
    if (vlen) {
        /* Other writers (h5py) store strings this way. */
        char *v = NULL;
        H5T_cset_t cset = H5Tget_cset(type);
        if ((mtype = H5Tcopy(H5T_C_S1)) < 0 || H5Tset_size(mtype, H5T_VARIABLE) < 0 ||
            cset < 0 || H5Tset_cset(mtype, cset) < 0 || H5Aread(attr, mtype, &v) < 0) {
            st = h5fail(x, "cannot read attribute '%s'", name);
            goto out;
        }
        size_t len = v != NULL ? strnlen(v, MAX_ATTR_STR + 1) : 0;
        if (len <= MAX_ATTR_STR && (s = malloc(len + 1)) != NULL) {
            memcpy(s, v != NULL ? v : "", len);
            s[len] = '\0';
        }
        H5free_memory(v);
        if (len > MAX_ATTR_STR) {
            st = fmt_err(x, "attribute '%s' is too long", name);
            goto out;
        }
    } else {
        size_t size = H5Tget_size(type);
        if (size == 0 || size > MAX_ATTR_STR) {
            st = fmt_err(x, "attribute '%s' has a bad length", name);
            goto out;
        }
        if ((s = calloc(size + 1, 1)) == NULL)
            goto nomem;
        if ((mtype = H5Tcopy(type)) < 0 || H5Aread(attr, mtype, s) < 0) {
            st = h5fail(x, "cannot read attribute '%s'", name);
            goto out;
        }
    }
    if (s == NULL)
        goto nomem;
    *out = s;
    s = NULL;
    goto out;

nomem:
    st = sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory reading '%s'", name);
out:
    free(s);
    close_id(&mtype);
    close_id(&type);
    close_id(&attr);
    return st;
}

/* A dataset read piece by piece (stream_ds): each piece of len elements, the first
 * at element `at`, goes to a callback, which may refuse it. */
typedef sm_status (*piece_fn)(const io *x, void *ctx, const void *buf, size_t len, uint64_t at);

/* A piece read and not yet given to its callback: stream_ds hands it over while the
 * next piece decompresses (range_read), so that checking and hashing overlap that. */
typedef struct pending {
    const io *x;
    piece_fn fn;
    void *ctx;
    const void *buf;
    size_t len;
    uint64_t at;
    bool due;
    sm_status st;
} pending;

static void run_pending(void *arg)
{
    pending *p = arg;
    if (p != NULL && p->due) {
        p->due = false;
        p->st = p->fn(p->x, p->ctx, p->buf, p->len, p->at);
    }
}

#define DIRECT_MAX_CHUNK ((hsize_t)1 << 22)

/* Reading a dataset's chunks as stored and decompressing them on several threads
 * instead of through H5Dread, which decompresses one chunk after another: only for
 * what this file's writer makes (1-D chunks, deflate with or without the shuffle
 * before it); anything else, and any chunk that is not stored whole, goes through
 * H5Dread as before. */
typedef struct direct {
    hsize_t chunk; /* elements a chunk; 0: H5Dread */
    size_t elsize;
    int shuffle_at, deflate_at; /* their places in the filter pipeline (-1: absent) */
    size_t raw_cap;             /* most bytes a stored chunk may have */
    uint8_t *raw, *scratch;
} direct;

static void direct_free(direct *d)
{
    free(d->raw);
    free(d->scratch);
    d->raw = d->scratch = NULL;
    d->chunk = 0;
}

static void direct_setup(const io *x, hid_t ds, hid_t type, enum kind k, hsize_t n,
                         direct *d)
{
    hid_t le, be, mem, dcpl = H5I_INVALID_HID;
    memset(d, 0, sizeof *d);
    d->elsize = kind_types(k, &le, &be, &mem);
    if (x->threads < 2 || !host_little_endian() || H5Tequal(type, le) <= 0 ||
        (dcpl = H5Dget_create_plist(ds)) < 0 || H5Pget_layout(dcpl) != H5D_CHUNKED)
        goto out;
    hsize_t cdim[1];
    if (H5Pget_chunk(dcpl, 1, cdim) != 1 || cdim[0] == 0 || cdim[0] > DIRECT_MAX_CHUNK ||
        n < 2 * cdim[0]) /* a dataset of one chunk gains nothing */
        goto out;
    int nf = H5Pget_nfilters(dcpl);
    d->shuffle_at = d->deflate_at = -1;
    for (int i = 0; i < nf; i++) {
        unsigned flags, cd[8];
        size_t ncd = 8;
        H5Z_filter_t f = H5Pget_filter2(dcpl, (unsigned)i, &flags, &ncd, cd, 0, NULL, NULL);
        if (f == H5Z_FILTER_SHUFFLE && d->shuffle_at < 0 && d->deflate_at < 0)
            d->shuffle_at = i;
        else if (f == H5Z_FILTER_DEFLATE && d->deflate_at < 0)
            d->deflate_at = i;
        else
            goto out; /* another filter, or these in another order */
    }
    if (d->deflate_at < 0)
        goto out; /* nothing to decompress: H5Dread is as fast */
    size_t bytes = (size_t)cdim[0] * d->elsize;
    /* deflate adds at most ~0.03 % and a few bytes; a chunk it cannot shrink is kept
     * as it is (its filter skipped) */
    d->raw_cap = bytes + bytes / 64 + 1024;
    unsigned t = x->threads < SM_CHUNK_THREADS ? x->threads : SM_CHUNK_THREADS;
    if ((d->raw = malloc(DIRECT_BATCH * d->raw_cap)) == NULL ||
        (d->scratch = malloc((size_t)t * bytes)) == NULL) {
        direct_free(d); /* H5Dread then; no error */
        goto out;
    }
    d->chunk = cdim[0];
out:
    if (dcpl >= 0)
        H5Pclose(dcpl);
}

/* Elements [at, at + len) of a 1-D dataset into buf through H5Dread. */
static sm_status slab_read(const io *x, hid_t ds, hid_t space, hid_t mtype, hsize_t at,
                           hsize_t len, void *buf, const char *full)
{
    hsize_t start[1] = {at}, cnt[1] = {len};
    hid_t mspace = H5Screate_simple(1, cnt, NULL);
    sm_status st = SM_OK;
    if (mspace < 0 || H5Sselect_hyperslab(space, H5S_SELECT_SET, start, NULL, cnt, NULL) < 0 ||
        H5Dread(ds, mtype, mspace, space, H5P_DEFAULT, buf) < 0)
        st = h5fail(x, "cannot read dataset %s", full);
    close_id(&mspace);
    return st;
}

/* Elements [at, at + len) into buf: chunk by chunk as stored, decompressed on
 * x->threads threads, where d allows and at starts a chunk; else through H5Dread.
 * A pending piece (side, may be NULL) is handed to its callback on the way. */
static sm_status range_read(const io *x, hid_t ds, hid_t space, hid_t mtype, direct *d,
                            hsize_t at, hsize_t len, void *buf, const char *full,
                            pending *side)
{
    if (d->chunk == 0 || at % d->chunk != 0) {
        run_pending(side);
        return slab_read(x, ds, space, mtype, at, len, buf, full);
    }
    const hsize_t end = at + len;
    sm_chunk_job job[DIRECT_BATCH];
    for (hsize_t c0 = at; c0 < end; c0 += (hsize_t)DIRECT_BATCH * d->chunk) {
        hsize_t c1 = end - c0 > (hsize_t)DIRECT_BATCH * d->chunk
                         ? c0 + (hsize_t)DIRECT_BATCH * d->chunk
                         : end;
        size_t nj = 0;
        bool direct_ok = true;
        for (hsize_t o = c0; o < c1; o += d->chunk, nj++) {
            hsize_t off[1] = {o}, stored = 0;
            uint32_t mask = 0;
            uint8_t *raw = d->raw + nj * d->raw_cap;
            /* a chunk never written (HDF5 would give fill values), or larger than
             * this writer makes, is left to H5Dread */
            if (H5Dget_chunk_storage_size(ds, off, &stored) < 0 || stored == 0 ||
                stored > d->raw_cap || H5Dread_chunk(ds, H5P_DEFAULT, off, &mask, raw) < 0) {
                direct_ok = false;
                break;
            }
            job[nj] = (sm_chunk_job){
                .packed = raw,
                .packed_len = (size_t)stored,
                .deflated = !(mask >> d->deflate_at & 1u),
                .shuffled = d->shuffle_at >= 0 && !(mask >> d->shuffle_at & 1u),
                .plain = (uint8_t *)buf + (size_t)(o - at) * d->elsize,
                .n_valid = (size_t)(c1 - o < d->chunk ? c1 - o : d->chunk),
            };
        }
        if (!direct_ok) {
            run_pending(side);
            sm_status st = slab_read(x, ds, space, mtype, c0, c1 - c0,
                                     (uint8_t *)buf + (size_t)(c0 - at) * d->elsize, full);
            if (st != SM_OK)
                return st;
            continue;
        }
        size_t bad = sm_chunks_decode_(job, nj, (size_t)d->chunk, d->elsize, x->threads,
                                       d->scratch, run_pending, side);
        if (bad != SIZE_MAX)
            return fmt_err(x, "dataset %s: the chunk at element %llu does not decompress to "
                              "its %llu elements",
                           full, (unsigned long long)(c0 + bad * d->chunk),
                           (unsigned long long)d->chunk);
    }
    return SM_OK;
}

/* Reads a whole 1-D dataset of element kind k into a new array.
 * At least one element is allocated so that empty arrays are not NULL. */
static sm_status read_ds(const io *x, hid_t loc, const char *name, const char *full,
                         enum kind k, size_t *count, void **out)
{
    sm_status st;
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID, mtype;
    size_t elsize;
    void *buf = NULL;
    hsize_t dims[1] = {0};
    direct d = {0};
    *out = NULL;
    *count = 0;

    if ((st = need_link(x, loc, name, full, "dataset")) != SM_OK)
        goto out;
    if ((ds = H5Dopen2(loc, name, H5P_DEFAULT)) < 0 || (space = H5Dget_space(ds)) < 0 ||
        (type = H5Dget_type(ds)) < 0) {
        st = h5fail(x, "cannot open dataset %s", full);
        goto out;
    }
    if (H5Sget_simple_extent_ndims(space) != 1 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 1) {
        st = fmt_err(x, "dataset %s is not one-dimensional", full);
        goto out;
    }
    if (!type_is(type, k, &mtype, &elsize)) {
        st = fmt_err(x, "dataset %s has the wrong type", full);
        goto out;
    }
    if (dims[0] > MAX_ELEMS || dims[0] > (SIZE_MAX - 1) / elsize) {
        st = fmt_err(x, "dataset %s is too large (%llu elements)", full,
                     (unsigned long long)dims[0]);
        goto out;
    }
    /* A file may declare a dataset far larger than what it stores (HDF5 fills
     * unwritten chunks): bound what is allocated by the bytes really stored,
     * times the most deflate can expand (about 1032 to 1), before allocating. */
    if (dims[0] > 0) {
        hsize_t stored = H5Dget_storage_size(ds);
        if ((double)dims[0] * (double)elsize > (double)stored * 1100.0 + 65536.0) {
            st = fmt_err(x, "dataset %s declares %llu elements but the file holds only %llu "
                            "bytes of it", full, (unsigned long long)dims[0],
                         (unsigned long long)stored);
            goto out;
        }
    }
    size_t m = (size_t)dims[0];
    if ((buf = malloc((m > 0 ? m : 1) * elsize)) == NULL) {
        st = sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory reading %s", full);
        goto out;
    }
    if (m > 0) {
        direct_setup(x, ds, type, k, dims[0], &d);
        if (d.chunk != 0)
            st = range_read(x, ds, space, mtype, &d, 0, dims[0], buf, full, NULL);
        else if (H5Dread(ds, mtype, H5S_ALL, H5S_ALL, H5P_DEFAULT, buf) < 0)
            st = h5fail(x, "cannot read dataset %s", full);
        if (st != SM_OK)
            goto out;
    }
    *out = buf;
    *count = m;
    buf = NULL;

out:
    direct_free(&d);
    free(buf);
    close_id(&type);
    close_id(&space);
    close_id(&ds);
    return st;
}

/* Reads an offsets dataset of exactly n + 1 entries that slices data_len elements. */
static sm_status read_offsets(const io *x, hid_t loc, const char *name, const char *full,
                              size_t n, uint64_t data_len, uint64_t **out)
{
    size_t m;
    void *p;
    sm_status st = read_ds(x, loc, name, full, K_U64, &m, &p);
    if (st != SM_OK)
        return st;
    *out = p;
    if (m != n + 1)
        return fmt_err(x, "dataset %s has %zu entries, expected %zu", full, m, n + 1);
    if (!offsets_ok(*out, n, data_len))
        return fmt_err(x, "dataset %s: offsets must start at 0, never decrease and end at "
                          "the data length %llu", full, (unsigned long long)data_len);
    return SM_OK;
}

/* Reads group/offsets and group/data of n strings; bytes hold no NUL. */
static sm_status read_strings(const io *x, hid_t parent, const char *name, const char *full,
                              size_t n, uint64_t **off, char **bytes, size_t *len)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    char sub[256];
    void *p = NULL;
    *off = NULL;
    *bytes = NULL;

    if ((st = open_group(x, parent, name, full, &g)) != SM_OK)
        goto out;
    snprintf(sub, sizeof sub, "%s/data", full);
    if ((st = read_ds(x, g, "data", sub, K_U8, len, &p)) != SM_OK)
        goto out;
    *bytes = p;
    if (memchr(*bytes, '\0', *len) != NULL) {
        st = fmt_err(x, "dataset %s contains a NUL byte", sub);
        goto out;
    }
    snprintf(sub, sizeof sub, "%s/offsets", full);
    st = read_offsets(x, g, "offsets", sub, n, *len, off);

out:
    close_id(&g);
    return st;
}


/* Reads a 1-D dataset of kind k piece by piece without keeping it; *count gets its
 * length. The same checks as read_ds before anything is read. */
static sm_status stream_ds(const io *x, hid_t loc, const char *name, const char *full,
                           enum kind k, piece_fn fn, void *ctx, size_t *count)
{
    sm_status st = SM_OK;
    hid_t ds = H5I_INVALID_HID, space = H5I_INVALID_HID, type = H5I_INVALID_HID, mtype;
    size_t elsize;
    void *buf = NULL;
    hsize_t dims[1] = {0};
    direct d = {0};
    enum { PIECE = 1 << 20 }; /* a whole number of the writer's chunks */
    *count = 0;

    if ((st = need_link(x, loc, name, full, "dataset")) != SM_OK)
        goto out;
    if ((ds = H5Dopen2(loc, name, H5P_DEFAULT)) < 0 || (space = H5Dget_space(ds)) < 0 ||
        (type = H5Dget_type(ds)) < 0) {
        st = h5fail(x, "cannot open dataset %s", full);
        goto out;
    }
    if (H5Sget_simple_extent_ndims(space) != 1 ||
        H5Sget_simple_extent_dims(space, dims, NULL) != 1) {
        st = fmt_err(x, "dataset %s is not one-dimensional", full);
        goto out;
    }
    if (!type_is(type, k, &mtype, &elsize)) {
        st = fmt_err(x, "dataset %s has the wrong type", full);
        goto out;
    }
    if (dims[0] > MAX_ELEMS) {
        st = fmt_err(x, "dataset %s is too large (%llu elements)", full,
                     (unsigned long long)dims[0]);
        goto out;
    }
    if ((double)dims[0] * (double)elsize >
        (double)H5Dget_storage_size(ds) * 1100.0 + 65536.0) {
        st = fmt_err(x, "dataset %s declares %llu elements but the file holds only %llu bytes "
                        "of it", full, (unsigned long long)dims[0],
                     (unsigned long long)H5Dget_storage_size(ds));
        goto out;
    }
    if ((buf = malloc(2 * PIECE * elsize)) == NULL) { /* one read, one handed over */
        st = sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory reading %s", full);
        goto out;
    }
    direct_setup(x, ds, type, k, dims[0], &d);
    pending pend = {.x = x, .fn = fn, .ctx = ctx};
    for (hsize_t at = 0, i = 0; at < dims[0]; i++) {
        hsize_t len = dims[0] - at < PIECE ? dims[0] - at : PIECE;
        void *b = (uint8_t *)buf + (size_t)(i & 1) * PIECE * elsize;
        st = range_read(x, ds, space, mtype, &d, at, len, b, full, &pend);
        run_pending(&pend);
        if (pend.st != SM_OK) /* the earlier piece's complaint first */
            st = pend.st;
        if (st != SM_OK)
            goto out;
        pend = (pending){x, fn, ctx, b, (size_t)len, (uint64_t)at, true, SM_OK};
        at += len;
    }
    run_pending(&pend);
    if ((st = pend.st) != SM_OK)
        goto out;
    *count = (size_t)dims[0];
out:
    direct_free(&d);
    free(buf);
    close_id(&type);
    close_id(&space);
    close_id(&ds);
    return st;
}

static sm_status hash_piece_f64(const io *x, void *ctx, const void *buf, size_t len, uint64_t at)
{
    (void)x;
    (void)at;
    hash_array(ctx, buf, len, K_F64);
    return SM_OK;
}

/* Reads a float64 dataset piece by piece into the checksum without keeping it:
 * the peaks as read are verified on every open but need not stay in memory. */
static sm_status hash_ds_f64(const io *x, hid_t loc, const char *name, const char *full,
                             sm_sha256 *c, size_t *count)
{
    return stream_ds(x, loc, name, full, K_F64, hash_piece_f64, c, count);
}

/* Search-only variant of read_peaks: offsets kept, peaks hashed and dropped. */
static sm_status hash_peaks(const io *x, hid_t file, sm_library *lib, sm_sha256 *c)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    size_t m1 = 0, m2 = 0;
    if ((st = open_group(x, file, "peaks", "/peaks", &g)) != SM_OK)
        goto out;
    /* offsets are checked once the data length is known, but hashed first */
    void *p;
    size_t m;
    if ((st = read_ds(x, g, "offsets", "/peaks/offsets", K_U64, &m, &p)) != SM_OK)
        goto out;
    lib->peak_off = p;
    if (m != lib->n + 1) {
        st = fmt_err(x, "dataset /peaks/offsets has %zu entries, expected %zu", m, lib->n + 1);
        goto out;
    }
    hash_u64(c, lib->n);
    hash_array(c, lib->peak_off, lib->n + 1, K_U64);
    if ((st = hash_ds_f64(x, g, "mz", "/peaks/mz", c, &m1)) != SM_OK ||
        (st = hash_ds_f64(x, g, "intensity", "/peaks/intensity", c, &m2)) != SM_OK)
        goto out;
    if (m1 != m2) {
        st = fmt_err(x, "datasets /peaks/mz and /peaks/intensity differ in length");
        goto out;
    }
    if (!offsets_ok(lib->peak_off, lib->n, m1)) {
        st = fmt_err(x, "dataset /peaks/offsets: offsets must start at 0, never decrease and "
                        "end at the data length %zu", m1);
        goto out;
    }
    lib->n_peaks = m1;
    lib->cap_peaks = 0; /* peak_mz and peak_int stay NULL: not kept */
out:
    close_id(&g);
    return st;
}

static sm_status read_peaks(const io *x, hid_t file, sm_library *lib)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    size_t m1, m2;
    void *p;

    if ((st = open_group(x, file, "peaks", "/peaks", &g)) != SM_OK)
        goto out;
    st = read_ds(x, g, "mz", "/peaks/mz", K_F64, &m1, &p);
    lib->peak_mz = p;
    if (st != SM_OK)
        goto out;
    st = read_ds(x, g, "intensity", "/peaks/intensity", K_F64, &m2, &p);
    lib->peak_int = p;
    if (st != SM_OK)
        goto out;
    if (m1 != m2) {
        st = fmt_err(x, "datasets /peaks/mz and /peaks/intensity differ in length");
        goto out;
    }
    lib->n_peaks = lib->cap_peaks = m1;
    st = read_offsets(x, g, "offsets", "/peaks/offsets", lib->n, m1, &lib->peak_off);

out:
    close_id(&g);
    return st;
}

static sm_status read_search(const io *x, hid_t file, sm_library *lib)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    size_t m1, m2;
    void *p;

    if ((st = open_group(x, file, "search", "/search", &g)) != SM_OK)
        goto out;
    st = read_ds(x, g, "mz", "/search/mz", K_U16, &m1, &p);
    lib->nom_mz = p;
    if (st != SM_OK)
        goto out;
    st = read_ds(x, g, "intensity", "/search/intensity", K_U16, &m2, &p);
    lib->nom_int = p;
    if (st != SM_OK)
        goto out;
    if (m1 != m2) {
        st = fmt_err(x, "datasets /search/mz and /search/intensity differ in length");
        goto out;
    }
    lib->n_nom = lib->cap_nom = m1;
    if ((st = read_offsets(x, g, "offsets", "/search/offsets", lib->n, m1, &lib->nom_off)) !=
        SM_OK)
        goto out;

    /* The scorer relies on these invariants (sm_nominal in specmatch.h). */
    for (size_t i = 0; i < lib->n; i++) {
        for (uint64_t k = lib->nom_off[i]; k < lib->nom_off[i + 1]; k++) {
            if (lib->nom_mz[k] > SM_MAX_NOMINAL_MZ ||
                (k > lib->nom_off[i] && lib->nom_mz[k] <= lib->nom_mz[k - 1])) {
                st = fmt_err(x, "dataset /search/mz: spectrum %zu is not strictly ascending "
                                "within 0..%d", i, SM_MAX_NOMINAL_MZ);
                goto out;
            }
            if (lib->nom_int[k] < 1 || lib->nom_int[k] > SM_BASE_PEAK) {
                st = fmt_err(x, "dataset /search/intensity: spectrum %zu has an intensity "
                                "outside 1..%d", i, SM_BASE_PEAK);
                goto out;
            }
        }
    }

out:
    close_id(&g);
    return st;
}

/* Gives col (whose off[] is already set and checked) its in-memory data: each string
 * followed by a NUL (sm_strcol in sm_internal.h). */
static sm_status to_strcol(const io *x, const char *full, const char *bytes, size_t len,
                           size_t n, sm_strcol *col)
{
    const uint64_t *off = col->off;
    if (len > SIZE_MAX - n - 1 || (col->data = malloc(len + n + 1)) == NULL)
        return sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory reading %s", full);
    for (size_t i = 0; i < n; i++) {
        size_t l = (size_t)(off[i + 1] - off[i]);
        memcpy(col->data + off[i] + i, bytes + off[i], l);
        col->data[off[i] + i + l] = '\0';
    }
    col->data[len + n] = '\0';
    col->len = col->cap = len + n;
    return SM_OK;
}

static sm_status read_compounds(const io *x, hid_t file, sm_library *lib)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    size_t n = lib->n, m;
    uint64_t *off = NULL;
    char *bytes = NULL;
    void *p;

    if ((st = open_group(x, file, "compounds", "/compounds", &g)) != SM_OK)
        goto out;
    for (int f = 0; f < SM_FIELD_COUNT; f++) {
        sm_strcol *col = &lib->col[f];
        const char *fname = sm_field_name((sm_field)f);
        char full[128];
        size_t len;
        snprintf(full, sizeof full, "/compounds/%s", fname);
        st = read_strings(x, g, fname, full, n, &off, &bytes, &len);
        col->off = off;
        if (st != SM_OK || (st = to_strcol(x, full, bytes, len, n, col)) != SM_OK)
            goto out;
        free(bytes);
        bytes = NULL;
    }

    st = read_ds(x, g, "mw", "/compounds/mw", K_F64, &m, &p);
    lib->mw = p;
    if (st != SM_OK)
        goto out;
    if (m != n) {
        st = fmt_err(x, "dataset /compounds/mw has %zu entries, expected %zu", m, n);
        goto out;
    }
    st = read_ds(x, g, "exact_mass", "/compounds/exact_mass", K_F64, &m, &p);
    lib->exact_mass = p;
    if (st != SM_OK)
        goto out;
    if (m != n) {
        st = fmt_err(x, "dataset /compounds/exact_mass has %zu entries, expected %zu", m, n);
        goto out;
    }
    st = read_ds(x, g, "source_index", "/compounds/source_index", K_U32, &m, &p);
    lib->source_index = p;
    if (st != SM_OK)
        goto out;
    if (m != n) {
        st = fmt_err(x, "dataset /compounds/source_index has %zu entries, expected %zu", m, n);
        goto out;
    }

out:
    free(bytes);
    close_id(&g);
    return st;
}

/* Copies offsets + bytes into the already allocated array v of n C strings. */
static sm_status split_strings(const io *x, const uint64_t *off, const char *bytes, size_t n,
                               char **v)
{
    for (size_t j = 0; j < n; j++) {
        size_t l = (size_t)(off[j + 1] - off[j]);
        if ((v[j] = malloc(l + 1)) == NULL)
            return sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0,
                              "out of memory reading /sources");
        memcpy(v[j], bytes + off[j], l);
        v[j][l] = '\0';
    }
    return SM_OK;
}

static sm_status read_sources(const io *x, hid_t file, sm_library *lib)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    uint64_t *off = NULL;
    char *bytes = NULL;
    size_t ns, len;
    void *p;

    if ((st = open_group(x, file, "sources", "/sources", &g)) != SM_OK)
        goto out;
    st = read_ds(x, g, "n_spectra", "/sources/n_spectra", K_U64, &ns, &p);
    lib->source_count = p;
    if (st != SM_OK)
        goto out;
    if (ns > UINT32_MAX) {
        st = fmt_err(x, "dataset /sources/n_spectra is too large");
        goto out;
    }
    /* Both arrays exist, zeroed, before n_sources is set: whatever frees a partly
     * filled struct can then walk them entry by entry. */
    lib->source_path = calloc(ns > 0 ? ns : 1, sizeof *lib->source_path);
    lib->source_sha256 = calloc(ns > 0 ? ns : 1, sizeof *lib->source_sha256);
    if (lib->source_path == NULL || lib->source_sha256 == NULL) {
        st = sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory reading /sources");
        goto out;
    }
    lib->n_sources = lib->cap_sources = ns;

    if ((st = read_strings(x, g, "path", "/sources/path", ns, &off, &bytes, &len)) != SM_OK ||
        (st = split_strings(x, off, bytes, ns, lib->source_path)) != SM_OK)
        goto out;
    free(off);
    free(bytes);
    off = NULL;
    bytes = NULL;
    if ((st = read_strings(x, g, "sha256", "/sources/sha256", ns, &off, &bytes, &len)) !=
            SM_OK ||
        (st = split_strings(x, off, bytes, ns, lib->source_sha256)) != SM_OK)
        goto out;

    for (size_t i = 0; i < lib->n; i++) {
        if (lib->source_index[i] != UINT32_MAX && lib->source_index[i] >= ns) {
            st = fmt_err(x, "dataset /compounds/source_index: spectrum %zu names source %lu "
                            "of %zu", i, (unsigned long)lib->source_index[i], ns);
            goto out;
        }
    }

out:
    free(off);
    free(bytes);
    close_id(&g);
    return st;
}

/* The control-status table, when the file has one (format 1.1; absent in 1.0 files
 * and in libraries built without a table). Read with the same checks as every other
 * string column, then verified against its own checksum. */
static sm_status read_controls(const io *x, hid_t file, sm_library *lib)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    uint64_t *off = NULL;
    char *bytes = NULL, *sum = NULL;
    size_t n = lib->n, len;
    char want[80];

    htri_t e = H5Lexists(file, "controls", H5P_DEFAULT);
    if (e < 0)
        return h5fail(x, "cannot look up group /controls");
    if (e == 0)
        return SM_OK;
    if ((st = open_group(x, file, "controls", "/controls", &g)) != SM_OK ||
        (st = read_attr_str(x, g, "source", &lib->ctl_source)) != SM_OK ||
        (st = read_attr_str(x, g, "source_sha256", &lib->ctl_sha256)) != SM_OK ||
        (st = read_attr_num(x, g, "rows", K_U64, &lib->ctl_rows)) != SM_OK ||
        (st = read_attr_str(x, g, "checksum", &sum)) != SM_OK)
        goto out;
    if (strlen(sum) >= sizeof want || strncmp(sum, "sha256:", 7) != 0) {
        st = fmt_err(x, "attribute 'checksum' of /controls is not of the form sha256:<hex>");
        goto out;
    }
    for (int f = 0; f < SM_CONTROL_COUNT; f++) {
        sm_strcol *col = &lib->ctl[f];
        const char *fname = sm_control_field_name((sm_control_field)f);
        char full[128];
        snprintf(full, sizeof full, "/controls/%s", fname);
        st = read_strings(x, g, fname, full, n, &off, &bytes, &len);
        col->off = off;
        if (st != SM_OK || (st = to_strcol(x, full, bytes, len, n, col)) != SM_OK)
            goto out;
        free(bytes);
        bytes = NULL;
    }
    sm_controls_checksum_(lib, want);
    if (strcmp(want, sum) != 0) {
        st = sm_seterr_(x->err, SM_ERR_CHECKSUM, x->path, 0,
                        "control table in the library (/controls) does not match its "
                        "checksum (file damaged or modified); rebuild the library with "
                        "`specmatch library build --controls TABLE.tsv`");
        goto out;
    }
    lib->has_controls = true;

out:
    free(bytes);
    free(sum);
    close_id(&g);
    return st;
}

/* Opens the file, telling a missing or unreadable file (SM_ERR_IO) from one that is
 * not HDF5 (SM_ERR_FORMAT) before HDF5 sees it. */
/* ------------------------------------------------------------------ */
/* The specmatch header: a whole-file checksum checked before HDF5 reads  */

/* SHA-256 of the file from offset `from` to its end; *size gets the file size. */
static sm_status hash_file_tail(FILE *fp, const char *path, long from, char hex[65],
                                uint64_t *size, sm_error *err)
{
    enum { BUF = 1 << 16 };
    uint8_t *buf = malloc(BUF);
    if (buf == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, path, 0, "out of memory");
    sm_sha256 c;
    sm_sha256_init_(&c);
    uint64_t total = (uint64_t)from;
    sm_status st = SM_OK;
    if (fseek(fp, from, SEEK_SET) != 0) {
        st = sm_seterr_(err, SM_ERR_IO, path, 0, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    size_t got;
    while ((got = fread(buf, 1, BUF, fp)) > 0) {
        sm_sha256_update_(&c, buf, got);
        total += got;
    }
    if (ferror(fp)) {
        st = sm_seterr_(err, SM_ERR_IO, path, 0, "cannot read %s: %s", path, strerror(errno));
        goto out;
    }
    uint8_t digest[32];
    sm_sha256_final_(&c, digest);
    sm_hex_(digest, sizeof digest, hex);
    *size = total;
out:
    free(buf);
    return st;
}

sm_status sm_h5_seal_(const char *path, sm_error *err)
{
    FILE *fp = fopen(path, "r+b");
    if (fp == NULL)
        return sm_seterr_(err, SM_ERR_IO, path, 0, "cannot open %s: %s", path, strerror(errno));
    char hex[65];
    uint64_t size = 0;
    sm_status st = hash_file_tail(fp, path, SM_HEADER_SIZE, hex, &size, err);
    if (st == SM_OK) {
        char header[SM_HEADER_SIZE];
        memset(header, 0, sizeof header);
        snprintf(header, sizeof header,
                 "%ssha256:%s\nsize:%llu\n"
                 "The rest of this file is HDF5; see docs/FORMAT.md of specmatch.\n",
                 SM_HEADER_MAGIC, hex, (unsigned long long)size);
        if (fseek(fp, 0, SEEK_SET) != 0 || fwrite(header, 1, sizeof header, fp) != sizeof header ||
            fflush(fp) != 0)
            st = sm_seterr_(err, SM_ERR_IO, path, 0, "cannot write %s: %s", path,
                            strerror(errno));
    }
    if (fclose(fp) != 0 && st == SM_OK)
        st = sm_seterr_(err, SM_ERR_IO, path, 0, "cannot write %s: %s", path, strerror(errno));
    return st;
}

/* Checks the header before HDF5 parses anything, so that a truncated or damaged
 * file is refused here and never reaches HDF5's own parser, which does not
 * survive every corruption of its metadata. */
static sm_status check_header(const io *x)
{
    FILE *fp = fopen(x->path, "rb");
    if (fp == NULL)
        return sm_seterr_(x->err, SM_ERR_IO, x->path, 0, "cannot open %s: %s", x->path,
                          strerror(errno));
    char header[SM_HEADER_SIZE + 1];
    size_t got = fread(header, 1, SM_HEADER_SIZE, fp);
    sm_status st = SM_OK;
    if (ferror(fp)) {
        st = sm_seterr_(x->err, SM_ERR_IO, x->path, 0, "cannot read %s: %s", x->path,
                        strerror(errno));
        goto out;
    }
    header[got] = '\0';
    size_t ml = strlen(SM_HEADER_MAGIC);
    if (got < ml || memcmp(header, SM_HEADER_MAGIC, ml) != 0) {
        st = sm_seterr_(x->err, SM_ERR_FORMAT, x->path, 0,
                        "not a specmatch library (no specmatch header); build one with "
                        "`specmatch library build`");
        goto out;
    }
    char want[65];
    unsigned long long want_size;
    if (got < SM_HEADER_SIZE ||
        sscanf(header + ml, "sha256:%64[0-9a-f]\nsize:%llu\n", want, &want_size) != 2 ||
        strlen(want) != 64) {
        st = sm_seterr_(x->err, SM_ERR_CHECKSUM, x->path, 0,
                        "library file header is damaged; rebuild the library with "
                        "`specmatch library build`");
        goto out;
    }
    char hex[65];
    uint64_t size = 0;
    if ((st = hash_file_tail(fp, x->path, SM_HEADER_SIZE, hex, &size, x->err)) != SM_OK)
        goto out;
    if (size != want_size)
        st = sm_seterr_(x->err, SM_ERR_CHECKSUM, x->path, 0,
                        "library file is %llu bytes, its header says %llu: truncated or "
                        "damaged; rebuild it with `specmatch library build`",
                        (unsigned long long)size, want_size);
    else if (strcmp(hex, want) != 0)
        st = sm_seterr_(x->err, SM_ERR_CHECKSUM, x->path, 0,
                        "library file does not match its checksum (file damaged or "
                        "modified); rebuild it with `specmatch library build`");
out:
    fclose(fp);
    return st;
}

static sm_status open_file(const io *x, hid_t *file)
{
    sm_status st = SM_OK;
    hid_t fapl = H5I_INVALID_HID;
    FILE *fp = fopen(x->path, "rb");
    unsigned char probe[8];

    if (fp == NULL)
        return sm_seterr_(x->err, SM_ERR_IO, x->path, 0, "cannot open %s: %s", x->path,
                          strerror(errno));
    /* A directory opens but cannot be read. */
    (void)fread(probe, 1, sizeof probe, fp);
    int bad = ferror(fp);
    int e = errno;
    fclose(fp);
    if (bad)
        return sm_seterr_(x->err, SM_ERR_IO, x->path, 0, "cannot read %s: %s", x->path,
                          strerror(e));
    if ((st = check_header(x)) != SM_OK)
        return st;

#if H5_VERSION_GE(1, 12, 0)
    htri_t is = H5Fis_accessible(x->path, H5P_DEFAULT);
#else
    htri_t is = H5Fis_hdf5(x->path);
#endif
    if (is == 0)
        return sm_seterr_(x->err, SM_ERR_FORMAT, x->path, 0,
                          "not a specmatch library (not an HDF5 file)");
    if (is < 0)
        return h5fail(x, "cannot open %s", x->path);

    if ((fapl = H5Pcreate(H5P_FILE_ACCESS)) < 0 ||
        H5Pset_fclose_degree(fapl, H5F_CLOSE_STRONG) < 0 ||
        (*file = H5Fopen(x->path, H5F_ACC_RDONLY, fapl)) < 0)
        st = h5fail(x, "cannot open %s", x->path);
    close_id(&fapl);
    return st;
}

/* ------------------------------------------------------------------ */
/* The stored search index (format 1.2)                                */

/* Whether /index can serve this build: of this index version, with this build's cuts
 * and the block size it picks for n spectra (which the tests change). Another is
 * left alone, and the library is indexed when opened. */
static sm_status index_usable(const io *x, hid_t file, sm_library *lib, bool *usable,
                              uint32_t *block, uint32_t *n_bins)
{
    static const char *const names[6] = {"version", "block", "n_bins", "cuts", "cut0",
                                         "cut_step"};
    uint32_t v[6] = {0};
    hid_t g = H5I_INVALID_HID;
    size_t n = lib->n;
    *usable = false;
    if (n == 0)
        return SM_OK;
    htri_t e = H5Lexists(file, "index", H5P_DEFAULT);
    if (e < 0)
        return h5fail(x, "cannot look up group /index");
    if (e == 0)
        return SM_OK;
    sm_status st = open_group(x, file, "index", "/index", &g);
    for (int a = 0; a < 6 && st == SM_OK; a++)
        st = read_attr_num(x, g, names[a], K_U32, &v[a]);
    close_id(&g);
    if (st != SM_OK)
        return st;
    lib->index_in_file = -1;
    lib->index_block = v[1];
    size_t want = n <= sm_index_small_ ? SM_INDEX_BLOCK_SMALL : SM_INDEX_BLOCK_LARGE;
    if (v[0] != SM_INDEX_VERSION || v[1] != want || v[3] != SM_INDEX_CUTS ||
        v[4] != SM_INDEX_CUT0 || v[5] != SM_INDEX_CUT_STEP)
        return SM_OK;
    if (v[2] == 0 || v[2] > SM_MAX_NOMINAL_MZ + 1)
        return fmt_err(x, "attribute 'n_bins' of /index is %lu, expected 1..%d",
                       (unsigned long)v[2], SM_MAX_NOMINAL_MZ + 1);
    *block = v[1];
    *n_bins = v[2];
    *usable = true;
    lib->index_in_file = 1;
    return SM_OK;
}

/* /search streamed: each piece checked as read_search checks the arrays, then hashed. */
struct search_check {
    const io *x;
    sm_sha256 *sha;
    const uint64_t *off;
    size_t n, i;  /* spectra, and the one at hand */
    unsigned prev; /* its previous m/z */
};

/* Moves c->i to the spectrum holding element k; false when the offsets end before. */
static bool search_at(struct search_check *c, uint64_t k)
{
    while (c->i < c->n && k >= c->off[c->i + 1])
        c->i++;
    return c->i < c->n;
}

static sm_status offsets_short(const io *x, const char *full, uint64_t len)
{
    return fmt_err(x, "dataset %s: offsets must start at 0, never decrease and end at "
                      "the data length %llu", full, (unsigned long long)len);
}

static sm_status check_mz_piece(const io *x, void *ctx, const void *buf, size_t len,
                                uint64_t at)
{
    struct search_check *c = ctx;
    const uint16_t *mz = buf;
    for (size_t j = 0; j < len; j++) {
        uint64_t k = at + j;
        if (!search_at(c, k))
            return offsets_short(x, "/search/offsets", at + len);
        if (mz[j] > SM_MAX_NOMINAL_MZ || (k > c->off[c->i] && mz[j] <= c->prev))
            return fmt_err(x, "dataset /search/mz: spectrum %zu is not strictly ascending "
                              "within 0..%d", c->i, SM_MAX_NOMINAL_MZ);
        c->prev = mz[j];
    }
    hash_array(c->sha, buf, len, K_U16);
    return SM_OK;
}

static sm_status check_int_piece(const io *x, void *ctx, const void *buf, size_t len,
                                 uint64_t at)
{
    struct search_check *c = ctx;
    const uint16_t *in = buf;
    for (size_t j = 0; j < len; j++) {
        if (!search_at(c, at + j))
            return offsets_short(x, "/search/offsets", at + len);
        if (in[j] < 1 || in[j] > SM_BASE_PEAK)
            return fmt_err(x, "dataset /search/intensity: spectrum %zu has an intensity "
                              "outside 1..%d", c->i, SM_BASE_PEAK);
    }
    hash_array(c->sha, buf, len, K_U16);
    return SM_OK;
}

/* Search-only variant of read_search when the stored index is used: the spectra are
 * checked and hashed piece by piece, not kept (the index holds them packed). */
static sm_status hash_search(const io *x, hid_t file, sm_library *lib, sm_sha256 *sha)
{
    sm_status st;
    hid_t g = H5I_INVALID_HID;
    size_t n = lib->n, m = 0, m1 = 0, m2 = 0;
    void *p = NULL;
    if ((st = open_group(x, file, "search", "/search", &g)) != SM_OK ||
        (st = read_ds(x, g, "offsets", "/search/offsets", K_U64, &m, &p)) != SM_OK)
        goto out;
    const uint64_t *off = p;
    if (m != n + 1) {
        st = fmt_err(x, "dataset /search/offsets has %zu entries, expected %zu", m, n + 1);
        goto out;
    }
    if (!offsets_ok(off, n, off[n])) {
        st = offsets_short(x, "/search/offsets", off[n]);
        goto out;
    }
    hash_array(sha, off, n + 1, K_U64);
    struct search_check c = {x, sha, off, n, 0, 0};
    if ((st = stream_ds(x, g, "mz", "/search/mz", K_U16, check_mz_piece, &c, &m1)) != SM_OK)
        goto out;
    c.i = 0;
    if ((st = stream_ds(x, g, "intensity", "/search/intensity", K_U16, check_int_piece, &c,
                        &m2)) != SM_OK)
        goto out;
    if (m1 != m2) {
        st = fmt_err(x, "datasets /search/mz and /search/intensity differ in length");
        goto out;
    }
    if (off[n] != m1) {
        st = offsets_short(x, "/search/offsets", m1);
        goto out;
    }
    lib->n_nom = m1;
out:
    free(p);
    close_id(&g);
    return st;
}

/* One stored spectrum's words checked (the only form the packer writes: kernels.h's
 * format, m/z below n_bins, intensities 1..999, escapes only where a step needs
 * them) and decoded into buf; its peaks, or SIZE_MAX when the words are not valid. */
static size_t decode_checked(const uint16_t *w, size_t nw, unsigned n_bins, sm_nominal_buf *buf,
                             uint16_t *repack)
{
    if (nw > SM_MAX_NOMINAL_MZ + 1)
        return SIZE_MAX;
    long m = -1;
    size_t np = 0;
    for (size_t j = 0; j < nw; j++) {
        unsigned v = w[j], in = v & SM_PACK_INT_MASK, d = (v >> 10) + 1;
        if (in == 0) {
            m += (long)d * SM_PACK_STEP;
            continue;
        }
        m += d;
        if (in > SM_BASE_PEAK || m >= (long)n_bins)
            return SIZE_MAX;
        buf->mz[np] = (uint16_t)m;
        buf->intensity[np++] = (uint16_t)in;
    }
    sm_nominal s = {np, buf->mz, buf->intensity};
    if (sm_pack_(s, NULL) != nw)
        return SIZE_MAX;
    sm_pack_(s, repack);
    return memcmp(repack, w, nw * sizeof *w) == 0 ? np : SIZE_MAX;
}

/* Reads the stored index into lib (as sm_index_build_ leaves it): checked to be
 * whole and consistent before anything uses it, and against its checksum. */
static sm_status read_index(const io *x, hid_t file, sm_library *lib, uint32_t block,
                            uint32_t n_bins)
{
    size_t n = lib->n, m = 0, n_words = 0, n_dense = 0, n_sparse = 0;
    sm_status st = SM_OK;
    hid_t g = H5I_INVALID_HID;
    void *p = NULL;
    char *sum = NULL;
    uint64_t *off = NULL;
    uint16_t *w = NULL, *dense_mz = NULL, *peaks = NULL, *repack = NULL;
    uint8_t *seen = NULL;
    sm_nominal_buf *buf = NULL;
    sm_index *ix = calloc(1, sizeof *ix);
    if (ix == NULL)
        goto nomem;
    ix->n_bins = n_bins;
    ix->block = block;
    ix->n_blocks = (n + block - 1) / block;
    ix->stride = (ix->n_blocks + 15) & ~(size_t)15;

    if ((st = open_group(x, file, "index", "/index", &g)) != SM_OK ||
        (st = read_attr_str(x, g, "checksum", &sum)) != SM_OK)
        goto out;
    if ((st = read_ds(x, g, "order", "/index/order", K_U32, &m, &p)) != SM_OK)
        goto out;
    ix->order = p;
    if (m != n) {
        st = fmt_err(x, "dataset /index/order has %zu entries, expected %zu", m, n);
        goto out;
    }
    if ((seen = calloc(n, 1)) == NULL)
        goto nomem;
    for (size_t q = 0; q < n; q++) {
        if (ix->order[q] >= n || seen[ix->order[q]]) {
            st = fmt_err(x, "dataset /index/order is not an ordering of the %zu spectra", n);
            goto out;
        }
        seen[ix->order[q]] = 1;
    }
    if ((st = read_ds(x, g, "words", "/index/words", K_U16, &n_words, &p)) != SM_OK)
        goto out;
    w = p;
    if ((st = read_offsets(x, g, "word_offsets", "/index/word_offsets", n, n_words, &off)) !=
        SM_OK)
        goto out;
    if ((st = read_ds(x, g, "dense_mz", "/index/dense_mz", K_U16, &n_dense, &p)) != SM_OK)
        goto out;
    dense_mz = p;
    for (size_t d = 0; d < n_dense; d++)
        if (dense_mz[d] >= n_bins || (d > 0 && dense_mz[d] <= dense_mz[d - 1])) {
            st = fmt_err(x, "dataset /index/dense_mz is not ascending within 0..%lu",
                         (unsigned long)n_bins - 1);
            goto out;
        }
    if ((st = read_ds(x, g, "envelopes", "/index/envelopes", K_U8, &m, &p)) != SM_OK)
        goto out;
    ix->env = p;
    if (m != n_dense * ix->stride) {
        st = fmt_err(x, "dataset /index/envelopes has %zu entries, expected %zu", m,
                     n_dense * ix->stride);
        goto out;
    }
    if ((st = read_ds(x, g, "sparse_block", "/index/sparse_block", K_U32, &n_sparse, &p)) !=
        SM_OK)
        goto out;
    ix->sp_block = p;
    for (size_t e = 0; e < n_sparse; e++)
        if (ix->sp_block[e] >= ix->n_blocks) {
            st = fmt_err(x, "dataset /index/sparse_block names a block past the %zu there are",
                         ix->n_blocks);
            goto out;
        }
    if ((st = read_ds(x, g, "sparse_code", "/index/sparse_code", K_U8, &m, &p)) != SM_OK)
        goto out;
    ix->sp_code = p;
    if (m != n_sparse) {
        st = fmt_err(x, "datasets /index/sparse_block and /index/sparse_code differ in length");
        goto out;
    }
    if ((st = read_offsets(x, g, "sparse_offsets", "/index/sparse_offsets", n_bins, n_sparse,
                           &ix->sp_off)) != SM_OK)
        goto out;
    if ((st = read_ds(x, g, "row_scale", "/index/row_scale", K_F32, &m, &p)) != SM_OK)
        goto out;
    ix->row_scale = p;
    if (m != n_bins) {
        st = fmt_err(x, "dataset /index/row_scale has %zu entries, expected %lu", m,
                     (unsigned long)n_bins);
        goto out;
    }
    for (size_t b = 0; b < n_bins; b++)
        if (!(isfinite(ix->row_scale[b]) && ix->row_scale[b] >= 0)) {
            st = fmt_err(x, "dataset /index/row_scale holds a value that is not a finite "
                            "number >= 0");
            goto out;
        }
    if ((st = read_ds(x, g, "ratio", "/index/ratio", K_F32, &m, &p)) != SM_OK)
        goto out;
    ix->ratio = p;
    if (m != (size_t)SM_INDEX_CUTS * ix->stride) {
        st = fmt_err(x, "dataset /index/ratio has %zu entries, expected %zu", m,
                     (size_t)SM_INDEX_CUTS * ix->stride);
        goto out;
    }
    for (size_t r = 0; r < m; r++)
        if (!(ix->ratio[r] >= 0)) { /* NaN too */
            st = fmt_err(x, "dataset /index/ratio holds a value that is not a number >= 0");
            goto out;
        }

    char want[80];
    index_checksum(ix, n, off, w, dense_mz, n_dense, want);
    if (strcmp(want, sum) != 0) {
        st = sm_seterr_(x->err, SM_ERR_CHECKSUM, x->path, 0,
                        "library index does not match its checksum (file damaged or "
                        "modified); rebuild it with `specmatch library build`");
        goto out;
    }

    /* what the search needs and the file does not hold: per position the norm, the
     * peak count and the block's highest first m/z; per spectrum its position */
    ix->row_dense = malloc(n_bins * sizeof *ix->row_dense);
    ix->norm = malloc(n * sizeof *ix->norm);
    ix->pos_of = malloc(n * sizeof *ix->pos_of);
    ix->block_max_first = calloc(ix->stride, sizeof *ix->block_max_first);
    peaks = malloc(n * sizeof *peaks);
    buf = malloc(sizeof *buf);
    repack = malloc((SM_MAX_NOMINAL_MZ + 1) * sizeof *repack);
    if (!ix->row_dense || !ix->norm || !ix->pos_of || !ix->block_max_first || !peaks || !buf ||
        !repack)
        goto nomem;
    for (size_t b = 0; b < n_bins; b++)
        ix->row_dense[b] = -1;
    for (size_t d = 0; d < n_dense; d++)
        ix->row_dense[dense_mz[d]] = (int32_t)d;
    for (size_t q = 0; q < n; q++) {
        size_t np = decode_checked(w + off[q], (size_t)(off[q + 1] - off[q]), n_bins, buf,
                                   repack);
        if (np == SIZE_MAX) {
            st = fmt_err(x, "dataset /index/words: the spectrum at position %zu is not "
                            "packed as specmatch packs spectra", q);
            goto out;
        }
        double norm = 0;
        for (size_t k = 0; k < np; k++)
            if (buf->intensity[k] > 1)
                norm += (double)buf->mz[k] * buf->intensity[k];
        ix->norm[q] = norm;
        peaks[q] = (uint16_t)np;
        ix->pos_of[ix->order[q]] = (uint32_t)q;
        uint16_t *mf = &ix->block_max_first[q / block];
        if (np > 0 && buf->mz[0] > *mf)
            *mf = buf->mz[0];
    }

    sm_library_take_packed_(lib, &(sm_packed_){off, w, peaks, n_words});
    lib->index = ix;
    lib->index_stored = true;
    off = NULL;
    w = NULL;
    peaks = NULL;
    ix = NULL;
    goto out;
nomem:
    st = sm_seterr_(x->err, SM_ERR_NOMEM, x->path, 0, "out of memory reading /index");
out:
    close_id(&g);
    free(sum);
    free(off);
    free(w);
    free(dense_mz);
    free(peaks);
    free(repack);
    free(seen);
    free(buf);
    sm_index_free_(ix);
    return st;
}

sm_status sm_h5_read_(const char *path, sm_library *lib, unsigned flags, sm_error *err)
{
    sm_sha256 head;
    unsigned threads = (flags >> 8) & 0xFFu; /* SM_OPEN_THREADS */
    io x = {path, err, threads != 0 ? threads : sm_cpu_count()};
    sm_status st;
    quiet q;
    hid_t file = H5I_INVALID_HID;
    char *format = NULL, *checksum = NULL;
    uint32_t major = 0, minor = 0, base = 0;
    uint64_t nsp = 0;

    if (path == NULL || lib == NULL)
        return sm_seterr_(err, SM_ERR_ARG, path, 0, "sm_h5_read_: NULL argument");
    memset(lib, 0, sizeof *lib);
    quiet_begin(&q);

    if ((st = open_file(&x, &file)) != SM_OK)
        goto out;

    /* Identity and version first: a newer file must get the "upgrade" message, not a
     * complaint about some dataset this version does not know. */
    if (H5Aexists(file, "format") == 0) {
        st = sm_seterr_(err, SM_ERR_FORMAT, path, 0,
                        "not a specmatch library (HDF5 file without a 'format' attribute)");
        goto out;
    }
    if ((st = read_attr_str(&x, file, "format", &format)) != SM_OK)
        goto out;
    if (strcmp(format, SM_FORMAT_NAME) != 0) {
        st = sm_seterr_(err, SM_ERR_FORMAT, path, 0,
                        "not a specmatch library (format is '%.100s', expected '%s')", format,
                        SM_FORMAT_NAME);
        goto out;
    }
    if ((st = read_attr_num(&x, file, "format_version_major", K_U32, &major)) != SM_OK ||
        (st = read_attr_num(&x, file, "format_version_minor", K_U32, &minor)) != SM_OK)
        goto out;
    if (major > SM_FORMAT_MAJOR) {
        st = sm_seterr_(err, SM_ERR_FORMAT, path, 0,
                        "library format version %lu.%lu is newer than this specmatch supports "
                        "(%u.x); upgrade specmatch",
                        (unsigned long)major, (unsigned long)minor, SM_FORMAT_MAJOR);
        goto out;
    }
    if (major < 1) {
        st = sm_seterr_(err, SM_ERR_FORMAT, path, 0,
                        "library format version %lu.%lu is not supported; rebuild the library",
                        (unsigned long)major, (unsigned long)minor);
        goto out;
    }
    lib->fmt_major = major;
    lib->fmt_minor = minor;

    if ((st = read_attr_num(&x, file, "n_spectra", K_U64, &nsp)) !=
            SM_OK ||
        (st = read_attr_num(&x, file, "mz_round_boundary", K_F64,
                            &lib->mz_round_boundary)) != SM_OK ||
        (st = read_attr_num(&x, file, "base_peak", K_U32, &base)) !=
            SM_OK ||
        (st = read_attr_str(&x, file, "tool_version", &lib->tool_version)) != SM_OK ||
        (st = read_attr_str(&x, file, "created", &lib->created)) != SM_OK ||
        (st = read_attr_str(&x, file, "checksum", &checksum)) != SM_OK)
        goto out;
    if (nsp >= MAX_ELEMS || nsp > SIZE_MAX / sizeof(uint64_t) - 1) {
        st = fmt_err(&x, "attribute 'n_spectra' is too large (%llu)", (unsigned long long)nsp);
        goto out;
    }
    if (strlen(checksum) >= sizeof lib->checksum || strncmp(checksum, "sha256:", 7) != 0) {
        st = fmt_err(&x, "attribute 'checksum' is not of the form sha256:<hex>");
        goto out;
    }
    lib->base_peak = base;
    lib->n = lib->cap_n = (size_t)nsp;

    /* A file with an index this build can use is not indexed again when it is opened
     * (sm_library_open_ex): its spectra are read packed from /index; opened for a
     * search, /search is only verified, not kept. */
    bool use_index = false;
    uint32_t ix_block = 0, ix_bins = 0;
    if ((st = index_usable(&x, file, lib, &use_index, &ix_block, &ix_bins)) != SM_OK)
        goto out;
    if (!(flags & (SM_OPEN_SEARCH_ONLY | SM_OPEN_STORED_INDEX_)))
        use_index = false;
    bool stream_search = use_index && (flags & SM_OPEN_SEARCH_ONLY);
    sm_sha256_init_(&head);
    if (flags & SM_OPEN_SEARCH_ONLY)
        st = hash_peaks(&x, file, lib, &head);
    else
        st = read_peaks(&x, file, lib);
    if (st == SM_OK)
        st = stream_search ? hash_search(&x, file, lib, &head) : read_search(&x, file, lib);
    if (st != SM_OK ||
        (st = read_compounds(&x, file, lib)) != SM_OK ||
        (st = read_sources(&x, file, lib)) != SM_OK)
        goto out;

    /* Last, so that a structurally broken file gets a precise message first. */
    if (stream_search)
        checksum_rest(&head, lib, lib->checksum);
    else if (flags & SM_OPEN_SEARCH_ONLY)
        checksum_tail(&head, lib, lib->checksum);
    else
        sm_content_checksum_(lib, lib->checksum);
    if (strcmp(lib->checksum, checksum) != 0) {
        st = sm_seterr_(err, SM_ERR_CHECKSUM, path, 0,
                        "library content does not match its checksum (file damaged or "
                        "modified); rebuild it with `specmatch library build`");
        goto out;
    }
    /* Verified with the rest, then let go: nothing a search shows reads them. */
    if (flags & SM_OPEN_SEARCH_ONLY) {
        static const sm_field unused[] = {SM_FIELD_SYNONYMS, SM_FIELD_COMMENT,
                                          SM_FIELD_LICENSE};
        for (size_t k = 0; k < sizeof unused / sizeof *unused; k++) {
            sm_strcol *col = &lib->col[unused[k]];
            free(col->data);
            free(col->off);
            *col = (sm_strcol){0};
        }
    }
    /* After the content: /controls is an addition of format 1.1 with its own checksum. */
    if ((st = read_controls(&x, file, lib)) != SM_OK)
        goto out;
    if (use_index && (st = read_index(&x, file, lib, ix_block, ix_bins)) != SM_OK)
        goto out;

out:
    close_id(&file);
    quiet_end(&q);
    free(format);
    free(checksum);
    if (st != SM_OK)
        sm_library_free_contents_(lib);
    return st;
}

const char *sm_hdf5_version(void)
{
    static char buf[32];
    unsigned maj = 0, min = 0, rel = 0;
    if (H5get_libversion(&maj, &min, &rel) < 0)
        return "unknown";
    snprintf(buf, sizeof buf, "%u.%u.%u", maj, min, rel);
    return buf;
}
