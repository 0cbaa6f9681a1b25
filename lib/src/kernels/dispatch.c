/* dispatch.c — the table of compiled-in kernels, best first, and the choice of the active one (once, or when asked by name). */
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "kernels.h"
#include "sm_internal.h"

typedef struct kernel_entry {
    const char *name;
    bool (*supported)(void); /* CPU and OS can run it */
    const sm_kernel *kernel;
} kernel_entry;

/* GCC 12's __builtin_cpu_supports also checks (through XGETBV) that the OS saves
 * the AVX / AVX-512 register state, so a "yes" means the instructions will run.
 * __builtin_cpu_init is needed when this runs before the constructors (it is
 * cheap and idempotent). */
#if defined(SM_HAVE_AVX512)
static bool have_avx512(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
           __builtin_cpu_supports("avx512vl");
}
#endif

#if defined(SM_HAVE_AVX2)
static bool have_avx2(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

/* NEON (Advanced SIMD) is mandatory on AArch64; scalar runs everywhere. */
static bool always(void)
{
    return true;
}

static const kernel_entry kernels[] = {
#if defined(SM_HAVE_AVX512)
    {"avx512", have_avx512, &sm_kernel_avx512_},
#endif
#if defined(SM_HAVE_AVX2)
    {"avx2", have_avx2, &sm_kernel_avx2_},
#endif
#if defined(SM_HAVE_NEON)
    {"neon", always, &sm_kernel_neon_},
#endif
    {"scalar", always, &sm_kernel_scalar_},
};
#define N_KERNELS (sizeof kernels / sizeof kernels[0])

static pthread_once_t choose_once = PTHREAD_ONCE_INIT;
/* Read by every search, written by sm_kernel_select: atomic so that a reader sees
 * either the old or the new table, never a torn pointer. Switching mid-search is
 * still a caller error (documented: call before searching), because one search
 * could mix kernels whose float sums differ in the last bits. */
static const sm_kernel *_Atomic active_kernel;

static const sm_kernel *best_supported(void)
{
    for (size_t i = 0; i < N_KERNELS; i++)
        if (kernels[i].supported())
            return kernels[i].kernel;
    return &sm_kernel_scalar_; /* not reached: scalar is always supported */
}

/* The kernel called name, or an error that lists the valid names. what prefixes
 * the message (where the name came from). */
static sm_status find_kernel(const char *name, const char *what, const sm_kernel **out,
                             sm_error *err)
{
    for (size_t i = 0; i < N_KERNELS; i++) {
        if (strcmp(name, kernels[i].name) != 0)
            continue;
        if (!kernels[i].supported())
            return sm_seterr_(err, SM_ERR_UNSUPPORTED, NULL, 0,
                              "%skernel '%s' is not supported by this CPU", what, name);
        *out = kernels[i].kernel;
        return SM_OK;
    }
    char names[128] = "";
    for (size_t i = 0; i < N_KERNELS; i++) {
        if (i > 0)
            strncat(names, ", ", sizeof names - strlen(names) - 1);
        strncat(names, kernels[i].name, sizeof names - strlen(names) - 1);
    }
    return sm_seterr_(err, SM_ERR_ARG, NULL, 0, "%sunknown kernel '%s'; expected one of: %s",
                      what, name, names);
}

/* SPECMATCH_KERNEL when set (and not empty), else the automatic choice. */
static sm_status choose_from_env(const sm_kernel **out, sm_error *err)
{
    const char *env = getenv("SPECMATCH_KERNEL");
    if (env == NULL || env[0] == '\0') {
        *out = best_supported();
        return SM_OK;
    }
    return find_kernel(env, "SPECMATCH_KERNEL: ", out, err);
}

/* The first choice cannot report an error (sm_kernel_get_ has no way to), so an
 * invalid SPECMATCH_KERNEL falls back to the best kernel here; sm_kernel_select(NULL)
 * reports it, and the CLI calls that at start-up. */
static void choose_initial(void)
{
    const sm_kernel *k = NULL;
    if (choose_from_env(&k, NULL) != SM_OK)
        k = best_supported();
    atomic_store(&active_kernel, k);
}

const sm_kernel *sm_kernel_get_(void)
{
    pthread_once(&choose_once, choose_initial);
    return atomic_load_explicit(&active_kernel, memory_order_acquire);
}

size_t sm_kernel_count(void)
{
    return N_KERNELS;
}

const char *sm_kernel_name_at(size_t i)
{
    return i < N_KERNELS ? kernels[i].name : NULL;
}

bool sm_kernel_supported_at(size_t i)
{
    return i < N_KERNELS && kernels[i].supported();
}

const char *sm_kernel_active(void)
{
    return sm_kernel_get_()->name;
}

/* name NULL re-reads SPECMATCH_KERNEL on every call (not only the first), so a
 * program, or a test, sees the variable as it is now. On error the active kernel
 * stays as it was. */
sm_status sm_kernel_select(const char *name, sm_error *err)
{
    /* Make the initial choice first so that it cannot run later and override this one. */
    pthread_once(&choose_once, choose_initial);
    const sm_kernel *k = NULL;
    sm_status st = name == NULL ? choose_from_env(&k, err) : find_kernel(name, "", &k, err);
    if (st != SM_OK)
        return st;
    atomic_store_explicit(&active_kernel, k, memory_order_release);
    return SM_OK;
}
