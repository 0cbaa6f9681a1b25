/* sm_internal.h — declarations shared between the library's source files, not installed. */
#ifndef SM_INTERNAL_H
#define SM_INTERNAL_H

#include <stdarg.h>
#include <string.h>

#include "specmatch/specmatch.h"

#define SM_FORMAT_NAME "specmatch-library"
#define SM_FORMAT_MAJOR 1u
#define SM_FORMAT_MINOR 2u /* 1.1: /controls; 1.2: /index */

/* A column of strings, one per spectrum: spectrum i is data[off[i] .. off[i+1]),
 * not NUL-terminated in the file; in memory every string is followed by a NUL that
 * off[] does not count (so off[i+1] - off[i] is the length, and the NULs sit in
 * between: data holds len + 1 bytes per string). */
typedef struct sm_strcol {
    char *data;        /* strings, each followed by '\0' */
    uint64_t *off;     /* n + 1 offsets into data; string i starts at off[i] + i */
    size_t len;        /* bytes used in data, NULs included */
    size_t cap;
    uint32_t *sparse;  /* instead of off, in a library opened for searching (off is
                          then NULL): where every SM_STRCOL_STEP-th string starts;
                          the ones between are found by walking the NULs */
} sm_strcol;

#define SM_STRCOL_STEP 16

/* Replaces c's offsets by the sparse ones (n strings); nothing when the data are too
 * large for 32-bit offsets or memory is short (the column then stays as it was). */
void sm_strcol_compact_(sm_strcol *c, size_t n);

/* Search index, built when a library is opened (index.c). Spectra are grouped in
 * blocks of look-alikes; for each block an envelope holds, per nominal m/z, the
 * largest weight sqrt(m I) / sqrt(N) any of its spectra has there (one byte, rounded
 * up, on a scale per m/z; an m/z few blocks have is kept as a list of its blocks),
 * N being the spectrum's norm (sum of m I over peaks with I > 1). A query's weights
 * times the envelope bound the T1 term of every spectrum of the block at once, and
 * the identity MF is below 1000 (T1 + 1) / 2 - 0.5 (DESIGN.md), so whole blocks that
 * cannot reach the current top k are skipped without reading their spectra; the
 * spectra of the other blocks are bounded one by one (sm_match_factor_bound_).
 *
 * T1's norms cover only the common m/z range, so the library norm that T1 divides
 * by can be smaller than N. A query whose first m/z is <= cut[c] leaves each
 * spectrum at least its norm over m/z >= cut[c]; ratio[c][b] (cut-major, so that a
 * query reads one contiguous row) is the largest sqrt(N / that norm) in block b, the
 * factor that keeps the block bound valid. */
/* Spectra per block: 4 up to SM_INDEX_SMALL spectra, 8 above (index.c). Smaller
 * blocks have tighter envelopes (100k: ~15 % more queries/s) but twice their
 * memory: 8 keeps it under 40 MB at a million spectra. */
#define SM_INDEX_BLOCK_SMALL 4
#define SM_INDEX_BLOCK_LARGE 8
#define SM_INDEX_SMALL 262144
/* Candidates that may wait for exact scoring before the best of them is scored at
 * once (search.c): SM_SEARCH_HEAP_CAP, lowered by the tests to take that path always. */
#define SM_SEARCH_HEAP_CAP 256
extern size_t sm_search_heap_cap_;
/* The library size up to which blocks are small: SM_INDEX_SMALL, lowered by the tests
 * to run the large blocks on a small library (index.c). */
extern size_t sm_index_small_;
/* Spectra blocked together, one segment of the keys a thread (index.c):
 * SM_INDEX_SEGMENT, lowered by the tests to block a small library in segments. */
#define SM_INDEX_SEGMENT ((size_t)1 << 18)
extern size_t sm_index_segment_;
#define SM_INDEX_CUTS 21   /* cuts at m/z 20, 25, ..., 120 */
#define SM_INDEX_CUT0 20
#define SM_INDEX_CUT_STEP 5

typedef struct sm_index {
    size_t n_bins;                          /* m/z 0 .. n_bins - 1 */
    size_t block;                           /* spectra per block */
    size_t n_blocks;
    size_t stride;                          /* n_blocks rounded up to 16 */
    uint32_t *order;                        /* library index at blocked position p */
    uint16_t *block_max_first;              /* per block, highest first m/z of its spectra */
    double *norm;                           /* N, by blocked position */
    uint32_t *pos_of;                       /* blocked position of library index i */
    uint8_t *env;                           /* dense rows [n_dense][stride], transposed
                                               envelopes, in units of row_scale[m] / 255,
                                               rounded up */
    int32_t *row_dense;                     /* [n_bins] dense row of m, -1: m is sparse */
    uint64_t *sp_off;                       /* [n_bins + 1] sparse row m: entries
                                               [sp_off[m], sp_off[m + 1]) */
    uint32_t *sp_block;                     /* its nonzero blocks... */
    uint8_t *sp_code;                       /* ...and their bytes */
    float *row_scale;                       /* [n_bins] largest envelope value of row m */
    float *ratio;                           /* [SM_INDEX_CUTS][stride] */
    /* The blocks' sketches, for the first bound of their spectra all at once
     * (search.c): block b's entries are [sk_off[b], sk_off[b + 1]), one for each m/z
     * any of its spectra has, ascending; entry e's m/z is sk_mz[e] and
     * sk_val[e * block + s] is ceil(8 sqrt(I)) of the block's spectrum s at that m/z
     * (0: it has no peak there; at most 253). Derived from the packed spectra last
     * when a library is opened (sm_index_sketch_), not stored. */
    uint64_t *sk_off;                       /* [n_blocks + 1] */
    uint16_t *sk_mz;
    uint8_t *sk_val;                        /* (+ SM_SKETCH_PAD bytes a kernel may read) */
    uint16_t *first_mz;                     /* [n] by position: the spectrum's first m/z */
} sm_index;
#define SM_SKETCH_PAD 256

/* A query spread over nominal m/z, so that scoring it against a library spectrum
 * walks only the library peaks (score.c). Filled by sm_qdense_set_. */
typedef struct sm_qdense {
    uint16_t in[SM_MAX_NOMINAL_MZ + 2];     /* intensity at m, 0 when absent */
    uint16_t cnt[SM_MAX_NOMINAL_MZ + 2];    /* peaks with intensity > 1 at m' <= m */
    double suffix[SM_MAX_NOMINAL_MZ + 2];   /* sum of m' I over those at m' >= m */
    double w[SM_MAX_NOMINAL_MZ + 2];        /* sqrt(m I) at the query's peaks */
    double r[SM_MAX_NOMINAL_MZ + 2];        /* sqrt(I) at the query's peaks */
    double sqrt_i[SM_BASE_PEAK + 1];        /* sqrt(I) for any intensity */
    /* for the bound_sums kernel (kernels.h): word[1 + m] = in[m] | cnt[m] << 16
     * (word[0] stands for m = -1) and bw[m] = m sqrt(in[m]) in float */
    uint32_t word[SM_MAX_NOMINAL_MZ + 3];
    float bw[SM_MAX_NOMINAL_MZ + 2];
    float sqrt_f[SM_BASE_PEAK + 1];         /* sqrtf(I), for bw's partner */
    bool ready;                             /* sqrt_i, sqrt_f filled */
    unsigned first;                         /* first m/z (intensity-1 peaks included) */
    unsigned last;                          /* last m/z (intensity-1 peaks included) */
} sm_qdense;

struct sm_kernel;

void sm_qdense_set_(sm_qdense *d, sm_nominal q);
void sm_qdense_clear_(sm_qdense *d, sm_nominal q);
/* Bit for bit sm_match_factor(q, l, 0), walking only l's peaks. */
double sm_match_factor_dense_(const sm_qdense *d, sm_nominal l);
/* An upper bound of sm_match_factor(q, l, 0) for a library spectrum l given packed
 * (nw words, kernels.h), from a first pass over the words and kern's bound_sums over
 * the peaks unpacked into scratch; norm_l is the sum of m I over l's peaks with I > 1.
 * The second, tighter pass (and the unpacking) is skipped when the first bound is
 * below `enough` (score.c). */
double sm_match_factor_bound_(const sm_qdense *d, const struct sm_kernel *kern,
                              const uint16_t *w, size_t nw, double norm_l, double enough,
                              sm_nominal_buf *scratch);

/* The bound of sm_match_factor_bound_ from its sums (score.c): nu and nl the norms'
 * lower bounds over the common range, dot the cross term, n1 the common peaks, n2
 * the links, t2_num / t2_den their term-2 mean with unknown ratios at 1. Float
 * sums are widened past their rounding here. */
double sm_bound_from_sums_(double nu, double nl, float dot, uint32_t n1, uint32_t n2,
                           double t2_num, uint64_t t2_den);

/* Batches (search.c, batch.c): queries that need many blocks are parked in a group
 * of up to SM_GROUP and finished together, the library read once for all of them.
 * sm_search_or_park_ (may_park) stops such a query at the budget and leaves it in
 * the searcher (*parked true) for sm_group_adopt_, which must come next; the
 * group's sweep completes its hits (its arrays and hit buffer must stay valid until
 * then). A group is swept by one thread (sm_group_flush_) or by several at once:
 * each with a part of its own (sm_group_part_begin_, sm_groups_sweep_ taking chunks
 * of up to SM_GROUP_CHUNK blocks from a shared cursor), merged afterwards in any order
 * (sm_group_part_merge_: the lists are exact whichever thread saw which spectrum),
 * then sm_group_finish_. sm_group_new_ gives NULL (no error) when the active
 * kernel has no group_sums (sm_group_available_ false): batches then go query by
 * query. */
#define SM_GROUP_CHUNK 1024
typedef struct sm_group sm_group;
typedef struct sm_group_part sm_group_part;
bool sm_group_available_(const sm_library *lib);
sm_status sm_group_new_(const sm_library *lib, sm_group **out, sm_error *err);
void sm_group_free_(sm_group *g);
bool sm_group_full_(const sm_group *g);
bool sm_group_empty_(const sm_group *g);
void sm_group_adopt_(sm_searcher *s, sm_group *g);
void sm_group_flush_(sm_searcher *s, sm_group *g);
sm_status sm_group_part_new_(size_t k, sm_group_part **out, sm_error *err);
void sm_group_part_free_(sm_group_part *p);
void sm_group_part_begin_(sm_group_part *p, const sm_group *g);
/* Up to SM_SWEEP_GROUPS groups swept together, ps[i] this thread's part of gs[i]
 * (each begun): a block's spectra are unpacked once for all of them. */
#define SM_SWEEP_GROUPS 16
void sm_groups_sweep_(const sm_library *lib, sm_group *const *gs, sm_group_part *const *ps,
                      size_t ng, _Atomic size_t *cursor);
void sm_group_part_merge_(sm_group *g, const sm_group_part *p);
/* The lanes of groups gs[0..ng) dealt out again, those that need the most blocks
 * together (each group's sweep reads the blocks any of its lanes needs): before
 * their parts are begun. SM_ERR_NOMEM leaves them as they were. */
sm_status sm_groups_regroup_(sm_group *const *gs, size_t ng, sm_error *err);
void sm_group_finish_(sm_group *g, sm_nominal_buf *buf);
sm_status sm_search_or_park_(sm_searcher *s, bool may_park, sm_nominal q, size_t k,
                             sm_hit *hits, size_t *n_hits, bool *parked, sm_error *err);
/* Blocks a query scans before it is parked; -1: the library's rule (search.c).
 * The tests set 0 to send every query through its group. */
extern long sm_search_group_budget_;

/* sm_h5_read_ flag (sm_library_open_ex passes it): a usable stored index is read
 * (and the unpacked spectra let go) even when the library is read whole. */
#define SM_OPEN_STORED_INDEX_ (1u << 16)

/* The library's spectra packed (kernels.h) in the index's blocked order: position
 * p's words are w[off[p] .. off[p + 1]), peaks[p] its peaks. */
typedef struct sm_packed_ {
    uint64_t *off;
    uint16_t *w;
    uint16_t *peaks;
    size_t n_words;
} sm_packed_;

/* Builds the index of an opened library: it takes the packed spectra and frees its
 * unpacked ones. */
sm_status sm_index_build_(sm_library *lib, sm_error *err);
/* The same index and packed spectra for a library that stays as it is (the writer
 * stores them in the file, h5io.c). */
sm_status sm_index_compute_(const sm_library *lib, sm_index **out, sm_packed_ *pk,
                            sm_error *err);
void sm_packed_free_(sm_packed_ *pk);
/* The library keeps pk's arrays as its spectra (by position), its unpacked ones freed. */
void sm_library_take_packed_(sm_library *lib, const sm_packed_ *pk);
/* The sketches of ix's blocks (sm_index) from the library's packed spectra, once
 * they are installed; err may be NULL. */
sm_status sm_index_sketch_(const sm_library *lib, sm_index *ix, unsigned threads,
                           sm_error *err);
void *sm_alloc_big_(size_t size);
/* Bumped whenever what index.c builds changes: a file's stored index of another
 * version is not used (the library is indexed at open instead). */
#define SM_INDEX_VERSION 1u

/* Packs s (m/z ascending, intensities 1..999) into w (NULL: only counts); returns
 * the words: each moves m/z on by one at least, so at most SM_MAX_NOMINAL_MZ + 1. */
size_t sm_pack_(sm_nominal s, uint16_t *w);
/* Spectrum at position p (library index when there is no index yet), decoded into
 * mz and in when packed (room for SM_MAX_NOMINAL_MZ + 1 each), else a view. */
sm_nominal sm_nominal_at_(const sm_library *lib, size_t p, uint16_t *mz, uint16_t *in);
void sm_index_free_(sm_index *ix);

struct sm_library {
    size_t n;               /* spectra */
    size_t cap_n;

    /* peaks as read: spectrum i is [peak_off[i], peak_off[i+1]) */
    uint64_t *peak_off;     /* n + 1 */
    double *peak_mz;
    double *peak_int;
    size_t n_peaks;
    size_t cap_peaks;

    /* preprocessed nominal-mass spectra, same slicing by nom_off */
    uint64_t *nom_off;      /* n + 1 */
    uint16_t *nom_mz;
    uint16_t *nom_int;
    size_t n_nom;
    size_t cap_nom;
    /* Once the index is built (opened libraries), the same spectra packed as
     * kernels.h describes, 2 bytes a peak, in blocked order: nom_mz and nom_int are
     * freed, nom_off[p] is then the first word of position p and nom_peaks[p] its
     * number of peaks. */
    uint16_t *nom_w;
    uint16_t *nom_peaks;
    size_t n_words;

    sm_strcol col[SM_FIELD_COUNT];
    double *mw;             /* NAN when absent */
    double *exact_mass;     /* NAN when absent */
    uint32_t *source_index; /* which source file, UINT32_MAX if none */

    size_t n_sources;
    size_t cap_sources;
    char **source_path;
    char **source_sha256;   /* 64 hex chars */
    uint64_t *source_count;

    unsigned fmt_major;
    unsigned fmt_minor;
    double mz_round_boundary;
    unsigned base_peak;
    char *tool_version;
    char *created;          /* ISO 8601 UTC */
    char checksum[80];      /* "sha256:" + 64 hex */

    /* Control-status table joined to the spectra when the library was built
     * (controls.c, docs/FORMAT.md "/controls"). Without one has_controls is false and
     * the ctl columns are empty (NULL arrays). */
    bool has_controls;
    sm_strcol ctl[SM_CONTROL_COUNT]; /* cells of spectrum i's row, "" without a row */
    char *ctl_source;       /* the table's file name (no directories) */
    char *ctl_sha256;       /* SHA-256 of the table file, 64 hex */
    uint64_t ctl_rows;      /* rows in the table, matched or not */

    bool index_stored;      /* the index was read from the file (format 1.2), not built */
    int index_in_file;      /* the file's /index: 1 usable, 0 none, -1 of another kind */
    unsigned index_block;   /* its block size, 0 without */
    sm_index *index;        /* NULL until built (opened libraries only). Once built,
                               the nominal arrays are stored in blocked order (index->
                               pos_of maps a library index to its slot) so that a block's
                               spectra lie next to each other in memory. */
};

/* The string of column c for spectrum i (NUL-terminated, "" when absent or when the
 * column was not kept: off NULL). */
static inline const char *sm_strcol_get_(const sm_strcol *c, size_t i)
{
    if (c->off != NULL)
        return c->data + c->off[i] + i;
    if (c->sparse == NULL)
        return "";
    const char *p = c->data + c->sparse[i / SM_STRCOL_STEP];
    for (size_t k = i % SM_STRCOL_STEP; k > 0; k--)
        p += strlen(p) + 1;
    return p;
}

/* Fills err (when not NULL) and returns st. file may be NULL. */
sm_status sm_seterr_(sm_error *err, sm_status st, const char *file, unsigned long line,
                     const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/* Frees everything the struct owns, leaves it zeroed. */
void sm_library_free_contents_(sm_library *lib);

/* SHA-256 (FIPS 180-4). */
typedef struct sm_sha256 {
    uint32_t h[8];
    uint64_t nbytes;
    uint8_t buf[64];
    size_t nbuf;
} sm_sha256;

void sm_sha256_init_(sm_sha256 *c);
void sm_sha256_update_(sm_sha256 *c, const void *data, size_t n);
void sm_sha256_final_(sm_sha256 *c, uint8_t out[32]);
void sm_hex_(const uint8_t *bytes, size_t n, char *out); /* writes 2n chars + NUL */
/* "sha-ni" or "portable": which block function this process uses
 * (SPECMATCH_SHA256=portable forces the portable one). */
const char *sm_sha256_impl_(void);

/* The control-status table as read from a TSV file (controls.c): one row per
 * compound, kept by the builder until the library is written and the rows are
 * joined to the spectra by compound key (sm_compound_key). */
typedef struct sm_ctl_row {
    char *buf;                          /* the row's text, tabs turned into NULs */
    const char *key;                    /* points into buf */
    const char *cell[SM_CONTROL_COUNT]; /* into buf, or "" */
    unsigned long line;                 /* line in the table file */
} sm_ctl_row;

typedef struct sm_ctl_table {
    sm_ctl_row *rows;       /* sorted by key (strcmp), keys unique */
    size_t n;
    size_t cap;
    char *source;           /* file name, no directories */
    char sha256[65];        /* of the bytes that were parsed */
} sm_ctl_table;

sm_status sm_ctl_table_read_(const char *path, sm_ctl_table **out, sm_error *err);
void sm_ctl_table_free_(sm_ctl_table *t);
/* Replaces lib's control columns and provenance with the table's rows joined to
 * lib's spectra. */
sm_status sm_ctl_join_(const sm_ctl_table *t, sm_library *lib, sm_error *err);

/* Content checksum: "sha256:<hex>" over the library's arrays in the canonical
 * order and byte layout documented in docs/FORMAT.md. */
void sm_content_checksum_(const sm_library *lib, char out[80]);
/* Checksum of the control columns (docs/FORMAT.md "/controls"), same form. */
void sm_controls_checksum_(const sm_library *lib, char out[80]);

/* The only functions that call HDF5 (h5io.c). write: creates path (which must not
 * be the final name: the caller renames). read: fills a zeroed lib and verifies the
 * format name, major version and checksum. */
sm_status sm_h5_write_(const sm_library *lib, const char *path, sm_error *err);
/* sm_h5_write_ with the chunks compressed on `threads` threads (sm_h5_write_: one per
 * core); the file's bytes are the same whatever the number. */
sm_status sm_h5_write_threads_(const sm_library *lib, const char *path, unsigned threads,
                               sm_error *err);
sm_status sm_h5_read_(const char *path, sm_library *lib, unsigned flags, sm_error *err);

/* A chunk of a 1-D dataset (chunks.c): `packed` holds it as stored, packed_len
 * bytes; `plain` its first n_valid elements. Decoding, packed is inflated if
 * deflated (to exactly chunk_elems * elsize bytes, else it is damaged), then
 * unshuffled if shuffled, into plain. Encoding, plain is shuffled (elements of more
 * than a byte; zero past n_valid) and deflated into packed, whose room packed_len
 * gives (compressBound of a chunk's bytes) and which becomes its length: the bytes
 * HDF5's shuffle and deflate filters write. */
typedef struct sm_chunk_job {
    uint8_t *packed;
    size_t packed_len;
    bool deflated, shuffled;
    uint8_t *plain;
    size_t n_valid;
    int failed; /* out: 1 when it did not decode or encode */
} sm_chunk_job;

/* The most threads sm_chunks_decode_ and sm_chunks_encode_ run. */
#define SM_CHUNK_THREADS 16u

/* fn(jobs + k * job_size) for k < n (at most SM_MAX_THREADS_), each on a thread of
 * its own, job 0 on the caller's; returns when all have returned. A thread that
 * cannot be started has its job run on the caller's afterwards (batch.c). */
#define SM_MAX_THREADS_ 16u
void sm_run_threads_(void *(*fn)(void *), void *jobs, size_t job_size, size_t n);

/* Decodes (encodes) n chunks on up to `threads` threads (the caller's among them),
 * scratch holding chunk_elems * elsize bytes for each; on a little-endian host only.
 * Decoding, the calling thread first runs side(side_arg) when side is not NULL.
 * Returns the first job that failed, or SIZE_MAX when all succeeded. */
size_t sm_chunks_decode_(sm_chunk_job *jobs, size_t n, size_t chunk_elems, size_t elsize,
                         unsigned threads, uint8_t *scratch, void (*side)(void *),
                         void *side_arg);
size_t sm_chunks_encode_(sm_chunk_job *jobs, size_t n, size_t chunk_elems, size_t elsize,
                         int level, unsigned threads, uint8_t *scratch);
/* The room an encoded chunk of `bytes` bytes may need (zlib's compressBound). */
size_t sm_chunk_room_(size_t bytes);

/* The specmatch header in the file's first 512 bytes (an HDF5 user block): magic,
 * the sha256 and size of the rest of the file. Readers check it before HDF5 parses
 * anything. sm_h5_seal_ (re)writes it for a complete file. */
#define SM_HEADER_SIZE 512
#define SM_HEADER_MAGIC "specmatch-library\n"
sm_status sm_h5_seal_(const char *path, sm_error *err);

#endif
