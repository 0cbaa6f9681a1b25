/* specmatch.h — public API: read EI mass spectra, preprocess, score and search an HDF5 reference library. */
#ifndef SPECMATCH_H
#define SPECMATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "specmatch/version.h"

#ifdef __cplusplus
extern "C" {
#endif

#if defined(SM_BUILDING_LIBRARY) && defined(__GNUC__)
#define SM_API __attribute__((visibility("default")))
#else
#define SM_API
#endif

/* Status codes. The numbers are stable: they may be logged or stored. */
typedef enum sm_status {
    SM_OK = 0,
    SM_END = 1,             /* no more spectra in a reader: not an error */
    SM_ERR_NOMEM = 2,       /* out of memory */
    SM_ERR_IO = 3,          /* a file could not be opened, read or written */
    SM_ERR_PARSE = 4,       /* input data is malformed */
    SM_ERR_ARG = 5,         /* invalid argument from the caller */
    SM_ERR_FORMAT = 6,      /* library file of an unknown format or version */
    SM_ERR_CHECKSUM = 7,    /* library file content does not match its checksum */
    SM_ERR_HDF5 = 8,        /* the HDF5 library reported an error */
    SM_ERR_LIMIT = 9,       /* a documented limit was exceeded */
    SM_ERR_UNSUPPORTED = 10 /* feature or kernel not available here */
} sm_status;

SM_API const char *sm_status_str(sm_status s);

/* Caller-owned error details: where the problem is and what was expected. */
typedef struct sm_error {
    sm_status status;
    char file[512];          /* input or library path, "" if none */
    unsigned long line;      /* 1-based line in file, 0 if not applicable */
    char message[1024];
} sm_error;

/* Version string of the library ("0.1.0"), the HDF5 it runs with, the active kernel. */
SM_API const char *sm_version(void);
SM_API const char *sm_hdf5_version(void);

/* ------------------------------------------------------------------ */
/* Spectra as read                                                     */

/* Limits that protect the machine; exceeding one is an error, never truncation. */
#define SM_MAX_PEAKS 65536        /* peaks per spectrum as read */
#define SM_MAX_MZ 5000.0          /* largest m/z accepted */
#define SM_MAX_LINE 65536         /* longest input line, bytes */
#define SM_MAX_NOMINAL_MZ 5000    /* nominal-mass bins: 0..SM_MAX_NOMINAL_MZ */

typedef struct sm_peak {
    double mz;
    double intensity;
} sm_peak;

typedef enum sm_field {
    SM_FIELD_NAME = 0,
    SM_FIELD_SYNONYMS,  /* several Synon: lines joined with '\n' */
    SM_FIELD_INCHIKEY,
    SM_FIELD_FORMULA,
    SM_FIELD_CAS,       /* CAS#, CASNO */
    SM_FIELD_ID,        /* ID, DB#, NIST# */
    SM_FIELD_COMMENT,   /* Comment, Comments */
    SM_FIELD_LICENSE,
    SM_FIELD_COUNT
} sm_field;

SM_API const char *sm_field_name(sm_field f);

typedef struct sm_spectrum {
    char *field[SM_FIELD_COUNT]; /* owned, NULL when absent */
    double mw;                   /* NAN when absent */
    double exact_mass;           /* NAN when absent */
    size_t n_peaks;
    size_t cap_peaks;
    sm_peak *peaks;              /* owned, in file order */
    unsigned long line;          /* line where the record starts */
} sm_spectrum;

SM_API void sm_spectrum_init(sm_spectrum *s);
/* Frees what the spectrum owns and re-initializes it; takes NULL. */
SM_API void sm_spectrum_clear(sm_spectrum *s);

/* ------------------------------------------------------------------ */
/* Streaming MSP reader                                                */

typedef struct sm_reader sm_reader;

/* Input formats the reader knows. The numbers are stable. */
typedef enum sm_format {
    SM_FORMAT_AUTO = 0,   /* recognize from content */
    SM_FORMAT_MSP,        /* NIST MSP: MS Search, SWGDRUG, MassBank, MS-DIAL exports */
    SM_FORMAT_MSL,        /* AMDIS MSL: MSP fields, peaks as "(  41  100) (  43  999)" */
    SM_FORMAT_JCAMP,      /* JCAMP-DX mass spectra, one or more blocks */
    SM_FORMAT_PEAKTABLE   /* two columns m/z, intensity (CSV, TSV or blanks): one
                             spectrum per file, named after the file */
} sm_format;

/* "auto", "msp", "msl", "jcamp", "peaks"; "" for a number out of range. */
SM_API const char *sm_format_name(sm_format f);
/* The format named (case-insensitive; also "jcamp-dx", "jdx", "dx", "csv", "tsv",
 * "peaktable"); an unknown name is SM_ERR_ARG with the list of names. */
SM_API sm_status sm_format_from_name(const char *name, sm_format *out, sm_error *err);

/* path "-" reads standard input. Same as sm_reader_open_format(path, SM_FORMAT_AUTO). */
SM_API sm_status sm_reader_open(const char *path, sm_reader **out, sm_error *err);
/* Reads from an open stream the caller keeps owning; label names it in errors. */
SM_API sm_status sm_reader_open_stream(FILE *fp, const char *label, sm_reader **out,
                                       sm_error *err);
/* Opens with a given format, or SM_FORMAT_AUTO to recognize it from the first
 * lines (never from the file name; the lines looked at are read again, so standard
 * input works): a "##LABEL=" line is JCAMP-DX; a "Name:" (or another MSP key) line
 * is MSP, or MSL when the first peak line after the fields starts with '('; a first
 * line of two or more numbers, or a two-cell header followed by such a line, is a
 * peak table. Lines starting with "$$" are skipped; an empty input is MSP (no
 * spectra). Anything else: SM_ERR_PARSE, "expected a 'Name:' line (MSP, MSL),
 * '##TITLE=' (JCAMP-DX) or a two-column peak table; cannot tell the format of FILE". */
SM_API sm_status sm_reader_open_format(const char *path, sm_format fmt, sm_reader **out,
                                       sm_error *err);
SM_API sm_status sm_reader_open_stream_format(FILE *fp, const char *label, sm_format fmt,
                                              sm_reader **out, sm_error *err);
/* The format being read (after recognition). */
SM_API sm_format sm_reader_format(const sm_reader *r);
/* Next spectrum into *out (cleared first). Returns SM_OK, SM_END, or an error for
 * one record (SM_ERR_PARSE, SM_ERR_LIMIT); after a record error the next call goes
 * on with the following record. SM_ERR_IO ends the stream. */
SM_API sm_status sm_reader_next(sm_reader *r, sm_spectrum *out, sm_error *err);
/* Number of records seen so far, good or bad. */
SM_API size_t sm_reader_records(const sm_reader *r);
SM_API void sm_reader_close(sm_reader *r);

/* ------------------------------------------------------------------ */
/* Preprocessing and scores                                            */

/* Fractional m/z up to this fraction rounds down, above it rounds up (AMDIS). */
#define SM_MZ_ROUND_BOUNDARY 0.649
#define SM_BASE_PEAK 999

/* A nominal-mass spectrum: m/z ascending, unique, intensity 1..999. A view. */
typedef struct sm_nominal {
    size_t n;
    const uint16_t *mz;
    const uint16_t *intensity;
} sm_nominal;

/* Nominal mass of an m/z value by the rounding rule above. */
SM_API long sm_nominal_mz(double mz);

/* Preprocess peaks into caller buffers of capacity cap (SM_MAX_NOMINAL_MZ + 1 is
 * always enough). Fails on an empty spectrum, a non-finite, negative or out-of-range
 * value, or a spectrum whose intensities are all zero. */
SM_API sm_status sm_preprocess(const sm_peak *peaks, size_t n_peaks, uint16_t *mz,
                               uint16_t *intensity, size_t cap, size_t *n_out,
                               sm_error *err);

/* NIST identity match factor ("identity, EI normal"), Stein & Scott 1994 as
 * reproduced by Samokhin 2024: exact value on the 0-999 scale before display
 * rounding (may be -0.5 for no overlap). reverse != 0 gives the reverse MF. */
SM_API double sm_match_factor(sm_nominal unknown, sm_nominal library, int reverse);

/* Alternative scores, 0..1, for comparing methods (specmatch eval --score): the
 * cosine of the two intensity vectors over nominal m/z (no weighting, whole range),
 * and the spectral entropy similarity of Li et al. (Nat. Methods 2021): intensities
 * normalized to sum 1, a spectrum of entropy below 3 weighted by the exponent
 * 0.25 + 0.25 S, then 1 - (2 S(merged) - S(a) - S(b)) / ln 4 with merged = (a + b) / 2. */
SM_API double sm_cosine_similarity(sm_nominal a, sm_nominal b);
SM_API double sm_entropy_similarity(sm_nominal a, sm_nominal b);

/* Integer shown to users: floor(mf + 0.5) clamped to 0..999. */
SM_API int sm_mf_display(double mf);

/* ------------------------------------------------------------------ */
/* Reference library (HDF5)                                            */

typedef struct sm_library sm_library;

/* Opens and fully loads a library file; verifies format version and checksum. */
SM_API sm_status sm_library_open(const char *path, sm_library **out, sm_error *err);
SM_API void sm_library_close(sm_library *lib);

/* Flags of sm_library_open_ex. */
#define SM_OPEN_SEARCH_ONLY 1u /* peaks as read, synonyms, comments and licences are
                                  verified, not kept in memory: what a search needs, a
                                  fraction of the memory; then sm_library_peaks gives
                                  n = 0 and sm_library_field "" for those three */
/* The threads that decompress the file's arrays while opening (1..255); 0, or the
 * flag left out: one per core. A library of a few thousand spectra is read on one. */
#define SM_OPEN_THREADS(n) (((unsigned)(n) & 0xFFu) << 8)
SM_API sm_status sm_library_open_ex(const char *path, unsigned flags, sm_library **out,
                                    sm_error *err);

SM_API size_t sm_library_size(const sm_library *lib);
/* Metadata of spectrum i; "" when absent. */
SM_API const char *sm_library_field(const sm_library *lib, size_t i, sm_field f);
SM_API double sm_library_mw(const sm_library *lib, size_t i);
SM_API double sm_library_exact_mass(const sm_library *lib, size_t i);
/* Room for the nominal peaks of any spectrum. */
typedef struct sm_nominal_buf {
    uint16_t mz[SM_MAX_NOMINAL_MZ + 1];
    uint16_t intensity[SM_MAX_NOMINAL_MZ + 1];
} sm_nominal_buf;
/* Spectrum i's nominal-mass peaks. An opened library keeps them packed (2 bytes a
 * peak): they are decoded into buf, and the view is good until buf is used again.
 * n = 0 when i is out of range or buf is NULL. */
SM_API sm_nominal sm_library_nominal(const sm_library *lib, size_t i, sm_nominal_buf *buf);
/* Peaks as read (m/z and intensity arrays of n entries); n = 0 and NULL arrays
 * when the library was opened with SM_OPEN_SEARCH_ONLY. */
SM_API void sm_library_peaks(const sm_library *lib, size_t i, const double **mz,
                             const double **intensity, size_t *n);

typedef struct sm_library_info {
    unsigned format_major;
    unsigned format_minor;
    const char *format_name;
    const char *tool_version;
    const char *created;          /* ISO 8601 UTC */
    const char *checksum;         /* "sha256:<hex>" of the content */
    double mz_round_boundary;
    unsigned base_peak;
    size_t n_spectra;
    size_t n_sources;
    /* The file's search index (format 1.2): 1 stored and read when opened, 0 none
     * (the library is indexed when opened), -1 stored but of another index
     * version or block size than this build's (likewise not used). */
    int stored_index;
    size_t index_block;           /* spectra per block of the stored index, 0 without */
} sm_library_info;

SM_API void sm_library_get_info(const sm_library *lib, sm_library_info *info);
/* Source file j: its file name (no directories), sha256 hex, spectra taken. */
SM_API void sm_library_source(const sm_library *lib, size_t j, const char **path,
                              const char **sha256_hex, size_t *n_spectra);

/* Control status (spectra-library/CONTROLS.md): the curated table joined to the
 * spectra when the library was built (sm_builder_set_controls), one row per compound
 * keyed by sm_compound_key. Cells are the table's text; "" when empty or when the
 * spectrum's compound has no row. */
typedef enum sm_control_field {
    SM_CONTROL_CLASS = 0,    /* fentanyl-analogue, fentanyl-precursor, fentanyl-metabolite,
                                internal-standard, other-opioid, other */
    SM_CONTROL_UN1961,       /* UN 1961 Single Convention schedule(s): "I", "I+IV"; "no" */
    SM_CONTROL_UN1961_YEAR,  /* year added to those schedules */
    SM_CONTROL_INCB_FRS,     /* on the INCB list of fentanyl-related substances with no
                                known legitimate use: "yes" / "no" */
    SM_CONTROL_US_CSA,       /* US Controlled Substances Act: "I".."V", "List I"; "no" */
    SM_CONTROL_US_BASIS,     /* named, FRS class-wide, temporary, immediate precursor, ... */
    SM_CONTROL_AS_OF,        /* date the row's facts hold for */
    SM_CONTROL_NOTE,
    SM_CONTROL_COUNT
} sm_control_field;

/* Column name in the table and the file: "class", "un1961", "un1961_year",
 * "incb_frs", "us_csa", "us_basis", "as_of", "note"; "" out of range. */
SM_API const char *sm_control_field_name(sm_control_field f);

/* Whether the library was built with a control table; when it was, *source and
 * *sha256 (may be NULL) receive the table's file name and SHA-256 hex. */
SM_API bool sm_library_has_controls(const sm_library *lib, const char **source,
                                    const char **sha256);
/* Whether spectrum i's compound has a row in the table. */
SM_API bool sm_library_control_listed(const sm_library *lib, size_t i);
SM_API const char *sm_library_control(const sm_library *lib, size_t i, sm_control_field f);
/* Whether the row says the compound is controlled under any of the table's
 * instruments (a schedule under UN 1961 or the US CSA, or the INCB list). */
SM_API bool sm_library_control_scheduled(const sm_library *lib, size_t i);
/* One line for people, written to out (cap bytes, always NUL-terminated when cap > 0):
 * "SCHEDULED: UN 1961 Schedule I (2017); US CSA Schedule I (FRS class-wide)",
 * "not scheduled under the table's sources (as of 2024)", "listed (CLASS); control
 * status not recorded", "not listed in the table's sources", or "" when the library
 * has no control table. Never "legal". Returns the length it wanted. */
SM_API size_t sm_library_control_summary(const sm_library *lib, size_t i, char *out,
                                         size_t cap);

/* Building a library. */
typedef struct sm_builder sm_builder;

SM_API sm_status sm_builder_new(sm_builder **out, sm_error *err);
SM_API void sm_builder_free(sm_builder *b);
/* Adds one spectrum (copied); fails when it cannot be preprocessed. */
SM_API sm_status sm_builder_add(sm_builder *b, const sm_spectrum *s, sm_error *err);
/* Records a source file's provenance (file name and sha256, computed here) for the
 * spectra added since the previous source. */
SM_API sm_status sm_builder_add_source(sm_builder *b, const char *path, size_t n_spectra,
                                       sm_error *err);
SM_API size_t sm_builder_size(const sm_builder *b);
/* Reads a control-status table (TSV, spectra-library/CONTROLS.md) to be joined to the
 * spectra when the library is written: errors name the file and line (a row with the
 * wrong number of cells, an unknown class, a duplicate key). */
SM_API sm_status sm_builder_set_controls(sm_builder *b, const char *tsv_path, sm_error *err);

/* Writes to a temporary file beside path, then renames it into place. */
SM_API sm_status sm_builder_write(sm_builder *b, const char *path, sm_error *err);

/* ------------------------------------------------------------------ */
/* Search                                                              */

typedef struct sm_hit {
    size_t index;  /* library spectrum */
    double mf;     /* identity match factor, exact */
    double rmf;    /* reverse match factor, exact */
} sm_hit;

typedef struct sm_searcher sm_searcher;

/* One searcher per thread; the library is shared read-only. */
SM_API sm_status sm_searcher_new(const sm_library *lib, sm_searcher **out, sm_error *err);
SM_API void sm_searcher_free(sm_searcher *s);

/* Only hits with an MF of at least min_mf are wanted (0: all): the search starts
 * with that floor, which lets it skip far more of a large library. The hits it
 * returns are exactly the exhaustive top k with MF >= min_mf. */
SM_API void sm_searcher_set_min_mf(sm_searcher *s, double min_mf);

/* Spectra to leave out of every search of this searcher (leave-one-compound-out
 * tests): skip[i] != 0 leaves library spectrum i out. The array is not copied and
 * must stay valid while the searcher uses it; NULL leaves nothing out. */
SM_API void sm_searcher_set_skip(sm_searcher *s, const uint8_t *skip);

/* Top-k library spectra by MF (ties: lower index first) for a preprocessed query.
 * exclude: a library index left out (for replicate tests), or SIZE_MAX for none.
 * hits has room for k; *n_hits receives how many were filled. */
SM_API sm_status sm_search_nominal(sm_searcher *s, sm_nominal query, size_t k,
                                   size_t exclude, sm_hit *hits, size_t *n_hits,
                                   sm_error *err);
/* The same result by scoring every library spectrum, without the index: the
 * reference the indexed search is tested against. */
SM_API sm_status sm_search_exhaustive(const sm_library *lib, sm_nominal query, size_t k,
                                      size_t exclude, sm_hit *hits, size_t *n_hits,
                                      sm_error *err);

/* Searches nq preprocessed queries with up to n_threads threads (0: one per core).
 * Query j's hits go to hits[j * k ...], their count to n_hits[j]; the results are
 * identical whatever the thread count. */
SM_API sm_status sm_search_batch(const sm_library *lib, const sm_nominal *queries, size_t nq,
                                 size_t k, unsigned n_threads, sm_hit *hits, size_t *n_hits,
                                 sm_error *err);
/* Same, with a minimum MF as sm_searcher_set_min_mf. */
SM_API sm_status sm_search_batch_min(const sm_library *lib, const sm_nominal *queries,
                                     size_t nq, size_t k, double min_mf, unsigned n_threads,
                                     sm_hit *hits, size_t *n_hits, sm_error *err);

/* Number of online CPU cores (at least 1). */
SM_API unsigned sm_cpu_count(void);

/* What a searcher did so far: how much of the library the bounds let it skip. */
typedef struct sm_search_stats {
    uint64_t queries;
    uint64_t blocks_scanned;   /* blocks whose spectra were bounded one by one */
    uint64_t blocks_skipped;   /* blocks excluded by their envelope bound */
    uint64_t bounded;          /* spectra whose own bound was computed */
    uint64_t exact;            /* spectra scored with the exact MF */
} sm_search_stats;

SM_API void sm_searcher_stats(const sm_searcher *s, sm_search_stats *out);

/* Same, preprocessing the spectrum first. */
SM_API sm_status sm_search(sm_searcher *s, const sm_spectrum *query, size_t k,
                           sm_hit *hits, size_t *n_hits, sm_error *err);

/* ------------------------------------------------------------------ */
/* Verdicts: what a search lets one conclude (docs/VERDICTS.md)         */

typedef enum sm_verdict_status {
    SM_VERDICT_NO_MATCH = 0, /* nothing identified: no hit reaches the threshold, or
                                the evidence contradicts or cannot separate the hits */
    SM_VERDICT_IDENTIFIED,   /* the best hit, distinct enough from every other compound */
    SM_VERDICT_ISOMERS,      /* the best hits are compounds of one nominal mass (or one
                                formula) that this spectrum cannot tell apart, or the
                                best is a fentanyl analogue whose isomers EI-MS does
                                not tell apart (sm_verdict.unresolved) */
    SM_VERDICT_ANALOGUE      /* suspected analogue not in the library (hybrid search) */
} sm_verdict_status;

/* "no_match", "identified", "isomers", "analogue" (the JSON Lines values). */
SM_API const char *sm_verdict_status_name(sm_verdict_status s);

/* Hits a verdict should be given: search with k of at least this. */
#define SM_JUDGE_HITS 10
/* Most compounds an isomer group names. */
#define SM_VERDICT_MAX_GROUP 8

typedef struct sm_judge_params {
    double min_mf;          /* the best MF must reach it (850) */
    double isomer_margin;   /* compounds of the best's nominal mass or formula within
                               this many MF units of it form the isomer group (60) */
    double other_margin;    /* a compound of another mass within this many MF units
                               leaves the hits unresolved: no_match (20) */
    double min_above;       /* query ions of at least this intensity (of 999) above the
                               best's molecular weight plus its isotope allowance
                               rule the best out (20) */
} sm_judge_params;

SM_API void sm_judge_defaults(sm_judge_params *p);

/* Why the verdict is what it is. Stable numbers; sm_verdict_reason_text explains. */
typedef enum sm_verdict_reason {
    SM_REASON_NONE = 0,      /* identified or isomers: the rules were met */
    SM_REASON_NO_HITS,       /* the search returned nothing */
    SM_REASON_LOW_MF,        /* the best MF is below min_mf */
    SM_REASON_IONS_ABOVE_MW, /* the query has ions above the best hit's molecular ion */
    SM_REASON_UNRESOLVED,    /* another compound, of another mass, matches about as well */
    SM_REASON_SHIFTED_RELATIVE /* a fentanyl-class relative, with a mass shift, explains the
                                  spectrum clearly better than the best hit does directly
                                  (sm_verdict_apply_analogue) */
} sm_verdict_reason;

SM_API const char *sm_verdict_reason_text(sm_verdict_reason r);

typedef struct sm_verdict {
    sm_verdict_status status;
    sm_verdict_reason reason;
    size_t best;            /* position in hits[] of the best hit; SIZE_MAX when none */
    size_t n_group;         /* compounds the verdict names: 1 identified, >= 2 isomers
                               (1 when only `unresolved` makes it isomers), 0 no_match */
    size_t group[SM_VERDICT_MAX_GROUP]; /* positions in hits[] of each named compound's
                                           best hit, best first */
    size_t competitor;      /* position in hits[] of the best compound outside the group
                               (the next candidate); SIZE_MAX when none */
    unsigned ion_above;     /* for SM_REASON_IONS_ABOVE_MW: the highest such m/z */
    double confidence;      /* probability that the group (the best hit, when alone)
                               holds the right compound, calibrated as docs/VERDICTS.md
                               says: 0..1 */
    double features[8];     /* what the confidence was computed from (for calibration
                               programs): see verdict.c */
    const char *unresolved; /* isomers: kind of isomer of the best compound that EI-MS
                               does not exclude, the library holding them or not
                               (sm_library_unresolved_isomers); "" when none */
} sm_verdict;

/* Judges a search: hits as sm_search_nominal returned them (best first, k of at least
 * SM_JUDGE_HITS for a sound verdict) for the preprocessed query q. params NULL: the
 * defaults. Never fails on valid arguments. */
SM_API sm_status sm_judge(const sm_library *lib, sm_nominal q, const sm_hit *hits,
                          size_t n_hits, const sm_judge_params *params, sm_verdict *out,
                          sm_error *err);

/* The caution every verdict carries. */
SM_API const char *sm_verdict_caution(void);

/* ------------------------------------------------------------------ */
/* Analogues: hybrid search and mass shifts (docs/ANALOGUES.md)          */

/* Hybrid match factor (after Moorthy et al., Anal. Chem. 2017): with
 * delta_m = MW(unknown) - MW(library), each library peak at m may pair with the
 * unknown's peak at m (direct) or at m + delta_m (shifted, the part of the molecule
 * that carries the modification); every peak pairs at most once, the pairs that add
 * most to the dot product first. Weights sqrt(m I) as in the identity MF, over the
 * common m/z range, intensity-1 peaks passed over; the score is 1000 (sum of paired
 * products)^2 / (norm_u norm_l), 0..1000 (shown as 0..999). delta_m = 0 gives the
 * identity MF's first term times 1000. */
SM_API double sm_hybrid_match_factor(sm_nominal unknown, sm_nominal library, int delta_m);
/* Same, also counting the pairs: *n_direct direct and *n_shifted shifted pairs
 * (either may be NULL); shifted[] (room for library.n, may be NULL) receives 1 for
 * each library peak paired through the shift. */
SM_API double sm_hybrid_match_factor_ex(sm_nominal unknown, sm_nominal library, int delta_m,
                                        size_t *n_direct, size_t *n_shifted,
                                        uint8_t *shifted);

/* Mass shifts between two spectra by FFT cross-correlation (fftw3f): the shifts s
 * (|s| <= max_shift, s != 0) at which the unknown's weights, moved down by s, best
 * overlap the library spectrum's, beyond what the direct overlap already explains.
 * One sm_shifter per thread (it holds the FFT plans and buffers). */
typedef struct sm_shifter sm_shifter;
SM_API sm_status sm_shifter_new(sm_shifter **out, sm_error *err);
SM_API void sm_shifter_free(sm_shifter *s);
/* Writes up to max_out shifts, best first, and their correlation scores (the share
 * of the library spectrum's weight that the shift pairs, 0..1) to shifts[] and
 * scores[] (scores may be NULL); returns how many. */
SM_API size_t sm_shifter_propose(sm_shifter *s, sm_nominal unknown, sm_nominal library,
                                 int max_shift, int *shifts, double *scores, size_t max_out);

/* Molecular weight of an unknown estimated from its spectrum: the highest ion that
 * can be a molecular ion (not an isotope peak of the ion below it, no implausible
 * loss to the next fragment). confidence: 0 no candidate, 1 low (weak ion or a
 * doubtful loss), 2 high. */
typedef struct sm_mw_estimate {
    unsigned mw;
    unsigned intensity; /* of the candidate ion, 1..999 */
    int confidence;
} sm_mw_estimate;
SM_API void sm_estimate_mw(sm_nominal unknown, sm_mw_estimate *out);

/* Whether library spectrum i is of a fentanyl-related compound by the library's
 * control table: class fentanyl-analogue, -precursor or -metabolite, or an internal
 * standard labelled from one (false without a table). */
SM_API bool sm_library_fentanyl_class(const sm_library *lib, size_t i);

/* For a fentanyl-class spectrum i whose compound has isomers that EI spectra do not
 * tell apart, what they are: "ring-position isomers ..." when its name places a
 * substituent or a heteroaryl ring at a stated ring position, "acyl-group isomers ..."
 * when its acyl group (four carbons or more, or a furan or thiophene) has branched,
 * unsaturated or cyclic isomers of one formula; "" otherwise (docs/VERDICTS.md). */
SM_API const char *sm_library_unresolved_isomers(const sm_library *lib, size_t i);

/* What a mass shift may stand for: up to max_out short texts from the documented
 * table of substitutions (docs/ANALOGUES.md), e.g. +14 -> "CH2 (a methyl group, or
 * one more carbon in a chain)"; returns how many. */
SM_API size_t sm_shift_explain(int delta_m, const char **out, size_t max_out);

/* Hits the analogue analysis looks at. */
#define SM_ANALOGUE_HITS 20
/* Closest analogues it reports. */
#define SM_ANALOGUE_MAX 3

typedef struct sm_analogue_params {
    double min_hybrid;      /* hybrid MF the closest analogue must reach (650) */
    double min_class_share; /* MF-weighted share of fentanyl-class compounds among the
                               best 10 identity hits (0.3) */
    int max_shift;          /* largest |delta M| looked at (150) */
    double identity_margin; /* hybrid MF by which a shifted relative must beat the best
                               identity hit's direct hybrid MF to set an identification
                               aside (35) */
    double query_mw;        /* the unknown's MW when known (metadata, --mw); NAN: not
                               known, then shifts come from the FFT and the estimate */
} sm_analogue_params;
SM_API void sm_analogue_defaults(sm_analogue_params *p);

typedef struct sm_analogue_hit {
    size_t hit;             /* position in hits[] */
    int delta_m;            /* MW(unknown) - MW(library) that the hybrid MF used */
    double hybrid_mf;
    size_t n_direct, n_shifted;
    uint16_t shifted_mz[8]; /* the library's most intense ions paired through the
                               shift (their m/z; the unknown's are + delta_m) */
    size_t n_shifted_mz;
    const char *part;       /* the part of a fentanyl molecule the shifted ions point
                               to ("acyl group", "anilide ring", "phenethyl part",
                               "piperidine ring or phenethyl part", ""), or "" */
} sm_analogue_hit;

typedef struct sm_analogue {
    bool suspected;         /* the analogue verdict applies */
    size_t n;               /* closest analogues, best hybrid MF first */
    sm_analogue_hit best[SM_ANALOGUE_MAX];
    double class_share;     /* fentanyl-class share among the best identity hits */
    size_t class_closest;   /* fentanyl-class compounds among the n closest analogues */
    unsigned query_mw;      /* the MW used: given, or estimated (0: none) */
    int mw_source;          /* 0 none, 1 given, 2 estimated with high confidence,
                               3 estimated with low confidence */
    double best_direct;     /* hybrid MF of the best identity hit at delta M 0 */
    bool shifted_better;    /* the best identity hit is fentanyl-class and the closest
                               analogue, at delta M != 0, beats best_direct by at least
                               identity_margin: the spectrum is better explained as a
                               shifted relative than as the best hit */
} sm_analogue;

/* Analogue analysis of a query: hybrid MF against the best identity hits (hits,
 * k of at least SM_ANALOGUE_HITS), at the shift the MWs give or the FFT proposes,
 * and whether the evidence supports a suspected fentanyl-related substance not in
 * the library (docs/ANALOGUES.md). sh: one shifter per thread. */
SM_API sm_status sm_analogue_analyze(const sm_library *lib, sm_shifter *sh, sm_nominal q,
                                     const sm_hit *hits, size_t n_hits,
                                     const sm_analogue_params *params, sm_analogue *out,
                                     sm_error *err);

/* Combines a verdict with the analogue analysis of the same hits: an `identified` or
 * `isomers` verdict that a shifted relative explains better (a->shifted_better) is set
 * aside (reason SM_REASON_SHIFTED_RELATIVE); a verdict that is then not identified
 * becomes `analogue` when a->suspected. a NULL: nothing changes. */
SM_API void sm_verdict_apply_analogue(sm_verdict *v, const sm_analogue *a);

/* ------------------------------------------------------------------ */
/* SIMD kernels                                                        */

/* Kernels compiled in, best first ("avx512", "avx2", "neon", "scalar"). */
SM_API size_t sm_kernel_count(void);
SM_API const char *sm_kernel_name_at(size_t i);
/* Whether this CPU (and OS) can run kernel i. */
SM_API bool sm_kernel_supported_at(size_t i);
/* Name of the kernel in use. The first search chooses it: the one named by the
 * environment variable SPECMATCH_KERNEL, else the best this CPU supports. */
SM_API const char *sm_kernel_active(void);
/* Forces a kernel by name. An unknown name, or one this CPU cannot run, is an error
 * (SM_ERR_ARG, SM_ERR_UNSUPPORTED), never a silent fallback. Also fails when
 * SPECMATCH_KERNEL names an invalid kernel and name is NULL (name NULL: apply the
 * environment variable or the automatic choice). Call before searching. */
SM_API sm_status sm_kernel_select(const char *name, sm_error *err);

/* ------------------------------------------------------------------ */
/* Compound identity                                                   */

/* True when the name or the formula says the compound is isotope-labelled with
 * deuterium (internal standards: "Fentanyl-d5", "NAPHTHALENE (1,2,...-D8)",
 * formula "C22H23D5N2O"). Such standards share the InChIKey's first block with
 * their parent but are compounds of their own. */
SM_API bool sm_is_deuterated(const char *name, const char *formula);

/* Key that identifies a compound across spectra: the InChIKey's first block (14
 * letters), with "-D" appended for deuterated standards; without an InChIKey, the
 * name in lower case. Empty when both are missing. Truncated to cap - 1 bytes. */
SM_API void sm_compound_key(const char *inchikey, const char *name, const char *formula,
                            char *out, size_t cap);

/* ------------------------------------------------------------------ */
/* Utilities                                                           */

/* SHA-256 of a whole file as 64 lowercase hex characters plus NUL. */
SM_API sm_status sm_sha256_file(const char *path, char hex[65], sm_error *err);

#ifdef __cplusplus
}
#endif

#endif
