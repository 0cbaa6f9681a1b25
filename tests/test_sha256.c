/* test_sha256.c — SHA-256 against the FIPS 180-4 example vectors, chunked input and files. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sm_internal.h"

static void digest_hex(const void *data, size_t n, char hex[65])
{
    sm_sha256 c;
    uint8_t d[32];
    sm_sha256_init_(&c);
    sm_sha256_update_(&c, data, n);
    sm_sha256_final_(&c, d);
    sm_hex_(d, sizeof d, hex);
}

/* Example messages from the NIST "SHA-256" example document (FIPS 180-4 examples). */
static void test_vectors(void **state)
{
    (void)state;
    static const struct {
        const char *msg;
        const char *hex;
    } v[] = {
        {"", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"},
        {"abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
        /* 448 bits: the padding needs a second block. */
        {"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
         "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1"},
        {"abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnop"
         "qrlmnopqrsmnopqrstnopqrstu",
         "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1"},
    };
    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        char hex[65];
        digest_hex(v[i].msg, strlen(v[i].msg), hex);
        assert_string_equal(hex, v[i].hex);
    }
}

/* One million 'a' fed in odd chunk sizes, so that the buffered and direct paths of
 * update both run and block boundaries fall everywhere. */
static void test_million_a(void **state)
{
    (void)state;
    static const size_t chunks[] = {1, 3, 7, 63, 64, 65, 127, 1000, 4097};
    char a[4097];
    memset(a, 'a', sizeof a);
    for (size_t k = 0; k < sizeof chunks / sizeof chunks[0]; k++) {
        sm_sha256 c;
        uint8_t d[32];
        char hex[65];
        size_t left = 1000000;
        sm_sha256_init_(&c);
        while (left > 0) {
            size_t m = left < chunks[k] ? left : chunks[k];
            sm_sha256_update_(&c, a, m);
            left -= m;
        }
        sm_sha256_final_(&c, d);
        sm_hex_(d, sizeof d, hex);
        assert_string_equal(hex,
                            "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
}

/* Every length around the padding boundaries gives the same digest whether fed at
 * once or byte by byte. */
static void test_split_consistent(void **state)
{
    (void)state;
    uint8_t msg[200];
    for (size_t i = 0; i < sizeof msg; i++)
        msg[i] = (uint8_t)(i * 37u + 11u);
    for (size_t n = 0; n <= sizeof msg; n++) {
        char whole[65], bytewise[65];
        sm_sha256 c;
        uint8_t d[32];
        digest_hex(msg, n, whole);
        sm_sha256_init_(&c);
        for (size_t i = 0; i < n; i++)
            sm_sha256_update_(&c, msg + i, 1);
        sm_sha256_final_(&c, d);
        sm_hex_(d, sizeof d, bytewise);
        assert_string_equal(whole, bytewise);
    }
}

static void test_hex(void **state)
{
    (void)state;
    const uint8_t b[] = {0x00, 0x0f, 0xa5, 0xff};
    char out[9];
    sm_hex_(b, sizeof b, out);
    assert_string_equal(out, "000fa5ff");
}

static void test_file(void **state)
{
    (void)state;
    char path[] = "/tmp/specmatch-sha256-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *fp = fdopen(fd, "wb");
    assert_non_null(fp);
    /* Larger than the read buffer so that the loop runs more than once. */
    for (int i = 0; i < 100000; i++)
        fputs("abcdefghij", fp);
    assert_int_equal(fclose(fp), 0);

    char expect[65], hex[65];
    char *all = malloc(1000000);
    assert_non_null(all);
    for (int i = 0; i < 100000; i++)
        memcpy(all + 10 * i, "abcdefghij", 10);
    digest_hex(all, 1000000, expect);
    free(all);

    sm_error err;
    memset(&err, 0, sizeof err);
    assert_int_equal(sm_sha256_file(path, hex, &err), SM_OK);
    assert_string_equal(hex, expect);

    /* Empty file. */
    fp = fopen(path, "wb");
    assert_non_null(fp);
    fclose(fp);
    assert_int_equal(sm_sha256_file(path, hex, &err), SM_OK);
    assert_string_equal(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    unlink(path);

    /* Gone now: an I/O error naming the file. */
    assert_int_equal(sm_sha256_file(path, hex, &err), SM_ERR_IO);
    assert_int_equal(err.status, SM_ERR_IO);
    assert_string_equal(err.file, path);
    assert_non_null(strstr(err.message, path));

    assert_int_equal(sm_sha256_file("-", hex, &err), SM_ERR_ARG);
    assert_int_equal(sm_sha256_file("-", hex, NULL), SM_ERR_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_vectors),
        cmocka_unit_test(test_million_a),
        cmocka_unit_test(test_split_consistent),
        cmocka_unit_test(test_hex),
        cmocka_unit_test(test_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
