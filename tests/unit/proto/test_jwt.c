/*
 * test_jwt.c - compact JWS (proto/src/jwt.c): base64url, sign/verify
 * round trips for HS256 and EdDSA, the RFC 7515 A.1 and RFC 8037 A.4
 * examples, algorithm confusion ("none", HS256 keyed with an Ed25519
 * public key, EdDSA presented to the HS256 verifier), tampering, and the
 * structural rejections (parts, padding, alphabet, crit, duplicates, sizes).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "check.h"
#include "jcproto/jwt.h"

/* RFC 7515 appendix A.1: HS256, its 64-byte key. */
static const char *rfc7515_token =
    "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9"
    ".eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ"
    ".dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
static const char *rfc7515_key =
    "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";

/* RFC 8037 appendix A.1 (key) and A.4 (signing "Example of Ed25519 signing"). */
static const char *rfc8037_d = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A";
static const char *rfc8037_x = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
static const char *rfc8037_token =
    "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc"
    ".hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

static jc_jws jws; /* 14 KiB: not on the stack */

/* reparse frees what the last parse of jws kept, then parses token into it. */
static int reparse(const char *token, size_t len, char *err, size_t err_size)
{
    jc_jws_free(&jws);
    return jc_jws_parse(token, len, &jws, err, err_size);
}

/* make_token builds b64(header).b64(claims).b64(sig) by hand. */
static const char *make_token(const char *header, const char *claims, const uint8_t *sig,
                              size_t sig_len)
{
    static char out[3 * JC_JWT_MAX];
    int n = jc_b64url_encode((const uint8_t *)header, strlen(header), out, sizeof out);
    out[n++] = '.';
    n += jc_b64url_encode((const uint8_t *)claims, strlen(claims), out + n, sizeof out - (size_t)n);
    out[n++] = '.';
    jc_b64url_encode(sig, sig_len, out + n, sizeof out - (size_t)n);
    return out;
}

/* parse_ok parses token (must succeed). */
static int parse_ok(const char *token)
{
    char err[160] = "";
    int rc = reparse(token, strlen(token), err, sizeof err);
    CHECK_MSG(rc == 0, "refused: %s (%.80s)", err, token);
    return rc;
}

/* parse_bad checks that token is refused with a reason containing want. */
static void parse_bad_n(const char *token, size_t len, const char *want)
{
    char err[160] = "", *copy = malloc(len ? len : 1);
    int rc;

    memcpy(copy, token, len); /* exactly sized: ASan catches overreads */
    rc = reparse(copy, len, err, sizeof err);
    CHECK_MSG(rc == -1, "accepted, wanted '%s': %.100s", want, token);
    CHECK_MSG(rc != -1 || strstr(err, want), "reason '%s', wanted '%s'", err, want);
    free(copy);
}

static void parse_bad(const char *token, const char *want) { parse_bad_n(token, strlen(token), want); }

static void test_b64url(void)
{
    uint8_t bin[300], back[300];
    char txt[512];

    for (size_t n = 0; n < sizeof bin; n++)
        bin[n] = (uint8_t)(n * 7 + 3);
    for (size_t n = 0; n < sizeof bin; n++) {
        int e = jc_b64url_encode(bin, n, txt, sizeof txt);
        CHECK(e == (int)((n * 4 + 2) / 3));
        CHECK(!strpbrk(txt, "=+/"));
        CHECK_EQ_INT(jc_b64url_decode(txt, (size_t)e, back, sizeof back), (int)n);
        CHECK(memcmp(bin, back, n) == 0);
    }
    CHECK_EQ_INT(jc_b64url_encode(bin, 3, txt, 4), -1);  /* 4 chars + NUL */
    CHECK_EQ_INT(jc_b64url_encode(bin, 3, txt, 5), 4);
    CHECK_EQ_INT(jc_b64url_decode("QUJD", 4, back, 2), -1); /* 3 bytes into 2 */
    CHECK_EQ_INT(jc_b64url_decode("QUJD", 4, back, 3), 3);
    CHECK_EQ_INT(jc_b64url_decode("QQ==", 4, back, sizeof back), -1); /* padding */
    CHECK_EQ_INT(jc_b64url_decode("QQ", 2, back, sizeof back), 1);
    CHECK_EQ_INT(jc_b64url_decode("QR", 2, back, sizeof back), -1);   /* non-zero spare bits */
    CHECK_EQ_INT(jc_b64url_decode("Q", 1, back, sizeof back), -1);    /* 6 bits */
    CHECK_EQ_INT(jc_b64url_decode("a+b/", 4, back, sizeof back), -1); /* standard alphabet */
    CHECK_EQ_INT(jc_b64url_decode("a-b_", 4, back, sizeof back), 3);
    CHECK_EQ_INT(jc_b64url_decode("QU JD", 5, back, sizeof back), -1);
    CHECK_EQ_INT(jc_b64url_decode("QUJD\n", 5, back, sizeof back), -1);
    CHECK_EQ_INT(jc_b64url_decode("", 0, back, sizeof back), 0);
}

static void test_hs256_roundtrip(void)
{
    uint8_t key[32], other[32];
    char tok[1024], tampered[1024], err[160];
    const char *claims = "{\"iss\":\"w-1\",\"sub\":\"w-1\",\"aud\":\"http://c:8080/v1/token\","
                         "\"jti\":\"abc\",\"iat\":1700000000,\"exp\":1700000060}";
    int n;

    randombytes_buf(key, sizeof key);
    memcpy(other, key, sizeof other);
    other[31] ^= 1;
    n = jc_jws_sign(JC_JWS_HS256, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":\"k1\"}", claims, key,
                    tok, sizeof tok);
    CHECK(n > 0 && (size_t)n == strlen(tok));
    if (parse_ok(tok) != 0)
        return;
    CHECK_EQ_STR(jws.alg, "HS256");
    CHECK_EQ_STR(jws.typ, "JWT");
    CHECK_EQ_STR(jws.kid, "k1");
    CHECK_EQ_INT(jws.sig_len, 32);
    CHECK(jws.claims_len == strlen(claims) && memcmp(jws.claims, claims, jws.claims_len) == 0);
    CHECK_EQ_INT(jc_jws_verify_hs256(&jws, key), 0);
    CHECK_EQ_INT(jc_jws_verify_hs256_key(&jws, key, 32), 0);
    CHECK_EQ_INT(jc_jws_verify_hs256(&jws, other), -1);
    CHECK_EQ_INT(jc_jws_verify_hs256_key(&jws, key, 31), -1);

    /* every single-character change anywhere in the token is caught: by
     * the parser (base64, JSON) or by the MAC */
    for (int i = 0; i < n; i++) {
        const char *alphabet = "AQgw";
        for (int a = 0; alphabet[a]; a++) {
            if (tok[i] == alphabet[a] || tok[i] == '.')
                continue;
            memcpy(tampered, tok, (size_t)n + 1);
            tampered[i] = alphabet[a];
            if (reparse(tampered, (size_t)n, err, sizeof err) == 0)
                CHECK_MSG(jc_jws_verify_hs256(&jws, key) == -1, "tampered at %d verifies", i);
        }
    }
    /* the signing input ends at the second dot: a claims part that decodes
     * the same cannot exist (strict base64url), and a different one fails */
    {
        const char *forged_claims = "{\"iss\":\"admin\",\"sub\":\"admin\"}";
        char forged[1024];
        const char *d2 = strrchr(tok, '.');
        int h = (int)(strchr(tok, '.') - tok);
        memcpy(forged, tok, (size_t)h + 1);
        n = jc_b64url_encode((const uint8_t *)forged_claims, strlen(forged_claims), forged + h + 1,
                             sizeof forged - (size_t)h - 1);
        snprintf(forged + h + 1 + n, sizeof forged - (size_t)(h + 1 + n), "%s", d2);
        if (parse_ok(forged) == 0)
            CHECK_EQ_INT(jc_jws_verify_hs256(&jws, key), -1);
    }
}

static void test_eddsa_roundtrip(void)
{
    uint8_t pk[32], sk[64], pk2[32], sk2[64];
    char tok[1024], tampered[1024];
    int n;

    crypto_sign_keypair(pk, sk);
    crypto_sign_keypair(pk2, sk2);
    n = jc_jws_sign(JC_JWS_EDDSA, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\",\"kid\":\"s1\"}",
                    "{\"sub\":\"w-1\",\"scope\":\"jobs:read\",\"exp\":2000000000}", sk, tok,
                    sizeof tok);
    CHECK(n > 0);
    if (parse_ok(tok) != 0)
        return;
    CHECK_EQ_STR(jws.typ, "at+jwt");
    CHECK_EQ_INT(jws.sig_len, 64);
    CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, pk), 0);
    CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, pk2), -1);
    /* a flipped signature bit */
    memcpy(tampered, tok, (size_t)n + 1);
    tampered[n - 5] = tampered[n - 5] == 'A' ? 'B' : 'A';
    if (parse_ok(tampered) == 0)
        CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, pk), -1);
    /* a kid changed in the header */
    n = jc_jws_sign(JC_JWS_EDDSA, "{\"alg\":\"EdDSA\",\"kid\":\"s1\"}", "{\"sub\":\"a\"}", sk, tok,
                    sizeof tok);
    {
        const char *claims_and_sig = strchr(tok, '.');
        char hdr[128];
        int h = jc_b64url_encode((const uint8_t *)"{\"alg\":\"EdDSA\",\"kid\":\"s2\"}", 26,
                                 (char *)hdr, sizeof hdr);
        CHECK(h > 0);
        snprintf(tampered, sizeof tampered, "%s%s", hdr, claims_and_sig);
        if (parse_ok(tampered) == 0) {
            CHECK_EQ_STR(jws.kid, "s2");
            CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, pk), -1);
        }
    }
}

static void test_rfc7515_a1(void)
{
    uint8_t key[64];
    char v[64];
    int64_t exp;

    CHECK_EQ_INT(jc_b64url_decode(rfc7515_key, strlen(rfc7515_key), key, sizeof key), 64);
    if (parse_ok(rfc7515_token) != 0)
        return;
    /* its header and claims have CRLF and spaces between members */
    CHECK_EQ_STR(jws.alg, "HS256");
    CHECK_EQ_STR(jws.typ, "JWT");
    CHECK_EQ_STR(jws.kid, "");
    CHECK_EQ_INT(jc_json_member_string(jws.cl, "iss", v, sizeof v), 3);
    CHECK_EQ_STR(v, "joe");
    CHECK(jc_json_int64(json_object_get(jws.cl, "exp"), &exp) == 0 && exp == 1300819380);
    CHECK(json_is_true(json_object_get(jws.cl, "http://example.com/is_root")));
    CHECK_EQ_INT(jc_jws_verify_hs256_key(&jws, key, sizeof key), 0);
    CHECK_EQ_INT(jc_jws_verify_hs256(&jws, key), -1); /* its first 32 bytes are another key */
    CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, key), -1);
    key[63] ^= 0x80;
    CHECK_EQ_INT(jc_jws_verify_hs256_key(&jws, key, sizeof key), -1);
}

static void test_rfc8037_a4(void)
{
    uint8_t seed[32], pk[32], x[32], sk[64];
    char tok[512], err[160];
    const char *d2 = strrchr(rfc8037_token, '.');

    CHECK_EQ_INT(jc_b64url_decode(rfc8037_d, strlen(rfc8037_d), seed, sizeof seed), 32);
    CHECK_EQ_INT(jc_b64url_decode(rfc8037_x, strlen(rfc8037_x), x, sizeof x), 32);
    crypto_sign_seed_keypair(pk, sk, seed);
    CHECK(memcmp(pk, x, 32) == 0);

    /* Ed25519 is deterministic: signing reproduces the RFC's token */
    CHECK_EQ_INT(jc_jws_sign(JC_JWS_EDDSA, "{\"alg\":\"EdDSA\"}", "Example of Ed25519 signing", sk,
                             tok, sizeof tok),
                 (int)strlen(rfc8037_token));
    CHECK_EQ_STR(tok, rfc8037_token);

    /* its payload is text, not JWT claims: the JWT parser refuses it... */
    CHECK_EQ_INT(reparse(rfc8037_token, strlen(rfc8037_token), err, sizeof err), -1);
    CHECK_MSG(strstr(err, "claims"), "%s", err);
    /* ...but its signature verifies with the RFC's public key through the
     * same verifier, given the parts a parse would have filled in */
    memset(&jws, 0, sizeof jws);
    jws.token = rfc8037_token;
    jws.signing_input_len = (size_t)(d2 - rfc8037_token);
    snprintf(jws.alg, sizeof jws.alg, "EdDSA");
    jws.sig_len = (size_t)jc_b64url_decode(d2 + 1, strlen(d2 + 1), jws.sig, sizeof jws.sig);
    CHECK_EQ_INT(jws.sig_len, 64);
    CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, x), 0);
    CHECK_EQ_INT(jc_jws_verify_hs256(&jws, x), -1);
    jws.sig[0] ^= 1;
    CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, x), -1);
    jws.sig[0] ^= 1;
    jws.signing_input_len--;
    CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, x), -1);

    /* and a JWT signed with the RFC's key verifies with x */
    CHECK(jc_jws_sign(JC_JWS_EDDSA, "{\"alg\":\"EdDSA\"}", "{\"sub\":\"rfc8037\"}", sk, tok,
                      sizeof tok) > 0);
    if (parse_ok(tok) == 0)
        CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, x), 0);
}

static void test_alg_confusion(void)
{
    uint8_t pk[32], sk[64], hkey[32], mac[32];
    char tok[1024], input[512];
    const char *t;
    int n;

    crypto_sign_keypair(pk, sk);
    randombytes_buf(hkey, sizeof hkey);

    /* the classic: HS256 "signed" with the Ed25519 public key as the MAC key */
    n = jc_jws_sign(JC_JWS_HS256, "{\"alg\":\"HS256\"}", "{\"sub\":\"admin\"}", pk, tok, sizeof tok);
    CHECK(n > 0);
    if (parse_ok(tok) == 0) {
        CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, pk), -1);
        CHECK_EQ_INT(jc_jws_verify_hs256(&jws, pk), 0); /* only if the caller asked for HS256 */
    }
    /* the same MAC under a header claiming EdDSA: wrong length for Ed25519 */
    {
        int h = jc_b64url_encode((const uint8_t *)"{\"alg\":\"EdDSA\"}", 15, input, sizeof input);
        int c = jc_b64url_encode((const uint8_t *)"{\"sub\":\"admin\"}", 15, input + h + 1,
                                 sizeof input - (size_t)h - 1);
        input[h] = '.';
        crypto_auth_hmacsha256(mac, (const uint8_t *)input, (size_t)(h + 1 + c), pk);
        t = make_token("{\"alg\":\"EdDSA\"}", "{\"sub\":\"admin\"}", mac, sizeof mac);
        if (parse_ok(t) == 0) {
            CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, pk), -1);
            CHECK_EQ_INT(jc_jws_verify_hs256(&jws, pk), -1); /* header says EdDSA */
        }
    }
    /* an EdDSA token never passes the HS256 verifier, whatever the key */
    n = jc_jws_sign(JC_JWS_EDDSA, "{\"alg\":\"EdDSA\"}", "{\"sub\":\"w\"}", sk, tok, sizeof tok);
    if (parse_ok(tok) == 0) {
        CHECK_EQ_INT(jc_jws_verify_hs256(&jws, hkey), -1);
        CHECK_EQ_INT(jc_jws_verify_hs256(&jws, pk), -1);
        CHECK_EQ_INT(jc_jws_verify_hs256_key(&jws, sk, 64), -1);
    }
    /* an HS256 token with a good MAC never passes the EdDSA verifier */
    n = jc_jws_sign(JC_JWS_HS256, "{\"alg\":\"HS256\"}", "{\"sub\":\"w\"}", hkey, tok, sizeof tok);
    if (parse_ok(tok) == 0) {
        CHECK_EQ_INT(jc_jws_verify_hs256(&jws, hkey), 0);
        CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, pk), -1);
    }
    /* "none" and its spellings: parsed (alg is a string) but never verified */
    {
        static const char *nones[] = {"{\"alg\":\"none\"}", "{\"alg\":\"None\"}",
                                      "{\"alg\":\"NONE\"}", "{\"alg\":\"\"}",
                                      "{\"alg\":\"hs256\"}", "{\"alg\":\"eddsa\"}",
                                      "{\"alg\":\"HS256 \"}", "{\"alg\":\"Ed25519\"}"};
        for (size_t i = 0; i < sizeof nones / sizeof nones[0]; i++) {
            t = make_token(nones[i], "{\"sub\":\"admin\"}", mac, 0);
            if (parse_ok(t) == 0) {
                CHECK_EQ_INT(jc_jws_verify_hs256(&jws, hkey), -1);
                CHECK_EQ_INT(jc_jws_verify_eddsa(&jws, pk), -1);
            }
            /* even with a signature of the right length and MAC */
            {
                const char *d1 = strchr(t, '.');
                const char *d2 = strchr(d1 + 1, '.');
                crypto_auth_hmacsha256(mac, (const uint8_t *)t, (size_t)(d2 - t), hkey);
                t = make_token(nones[i], "{\"sub\":\"admin\"}", mac, sizeof mac);
                if (parse_ok(t) == 0)
                    CHECK_EQ_INT(jc_jws_verify_hs256(&jws, hkey), -1);
            }
        }
    }
    /* the alg is read unescaped: "HS\u0032\u0035\u0036" is HS256 (and
     * verifies only with the real MAC over these exact bytes) */
    n = jc_jws_sign(JC_JWS_HS256, "{\"alg\":\"HS\\u0032\\u0035\\u0036\"}", "{}", hkey, tok,
                    sizeof tok);
    if (parse_ok(tok) == 0) {
        CHECK_EQ_STR(jws.alg, "HS256");
        CHECK_EQ_INT(jc_jws_verify_hs256(&jws, hkey), 0);
    }
    CHECK_EQ_INT(jc_jws_sign((jc_jws_alg)0, "{\"alg\":\"x\"}", "{}", hkey, tok, sizeof tok), -1);
    CHECK_EQ_INT(jc_jws_sign((jc_jws_alg)7, "{\"alg\":\"x\"}", "{}", hkey, tok, sizeof tok), -1);
}

static void test_structure(void)
{
    uint8_t key[32], sig[65];
    char tok[1024], big[JC_JWT_MAX + 64], hdr[JC_JWT_HEADER_MAX + 64],
        claims[JC_JWT_CLAIMS_MAX + 64];
    const char *good;
    int n;

    randombytes_buf(key, sizeof key);
    memset(sig, 7, sizeof sig);
    n = jc_jws_sign(JC_JWS_HS256, "{\"alg\":\"HS256\"}", "{\"sub\":\"w\"}", key, tok, sizeof tok);
    good = tok;
    CHECK(parse_ok(good) == 0);

    /* parts */
    parse_bad("", "empty");
    parse_bad("abc", "three");
    parse_bad("abc.def", "three");
    {
        char four[1100];
        snprintf(four, sizeof four, "%s.AAAA", good);
        parse_bad(four, "three");
        snprintf(four, sizeof four, "%s.", good);
        parse_bad(four, "three");
        snprintf(four, sizeof four, ".%s", good);
        parse_bad(four, "three");
    }
    parse_bad("..", "header");
    /* padding, alphabet, whitespace in each part */
    {
        char t[1100];
        const char *d1 = strchr(good, '.'), *d2 = strrchr(good, '.');
        int h = (int)(d1 - good), c = (int)(d2 - d1 - 1);
        snprintf(t, sizeof t, "%.*s=.%.*s.%s", h, good, c, d1 + 1, d2 + 1);
        parse_bad(t, "header");
        snprintf(t, sizeof t, "%.*s.%.*s==.%s", h, good, c, d1 + 1, d2 + 1);
        parse_bad(t, "claims");
        snprintf(t, sizeof t, "%.*s.%.*s.A", h, good, c, d1 + 1); /* 6 bits */
        parse_bad(t, "signature");
        snprintf(t, sizeof t, "%s=", good);
        parse_bad(t, "signature");
        snprintf(t, sizeof t, "%.*s+%s", n - 3, good, good + n - 2);
        parse_bad(t, "signature");
        snprintf(t, sizeof t, "%.*s/%s", h - 1, good, good + h);
        parse_bad(t, "header");
        snprintf(t, sizeof t, " %s", good);
        parse_bad(t, "header");
        snprintf(t, sizeof t, "%s\n", good);
        parse_bad(t, "signature");
        memcpy(t, good, (size_t)n + 1);
        t[h + 3] = '\0';
        parse_bad_n(t, (size_t)n, "claims"); /* a NUL inside */
    }
    /* JSON of the parts */
    parse_bad(make_token("[\"alg\",\"HS256\"]", "{}", sig, 32), "header: not an object");
    parse_bad(make_token("\"HS256\"", "{}", sig, 32), "header: invalid JSON");
    parse_bad(make_token("{\"alg\":\"HS256\"", "{}", sig, 32), "header: invalid JSON");
    parse_bad(make_token("{\"alg\":\"HS256\"}", "null", sig, 32), "claims: invalid JSON");
    parse_bad(make_token("{\"alg\":\"HS256\"}", "[1]", sig, 32), "claims: not an object");
    parse_bad(make_token("{\"alg\":\"HS256\"}", "{\"a\":1}x", sig, 32), "claims: invalid JSON");
    parse_bad(make_token("{\"alg\":\"HS256\"}", "{\"a\":\"\\ud800\"}", sig, 32), "claims");
    parse_bad(make_token("{\"alg\":\"HS256\"}", "{\"a\":01}", sig, 32), "claims");
    parse_bad(make_token("{\"typ\":\"JWT\"}", "{}", sig, 32), "no string alg");
    parse_bad(make_token("{\"alg\":256}", "{}", sig, 32), "no string alg");
    parse_bad(make_token("{\"alg\":null}", "{}", sig, 32), "no string alg");
    parse_bad(make_token("{\"alg\":\"HS256HS256HS256HS256\"}", "{}", sig, 32), "no string alg");
    parse_bad(make_token("{\"alg\":\"HS256\",\"kid\":7}", "{}", sig, 32), "kid");
    parse_bad(make_token("{\"alg\":\"HS256\",\"kid\":\"k\\u0000\"}", "{}", sig, 32), "U+0000");
    parse_bad(make_token("{\"alg\":\"HS256\",\"kid\":\"0123456789012345678901234567890123456789"
                         "01234567890123456789012345\"}",
                         "{}", sig, 32),
              "kid");
    parse_bad(make_token("{\"alg\":\"HS256\",\"typ\":[\"JWT\"]}", "{}", sig, 32), "typ");
    /* crit: no extension is understood, so any crit is refused */
    parse_bad(make_token("{\"alg\":\"HS256\",\"crit\":[\"exp\"],\"exp\":1}", "{}", sig, 32), "crit");
    parse_bad(make_token("{\"alg\":\"HS256\",\"crit\":[]}", "{}", sig, 32), "crit");
    parse_bad(make_token("{\"alg\":\"HS256\",\"cr\\u0069t\":[\"b64\"],\"b64\":false}", "{}", sig, 32),
              "crit");
    /* duplicates, in the header and in the claims, also via escapes */
    parse_bad(make_token("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{}", sig, 32), "duplicate");
    parse_bad(make_token("{\"alg\":\"none\",\"\\u0061lg\":\"HS256\"}", "{}", sig, 32), "duplicate");
    parse_bad(make_token("{\"alg\":\"HS256\",\"kid\":\"a\",\"kid\":\"b\"}", "{}", sig, 32),
              "duplicate");
    parse_bad(make_token("{\"alg\":\"HS256\",\"typ\":\"a\",\"typ\":\"b\"}", "{}", sig, 32),
              "duplicate");
    parse_bad(make_token("{\"alg\":\"HS256\",\"x5u\":\"a\",\"x5u\":\"b\"}", "{}", sig, 32),
              "duplicate");
    parse_bad(make_token("{\"alg\":\"HS256\"}", "{\"sub\":\"a\",\"exp\":1,\"sub\":\"admin\"}", sig,
                         32),
              "claims: invalid JSON: a duplicate member");
    parse_bad(make_token("{\"alg\":\"HS256\"}", "{\"exp\":1,\"e\\u0078p\":9999999999}", sig, 32),
              "claims: invalid JSON: a duplicate member");
    parse_bad(make_token("{\"alg\":\"HS256\"}", "{\"a\\u0000\":1}", sig, 32), "claims");
    /* nested duplicates are the claim's own business, not a parse error */
    CHECK(parse_ok(make_token("{\"alg\":\"HS256\"}", "{\"a\":{\"x\":1},\"b\":{\"x\":1}}", sig, 32)) ==
          0);

    /* sizes: token, decoded header, decoded claims, signature */
    memset(big, 'A', sizeof big);
    big[0] = 'e';
    big[JC_JWT_MAX + 1] = '\0';
    big[100] = '.';
    big[200] = '.';
    parse_bad_n(big, JC_JWT_MAX + 1, "too long");
    memset(hdr, 0, sizeof hdr);
    n = snprintf(hdr, sizeof hdr, "{\"alg\":\"HS256\",\"x\":\"");
    memset(hdr + n, 'x', JC_JWT_HEADER_MAX - (size_t)n - 1);
    strcpy(hdr + JC_JWT_HEADER_MAX - 1, "\"}"); /* 1025 bytes */
    parse_bad(make_token(hdr, "{}", sig, 32), "header is not base64url or too long");
    hdr[JC_JWT_HEADER_MAX - 2] = '\0';
    strcat(hdr, "\"}"); /* exactly 1024 */
    CHECK_EQ_INT(strlen(hdr), JC_JWT_HEADER_MAX);
    CHECK(parse_ok(make_token(hdr, "{}", sig, 32)) == 0);
    memset(claims, 0, sizeof claims);
    n = snprintf(claims, sizeof claims, "{\"x\":\"");
    memset(claims + n, 'y', JC_JWT_CLAIMS_MAX - (size_t)n - 1);
    strcpy(claims + JC_JWT_CLAIMS_MAX - 1, "\"}");
    parse_bad(make_token("{\"alg\":\"HS256\"}", claims, sig, 32), "claims are not base64url or too long");
    parse_bad(make_token("{\"alg\":\"HS256\"}", "{}", sig, 65), "signature");
    CHECK(parse_ok(make_token("{\"alg\":\"HS256\"}", "{}", sig, 64)) == 0);
    /* nesting deeper than JC_JSON_MAX_DEPTH, in the claims and the header
     * (a long flat array is fine: the decoded sizes bound it) */
    {
        char deep[JC_JWT_CLAIMS_MAX];
        size_t m = (size_t)snprintf(deep, sizeof deep, "{\"a\":");
        for (int i = 0; i < 20; i++)
            m += (size_t)snprintf(deep + m, sizeof deep - m, "[");
        for (int i = 0; i < 20; i++)
            m += (size_t)snprintf(deep + m, sizeof deep - m, "]");
        snprintf(deep + m, sizeof deep - m, "}");
        parse_bad(make_token("{\"alg\":\"HS256\"}", deep, sig, 32), "claims: nested deeper");
        parse_bad(make_token(deep, "{}", sig, 32), "header: nested deeper");
        m = (size_t)snprintf(deep, sizeof deep, "{\"a\":[");
        for (int i = 0; i < 200; i++)
            m += (size_t)snprintf(deep + m, sizeof deep - m, "%s%d", i ? "," : "", i);
        snprintf(deep + m, sizeof deep - m, "]}");
        CHECK(parse_ok(make_token("{\"alg\":\"HS256\"}", deep, sig, 32)) == 0);
    }

    /* jc_jws_sign never writes past out, at any size */
    for (size_t size = 0; size < 120; size++) {
        char *out = malloc(size ? size : 1);
        int r = jc_jws_sign(JC_JWS_HS256, "{\"alg\":\"HS256\"}", "{\"sub\":\"w\"}", key, out, size);
        CHECK(r == -1 || (r > 0 && (size_t)r < size && strlen(out) == (size_t)r));
        free(out);
    }
}

int main(void)
{
    if (sodium_init() < 0)
        return 1;
    test_b64url();
    test_hs256_roundtrip();
    test_eddsa_roundtrip();
    test_rfc7515_a1();
    test_rfc8037_a4();
    test_alg_confusion();
    test_structure();
    jc_jws_free(&jws);
    return check_done("test_jwt");
}
