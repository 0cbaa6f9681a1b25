/* fuzz.h — what every fuzz target exports, and the checks they share. */
#ifndef SM_FUZZ_H
#define SM_FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/* The libFuzzer entry point; replay.c calls it too. Returns 0 always. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken contract is a finding: say which and abort, so that libFuzzer (and the
 * replay test) reports it with a stack. */
#define SM_FUZZ_CHECK(cond)                                                             \
    do {                                                                                \
        if (!(cond)) {                                                                  \
            fprintf(stderr, "%s:%d: contract broken: %s\n", __FILE__, __LINE__, #cond); \
            abort();                                                                    \
        }                                                                               \
    } while (0)

#endif
