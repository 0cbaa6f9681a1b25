/* gen_library.c — writes a benchmark MSP library of exactly N spectra: the real ones, then deterministic synthetic variants. */

/* Standalone on purpose (plain stdio, no libspecmatch): the benchmark input must not
 * depend on the reader it is used to measure.
 *
 *   gen_library -n N [--seed S] [-o FILE] [-q] INPUT.msp...
 *
 * The real spectra come first, byte for byte (line ends normalised to '\n'), in input
 * order. Variant j (j = 0, 1, ...) is derived from real spectrum j mod R with its own
 * splitmix64 stream seeded from (seed, j), so any variant can be regenerated alone and
 * the output depends on nothing but the inputs, N and the seed:
 *   - peaks rounded to nominal m/z as the library does (a fraction up to .649 rounds
 *     down, AMDIS convention), duplicates summed;
 *   - every intensity times exp(0.25 g), g standard normal, clipped to >= 1;
 *   - a peak below 5% of the base peak dropped with probability 0.15;
 *   - 0-4 minor peaks (1-3% of the base) added at free integer m/z inside the range;
 *   - rescaled to a base peak of 999, rounded, every abundance >= 1.
 * A variant carries a well-formed InChIKey that no real compound can have (the second
 * block of a real key ends in the version letter 'A'), so it never joins a real
 * compound in identification statistics.
 *
 * Exit status: 0 ok, 2 usage, 3 bad input data, 4 I/O error (as the CLI). */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_MZ 5000           /* nominal m/z kept, as SM_MAX_NOMINAL_MZ */
#define MZ_ROUND_BOUNDARY 0.649
#define OUTBUF_SIZE (16u << 20)

#define JITTER_SIGMA 0.25
#define DROP_BELOW 0.05       /* fraction of the base peak */
#define DROP_PROB 0.15
#define MAX_ADDED 4
#define ADDED_MIN 0.01        /* added peak intensity, fraction of the base */
#define ADDED_SPAN 0.02

typedef struct {
    const char *p;
    size_t n;
} span;

typedef struct {
    span text;                /* the whole record, from its first line to its last */
    span name, formula, mw, exact_mass, id, license;
    size_t peak0, n_peaks;    /* slice of the peak pool: nominal m/z ascending */
    double base;              /* largest intensity */
} record;

static struct {
    record *rec;
    size_t n, cap;
    uint16_t *mz;
    double *in;
    size_t n_peaks, cap_peaks;
} lib;

static struct {
    FILE *fp;
    const char *path;
    char *buf;
    size_t len;
} out;

static void die(int code, const char *fmt, const char *arg)
{
    fprintf(stderr, "gen_library: ");
    fprintf(stderr, fmt, arg);
    fputc('\n', stderr);
    exit(code);
}

static void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n);
    if (q == NULL)
        die(4, "%s", "out of memory");
    return q;
}

/* ---- output ---------------------------------------------------------------------- */

static void out_flush(void)
{
    if (out.len && fwrite(out.buf, 1, out.len, out.fp) != out.len)
        die(4, "cannot write %s", out.path);
    out.len = 0;
}

static inline void out_reserve(size_t n)
{
    if (OUTBUF_SIZE - out.len < n)
        out_flush();
}

static void out_bytes(const char *p, size_t n)
{
    if (n > OUTBUF_SIZE - out.len) {
        out_flush();
        if (n > OUTBUF_SIZE) {
            if (fwrite(p, 1, n, out.fp) != n)
                die(4, "cannot write %s", out.path);
            return;
        }
    }
    memcpy(out.buf + out.len, p, n);
    out.len += n;
}

static void out_str(const char *s)
{
    out_bytes(s, strlen(s));
}

/* Caller has reserved room (20 bytes). */
static inline void out_uint(uint64_t v)
{
    char tmp[20];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    char *d = out.buf + out.len;
    for (int i = 0; i < n; i++)
        d[i] = tmp[n - 1 - i];
    out.len += (size_t)n;
}

static void out_field(const char *key, span v)
{
    if (v.p == NULL)
        return;
    out_str(key);
    out_bytes(v.p, v.n);
    out_bytes("\n", 1);
}

/* ---- input ----------------------------------------------------------------------- */

static char *read_file(const char *path, size_t *len)
{
    FILE *fp = fopen(path, "rb");
    if (fp == NULL) {
        fprintf(stderr, "gen_library: cannot open %s: %s\n", path, strerror(errno));
        exit(4);
    }
    size_t cap = 1 << 20, n = 0;
    char *buf = xrealloc(NULL, cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, fp)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = xrealloc(buf, cap + 1);
        }
    }
    if (ferror(fp))
        die(4, "read error on %s", path);
    fclose(fp);
    buf[n] = '\0';
    *len = n;
    return buf;
}

static int is_blank(const char *p, const char *e)
{
    for (; p < e; p++)
        if (*p != ' ' && *p != '\t')
            return 0;
    return 1;
}

static int ieq(const char *a, size_t n, const char *b)
{
    if (strlen(b) != n)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != b[i])
            return 0;
    }
    return 1;
}

static span trim(const char *p, const char *e)
{
    while (p < e && (*p == ' ' || *p == '\t'))
        p++;
    while (e > p && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    return (span){p, (size_t)(e - p)};
}

/* "Key: value" with a key that starts with a letter. */
static int split_field(const char *p, const char *e, span *key, span *val)
{
    span s = trim(p, e);
    if (s.n == 0 || !((*s.p >= 'A' && *s.p <= 'Z') || (*s.p >= 'a' && *s.p <= 'z')))
        return 0;
    const char *c = memchr(s.p, ':', s.n);
    if (c == NULL)
        return 0;
    *key = trim(s.p, c);
    *val = trim(c + 1, s.p + s.n);
    return 1;
}

static int starts_record(const char *p, const char *e)
{
    span k, v;
    return split_field(p, e, &k, &v) && ieq(k.p, k.n, "name");
}

static long nominal_mz(double mz)
{
    double b = floor(mz);
    return (long)b + (mz - b > MZ_ROUND_BOUNDARY + 1e-9);
}

/* Peak pairs on one line: blanks, tabs, ';' or ',' between numbers, optional "..."
 * annotations. Returns the number of pairs, or -1 on a malformed line. */
static long parse_peaks(const char *p, const char *e, double *acc, uint8_t *seen,
                        uint16_t *touched, size_t *n_touched)
{
    long pairs = 0;
    int have_mz = 0;
    double mz = 0;
    char tmp[64];
    while (p < e) {
        if (*p == ' ' || *p == '\t' || *p == ';' || *p == ',') {
            p++;
            continue;
        }
        if (*p == '"') {
            const char *q = memchr(p + 1, '"', (size_t)(e - p - 1));
            if (q == NULL || have_mz)
                return -1;
            p = q + 1;
            continue;
        }
        const char *t = p;
        while (p < e && *p != ' ' && *p != '\t' && *p != ';' && *p != ',' && *p != '"')
            p++;
        size_t n = (size_t)(p - t);
        if (n >= sizeof tmp)
            return -1;
        memcpy(tmp, t, n);
        tmp[n] = '\0';
        char *end;
        double v = strtod(tmp, &end);
        if (end != tmp + n || !isfinite(v) || v < 0)
            return -1;
        if (!have_mz) {
            mz = v;
            have_mz = 1;
            continue;
        }
        have_mz = 0;
        pairs++;
        long m = nominal_mz(mz);
        if (m < 1 || m > MAX_MZ || v <= 0)
            continue; /* outside the library's range, or a zero: no signal for a variant */
        if (!seen[m]) {
            seen[m] = 1;
            touched[(*n_touched)++] = (uint16_t)m;
        }
        acc[m] += v;
    }
    return have_mz ? -1 : pairs;
}

static int cmp_u16(const void *a, const void *b)
{
    return (int)*(const uint16_t *)a - (int)*(const uint16_t *)b;
}

/* Splits one file into records. A record is a run of non-blank lines that starts
 * with Name:; a record that cannot be read is reported and left out, so that the
 * output only holds spectra the library builder accepts. */
static size_t load_msp(const char *path, int quiet)
{
    size_t len;
    const char *buf = read_file(path, &len);
    const char *end = buf + len, *p = buf;
    if (len >= 3 && memcmp(buf, "\xEF\xBB\xBF", 3) == 0)
        p += 3;
    static double acc[MAX_MZ + 1];
    static uint8_t seen[MAX_MZ + 1];
    static uint16_t touched[MAX_MZ + 1];
    size_t kept = 0, skipped = 0;
    unsigned long lineno = 0;

    while (p < end) {
        /* skip blank lines between records */
        const char *le = memchr(p, '\n', (size_t)(end - p));
        const char *lend = le ? le : end;
        const char *ce = lend;
        while (ce > p && ce[-1] == '\r')
            ce--;
        lineno++;
        if (is_blank(p, ce)) {
            p = le ? le + 1 : end;
            continue;
        }
        record r = {0};
        r.text.p = p;
        unsigned long first_line = lineno;
        const char *why = NULL;
        long declared = -1, pairs = 0;
        int in_peaks = 0;
        size_t n_touched = 0;
        if (!starts_record(p, ce))
            why = "does not start with a Name: line";
        for (;;) {
            if (!why) {
                span k, v;
                if (in_peaks) {
                    long n = parse_peaks(p, ce, acc, seen, touched, &n_touched);
                    if (n < 0)
                        why = "has a malformed peak line";
                    else
                        pairs += n;
                } else if (split_field(p, ce, &k, &v)) {
                    if (ieq(k.p, k.n, "name") && r.name.p == NULL)
                        r.name = v;
                    else if (ieq(k.p, k.n, "formula"))
                        r.formula = v;
                    else if (ieq(k.p, k.n, "mw"))
                        r.mw = v;
                    else if (ieq(k.p, k.n, "exactmass"))
                        r.exact_mass = v;
                    else if (ieq(k.p, k.n, "id") || (ieq(k.p, k.n, "db#") && !r.id.p))
                        r.id = v;
                    else if (ieq(k.p, k.n, "license"))
                        r.license = v;
                    else if (ieq(k.p, k.n, "num peaks")) {
                        char *e2;
                        char tmp[32];
                        size_t n = v.n < sizeof tmp - 1 ? v.n : sizeof tmp - 1;
                        memcpy(tmp, v.p, n);
                        tmp[n] = '\0';
                        declared = strtol(tmp, &e2, 10);
                        if (e2 == tmp || *e2 || declared < 0)
                            why = "has a bad Num Peaks: line";
                        in_peaks = 1;
                    }
                } else {
                    why = "has a line that is neither 'Key: value' nor peaks";
                }
            }
            r.text.n = (size_t)(lend - r.text.p);
            p = le ? le + 1 : end;
            if (p >= end)
                break;
            le = memchr(p, '\n', (size_t)(end - p));
            lend = le ? le : end;
            ce = lend;
            while (ce > p && ce[-1] == '\r')
                ce--;
            if (is_blank(p, ce) || (in_peaks && starts_record(p, ce)))
                break;
            lineno++;
        }
        if (!why && declared < 0)
            why = "has no Num Peaks: line";
        if (!why && declared != pairs)
            why = "has a Num Peaks: count that differs from its peaks";
        if (!why && n_touched == 0)
            why = "has no peak with a positive abundance";

        if (why) {
            skipped++;
            if (!quiet)
                fprintf(stderr, "gen_library: %s:%lu: record %s; left out\n", path,
                        first_line, why);
        } else {
            qsort(touched, n_touched, sizeof *touched, cmp_u16);
            if (lib.n_peaks + n_touched > lib.cap_peaks) {
                lib.cap_peaks = (lib.cap_peaks + n_touched) * 2;
                lib.mz = xrealloc(lib.mz, lib.cap_peaks * sizeof *lib.mz);
                lib.in = xrealloc(lib.in, lib.cap_peaks * sizeof *lib.in);
            }
            r.peak0 = lib.n_peaks;
            r.n_peaks = n_touched;
            for (size_t i = 0; i < n_touched; i++) {
                uint16_t m = touched[i];
                lib.mz[lib.n_peaks] = m;
                lib.in[lib.n_peaks++] = acc[m];
                if (acc[m] > r.base)
                    r.base = acc[m];
            }
            if (lib.n == lib.cap) {
                lib.cap = lib.cap ? lib.cap * 2 : 4096;
                lib.rec = xrealloc(lib.rec, lib.cap * sizeof *lib.rec);
            }
            lib.rec[lib.n++] = r;
            kept++;
        }
        for (size_t i = 0; i < n_touched; i++) {
            acc[touched[i]] = 0;
            seen[touched[i]] = 0;
        }
    }
    if (!quiet && skipped)
        fprintf(stderr, "gen_library: %s: %zu records left out\n", path, skipped);
    return kept; /* buf stays allocated: records point into it */
}

/* ---- randomness ------------------------------------------------------------------ */

typedef struct {
    uint64_t s;
    double spare;
    int has_spare;
} rng;

static inline uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9u;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBu;
    return z ^ (z >> 31);
}

/* splitmix64 (Steele, Lea & Flood, OOPSLA 2014) */
static inline uint64_t rng_next(rng *g)
{
    g->s += 0x9E3779B97F4A7C15u;
    return mix64(g->s);
}

static inline double rng_unit(rng *g)
{
    return (double)(rng_next(g) >> 11) * 0x1.0p-53;
}

static inline uint64_t rng_below(rng *g, uint64_t n)
{
    return rng_next(g) % n; /* bias below 2^-50 for the ranges used here */
}

/* Box-Muller, both values used */
static inline double rng_gauss(rng *g)
{
    if (g->has_spare) {
        g->has_spare = 0;
        return g->spare;
    }
    double u = 1.0 - rng_unit(g), v = rng_unit(g);
    double r = sqrt(-2.0 * log(u)), t = 6.283185307179586 * v;
    g->spare = r * sin(t);
    g->has_spare = 1;
    return r * cos(t);
}

/* ---- variants -------------------------------------------------------------------- */

static void write_real(const record *r)
{
    /* line ends normalised to '\n'; otherwise unchanged */
    const char *p = r->text.p, *e = r->text.p + r->text.n;
    while (p < e) {
        const char *le = memchr(p, '\n', (size_t)(e - p));
        const char *lend = le ? le : e, *ce = lend;
        while (ce > p && ce[-1] == '\r')
            ce--;
        out_bytes(p, (size_t)(ce - p));
        out_bytes("\n", 1);
        p = le ? le + 1 : e;
    }
    out_bytes("\n", 1);
}

static void write_variant(uint64_t seed, uint64_t j)
{
    static uint16_t vmz[MAX_MZ + 1 + MAX_ADDED];
    static double vin[MAX_MZ + 1 + MAX_ADDED];
    static uint64_t stamp[MAX_MZ + 1]; /* m/z taken in variant stamp-1 */

    const record *r = &lib.rec[j % lib.n];
    rng g = {mix64(mix64(seed ^ 0x5EEDu) ^ (j * 0xD1B54A32D192ED03u)), 0, 0};
    const uint16_t *mz = lib.mz + r->peak0;
    const double *in = lib.in + r->peak0;
    double thr = DROP_BELOW * r->base, vmax = 0;
    size_t n = 0;

    for (size_t i = 0; i < r->n_peaks; i++) {
        if (in[i] < thr && rng_unit(&g) < DROP_PROB)
            continue;
        double v = in[i] * exp(JITTER_SIGMA * rng_gauss(&g));
        if (v < 1)
            v = 1;
        if (v > vmax)
            vmax = v;
        vmz[n] = mz[i];
        vin[n++] = v;
        stamp[mz[i]] = j + 1;
    }

    /* minor peaks at free nominal masses between the smallest and largest m/z */
    unsigned lo = mz[0], hi = mz[r->n_peaks - 1];
    unsigned k = (unsigned)rng_below(&g, MAX_ADDED + 1);
    for (unsigned a = 0; a < k && n < (size_t)(hi - lo + 1); a++) {
        unsigned m = 0;
        for (int tries = 0; tries < 32; tries++) {
            unsigned c = lo + (unsigned)rng_below(&g, hi - lo + 1);
            if (stamp[c] != j + 1) {
                m = c;
                break;
            }
        }
        double v = vmax * (ADDED_MIN + ADDED_SPAN * rng_unit(&g));
        if (m == 0)
            continue;
        stamp[m] = j + 1;
        size_t at = n;
        while (at > 0 && vmz[at - 1] > m) {
            vmz[at] = vmz[at - 1];
            vin[at] = vin[at - 1];
            at--;
        }
        vmz[at] = (uint16_t)m;
        vin[at] = v;
        n++;
    }

    /* header */
    out_str("Name: ");
    out_bytes(r->name.p, r->name.n);
    out_reserve(128);
    out_str(" [synthetic variant ");
    out_uint(j);
    out_str("]\nInChIKey: SYNTH");
    char blk[9];
    uint64_t x = j;
    for (int i = 8; i >= 0; i--) {
        blk[i] = (char)('A' + x % 26);
        x /= 26;
    }
    out_bytes(blk, sizeof blk);
    out_str("-SYNTHETICV-N\n");
    out_field("Formula: ", r->formula);
    out_field("MW: ", r->mw);
    out_field("ExactMass: ", r->exact_mass);
    out_reserve(32);
    out_str("ID: synth-");
    out_uint(j);
    out_str("\n");
    out_field("License: ", r->license);
    out_str("Comment: synthetic variant of ");
    if (r->id.p)
        out_bytes(r->id.p, r->id.n);
    else
        out_bytes(r->name.p, r->name.n);
    out_reserve(64);
    out_str(" for benchmarking\nNum Peaks: ");
    out_uint(n);
    out_str("\n");

    /* peaks, NIST style: "mz int; " five to a line */
    double scale = 999.0 / vmax;
    out_reserve(n * 14 + 8);
    char *d = out.buf + out.len;
    for (size_t i = 0; i < n; i++) {
        long iv = lround(vin[i] * scale);
        if (iv < 1)
            iv = 1;
        if (iv > 999)
            iv = 999;
        unsigned m = vmz[i];
        if (m >= 1000) *d++ = (char)('0' + m / 1000);
        if (m >= 100) *d++ = (char)('0' + m / 100 % 10);
        if (m >= 10) *d++ = (char)('0' + m / 10 % 10);
        *d++ = (char)('0' + m % 10);
        *d++ = ' ';
        if (iv >= 100) *d++ = (char)('0' + iv / 100);
        if (iv >= 10) *d++ = (char)('0' + iv / 10 % 10);
        *d++ = (char)('0' + iv % 10);
        *d++ = ';';
        *d++ = ' ';
        if (i % 5 == 4 || i + 1 == n)
            *d++ = '\n';
    }
    *d++ = '\n';
    out.len = (size_t)(d - out.buf);
}

/* ---- main ------------------------------------------------------------------------ */

static void usage(FILE *fp)
{
    fputs("usage: gen_library -n N [--seed S] [-o FILE] [-q] INPUT.msp...\n"
          "\n"
          "Writes an MSP library of exactly N spectra: the real spectra of the inputs\n"
          "first (all of them when N is at least their count), then synthetic variants\n"
          "of them, deterministic for a given seed (default 1).\n"
          "\n"
          "  -n N          number of spectra to write (required)\n"
          "  -s, --seed S  seed of the variants (default 1)\n"
          "  -o FILE       output file (default: standard output)\n"
          "  -q            no messages on stderr\n",
          fp);
}

static uint64_t parse_count(const char *opt, const char *s)
{
    if (s == NULL || *s < '0' || *s > '9') {
        fprintf(stderr, "gen_library: %s needs a non-negative whole number\n", opt);
        exit(2);
    }
    char *e;
    errno = 0;
    unsigned long long v = strtoull(s, &e, 10);
    if (*e || errno) {
        fprintf(stderr, "gen_library: %s: '%s' is not a non-negative whole number\n", opt, s);
        exit(2);
    }
    return v;
}

int main(int argc, char **argv)
{
    uint64_t n_out = 0, seed = 1;
    int have_n = 0, quiet = 0;
    const char *opath = NULL;
    char **inputs = xrealloc(NULL, (size_t)argc * sizeof *inputs);
    int n_inputs = 0;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(a, "-n") == 0) {
            n_out = parse_count("-n", i + 1 < argc ? argv[++i] : NULL);
            have_n = 1;
        } else if (strcmp(a, "-s") == 0 || strcmp(a, "--seed") == 0) {
            seed = parse_count("--seed", i + 1 < argc ? argv[++i] : NULL);
        } else if (strncmp(a, "--seed=", 7) == 0) {
            seed = parse_count("--seed", a + 7);
        } else if (strcmp(a, "-o") == 0) {
            if (i + 1 >= argc) {
                fputs("gen_library: -o needs a file name\n", stderr);
                return 2;
            }
            opath = argv[++i];
        } else if (strcmp(a, "-q") == 0) {
            quiet = 1;
        } else if (a[0] == '-' && a[1] != '\0') {
            fprintf(stderr, "gen_library: unknown option '%s'\n", a);
            usage(stderr);
            return 2;
        } else {
            inputs[n_inputs++] = argv[i];
        }
    }
    if (!have_n || n_inputs == 0) {
        usage(stderr);
        return 2;
    }

    for (int i = 0; i < n_inputs; i++)
        load_msp(inputs[i], quiet);
    if (lib.n == 0)
        die(3, "%s", "no readable spectrum in the input; expected MSP records");

    out.path = opath ? opath : "<stdout>";
    out.fp = opath ? fopen(opath, "wb") : stdout;
    if (out.fp == NULL) {
        fprintf(stderr, "gen_library: cannot create %s: %s\n", opath, strerror(errno));
        return 4;
    }
    out.buf = xrealloc(NULL, OUTBUF_SIZE);

    uint64_t n_real = n_out < lib.n ? n_out : lib.n;
    for (uint64_t i = 0; i < n_real; i++)
        write_real(&lib.rec[i]);
    for (uint64_t j = 0; j < n_out - n_real; j++)
        write_variant(seed, j);
    out_flush();
    if (fflush(out.fp) != 0 || ferror(out.fp) || (opath && fclose(out.fp) != 0))
        die(4, "cannot write %s", out.path);

    if (!quiet)
        fprintf(stderr,
                "gen_library: %zu real spectra read, %llu written (%llu real, %llu "
                "synthetic, seed %llu)\n",
                lib.n, (unsigned long long)n_out, (unsigned long long)n_real,
                (unsigned long long)(n_out - n_real), (unsigned long long)seed);
    free(inputs);
    return 0;
}
