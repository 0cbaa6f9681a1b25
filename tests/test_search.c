/* test_search.c — searching the SWGDRUG library: the sample, self-search, MassBank identification. */
#include "test_common.h"

#include "kernels/kernels.h"
#include "sm_internal.h"

/* A library spectrum's peaks, unpacked (one at a time). */
static sm_nominal_buf lib_buf;
static sm_nominal_buf hit_buf; /* a second one, for its rank-1 hit */


static sm_library *lib;
static sm_searcher *searcher;

static int setup(void **state)
{
    (void)state;
    sm_error e = {0};
    /* opened for searching: the index stored in the file (the tests that need one
     * built when the library is opened open the library again, with large blocks) */
    if (sm_library_open_ex(SM_DEFAULT_LIBRARY, SM_OPEN_SEARCH_ONLY, &lib, &e) != SM_OK) {
        fprintf(stderr, "cannot open %s: %s\n", SM_DEFAULT_LIBRARY, e.message);
        return -1;
    }
    return sm_searcher_new(lib, &searcher, &e) == SM_OK ? 0 : -1;
}

static void free_real_queries(void);

static int teardown(void **state)
{
    (void)state;
    free_real_queries();
    sm_searcher_free(searcher);
    sm_library_close(lib);
    return 0;
}

/* The default library opened a second time as if it were big: its index built at
 * open, with the large blocks. */
static sm_library *open_large(void)
{
    sm_error e = {0};
    sm_library *large = NULL;
    /* and blocked in segments of 1,000 spectra, on threads, as a library of more
     * than SM_INDEX_SEGMENT spectra is */
    sm_index_small_ = 0;
    sm_index_segment_ = 1000;
    assert_int_equal(sm_library_open(SM_DEFAULT_LIBRARY, &large, &e), SM_OK);
    sm_index_small_ = SM_INDEX_SMALL;
    sm_index_segment_ = SM_INDEX_SEGMENT;
    return large;
}

/* The default library as the file has it, without an index. */
static void read_raw(sm_library *raw)
{
    sm_error e = {0};
    memset(raw, 0, sizeof *raw);
    assert_int_equal(sm_h5_read_(SM_DEFAULT_LIBRARY, raw, 0, &e), SM_OK);
}

static void test_sample_is_fentanyl(void **state)
{
    (void)state;
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file("samples/fentanyl-replicate.msp"), &r, &e),
                     SM_OK);
    assert_int_equal(sm_reader_next(r, &s, &e), SM_OK);
    sm_hit hits[10];
    size_t n = 0;
    assert_int_equal(sm_search(searcher, &s, 10, hits, &n, &e), SM_OK);
    assert_int_equal(n, 10);
    assert_string_equal(sm_library_field(lib, hits[0].index, SM_FIELD_NAME), "Fentanyl");
    assert_string_equal(sm_library_field(lib, hits[0].index, SM_FIELD_INCHIKEY),
                        "PJMPHNIQZUBGLI-UHFFFAOYSA-N");
    assert_string_equal(sm_library_field(lib, hits[0].index, SM_FIELD_ID), "3919");
    assert_near(hits[0].mf, 941.62, 0.005);
    assert_near(hits[0].rmf, 942.45, 0.005);
    for (size_t j = 1; j < n; j++)
        assert_true(hits[j - 1].mf >= hits[j].mf);
    /* the same search with k = 3 gives the first three hits */
    sm_hit three[3];
    assert_int_equal(sm_search(searcher, &s, 3, three, &n, &e), SM_OK);
    assert_int_equal(n, 3);
    for (size_t j = 0; j < 3; j++) {
        assert_int_equal(three[j].index, hits[j].index);
        assert_near(three[j].mf, hits[j].mf, 0);
    }
    sm_spectrum_clear(&s);
    sm_reader_close(r);
}

static bool same_spectrum(sm_nominal a, sm_nominal b)
{
    return a.n == b.n && memcmp(a.mz, b.mz, a.n * sizeof *a.mz) == 0 &&
           memcmp(a.intensity, b.intensity, a.n * sizeof *a.intensity) == 0;
}

/* Every library spectrum finds an identical spectrum (itself or a duplicate) at
 * rank 1 with MF >= 998; left out, it finds something else. */
static void test_self_search(void **state)
{
    (void)state;
    sm_error e = {0};
    size_t n_lib = sm_library_size(lib), ok = 0;
    assert_int_equal(n_lib, 2988);
    for (size_t i = 0; i < n_lib; i++) {
        sm_hit h;
        size_t n = 0;
        sm_nominal q = sm_library_nominal(lib, i, &lib_buf);
        assert_int_equal(sm_search_nominal(searcher, q, 1, SIZE_MAX, &h, &n, &e), SM_OK);
        assert_int_equal(n, 1);
        if (same_spectrum(q, sm_library_nominal(lib, h.index, &hit_buf)) && sm_mf_display(h.mf) >= 998)
            ok++;
        else
            fprintf(stderr, "spectrum %zu: rank 1 is %zu with MF %.2f\n", i, h.index, h.mf);
        if (i % 500 == 0) {
            assert_int_equal(sm_search_nominal(searcher, q, 1, i, &h, &n, &e), SM_OK);
            assert_int_not_equal(h.index, i);
        }
    }
    assert_int_equal(ok, n_lib);
}

/* MassBank replicates of SWGDRUG compounds, counted by InChIKey first block with
 * deuterated standards apart: 326 of the 332 are in the library. */
static void test_massbank_identification(void **state)
{
    (void)state;
    size_t n_lib = sm_library_size(lib);
    char(*keys)[64] = calloc(n_lib, sizeof *keys);
    assert_non_null(keys);
    for (size_t i = 0; i < n_lib; i++)
        sm_compound_key(sm_library_field(lib, i, SM_FIELD_INCHIKEY),
                        sm_library_field(lib, i, SM_FIELD_NAME),
                        sm_library_field(lib, i, SM_FIELD_FORMULA), keys[i], sizeof keys[i]);
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file("massbank-ei-in-library.msp"), &r, &e),
                     SM_OK);
    size_t in_lib = 0, top1 = 0, total = 0;
    while (sm_reader_next(r, &s, &e) == SM_OK) {
        total++;
        char key[64];
        sm_compound_key(s.field[SM_FIELD_INCHIKEY], s.field[SM_FIELD_NAME],
                        s.field[SM_FIELD_FORMULA], key, sizeof key);
        bool present = false;
        for (size_t i = 0; i < n_lib && !present; i++)
            present = strcmp(keys[i], key) == 0;
        if (!present)
            continue;
        in_lib++;
        sm_hit h;
        size_t n = 0;
        assert_int_equal(sm_search(searcher, &s, 1, &h, &n, &e), SM_OK);
        if (strcmp(keys[h.index], key) == 0)
            top1++;
    }
    assert_int_equal(total, 332);
    assert_int_equal(in_lib, 326);
    printf("MassBank in-library top-1: %zu of %zu\n", top1, in_lib);
    assert_int_equal(top1, 274);
    sm_spectrum_clear(&s);
    sm_reader_close(r);
    free(keys);
}

/* The indexed search returns exactly the exhaustive top 10 (same spectra, same
 * order, same MF and RMF) on the real query sets, with every kernel this CPU runs. */
typedef struct {
    uint16_t mz[SM_MAX_NOMINAL_MZ + 1], in[SM_MAX_NOMINAL_MZ + 1];
    size_t n;
    sm_hit hits[10];
    size_t nh;
} exq;

static size_t load_queries(const char *file, size_t every, exq *out, size_t cap)
{
    sm_reader *r;
    sm_error e = {0};
    sm_spectrum s;
    sm_spectrum_init(&s);
    assert_int_equal(sm_reader_open(spectra_file(file), &r, &e), SM_OK);
    size_t n = 0, rec = 0;
    while (n < cap && sm_reader_next(r, &s, &e) == SM_OK) {
        if (rec++ % every)
            continue;
        assert_int_equal(sm_preprocess(s.peaks, s.n_peaks, out[n].mz, out[n].in,
                                       SM_MAX_NOMINAL_MZ + 1, &out[n].n, &e), SM_OK);
        n++;
    }
    sm_spectrum_clear(&s);
    sm_reader_close(r);
    return n;
}

/* Record j of a file (0-based), preprocessed; returns 1, or 0 past the end. */
static size_t load_queries_at(const char *file, size_t j, exq *out)
{
    static exq all[400];
    static const char *loaded;
    static size_t n_all;
    if (loaded != file) {
        n_all = load_queries(file, 1, all, 400);
        loaded = file;
    }
    if (j >= n_all)
        return 0;
    *out = all[j];
    return 1;
}

/* The 332 in-library and every fourth not-in-library MassBank spectrum with their
 * exhaustive top 10 (nothing left out), computed once for the tests that use them. */
static exq *real_q;
static size_t real_n;

static const exq *real_queries(size_t *n)
{
    if (real_q == NULL) {
        size_t cap = 2000;
        real_q = calloc(cap, sizeof *real_q);
        assert_non_null(real_q);
        real_n = load_queries("massbank-ei-in-library.msp", 1, real_q, cap);
        assert_int_equal(real_n, 332);
        real_n += load_queries("massbank-ei-not-in-library.msp", 4, real_q + real_n,
                               cap - real_n);
        assert_int_equal(real_n, 332 + 1139);
        sm_error e = {0};
        for (size_t j = 0; j < real_n; j++) {
            sm_nominal v = {real_q[j].n, real_q[j].mz, real_q[j].in};
            assert_int_equal(sm_search_exhaustive(lib, v, 10, SIZE_MAX, real_q[j].hits,
                                                  &real_q[j].nh, &e), SM_OK);
        }
    }
    *n = real_n;
    return real_q;
}

static void free_real_queries(void)
{
    free(real_q);
    real_q = NULL;
}

static void test_indexed_equals_exhaustive(void **state)
{
    (void)state;
    size_t n;
    const exq *all = real_queries(&n);
    exq *q = malloc(n * sizeof *q);
    assert_non_null(q);
    memcpy(q, all, n * sizeof *q);
    sm_error e = {0};
    for (size_t j = 0; j < n; j += 50) {
        sm_nominal v = {q[j].n, q[j].mz, q[j].in};
        /* every 50th query also leaves one library spectrum out */
        size_t excl = j % sm_library_size(lib);
        assert_int_equal(sm_search_exhaustive(lib, v, 10, excl, q[j].hits, &q[j].nh, &e), SM_OK);
    }
    /* both block sizes of the index: the library's own (small), then the large
     * ones, on a second copy opened as if the library were big */
    sm_library *large = open_large();
    assert_int_equal(lib->index->block, SM_INDEX_BLOCK_SMALL);
    assert_int_equal(large->index->block, SM_INDEX_BLOCK_LARGE);
    assert_true(lib->index_stored);    /* read from the file */
    assert_false(large->index_stored); /* built at open: the file's is of blocks of 4 */
    {   /* its segments' orders together name every spectrum once */
        size_t nl = sm_library_size(large);
        uint8_t *seen = calloc(nl, 1);
        assert_non_null(seen);
        for (size_t p = 0; p < nl; p++) {
            assert_true(large->index->order[p] < nl);
            assert_int_equal(seen[large->index->order[p]]++, 0);
        }
        free(seen);
    }
    /* each kernel on both block sizes, then the last (scalar, always there) again
     * with every candidate scored as soon as it is bounded above the floor */
    size_t tested = 0, nk = sm_kernel_count();
    assert_string_equal(sm_kernel_name_at(nk - 1), "scalar");
    for (size_t kidx = 0; kidx <= 2 * nk; kidx++) {
        const sm_library *on = kidx < nk || kidx == 2 * nk ? lib : large;
        size_t kn = kidx == 2 * nk ? nk - 1 : kidx % nk;
        if (!sm_kernel_supported_at(kn))
            continue;
        sm_search_heap_cap_ = kidx == 2 * nk ? 1 : SM_SEARCH_HEAP_CAP;
        assert_int_equal(sm_kernel_select(sm_kernel_name_at(kn), &e), SM_OK);
        sm_searcher *srch;
        assert_int_equal(sm_searcher_new(on, &srch, &e), SM_OK);
        size_t mismatches = 0;
        for (size_t j = 0; j < n; j++) {
            sm_nominal v = {q[j].n, q[j].mz, q[j].in};
            size_t excl = j % 50 == 0 ? j % sm_library_size(lib) : SIZE_MAX;
            sm_hit h[10];
            size_t nh = 0;
            assert_int_equal(sm_search_nominal(srch, v, 10, excl, h, &nh, &e), SM_OK);
            bool same = nh == q[j].nh;
            for (size_t t = 0; same && t < nh; t++)
                same = h[t].index == q[j].hits[t].index && h[t].mf == q[j].hits[t].mf &&
                       h[t].rmf == q[j].hits[t].rmf;
            if (!same) {
                mismatches++;
                fprintf(stderr, "kernel %s, blocks of %zu, query %zu: indexed top 10 differs\n",
                        sm_kernel_name_at(kn), on->index->block, j);
            }
        }
        sm_search_stats st;
        sm_searcher_stats(srch, &st);
        printf("kernel %s, blocks of %zu, %zu waiting: %zu queries, %.1f%% of blocks skipped, "
               "%.0f exact MF per query\n",
               sm_kernel_name_at(kn), on->index->block, sm_search_heap_cap_, n,
               100.0 * (double)st.blocks_skipped /
                   (double)(st.blocks_skipped + st.blocks_scanned + 1),
               (double)st.exact / (double)n);
        sm_searcher_free(srch);
        assert_int_equal(mismatches, 0);
        tested++;
    }
    sm_search_heap_cap_ = SM_SEARCH_HEAP_CAP;
    assert_true(tested >= 3);
    assert_int_equal(sm_kernel_select(NULL, &e), SM_OK);
    sm_library_close(large);
    free(q);
}

/* Batches finish the queries that need many blocks in groups (search.c, batch.c):
 * each kernel with group_sums, both block sizes, every query sent through a group
 * (budget 0: 92 groups, 8 kept to the end and swept by all threads at once, the
 * others swept at once by the thread that filled them) and the library's own rule,
 * on one, two and three threads: the top 10 of each of the 1,471 real queries, MF
 * and RMF to the last bit, equal the exhaustive ones. */
static void test_batch_groups_exact(void **state)
{
    (void)state;
    size_t n;
    const exq *q = real_queries(&n);
    sm_nominal *v = calloc(n, sizeof *v);
    sm_hit *h = calloc(n * 10, sizeof *h);
    size_t *nh = calloc(n, sizeof *nh);
    assert_true(v && h && nh);
    sm_error e = {0};
    for (size_t j = 0; j < n; j++)
        v[j] = (sm_nominal){q[j].n, (uint16_t *)q[j].mz, (uint16_t *)q[j].in};
    sm_library *large = open_large();
    size_t grouped = 0;
    for (size_t kn = 0; kn < sm_kernel_count(); kn++) {
        if (!sm_kernel_supported_at(kn))
            continue;
        assert_int_equal(sm_kernel_select(sm_kernel_name_at(kn), &e), SM_OK);
        bool has_groups = sm_kernel_get_()->group_sums != NULL;
        /* runs 0-3: both block sizes, through groups and by the library's rule; run
         * 4: through groups with a minimum MF of 700 (the exhaustive list cut there) */
        for (int run = 0; run < 5; run++) {
            const sm_library *on = run % 2 ? large : lib;
            double min_mf = run == 4 ? 700 : 0;
            sm_search_group_budget_ = run < 2 || run == 4 ? 0 : -1;
            unsigned threads = run == 1 ? 3 : run == 3 ? 1 : 2;
            assert_int_equal(sm_search_batch_min(on, v, n, 10, min_mf, threads, h, nh, &e),
                             SM_OK);
            size_t mismatches = 0;
            for (size_t j = 0; j < n; j++) {
                size_t want = 0;
                while (want < q[j].nh && q[j].hits[want].mf >= min_mf)
                    want++;
                bool same = nh[j] == want;
                for (size_t t = 0; same && t < nh[j]; t++)
                    same = h[j * 10 + t].index == q[j].hits[t].index &&
                           h[j * 10 + t].mf == q[j].hits[t].mf &&
                           h[j * 10 + t].rmf == q[j].hits[t].rmf;
                if (!same && mismatches++ < 5)
                    fprintf(stderr, "kernel %s, blocks of %zu, budget %ld, query %zu: batch "
                                    "top 10 differs\n",
                            sm_kernel_name_at(kn), on->index->block, sm_search_group_budget_,
                            j);
            }
            assert_int_equal(mismatches, 0);
            grouped += has_groups && (run < 2 || run == 4);
        }
        print_message("kernel %s: batches exact%s\n", sm_kernel_name_at(kn),
                      has_groups ? " (groups)" : " (query by query: no group_sums)");
    }
    sm_search_group_budget_ = -1;
    assert_true(grouped >= 3); /* the scalar kernel has group_sums: always run */
    assert_int_equal(sm_kernel_select(NULL, &e), SM_OK);
    sm_library_close(large);
    free(v);
    free(h);
    free(nh);
}

/* Every tenth query of q[from, to) against each library spectrum that starts past
 * its last peak (past) or ends before its first (!past): both the MF and the bound of
 * the first pass are -0.5. Returns the pairs checked. */
static size_t check_nothing_in_common(const exq *q, size_t from, size_t to, bool past,
                                      sm_nominal_buf *buf)
{
    static sm_qdense d;
    size_t pairs = 0;
    for (size_t j = from; j < to; j += 10) {
        sm_nominal v = {q[j].n, (uint16_t *)q[j].mz, (uint16_t *)q[j].in};
        sm_qdense_set_(&d, v);
        for (size_t p = 0; p < lib->n; p++) {
            uint64_t o = lib->nom_off[p];
            size_t nw = (size_t)(lib->nom_off[p + 1] - o);
            sm_nominal l = sm_library_nominal(lib, lib->index->order[p], buf);
            if (l.n == 0 || (past ? l.mz[0] <= v.mz[v.n - 1] : l.mz[l.n - 1] >= v.mz[0]))
                continue;
            pairs++;
            assert_true(sm_match_factor(v, l, 0) == -0.5);
            assert_true(sm_match_factor_bound_(&d, sm_kernel_get_(), lib->nom_w + o, nw,
                                               lib->index->norm[p], 2000, buf) == -0.5);
        }
        sm_qdense_clear_(&d, v);
    }
    return pairs;
}

/* Queries that end early (the 332 MassBank in-library spectra cut at m/z 45, then
 * with a peak of intensity 1 added after the last one) and queries that start late
 * (the same cut to m/z 90 and above): many library spectra start past their last
 * peak or end before their first, have nothing in common (MF -0.5, which the
 * per-spectrum bound gives at once), and blocks of them get -0.5 or are bounded by the
 * query's last peak. The indexed top 10, with every kernel and both block sizes,
 * equals the exhaustive one. */
static void test_queries_ending_early(void **state)
{
    (void)state;
    size_t cap = 1000;
    exq *q = calloc(cap, sizeof *q);
    assert_non_null(q);
    size_t n = load_queries("massbank-ei-in-library.msp", 1, q, cap);
    size_t m = 0;
    for (size_t j = 0; j < n; j++) { /* cut at 45 (a query needs one peak) */
        size_t k = 0;
        while (k < q[j].n && q[j].mz[k] <= 45)
            k++;
        if (k == 0)
            continue;
        q[m] = q[j];
        q[m].n = k;
        m++;
    }
    size_t cut = m;
    for (size_t j = 0; j < cut && m < cap; j++) { /* the same, ending on an intensity 1 */
        q[m] = q[j];
        q[m].mz[q[m].n] = (uint16_t)(q[m].mz[q[m].n - 1] + 3);
        q[m].in[q[m].n] = 1;
        q[m].n++;
        m++;
    }
    assert_int_equal(cut, 248); /* the in-library spectra with a peak at m/z 45 or below */
    assert_int_equal(m, 2 * cut);
    size_t late_from = m;
    for (size_t j = 0; j < n && m < cap; j++) { /* from m/z 90 on, reloaded */
        exq full;
        size_t got = load_queries_at("massbank-ei-in-library.msp", j, &full);
        assert_int_equal(got, 1);
        size_t k = 0;
        while (k < full.n && full.mz[k] < 90)
            k++;
        if (k == full.n)
            continue;
        q[m].n = full.n - k;
        memcpy(q[m].mz, full.mz + k, q[m].n * sizeof *q[m].mz);
        memcpy(q[m].in, full.in + k, q[m].n * sizeof *q[m].in);
        m++;
    }
    assert_int_equal(m - late_from, 306); /* those with a peak at m/z 90 or above */
    sm_error e = {0};
    /* spectra past the last peak, or that end before a late query begins: the bound
     * is the exact MF, -0.5 (pairs checked: every tenth query) */
    sm_nominal_buf *buf = malloc(sizeof *buf);
    assert_non_null(buf);
    assert_int_equal(check_nothing_in_common(q, 0, cut, true, buf), 7653);
    assert_int_equal(check_nothing_in_common(q, late_from, m, false, buf), 817);
    for (size_t j = 0; j < m; j++) {
        sm_nominal v = {q[j].n, q[j].mz, q[j].in};
        assert_int_equal(sm_search_exhaustive(lib, v, 10, SIZE_MAX, q[j].hits, &q[j].nh, &e),
                         SM_OK);
    }
    sm_library *large = open_large();
    for (size_t kn = 0; kn < sm_kernel_count(); kn++) {
        if (!sm_kernel_supported_at(kn))
            continue;
        assert_int_equal(sm_kernel_select(sm_kernel_name_at(kn), &e), SM_OK);
        for (int size = 0; size < 2; size++) {
            sm_searcher *srch;
            assert_int_equal(sm_searcher_new(size ? large : lib, &srch, &e), SM_OK);
            size_t mismatches = 0;
            for (size_t j = 0; j < m; j++) {
                sm_nominal v = {q[j].n, q[j].mz, q[j].in};
                sm_hit h[10];
                size_t nh = 0;
                assert_int_equal(sm_search_nominal(srch, v, 10, SIZE_MAX, h, &nh, &e), SM_OK);
                bool same = nh == q[j].nh;
                for (size_t t = 0; same && t < nh; t++)
                    same = h[t].index == q[j].hits[t].index && h[t].mf == q[j].hits[t].mf &&
                           h[t].rmf == q[j].hits[t].rmf;
                if (!same && mismatches++ < 5)
                    fprintf(stderr, "kernel %s, query %zu ending at m/z %u: top 10 differs\n",
                            sm_kernel_name_at(kn), j, (unsigned)v.mz[v.n - 1]);
            }
            sm_searcher_free(srch);
            assert_int_equal(mismatches, 0);
        }
    }
    assert_int_equal(sm_kernel_select(NULL, &e), SM_OK);
    sm_library_close(large);
    free(buf);
    free(q);
}

/* A batch over two threads gives what one searcher gives, query by query. */
static void test_batch_threads(void **state)
{
    (void)state;
    size_t cap = 400;
    exq *q = calloc(cap, sizeof *q);
    assert_non_null(q);
    size_t n = load_queries("massbank-ei-in-library.msp", 1, q, cap);
    sm_nominal *v = calloc(n, sizeof *v);
    sm_hit *h = calloc(n * 5, sizeof *h);
    size_t *nh = calloc(n, sizeof *nh);
    sm_error e = {0};
    for (size_t j = 0; j < n; j++) {
        v[j] = (sm_nominal){q[j].n, q[j].mz, q[j].in};
        assert_int_equal(sm_search_nominal(searcher, v[j], 5, SIZE_MAX, q[j].hits, &q[j].nh,
                                           &e), SM_OK);
    }
    for (unsigned threads = 1; threads <= 3; threads++) {
        assert_int_equal(sm_search_batch(lib, v, n, 5, threads, h, nh, &e), SM_OK);
        for (size_t j = 0; j < n; j++) {
            assert_int_equal(nh[j], q[j].nh);
            for (size_t t = 0; t < nh[j]; t++) {
                assert_int_equal(h[j * 5 + t].index, q[j].hits[t].index);
                assert_true(h[j * 5 + t].mf == q[j].hits[t].mf);
            }
        }
    }
    free(v);
    free(h);
    free(nh);
    free(q);
}

/* With a minimum MF, the hits are the exhaustive top 10 cut at that MF. */
static void test_min_mf(void **state)
{
    (void)state;
    size_t cap = 400;
    exq *q = calloc(cap, sizeof *q);
    assert_non_null(q);
    size_t n = load_queries("massbank-ei-in-library.msp", 1, q, cap);
    sm_error e = {0};
    sm_searcher *srch;
    assert_int_equal(sm_searcher_new(lib, &srch, &e), SM_OK);
    sm_searcher_set_min_mf(srch, 700);
    size_t cut_somewhere = 0;
    for (size_t j = 0; j < n; j++) {
        sm_nominal v = {q[j].n, q[j].mz, q[j].in};
        assert_int_equal(sm_search_exhaustive(lib, v, 10, SIZE_MAX, q[j].hits, &q[j].nh, &e),
                         SM_OK);
        size_t want = 0;
        while (want < q[j].nh && q[j].hits[want].mf >= 700)
            want++;
        cut_somewhere += want < q[j].nh;
        sm_hit h[10];
        size_t nh = 0;
        assert_int_equal(sm_search_nominal(srch, v, 10, SIZE_MAX, h, &nh, &e), SM_OK);
        assert_int_equal(nh, want);
        for (size_t t = 0; t < nh; t++) {
            assert_int_equal(h[t].index, q[j].hits[t].index);
            assert_true(h[t].mf == q[j].hits[t].mf && h[t].rmf == q[j].hits[t].rmf);
        }
    }
    assert_true(cut_somewhere > 100);
    sm_searcher_free(srch);
    free(q);
}

static void test_bad_query(void **state)
{
    (void)state;
    sm_spectrum s;
    sm_spectrum_init(&s);
    sm_hit h;
    size_t n = 7;
    sm_error e = {0};
    assert_int_equal(sm_search(searcher, &s, 1, &h, &n, &e), SM_ERR_PARSE);
    assert_int_equal(n, 0);
    assert_non_null(strstr(e.message, "no peaks"));
}

/* Opened for searching, the library reads its index from the file (format 1.2):
 * it is the one the writer computes from the spectra, bit for bit (the exactness
 * tests above search it; they search one built at open too, with large blocks). */
static void test_stored_index_is_computed_index(void **state)
{
    (void)state;
    sm_error e = {0};
    sm_library raw;
    read_raw(&raw);
    sm_index *a = NULL;
    sm_packed_ pk;
    assert_int_equal(sm_index_compute_(&raw, &a, &pk, &e), SM_OK);
    assert_true(lib->index_stored);
    const sm_index *b = lib->index;
    size_t n = raw.n;
    assert_int_equal(lib->n, n);
    assert_int_equal(a->block, b->block);
    assert_int_equal(a->n_bins, b->n_bins);
    assert_int_equal(a->n_blocks, b->n_blocks);
    assert_int_equal(a->stride, b->stride);
    assert_memory_equal(a->order, b->order, n * sizeof *a->order);
    assert_memory_equal(a->pos_of, b->pos_of, n * sizeof *a->pos_of);
    assert_memory_equal(a->norm, b->norm, n * sizeof *a->norm);
    assert_memory_equal(a->block_max_first, b->block_max_first,
                        a->stride * sizeof *a->block_max_first);
    assert_memory_equal(a->row_dense, b->row_dense, a->n_bins * sizeof *a->row_dense);
    size_t n_dense = 0;
    for (size_t m = 0; m < a->n_bins; m++)
        n_dense += a->row_dense[m] >= 0;
    assert_true(n_dense > 0);
    assert_memory_equal(a->env, b->env, n_dense * a->stride);
    assert_memory_equal(a->sp_off, b->sp_off, (a->n_bins + 1) * sizeof *a->sp_off);
    size_t n_sparse = (size_t)a->sp_off[a->n_bins];
    assert_true(n_sparse > 0);
    assert_memory_equal(a->sp_block, b->sp_block, n_sparse * sizeof *a->sp_block);
    assert_memory_equal(a->sp_code, b->sp_code, n_sparse);
    assert_memory_equal(a->row_scale, b->row_scale, a->n_bins * sizeof *a->row_scale);
    assert_memory_equal(a->ratio, b->ratio, SM_INDEX_CUTS * a->stride * sizeof *a->ratio);
    assert_int_equal(pk.n_words, lib->n_words);
    assert_memory_equal(pk.off, lib->nom_off, (n + 1) * sizeof *pk.off);
    assert_memory_equal(pk.w, lib->nom_w, pk.n_words * sizeof *pk.w);
    assert_memory_equal(pk.peaks, lib->nom_peaks, n * sizeof *pk.peaks);
    sm_packed_free_(&pk);
    sm_index_free_(a);
    sm_library_free_contents_(&raw);
}

/* The sketch of every block of `on` (its spectra as raw has them): entries at
 * ascending m/z, each held by a spectrum of the block, and at each spectrum's peak
 * the code ceil(8 sqrt(I)), whose eighth is never below sqrt(I), 0 elsewhere; each
 * spectrum's first m/z. Returns the entries. */
static size_t check_sketches(const sm_library *on, const sm_library *raw)
{
    const sm_index *ix = on->index;
    const size_t B = ix->block;
    assert_non_null(ix->sk_off);
    assert_int_equal(ix->sk_off[0], 0);
    for (size_t b = 0; b < ix->n_blocks; b++) {
        uint64_t e0 = ix->sk_off[b], e1 = ix->sk_off[b + 1];
        assert_true(e1 > e0);
        for (uint64_t e = e0; e < e1; e++) {
            if (e > e0)
                assert_true(ix->sk_mz[e] > ix->sk_mz[e - 1]);
            unsigned any = 0;
            for (size_t l = 0; l < B; l++)
                any |= ix->sk_val[e * B + l];
            assert_true(any != 0);
        }
        for (size_t l = 0; l < B && b * B + l < on->n; l++) {
            size_t pos = b * B + l;
            sm_nominal sp = sm_nominal_at_(raw, ix->order[pos], NULL, NULL);
            assert_int_equal(ix->first_mz[pos], sp.mz[0]);
            size_t k = 0;
            for (uint64_t e = e0; e < e1; e++) {
                unsigned code = ix->sk_val[e * B + l];
                if (k < sp.n && sp.mz[k] == ix->sk_mz[e]) {
                    unsigned in = sp.intensity[k++];
                    assert_int_equal(code, (unsigned)ceil(8.0 * sqrt((double)in)));
                    assert_true(code * code >= 64 * in && (code - 1) * (code - 1) < 64 * in);
                } else {
                    assert_int_equal(code, 0);
                }
            }
            assert_int_equal(k, sp.n); /* every peak has its entry */
        }
    }
    return (size_t)ix->sk_off[ix->n_blocks];
}

/* The first bound of a block's spectra reads the block's sketch (search.c): it holds
 * the spectra, in both block sizes (the exactness tests above search with it). */
static void test_sketches(void **state)
{
    (void)state;
    sm_library raw;
    read_raw(&raw);
    sm_library *large = open_large();
    size_t small_entries = check_sketches(lib, &raw), large_entries = check_sketches(large, &raw);
    printf("sketches: %zu entries in blocks of 4, %zu in blocks of 8 (%zu peaks)\n",
           small_entries, large_entries, raw.n_nom);
    /* spectra grouped by likeness share most m/z: far fewer entries than peaks */
    assert_true(small_entries < raw.n_nom / 2 && large_entries < small_entries);
    sm_library_close(large);
    sm_library_free_contents_(&raw);
}

/* An opened library keeps its peaks packed and, opened for searching, its strings
 * with sparse offsets: every spectrum and every kept string reads back as the file
 * has it (read raw, without the index). */
static void test_packed_and_sparse(void **state)
{
    (void)state;
    sm_error e = {0};
    sm_library raw;
    read_raw(&raw);
    sm_library *full = NULL, *so = lib; /* lib: opened for searching */
    assert_int_equal(sm_library_open(SM_DEFAULT_LIBRARY, &full, &e), SM_OK);
    /* opened whole, it reads the stored index too, and keeps the peaks as read */
    assert_true(full->index_stored);
    assert_non_null(full->peak_mz);
    assert_non_null(full->nom_w);
    assert_null(full->nom_mz);
    assert_non_null(full->col[SM_FIELD_NAME].off); /* opened in full: offsets kept */
    assert_null(so->col[SM_FIELD_NAME].off);
    assert_non_null(so->col[SM_FIELD_NAME].sparse);
    assert_null(so->ctl[SM_CONTROL_CLASS].off);
    assert_non_null(so->ctl[SM_CONTROL_CLASS].sparse);
    size_t n = sm_library_size(full), escapes = 0;
    assert_int_equal(sm_library_size(so), n);
    static const sm_field kept[] = {SM_FIELD_NAME, SM_FIELD_INCHIKEY, SM_FIELD_FORMULA,
                                    SM_FIELD_CAS, SM_FIELD_ID};
    for (size_t i = 0; i < n; i++) {
        sm_nominal want = sm_nominal_at_(&raw, i, NULL, NULL);
        sm_nominal got = sm_library_nominal(full, i, &lib_buf);
        assert_true(same_spectrum(got, want));
        got = sm_library_nominal(so, i, &hit_buf);
        assert_true(same_spectrum(got, want));
        size_t p = full->index->pos_of[i];
        escapes += (size_t)(full->nom_off[p + 1] - full->nom_off[p]) - want.n;
        for (size_t f = 0; f < sizeof kept / sizeof kept[0]; f++)
            assert_string_equal(sm_library_field(so, i, kept[f]),
                                sm_library_field(&raw, i, kept[f]));
        for (int f = 0; f < SM_CONTROL_COUNT; f++)
            assert_string_equal(sm_library_control(so, i, (sm_control_field)f),
                                sm_library_control(&raw, i, (sm_control_field)f));
    }
    /* words beyond one a peak: a step over 64 m/z between neighbouring peaks, or a
     * first peak above m/z 63 */
    assert_int_equal(full->n_words, raw.n_nom + escapes);
    assert_int_equal(escapes, 232); /* of 396,397 peaks */
    assert_int_equal(sm_library_nominal(full, n, &lib_buf).n, 0); /* out of range */
    assert_int_equal(sm_library_nominal(full, 0, NULL).n, 0);
    sm_library_close(full);
    sm_library_free_contents_(&raw);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sample_is_fentanyl),
        cmocka_unit_test(test_self_search),
        cmocka_unit_test(test_massbank_identification),
        cmocka_unit_test(test_indexed_equals_exhaustive),
        cmocka_unit_test(test_batch_threads),
        cmocka_unit_test(test_batch_groups_exact),
        cmocka_unit_test(test_queries_ending_early),
        cmocka_unit_test(test_min_mf),
        cmocka_unit_test(test_bad_query),
        cmocka_unit_test(test_packed_and_sparse),
        cmocka_unit_test(test_stored_index_is_computed_index),
        cmocka_unit_test(test_sketches),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
