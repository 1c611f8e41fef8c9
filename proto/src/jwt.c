/*
 * jwt.c - compact JWS framing around libsodium (see jwt.h).
 */
#include "jcproto/jwt.h"

#include <stdio.h>
#include <string.h>

#include <sodium.h>

int jc_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_size)
{
    size_t need = sodium_base64_ENCODED_LEN(n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    if (need > out_size)
        return -1;
    sodium_bin2base64(out, out_size, in, n, sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    return (int)strlen(out);
}

int jc_b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_size)
{
    size_t bin_len = 0;
    const char *end = NULL;
    if (sodium_base642bin(out, out_size, in, n, NULL, &bin_len, &end,
                          sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
        end != in + n)
        return -1;
    return (int)bin_len;
}

int jc_jws_sign(jc_jws_alg alg, const char *header_json, const char *claims_json,
                const uint8_t *key, char *out, size_t out_size)
{
    uint8_t sig[64];
    size_t sig_len;
    int n, m, k;

    if (alg != JC_JWS_HS256 && alg != JC_JWS_EDDSA)
        return -1; /* never sign with a key read as another algorithm's */
    n = jc_b64url_encode((const uint8_t *)header_json, strlen(header_json), out, out_size);
    if (n < 0 || (size_t)n + 1 >= out_size)
        return -1;
    out[n] = '.';
    m = jc_b64url_encode((const uint8_t *)claims_json, strlen(claims_json), out + n + 1,
                         out_size - (size_t)n - 1);
    if (m < 0 || (size_t)(n + 1 + m + 1) >= out_size)
        return -1;
    if (alg == JC_JWS_HS256) {
        crypto_auth_hmacsha256(sig, (const uint8_t *)out, (size_t)(n + 1 + m), key);
        sig_len = crypto_auth_hmacsha256_BYTES;
    } else {
        unsigned long long sl = 0;
        crypto_sign_detached(sig, &sl, (const uint8_t *)out, (size_t)(n + 1 + m), key);
        sig_len = (size_t)sl;
    }
    out[n + 1 + m] = '.';
    k = jc_b64url_encode(sig, sig_len, out + n + 1 + m + 1, out_size - (size_t)(n + 1 + m + 1));
    sodium_memzero(sig, sizeof sig);
    if (k < 0)
        return -1;
    return n + 1 + m + 1 + k;
}

static int fail(char *err, size_t err_size, const char *what)
{
    snprintf(err, err_size, "%s", what);
    return -1;
}

/* object_of parses one part of the token as a JSON object, or says why not
 * in err (prefixed with what). Duplicate member names are refused by the
 * reader (RFC 7515 4 and RFC 7519 4: a JWS/JWT with duplicate names must be
 * rejected, or two parsers may read different values). */
static json_t *object_of(const char *what, const char *src, size_t len, char *err, size_t err_size)
{
    char jerr[160];
    json_t *doc = jc_json_parse(src, len, jerr, sizeof jerr);

    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        snprintf(err, err_size, "%s: not an object", what);
        return NULL;
    }
    if (!doc)
        snprintf(err, err_size, "%s: %s", what, jerr);
    return doc;
}

void jc_jws_free(jc_jws *j)
{
    json_decref(j->hdr);
    json_decref(j->cl);
    j->hdr = j->cl = NULL;
}

int jc_jws_parse(const char *token, size_t len, jc_jws *j, char *err, size_t err_size)
{
    const char *d1, *d2;
    int n;

    memset(j, 0, sizeof *j);
    if (len == 0 || len > JC_JWT_MAX)
        return fail(err, err_size, len ? "token too long" : "empty token");
    d1 = memchr(token, '.', len);
    d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - token)) : NULL;
    if (!d1 || !d2 || memchr(d2 + 1, '.', len - (size_t)(d2 + 1 - token)))
        return fail(err, err_size, "not a compact JWS (three dot-separated parts)");
    n = jc_b64url_decode(token, (size_t)(d1 - token), (uint8_t *)j->header, JC_JWT_HEADER_MAX);
    if (n < 0)
        return fail(err, err_size, "header is not base64url or too long");
    j->header_len = (size_t)n;
    n = jc_b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), (uint8_t *)j->claims, JC_JWT_CLAIMS_MAX);
    if (n < 0)
        return fail(err, err_size, "claims are not base64url or too long");
    j->claims_len = (size_t)n;
    n = jc_b64url_decode(d2 + 1, len - (size_t)(d2 + 1 - token), j->sig, sizeof j->sig);
    if (n < 0)
        return fail(err, err_size, "signature is not base64url or too long");
    j->sig_len = (size_t)n;
    j->hdr = object_of("header", j->header, j->header_len, err, err_size);
    if (!j->hdr)
        return -1;
    j->cl = object_of("claims", j->claims, j->claims_len, err, err_size);
    if (!j->cl)
        goto bad;
    if (jc_json_member_string(j->hdr, "alg", j->alg, sizeof j->alg) < 0) {
        fail(err, err_size, "header has no string alg");
        goto bad;
    }
    if (json_object_get(j->hdr, "crit")) {
        fail(err, err_size, "header has crit (no extension is supported)");
        goto bad;
    }
    if (json_object_get(j->hdr, "kid") &&
        jc_json_member_string(j->hdr, "kid", j->kid, sizeof j->kid) < 0) {
        fail(err, err_size, "header kid is not a short string");
        goto bad;
    }
    if (json_object_get(j->hdr, "typ") &&
        jc_json_member_string(j->hdr, "typ", j->typ, sizeof j->typ) < 0) {
        fail(err, err_size, "header typ is not a short string");
        goto bad;
    }
    j->token = token;
    j->signing_input_len = (size_t)(d2 - token);
    return 0;
bad:
    jc_jws_free(j);
    return -1;
}

int jc_jws_verify_hs256(const jc_jws *j, const uint8_t key[32])
{
    return jc_jws_verify_hs256_key(j, key, crypto_auth_hmacsha256_KEYBYTES);
}

int jc_jws_verify_hs256_key(const jc_jws *j, const uint8_t *key, size_t key_len)
{
    crypto_auth_hmacsha256_state st;
    uint8_t mac[crypto_auth_hmacsha256_BYTES];
    int rc;

    if (strcmp(j->alg, "HS256") != 0 || j->sig_len != crypto_auth_hmacsha256_BYTES)
        return -1;
    crypto_auth_hmacsha256_init(&st, key, key_len);
    crypto_auth_hmacsha256_update(&st, (const uint8_t *)j->token, j->signing_input_len);
    crypto_auth_hmacsha256_final(&st, mac);
    rc = sodium_memcmp(mac, j->sig, sizeof mac) == 0 ? 0 : -1;
    sodium_memzero(&st, sizeof st);
    sodium_memzero(mac, sizeof mac);
    return rc;
}

int jc_jws_verify_eddsa(const jc_jws *j, const uint8_t pk[32])
{
    if (strcmp(j->alg, "EdDSA") != 0 || j->sig_len != crypto_sign_BYTES)
        return -1;
    return crypto_sign_verify_detached(j->sig, (const uint8_t *)j->token, j->signing_input_len,
                                       pk) == 0
               ? 0
               : -1;
}
