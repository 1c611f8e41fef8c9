/*
 * test_keyring.c - sealing secrets at rest: roundtrips, the associated data
 * binding a secret to its row, tampering, unknown keys, the keys-file
 * parser's errors (each naming the file and the key), and key generation.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "tmpfiles.h"
#include "secrets/keyring.h"

static char tmpdir[] = "/tmp/jc-test-keyring-XXXXXX";

static const char *write_file(const char *name, const char *text)
{
    return tmp_write(tmpdir, name, text);
}

/* A fixed key: 32 bytes 0x00..0x1f. */
#define KEY_A "xchacha20poly1305:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void test_generate(char *a, char *b, size_t size)
{
    char small[20];

    CHECK_EQ_INT(jc_keyring_generate("xchacha20poly1305", a, size), 0);
    CHECK_EQ_INT(jc_keyring_generate("xchacha20poly1305", b, size), 0);
    CHECK(strncmp(a, "xchacha20poly1305:", 18) == 0);
    CHECK_EQ_INT(strlen(a), 18 + 44);
    CHECK(strcmp(a, b) != 0);
    CHECK_EQ_INT(jc_keyring_generate("aes128", a + 0, 0), -1);
    CHECK_EQ_INT(jc_keyring_generate("rot13", small, sizeof small), -1);
    CHECK_EQ_INT(jc_keyring_generate(NULL, small, sizeof small), -1);
    CHECK_EQ_INT(jc_keyring_generate("xchacha20poly1305", small, sizeof small), -1);
}

static void test_empty(void)
{
    char err[256];
    uint8_t out[64];
    size_t out_len = 0;
    jc_keyring *kr = jc_keyring_load(NULL, NULL, err, sizeof err);

    CHECK(kr != NULL);
    CHECK(jc_keyring_default_id(kr) == NULL);
    CHECK_EQ_INT(jc_keyring_has(kr, "k1"), 0);
    CHECK_EQ_INT(jc_keyring_seal(kr, NULL, NULL, 0, (const uint8_t *)"x", 1, out, &out_len), -1);
    jc_keyring_free(kr);
    kr = jc_keyring_load("", "k1", err, sizeof err);
    CHECK(kr != NULL && jc_keyring_default_id(kr) == NULL);
    jc_keyring_free(kr);
}

static void test_seal_open(const char *gen_a, const char *gen_b)
{
    char text[512], err[256];
    uint8_t ad[256], ad2[256], plain[32], sealed[32 + JC_KEYRING_OVERHEAD], out[64];
    size_t ad_len, ad2_len, sealed_len = 0, out_len = 0;
    jc_keyring *kr;

    snprintf(text, sizeof text, "# two keys\nkeys = {\n  ka = \"%s\";\n  kb = \"%s\";\n};\n",
             gen_a, gen_b);
    kr = jc_keyring_load(write_file("keys.conf", text), "ka", err, sizeof err);
    CHECK_MSG(kr != NULL, "%s", err);
    if (!kr)
        return;
    CHECK_EQ_STR(jc_keyring_default_id(kr), "ka");
    CHECK(jc_keyring_has(kr, "ka") && jc_keyring_has(kr, "kb") && !jc_keyring_has(kr, "kc"));

    for (int i = 0; i < 32; i++)
        plain[i] = (uint8_t)(i * 7);
    ad_len = jc_keyring_principal_ad("alice", "k1", ad, sizeof ad);
    ad2_len = jc_keyring_principal_ad("bob", "k1", ad2, sizeof ad2);

    /* default key */
    CHECK_EQ_INT(jc_keyring_seal(kr, NULL, ad, ad_len, plain, 32, sealed, &sealed_len), 0);
    CHECK_EQ_INT(sealed_len, 32 + JC_KEYRING_OVERHEAD);
    CHECK(memcmp(sealed + JC_KEYRING_NONCE_LEN, plain, 32) != 0);
    CHECK_EQ_INT(jc_keyring_open(kr, "ka", ad, ad_len, sealed, sealed_len, out, &out_len), 0);
    CHECK_EQ_INT(out_len, 32);
    CHECK(memcmp(out, plain, 32) == 0);

    /* the wrong key, an unknown key, the wrong row, a short input */
    CHECK_EQ_INT(jc_keyring_open(kr, "kb", ad, ad_len, sealed, sealed_len, out, &out_len), -1);
    CHECK_EQ_INT(jc_keyring_open(kr, "kc", ad, ad_len, sealed, sealed_len, out, &out_len), -1);
    CHECK_EQ_INT(jc_keyring_open(kr, "ka", ad2, ad2_len, sealed, sealed_len, out, &out_len), -1);
    CHECK_EQ_INT(jc_keyring_open(kr, "ka", NULL, 0, sealed, sealed_len, out, &out_len), -1);
    CHECK_EQ_INT(jc_keyring_open(kr, "ka", ad, ad_len, sealed, JC_KEYRING_OVERHEAD - 1, out,
                                 &out_len),
                 -1);

    /* any flipped bit, in nonce, ciphertext or tag */
    for (size_t pos = 0; pos < sealed_len; pos += 9) {
        sealed[pos] ^= 0x01;
        CHECK_MSG(jc_keyring_open(kr, "ka", ad, ad_len, sealed, sealed_len, out, &out_len) == -1,
                  "tampered byte %zu accepted", pos);
        sealed[pos] ^= 0x01;
    }
    CHECK_EQ_INT(jc_keyring_open(kr, "ka", ad, ad_len, sealed, sealed_len, out, &out_len), 0);

    /* an explicit key; two seals of one secret differ (random nonce) */
    {
        uint8_t sealed2[32 + JC_KEYRING_OVERHEAD];
        size_t sealed2_len = 0;
        CHECK_EQ_INT(jc_keyring_seal(kr, "kb", ad, ad_len, plain, 32, sealed2, &sealed2_len), 0);
        CHECK(memcmp(sealed, sealed2, sealed_len) != 0);
        CHECK_EQ_INT(jc_keyring_open(kr, "kb", ad, ad_len, sealed2, sealed2_len, out, &out_len),
                     0);
        CHECK(out_len == 32 && memcmp(out, plain, 32) == 0);
        CHECK_EQ_INT(jc_keyring_seal(kr, "kc", ad, ad_len, plain, 32, sealed2, &sealed2_len), -1);
    }
    jc_keyring_free(kr);
}

static void test_principal_ad(void)
{
    uint8_t ad[128], ad2[128];
    size_t n, n2;
    static const char want[] = "jobcoord:principal_key:v1\0alice\0k1";

    n = jc_keyring_principal_ad("alice", "k1", ad, sizeof ad);
    CHECK_EQ_INT(n, sizeof want - 1);
    CHECK(memcmp(ad, want, n) == 0);
    /* the separators keep ("ab", "c") apart from ("a", "bc") */
    n = jc_keyring_principal_ad("ab", "c", ad, sizeof ad);
    n2 = jc_keyring_principal_ad("a", "bc", ad2, sizeof ad2);
    CHECK(n == n2 && memcmp(ad, ad2, n) != 0);
    CHECK_EQ_INT(jc_keyring_principal_ad("alice", "k1", ad, 10), 0);
    CHECK_EQ_INT(jc_keyring_principal_ad("alice", "k1", ad, sizeof want - 1), sizeof want - 1);
}

/* expect_load_error writes text as a keys file, loads it with default_id
 * and checks the error mentions each of want1 and want2. */
static void expect_load_error(const char *text, const char *default_id, const char *want1,
                              const char *want2)
{
    char err[512] = "";
    const char *path = write_file("bad.conf", text);
    jc_keyring *kr = jc_keyring_load(path, default_id, err, sizeof err);

    CHECK_MSG(kr == NULL, "accepted: %s", text);
    jc_keyring_free(kr);
    CHECK_MSG(strstr(err, "bad.conf") != NULL, "error '%s' does not name the file", err);
    CHECK_MSG(strstr(err, want1) != NULL, "error '%s' lacks '%s'", err, want1);
    if (want2)
        CHECK_MSG(strstr(err, want2) != NULL, "error '%s' lacks '%s'", err, want2);
}

static void test_bad_files(void)
{
    char err[512];

    expect_load_error("keys = { ka = \"xchacha20poly1305:not*base64\"; };\n", "ka", "'ka'",
                      "base64");
    expect_load_error("keys = { ka = \"xchacha20poly1305:AAECAwQFBgcICQoLDA0ODw==\"; };\n", "ka",
                      "'ka'", "32 bytes, not 16");
    expect_load_error("keys = { ka = \"" KEY_A "AAAA\"; };\n", "ka", "'ka'", NULL);
    expect_load_error("keys = { kx = \"aes256gcm:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };\n",
                      "kx", "'kx'", "unknown algorithm 'aes256gcm'");
    expect_load_error("keys = { ka = \"AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=\"; };\n", "ka",
                      "'ka'", "xchacha20poly1305:BASE64");
    expect_load_error("keys = { ka = 42; };\n", "ka", "'ka'", "must be a string");
    expect_load_error("keys = { ka = \"" KEY_A "\"; };\n", NULL, "encryption_key_id", NULL);
    expect_load_error("keys = { ka = \"" KEY_A "\"; };\n", "", "encryption_key_id", NULL);
    expect_load_error("keys = { ka = \"" KEY_A "\"; };\n", "kz", "'kz'", "not a key");
    expect_load_error("keys = { };\n", "ka", "1 to", NULL);
    expect_load_error("other = 1;\nkeys = { ka = \"" KEY_A "\"; };\n", "ka", "'other'", NULL);
    expect_load_error("keys = [ \"" KEY_A "\" ];\n", "ka", "keys", NULL);
    expect_load_error("keys = { ka = };\n", "ka", "bad.conf:1", NULL);
    expect_load_error("keys = {\n ka = \"" KEY_A "\";\n ka = \"" KEY_A "\";\n};\n", "ka",
                      "bad.conf:3", NULL);

    CHECK(jc_keyring_load("/nonexistent/keys.conf", "ka", err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "/nonexistent/keys.conf") != NULL, "%s", err);
}

/* test_example checks config/keys.conf.example: as shipped it holds no key
 * (so it cannot be used by mistake); with its example line uncommented it
 * loads. */
static void test_example(void)
{
    char err[512], line[512], *text = calloc(1, 65536);
    size_t len = 0;
    FILE *f = fopen("config/keys.conf.example", "r");
    jc_keyring *kr;

    CHECK_MSG(f != NULL, "config/keys.conf.example not found (run from the repository root)");
    if (!f || !text) {
        free(text);
        if (f)
            fclose(f);
        return;
    }
    kr = jc_keyring_load("config/keys.conf.example", "kexample_do_not_use", err, sizeof err);
    CHECK(kr == NULL);
    while (fgets(line, sizeof line, f)) {
        const char *p = strstr(line, "# kexample_do_not_use = ");
        if (p)
            memmove(line + (p - line), p + 2, strlen(p + 2) + 1);
        len += (size_t)snprintf(text + len, 65536 - len, "%s", line);
    }
    fclose(f);
    kr = jc_keyring_load(write_file("example.conf", text), "kexample_do_not_use", err, sizeof err);
    CHECK_MSG(kr != NULL, "%s", err);
    jc_keyring_free(kr);
    unlink(write_file("example.conf", ""));
    free(text);
}

int main(void)
{
    char a[128], b[128];

    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    test_generate(a, b, sizeof a);
    test_empty();
    test_seal_open(a, b);
    test_principal_ad();
    test_bad_files();
    test_example();
    unlink(write_file("keys.conf", ""));
    unlink(write_file("bad.conf", ""));
    rmdir(tmpdir);
    return check_done("test_keyring");
}
