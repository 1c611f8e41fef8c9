/*
 * test_credentials.c - the pure parts of passwords.c: TOTP against the
 * RFC 6238 appendix B vectors (HMAC-SHA-256 and HMAC-SHA-1, through
 * liboath), the acceptance window and
 * replay rule of jc_totp_check, base32 against RFC 4648 section 10,
 * password hashing and checking (the unknown-user path does the same work),
 * and the opening of sealed TOTP secrets (associated data bound to the
 * principal).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "principals/passwords.h"
#include "tmpfiles.h"

static char tmpdir[] = "/tmp/jc-test-credentials-XXXXXX";

/* RFC 6238 appendix B: the SHA-256 seed is the 32 ASCII bytes below, and
 * the codes have 8 digits. */
static const uint8_t rfc_seed[] = "12345678901234567890123456789012";
static const struct {
    uint64_t t;
    uint32_t code;
} rfc_vectors[] = {
    {59, 46119246},         {1111111109, 68084774}, {1111111111, 67062674},
    {1234567890, 91819424}, {2000000000, 90698825}, {20000000000ULL, 77737706},
};

static void test_totp_vectors(void)
{
    for (size_t i = 0; i < sizeof rfc_vectors / sizeof rfc_vectors[0]; i++) {
        uint64_t step = rfc_vectors[i].t / 30;
        uint32_t got = jc_totp_code_digits(rfc_seed, 32, step, 8);

        CHECK_MSG(got == rfc_vectors[i].code, "T=%llu: %08u, RFC says %08u",
                  (unsigned long long)rfc_vectors[i].t, got, rfc_vectors[i].code);
        /* 6 digits: the same truncation, modulo 10^6 */
        CHECK_EQ_INT(jc_totp_code(rfc_seed, 32, step), rfc_vectors[i].code % 1000000);
    }
    /* RFC 6238 appendix B, HMAC-SHA-1: the 20-byte seed below (liboath) */
    {
        static const uint8_t sha1_seed[] = "12345678901234567890";
        static const uint32_t sha1_codes[] = {94287082, 7081804,  14050471,
                                              89005924, 69279037, 65353130};
        for (size_t i = 0; i < sizeof sha1_codes / sizeof sha1_codes[0]; i++) {
            uint64_t step = rfc_vectors[i].t / 30;
            uint32_t got = jc_totp_code_alg(JC_TOTP_SHA1, sha1_seed, 20, step, 8);
            CHECK_MSG(got == sha1_codes[i], "SHA-1 T=%llu: %08u, RFC says %08u",
                      (unsigned long long)rfc_vectors[i].t, got, sha1_codes[i]);
            CHECK_EQ_INT(jc_totp_code_alg(JC_TOTP_SHA1, sha1_seed, 20, step, 6),
                         sha1_codes[i] % 1000000);
        }
        /* and the verifier takes the algorithm: a SHA-1 code is not a SHA-256 one */
        {
            char code[8];
            int64_t matched = -1;
            snprintf(code, sizeof code, "%06u",
                     (unsigned)jc_totp_code_alg(JC_TOTP_SHA1, sha1_seed, 20, 59 / 30, 6));
            CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA1, sha1_seed, 20, code, 59, 0, 0, &matched), 0);
            CHECK_EQ_INT(matched, 1);
            CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, sha1_seed, 20, code, 59, 0, 0, &matched),
                         -1);
        }
        {
            jc_totp_alg alg = JC_TOTP_SHA256;
            CHECK_EQ_INT(jc_totp_alg_parse("SHA1", &alg), 0);
            CHECK_EQ_INT(alg, JC_TOTP_SHA1);
            CHECK_EQ_INT(jc_totp_alg_parse("sha256", &alg), 0);
            CHECK_EQ_INT(alg, JC_TOTP_SHA256);
            CHECK_EQ_INT(jc_totp_alg_parse("md5", &alg), -1);
            CHECK_EQ_INT(jc_totp_alg_parse(NULL, &alg), -1);
            CHECK(strcmp(jc_totp_alg_name(JC_TOTP_SHA1), "sha1") == 0);
        }
    }
    /* fewer digits: the same truncation, modulo 10^d */
    CHECK_EQ_INT(jc_totp_code_digits(rfc_seed, 32, 59 / 30, 4), 46119246 % 10000);
    CHECK_EQ_INT(jc_totp_code_digits(rfc_seed, 32, 1, 0), 0);
    CHECK_EQ_INT(jc_totp_code_digits(rfc_seed, 32, 1, 10), 0);
    /* another secret, another code */
    CHECK(jc_totp_code((const uint8_t *)"12345678901234567890", 20, 1) !=
          jc_totp_code(rfc_seed, 32, 1));
}

/* code_at writes the 6-digit code of step. */
static void code_at(const uint8_t *secret, size_t len, int64_t step, char out[8])
{
    snprintf(out, 8, "%06u", (unsigned)jc_totp_code(secret, len, (uint64_t)step));
}

static void test_totp_check(void)
{
    uint8_t secret[JC_TOTP_SECRET_LEN];
    const int64_t now = 1700000000; /* step 56666666, 20 s into it */
    const int64_t step = now / 30;
    int64_t matched = -1;
    char code[8], bad[8];

    for (int i = 0; i < JC_TOTP_SECRET_LEN; i++)
        secret[i] = (uint8_t)(0xa0 + i);

    code_at(secret, sizeof secret, step, code);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, code, now, 1, 0, &matched),
                 0);
    CHECK_EQ_INT(matched, step);
    /* used once: with last_step = that step it no longer works */
    matched = -1;
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, code, now, 1, step, &matched),
                 -1);
    CHECK_EQ_INT(matched, -1);

    /* the previous step's code: inside window 1, outside window 0 */
    code_at(secret, sizeof secret, step - 1, code);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, code, now, 1, 0, &matched),
                 0);
    CHECK_EQ_INT(matched, step - 1);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, code, now, 0, 0, &matched),
                 -1);
    /* ... and not after a later code was used */
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, code, now, 1, step, &matched),
                 -1);

    /* the next step's code works with window 1; two steps ahead does not */
    code_at(secret, sizeof secret, step + 1, code);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, code, now, 1, 0, &matched),
                 0);
    CHECK_EQ_INT(matched, step + 1);
    code_at(secret, sizeof secret, step + 2, code);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, code, now, 1, 0, &matched),
                 -1);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, code, now, 2, 0, &matched),
                 0);
    /* the window is capped */
    code_at(secret, sizeof secret, step - JC_TOTP_WINDOW_MAX - 1, code);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, code, now, 1000, 0, &matched),
                 -1);

    /* a wrong code: change one digit of the right one */
    code_at(secret, sizeof secret, step, code);
    memcpy(bad, code, sizeof bad);
    bad[5] = bad[5] == '9' ? '0' : (char)(bad[5] + 1);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, bad, now, 0, 0, &matched),
                 -1);

    /* only exactly 6 ASCII digits */
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, NULL, now, 1, 0, &matched),
                 -1);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, "", now, 1, 0, &matched), -1);
    snprintf(bad, sizeof bad, "%.5s", code);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, bad, now, 1, 0, &matched),
                 -1);
    snprintf(bad, sizeof bad, "%.6s0", code);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, bad, now, 1, 0, &matched),
                 -1);
    snprintf(bad, sizeof bad, " %.5s", code);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, bad, now, 1, 0, &matched),
                 -1);
    snprintf(bad, sizeof bad, "%.5sx", code);
    CHECK_EQ_INT(jc_totp_check(JC_TOTP_SHA256, secret, sizeof secret, bad, now, 1, 0, &matched),
                 -1);
}

static void test_base32(void)
{
    static const struct {
        const char *in, *out;
    } v[] = {{"", ""},           {"f", "MY"},           {"fo", "MZXQ"},
             {"foo", "MZXW6"},   {"foob", "MZXW6YQ"},   {"fooba", "MZXW6YTB"},
             {"foobar", "MZXW6YTBOI"}};
    uint8_t all[20];
    char out[64];

    for (size_t i = 0; i < sizeof v / sizeof v[0]; i++) {
        size_t n = jc_base32_encode((const uint8_t *)v[i].in, strlen(v[i].in), out, sizeof out);
        CHECK_EQ_STR(out, v[i].out);
        CHECK_EQ_INT(n, strlen(v[i].out));
    }
    /* 20 bytes (a TOTP secret) give 32 characters; the buffer must fit them */
    memset(all, 0xff, sizeof all);
    CHECK_EQ_INT(jc_base32_encode(all, sizeof all, out, 33), 32);
    CHECK_EQ_STR(out, "77777777777777777777777777777777");
    CHECK_EQ_INT(jc_base32_encode(all, sizeof all, out, 32), 0);
    CHECK_EQ_INT(jc_base32_encode((const uint8_t *)"foobar", 6, out, 10), 0);
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void test_passwords(void)
{
    char hash[crypto_pwhash_STRBYTES], hash2[crypto_pwhash_STRBYTES];
    const char *pw = "correct horse battery staple";
    double t_wrong = 1e9, t_unknown = 1e9;

    CHECK_EQ_INT(jc_password_hash(pw, hash), 0);
    CHECK(strncmp(hash, "$argon2id$", 10) == 0);
    CHECK_EQ_INT(jc_password_hash(pw, hash2), 0);
    CHECK(strcmp(hash, hash2) != 0); /* salted */
    CHECK_EQ_INT(jc_password_needs_rehash(hash), 0);
    CHECK_EQ_INT(jc_password_check(hash, pw), 0);
    CHECK_EQ_INT(jc_password_check(hash2, pw), 0);
    CHECK_EQ_INT(jc_password_check(hash, "correct horse battery stapl"), -1);
    CHECK_EQ_INT(jc_password_check(hash, ""), -1);
    CHECK_EQ_INT(jc_password_check(NULL, pw), -1);
    CHECK_EQ_INT(jc_password_check("", pw), -1);
    CHECK_EQ_INT(jc_password_check("not a hash", pw), -1);

    /* An unknown user (NULL hash) costs what a wrong password costs: the
     * fastest of three runs each, within a factor of two. */
    for (int i = 0; i < 3; i++) {
        double t0 = now_s(), t1, t2;
        jc_password_check(hash, "wrong password!");
        t1 = now_s();
        jc_password_check(NULL, "wrong password!");
        t2 = now_s();
        if (t1 - t0 < t_wrong)
            t_wrong = t1 - t0;
        if (t2 - t1 < t_unknown)
            t_unknown = t2 - t1;
    }
    CHECK_MSG(t_unknown > t_wrong / 2 && t_unknown < t_wrong * 2,
              "wrong password %.3f s, unknown user %.3f s", t_wrong, t_unknown);
    CHECK_MSG(t_wrong > 0.005, "an Argon2id check took only %.4f s", t_wrong);
}

/* A fixed keys-file key: 32 bytes 0x00..0x1f. */
#define KEY_A "xchacha20poly1305:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static void test_totp_secret_open(void)
{
    static const char ad_alice[] = "jobcoord:totp:v1\0alice"; /* the documented format */
    uint8_t secret[JC_TOTP_SECRET_LEN], out[JC_TOTP_SECRET_LEN];
    uint8_t sealed[JC_TOTP_SECRET_LEN + JC_KEYRING_OVERHEAD];
    size_t sealed_len = 0;
    char text[256], err[256];
    jc_keyring *kr;

    for (int i = 0; i < JC_TOTP_SECRET_LEN; i++)
        secret[i] = (uint8_t)(i * 7 + 1);
    /* plain text (no keys file): the 20 bytes as they are */
    CHECK_EQ_INT(jc_totp_secret_open(NULL, "alice", secret, sizeof secret, NULL, out), 0);
    CHECK(memcmp(out, secret, sizeof out) == 0);
    CHECK_EQ_INT(jc_totp_secret_open(NULL, "alice", secret, sizeof secret, "", out), 0);
    CHECK_EQ_INT(jc_totp_secret_open(NULL, "alice", secret, 19, NULL, out), -1);

    snprintf(text, sizeof text, "keys = { kA = \"%s\"; };\n", KEY_A);
    kr = jc_keyring_load(tmp_write(tmpdir, "keys.conf", text), "kA", err, sizeof err);
    CHECK_MSG(kr != NULL, "%s", err);
    if (!kr)
        return;
    CHECK_EQ_INT(jc_keyring_seal(kr, "kA", (const uint8_t *)ad_alice, sizeof ad_alice - 1,
                                 secret, sizeof secret, sealed, &sealed_len),
                 0);
    memset(out, 0, sizeof out);
    CHECK_EQ_INT(jc_totp_secret_open(kr, "alice", sealed, sealed_len, "kA", out), 0);
    CHECK(memcmp(out, secret, sizeof out) == 0);
    /* bound to its principal: the same bytes do not open as bob's */
    CHECK_EQ_INT(jc_totp_secret_open(kr, "bob", sealed, sealed_len, "kA", out), -1);
    /* unknown key, or read as plain text */
    CHECK_EQ_INT(jc_totp_secret_open(kr, "alice", sealed, sealed_len, "kB", out), -1);
    CHECK_EQ_INT(jc_totp_secret_open(kr, "alice", sealed, sealed_len, NULL, out), -1);
    /* tampered */
    sealed[sealed_len - 1] ^= 1;
    CHECK_EQ_INT(jc_totp_secret_open(kr, "alice", sealed, sealed_len, "kA", out), -1);
    jc_keyring_free(kr);
}

static void test_roles(void)
{
    CHECK(jc_principal_role_valid("reader"));
    CHECK(jc_principal_role_valid("admin"));
    CHECK(!jc_principal_role_valid("readers"));
    CHECK(!jc_principal_role_valid(""));
}

int main(void)
{
    if (sodium_init() < 0 || !mkdtemp(tmpdir)) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    test_totp_vectors();
    test_totp_check();
    test_base32();
    test_passwords();
    test_totp_secret_open();
    test_roles();
    unlink(tmp_write(tmpdir, "keys.conf", ""));
    rmdir(tmpdir);
    return check_done("test_credentials");
}
