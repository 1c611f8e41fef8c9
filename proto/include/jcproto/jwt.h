/*
 * jwt.h - JSON Web Signatures in compact form (RFC 7515) for jobcoord's two
 * uses: client_secret_jwt assertions (HS256 with a principal's 32-byte HMAC
 * key, RFC 7523) and access tokens (EdDSA with Ed25519, RFC 8037). All the
 * cryptography is libsodium's; this file only frames it.
 *
 * Parsing never trusts the header: the caller decides which algorithm it
 * expects and calls the matching verify function, which refuses a token
 * whose header names another algorithm (so "none", or HS256 over an EdDSA
 * public key, can never verify).
 */
#ifndef JC_JWT_H
#define JC_JWT_H

#include <stddef.h>
#include <stdint.h>

#include "jcproto/json.h"

#define JC_JWT_MAX 8192        /* longest token accepted */
#define JC_JWT_HEADER_MAX 1024 /* decoded header */
#define JC_JWT_CLAIMS_MAX 4096 /* decoded claims */

typedef enum jc_jws_alg { JC_JWS_HS256 = 1, JC_JWS_EDDSA } jc_jws_alg;

/* jc_b64url_encode writes unpadded base64url of in into out (NUL-terminated).
 * Returns the length, or -1 if out is too small. */
int jc_b64url_encode(const uint8_t *in, size_t n, char *out, size_t out_size);
/* jc_b64url_decode decodes unpadded base64url (strict: no padding, no other
 * characters). Returns the length, or -1. */
int jc_b64url_decode(const char *in, size_t n, uint8_t *out, size_t out_size);

/* jc_jws_sign makes header.claims.signature from two JSON texts. key is the
 * 32-byte HMAC key (HS256) or the 64-byte libsodium Ed25519 secret key
 * (EdDSA). Returns the token's length, or -1 (out too small, or an alg
 * that is neither). */
int jc_jws_sign(jc_jws_alg alg, const char *header_json, const char *claims_json,
                const uint8_t *key, char *out, size_t out_size);

typedef struct jc_jws {
    const char *token;
    size_t signing_input_len; /* token[0..signing_input_len) was signed */
    char header[JC_JWT_HEADER_MAX + 1];
    char claims[JC_JWT_CLAIMS_MAX + 1];
    size_t header_len, claims_len;
    uint8_t sig[64];
    size_t sig_len;
    json_t *hdr, *cl; /* the header and the claims, objects (jc_jws_free) */
    char alg[16];
    char typ[32];
    char kid[65]; /* "" when absent */
} jc_jws;

/* jc_jws_parse splits and decodes a compact JWS: three base64url parts, a
 * header and claims that are JSON objects with unique members, a string
 * "alg", no "crit" (no extension is understood), and a signature of at most
 * 64 bytes. Returns 0, or -1 with the reason in err. */
int jc_jws_parse(const char *token, size_t len, jc_jws *out, char *err, size_t err_size);

/* jc_jws_free frees the parsed header and claims of a jc_jws that
 * jc_jws_parse filled (it frees them itself when it fails); the structure
 * may be parsed into again. */
void jc_jws_free(jc_jws *j);

/* Verification: 0 when the header's alg is the expected one and the
 * signature verifies, -1 otherwise. Constant time in the signature. */
int jc_jws_verify_hs256(const jc_jws *j, const uint8_t key[32]);
/* jc_jws_verify_hs256_key is jc_jws_verify_hs256 with a key of any length
 * (HMAC, RFC 2104; the RFC 7515 examples use 64 bytes). */
int jc_jws_verify_hs256_key(const jc_jws *j, const uint8_t *key, size_t key_len);
int jc_jws_verify_eddsa(const jc_jws *j, const uint8_t pk[32]);

#endif
