/* library.c — the in-memory reference library: building it, opening it, reading its entries. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "kernels/kernels.h"
#include "sm_internal.h"

struct sm_builder {
    sm_library lib;
    sm_ctl_table *controls; /* joined to the spectra by sm_builder_write; NULL: none */
    uint16_t mz[SM_MAX_NOMINAL_MZ + 1];
    uint16_t in[SM_MAX_NOMINAL_MZ + 1];
};

const char *sm_version(void)
{
    return SM_VERSION_STRING;
}

void sm_library_free_contents_(sm_library *lib)
{
    if (lib == NULL)
        return;
    free(lib->peak_off);
    free(lib->peak_mz);
    free(lib->peak_int);
    free(lib->nom_off);
    free(lib->nom_mz);
    free(lib->nom_int);
    free(lib->nom_w);
    free(lib->nom_peaks);
    for (int f = 0; f < SM_FIELD_COUNT; f++) {
        free(lib->col[f].data);
        free(lib->col[f].off);
        free(lib->col[f].sparse);
    }
    free(lib->mw);
    free(lib->exact_mass);
    free(lib->source_index);
    for (size_t j = 0; j < lib->n_sources; j++) {
        free(lib->source_path[j]);
        free(lib->source_sha256[j]);
    }
    free(lib->source_path);
    free(lib->source_sha256);
    free(lib->source_count);
    for (int f = 0; f < SM_CONTROL_COUNT; f++) {
        free(lib->ctl[f].data);
        free(lib->ctl[f].off);
        free(lib->ctl[f].sparse);
    }
    free(lib->ctl_source);
    free(lib->ctl_sha256);
    free(lib->tool_version);
    free(lib->created);
    sm_index_free_(lib->index);
    memset(lib, 0, sizeof *lib);
}

/* Grows *p (elements of size elem) to hold at least need, doubling. */
static bool grow(void *pp, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return true;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void **p = pp;
    void *q = realloc(*p, c * elem);
    if (q == NULL)
        return false;
    *p = q;
    *cap = c;
    return true;
}

static bool grow_n(sm_library *lib, size_t need)
{
    if (need + 1 <= lib->cap_n)
        return true;
    size_t c = lib->cap_n ? lib->cap_n : 64;
    while (c < need + 1)
        c *= 2;
    /* each array is grown to c elements; cap_n only moves once all succeeded */
    size_t cap;
#define GROW(field)                                                                       \
    do {                                                                                  \
        cap = lib->cap_n;                                                                 \
        if (!grow(&lib->field, &cap, c, sizeof *lib->field))                              \
            return false;                                                                 \
    } while (0)
    GROW(peak_off);
    GROW(nom_off);
    GROW(mw);
    GROW(exact_mass);
    GROW(source_index);
    for (int f = 0; f < SM_FIELD_COUNT; f++) {
        cap = lib->cap_n;
        if (!grow(&lib->col[f].off, &cap, c, sizeof *lib->col[f].off))
            return false;
    }
#undef GROW
    lib->cap_n = c;
    return true;
}

sm_status sm_builder_new(sm_builder **out, sm_error *err)
{
    *out = NULL;
    sm_builder *b = calloc(1, sizeof *b);
    if (b == NULL || !grow_n(&b->lib, 0)) {
        if (b)
            sm_library_free_contents_(&b->lib);
        free(b);
        return sm_seterr_(err, SM_ERR_NOMEM, NULL, 0, "out of memory");
    }
    b->lib.peak_off[0] = 0;
    b->lib.nom_off[0] = 0;
    for (int f = 0; f < SM_FIELD_COUNT; f++)
        b->lib.col[f].off[0] = 0;
    b->lib.fmt_major = SM_FORMAT_MAJOR;
    b->lib.fmt_minor = SM_FORMAT_MINOR;
    b->lib.mz_round_boundary = SM_MZ_ROUND_BOUNDARY;
    b->lib.base_peak = SM_BASE_PEAK;
    *out = b;
    return SM_OK;
}

void sm_builder_free(sm_builder *b)
{
    if (b == NULL)
        return;
    sm_library_free_contents_(&b->lib);
    sm_ctl_table_free_(b->controls);
    free(b);
}

sm_status sm_builder_set_controls(sm_builder *b, const char *tsv_path, sm_error *err)
{
    if (b == NULL)
        return sm_seterr_(err, SM_ERR_ARG, tsv_path, 0, "sm_builder_set_controls: no builder");
    sm_ctl_table *t = NULL;
    sm_status st = sm_ctl_table_read_(tsv_path, &t, err);
    if (st != SM_OK)
        return st;
    /* A second table replaces the first: the library carries one. */
    sm_ctl_table_free_(b->controls);
    b->controls = t;
    return SM_OK;
}

size_t sm_builder_size(const sm_builder *b)
{
    return b->lib.n;
}

static bool strcol_push(sm_strcol *c, size_t i, const char *s)
{
    size_t len = s ? strlen(s) : 0;
    if (!grow(&c->data, &c->cap, c->len + len + 1, 1))
        return false;
    if (len)
        memcpy(c->data + c->len, s, len);
    c->data[c->len + len] = '\0';
    c->len += len + 1;
    c->off[i + 1] = c->off[i] + len;
    return true;
}

sm_status sm_builder_add(sm_builder *b, const sm_spectrum *s, sm_error *err)
{
    sm_library *lib = &b->lib;
    size_t n = 0;
    sm_status st = sm_preprocess(s->peaks, s->n_peaks, b->mz, b->in, SM_MAX_NOMINAL_MZ + 1,
                                 &n, err);
    if (st != SM_OK) {
        if (err)
            err->line = s->line;
        return st;
    }
    size_t i = lib->n;
    size_t cap;
    if (!grow_n(lib, i + 1))
        goto nomem;
    cap = lib->cap_peaks;
    if (!grow(&lib->peak_mz, &cap, lib->n_peaks + s->n_peaks, sizeof *lib->peak_mz))
        goto nomem;
    cap = lib->cap_peaks;
    if (!grow(&lib->peak_int, &cap, lib->n_peaks + s->n_peaks, sizeof *lib->peak_int))
        goto nomem;
    lib->cap_peaks = cap;
    cap = lib->cap_nom;
    if (!grow(&lib->nom_mz, &cap, lib->n_nom + n, sizeof *lib->nom_mz))
        goto nomem;
    cap = lib->cap_nom;
    if (!grow(&lib->nom_int, &cap, lib->n_nom + n, sizeof *lib->nom_int))
        goto nomem;
    lib->cap_nom = cap;
    /* Strings go last so a failure above leaves every column at length i. */
    for (int f = 0; f < SM_FIELD_COUNT; f++) {
        if (!strcol_push(&lib->col[f], i, s->field[f])) {
            for (int g = 0; g < f; g++) {
                size_t len = lib->col[g].off[i + 1] - lib->col[g].off[i];
                lib->col[g].len -= len + 1;
            }
            goto nomem;
        }
    }
    for (size_t k = 0; k < s->n_peaks; k++) {
        lib->peak_mz[lib->n_peaks + k] = s->peaks[k].mz;
        lib->peak_int[lib->n_peaks + k] = s->peaks[k].intensity;
    }
    lib->n_peaks += s->n_peaks;
    lib->peak_off[i + 1] = lib->n_peaks;
    memcpy(lib->nom_mz + lib->n_nom, b->mz, n * sizeof *b->mz);
    memcpy(lib->nom_int + lib->n_nom, b->in, n * sizeof *b->in);
    lib->n_nom += n;
    lib->nom_off[i + 1] = lib->n_nom;
    lib->mw[i] = s->mw;
    lib->exact_mass[i] = s->exact_mass;
    lib->source_index[i] = (uint32_t)lib->n_sources;
    lib->n = i + 1;
    return SM_OK;
nomem:
    return sm_seterr_(err, SM_ERR_NOMEM, NULL, s->line, "out of memory");
}

sm_status sm_builder_add_source(sm_builder *b, const char *path, size_t n_spectra,
                                sm_error *err)
{
    sm_library *lib = &b->lib;
    char hex[65];
    sm_status st = sm_sha256_file(path, hex, err);
    if (st != SM_OK)
        return st;
    size_t need = lib->n_sources + 1, cap;
    cap = lib->cap_sources;
    if (!grow(&lib->source_path, &cap, need, sizeof *lib->source_path))
        goto nomem;
    cap = lib->cap_sources;
    if (!grow(&lib->source_sha256, &cap, need, sizeof *lib->source_sha256))
        goto nomem;
    cap = lib->cap_sources;
    if (!grow(&lib->source_count, &cap, need, sizeof *lib->source_count))
        goto nomem;
    lib->cap_sources = cap;
    /* The file name only: a build folder's layout is not provenance, the sha256 is. */
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    char *p = strdup(base), *h = strdup(hex);
    if (p == NULL || h == NULL) {
        free(p);
        free(h);
        goto nomem;
    }
    lib->source_path[lib->n_sources] = p;
    lib->source_sha256[lib->n_sources] = h;
    lib->source_count[lib->n_sources] = n_spectra;
    lib->n_sources++;
    return SM_OK;
nomem:
    return sm_seterr_(err, SM_ERR_NOMEM, path, 0, "out of memory");
}

/* Build time in UTC; SOURCE_DATE_EPOCH, when set, makes builds reproducible. */
static void utc_now(char out[32])
{
    time_t t = time(NULL);
    const char *sde = getenv("SOURCE_DATE_EPOCH");
    if (sde && *sde) {
        char *end;
        long long v = strtoll(sde, &end, 10);
        if (*end == '\0' && v >= 0)
            t = (time_t)v;
    }
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

sm_status sm_builder_write(sm_builder *b, const char *path, sm_error *err)
{
    sm_library *lib = &b->lib;
    char now[32];
    utc_now(now);
    /* spectra added after the last sm_builder_add_source have no recorded source */
    for (size_t i = 0; i < lib->n; i++)
        if (lib->source_index[i] >= lib->n_sources)
            lib->source_index[i] = UINT32_MAX;
    free(lib->tool_version);
    free(lib->created);
    lib->tool_version = strdup("specmatch " SM_VERSION_STRING);
    lib->created = strdup(now);
    if (lib->tool_version == NULL || lib->created == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, path, 0, "out of memory");
    sm_content_checksum_(lib, lib->checksum);
    /* The join waits until now so that it sees every spectrum, whatever the order of
     * the builder calls. */
    if (b->controls != NULL) {
        sm_status cst = sm_ctl_join_(b->controls, lib, err);
        if (cst != SM_OK)
            return cst;
    }

    /* A crash half way leaves the temporary file, never a half-written library. */
    size_t len = strlen(path) + 32;
    char *tmp = malloc(len);
    if (tmp == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, path, 0, "out of memory");
    snprintf(tmp, len, "%s.tmp.%ld", path, (long)getpid());
    sm_status st = sm_h5_write_(lib, tmp, err);
    if (st == SM_OK && rename(tmp, path) != 0)
        st = sm_seterr_(err, SM_ERR_IO, path, 0, "cannot rename %s into place: %s", tmp,
                        strerror(errno));
    if (st != SM_OK)
        unlink(tmp);
    free(tmp);
    return st;
}

sm_status sm_library_open(const char *path, sm_library **out, sm_error *err)
{
    return sm_library_open_ex(path, 0, out, err);
}

sm_status sm_library_open_ex(const char *path, unsigned flags, sm_library **out, sm_error *err)
{
    *out = NULL;
    if (path == NULL)
        return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "no library path given");
    sm_library *lib = calloc(1, sizeof *lib);
    if (lib == NULL)
        return sm_seterr_(err, SM_ERR_NOMEM, path, 0, "out of memory");
    sm_status st = sm_h5_read_(path, lib, flags | SM_OPEN_STORED_INDEX_, err);
    /* Queries are preprocessed by this build's rules: a library made with others
     * would be compared on different terms, so it is refused rather than searched. */
    if (st == SM_OK && (lib->mz_round_boundary != SM_MZ_ROUND_BOUNDARY ||
                        lib->base_peak != SM_BASE_PEAK))
        st = sm_seterr_(err, SM_ERR_FORMAT, path, 0,
                        "library preprocessed with m/z boundary %g and base peak %u; this "
                        "specmatch uses %g and %u: rebuild the library",
                        lib->mz_round_boundary, lib->base_peak, SM_MZ_ROUND_BOUNDARY,
                        SM_BASE_PEAK);
    /* Verified: a search reads the names and codes of its hits only, so a string is
     * found from every 16th offset rather than its own (1M spectra: 8 MB a column
     * down to 0.25). Before the index, whose building is the peak of memory. */
    if (st == SM_OK && (flags & SM_OPEN_SEARCH_ONLY)) {
        for (int f = 0; f < SM_FIELD_COUNT; f++)
            sm_strcol_compact_(&lib->col[f], lib->n);
        for (int f = 0; f < SM_CONTROL_COUNT; f++)
            sm_strcol_compact_(&lib->ctl[f], lib->n);
    }
    if (st == SM_OK && lib->index == NULL) /* else read from the file */
        st = sm_index_build_(lib, err);
#if defined(__GLIBC__)
    /* Reading and indexing left freed buffers inside the heap (1M spectra: ~45 MB);
     * hand their pages back rather than keep them resident. */
    malloc_trim(0);
#endif
    /* Last, once the file is closed and every buffer of reading and indexing is
     * gone, so that they do not add up to a higher peak of memory. */
    if (st == SM_OK)
        st = sm_index_sketch_(lib, lib->index,
                              (flags >> 8 & 0xFFu) != 0 ? (flags >> 8 & 0xFFu) : sm_cpu_count(),
                              err);
    if (st != SM_OK) {
        sm_library_free_contents_(lib);
        free(lib);
        return st;
    }
    *out = lib;
    return SM_OK;
}

void sm_library_close(sm_library *lib)
{
    if (lib == NULL)
        return;
    sm_library_free_contents_(lib);
    free(lib);
}

size_t sm_library_size(const sm_library *lib)
{
    return lib->n;
}

const char *sm_library_field(const sm_library *lib, size_t i, sm_field f)
{
    if (i >= lib->n || (unsigned)f >= SM_FIELD_COUNT)
        return "";
    return sm_strcol_get_(&lib->col[f], i);
}

double sm_library_mw(const sm_library *lib, size_t i)
{
    return i < lib->n ? lib->mw[i] : NAN;
}

double sm_library_exact_mass(const sm_library *lib, size_t i)
{
    return i < lib->n ? lib->exact_mass[i] : NAN;
}

void sm_strcol_compact_(sm_strcol *c, size_t n)
{
    if (c->off == NULL || c->off[n] + n > UINT32_MAX)
        return;
    /* walking from one string to the next needs exactly one NUL after each: a
     * string with a NUL inside (a crafted file) keeps its offsets */
    for (size_t i = 0; i < n; i++)
        if (memchr(c->data + c->off[i] + i, '\0', (size_t)(c->off[i + 1] - c->off[i])) != NULL)
            return;
    size_t ns = (n + SM_STRCOL_STEP - 1) / SM_STRCOL_STEP;
    uint32_t *sparse = malloc((ns ? ns : 1) * sizeof *sparse);
    if (sparse == NULL)
        return;
    for (size_t j = 0; j < ns; j++)
        sparse[j] = (uint32_t)(c->off[j * SM_STRCOL_STEP] + j * SM_STRCOL_STEP);
    free(c->off);
    c->off = NULL;
    c->sparse = sparse;
}

size_t sm_pack_(sm_nominal s, uint16_t *w)
{
    long prev = -1;
    size_t k = 0;
    for (size_t j = 0; j < s.n; j++) {
        long d = (long)s.mz[j] - prev;
        while (d > SM_PACK_STEP) { /* escapes of up to 64 steps of 64 */
            long e = (d - 1) / SM_PACK_STEP;
            if (e > 64)
                e = 64;
            if (w)
                w[k] = (uint16_t)((unsigned long)(e - 1) << 10);
            k++;
            d -= e * SM_PACK_STEP;
        }
        if (w)
            w[k] = (uint16_t)(s.intensity[j] | (unsigned long)(d - 1) << 10);
        k++;
        prev = s.mz[j];
    }
    return k;
}

sm_nominal sm_nominal_at_(const sm_library *lib, size_t p, uint16_t *mz, uint16_t *in)
{
    uint64_t o = lib->nom_off[p], e = lib->nom_off[p + 1];
    if (lib->nom_w == NULL)
        return (sm_nominal){(size_t)(e - o), lib->nom_mz + o, lib->nom_int + o};
    size_t n = sm_kernel_get_()->unpack(lib->nom_w + o, (size_t)(e - o), mz, in);
    return (sm_nominal){n, mz, in};
}

sm_nominal sm_library_nominal(const sm_library *lib, size_t i, sm_nominal_buf *buf)
{
    sm_nominal v = {0, NULL, NULL};
    if (lib == NULL || i >= lib->n || buf == NULL)
        return v;
    return sm_nominal_at_(lib, lib->index ? lib->index->pos_of[i] : i, buf->mz, buf->intensity);
}

void sm_library_peaks(const sm_library *lib, size_t i, const double **mz,
                      const double **intensity, size_t *n)
{
    if (i >= lib->n || lib->peak_mz == NULL) {
        *mz = NULL;
        *intensity = NULL;
        *n = 0;
        return;
    }
    *mz = lib->peak_mz + lib->peak_off[i];
    *intensity = lib->peak_int + lib->peak_off[i];
    *n = (size_t)(lib->peak_off[i + 1] - lib->peak_off[i]);
}

void sm_library_get_info(const sm_library *lib, sm_library_info *info)
{
    info->format_major = lib->fmt_major;
    info->format_minor = lib->fmt_minor;
    info->format_name = SM_FORMAT_NAME;
    info->tool_version = lib->tool_version ? lib->tool_version : "";
    info->created = lib->created ? lib->created : "";
    info->checksum = lib->checksum;
    info->mz_round_boundary = lib->mz_round_boundary;
    info->base_peak = lib->base_peak;
    info->n_spectra = lib->n;
    info->n_sources = lib->n_sources;
    info->stored_index = lib->index_in_file;
    info->index_block = lib->index_in_file != 0 ? lib->index_block : 0;
}

void sm_library_source(const sm_library *lib, size_t j, const char **path,
                       const char **sha256_hex, size_t *n_spectra)
{
    if (j >= lib->n_sources) {
        *path = "";
        *sha256_hex = "";
        *n_spectra = 0;
        return;
    }
    *path = lib->source_path[j];
    *sha256_hex = lib->source_sha256[j];
    *n_spectra = (size_t)lib->source_count[j];
}
