/*
 * access_tokens.h - access tokens: the signing keys held in memory, minting and
 * verifying JWTs (EdDSA, typ at+jwt). Used by the HTTP surface (token
 * endpoint, bearer authentication, JWKS) and by the Kafka clients of the
 * coordinator when they authenticate with SASL/OAUTHBEARER.
 *
 * The keys live in PostgreSQL (signing_keys.c); jc_signkeys keeps a copy that
 * is re-read every tokens.key_reload_ms, so a rotation made by
 * `jobcoord-admin security rotate-signing-key` on any machine reaches every
 * instance within that time. Thread-safe.
 */
#ifndef JC_TOKENS_H
#define JC_TOKENS_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/buf.h"
#include "core/config.h"
#include "secrets/keyring.h"

typedef struct jc_signkeys jc_signkeys;

jc_signkeys *jc_signkeys_new(const jc_config *cfg, const jc_keyring *kr, char *err,
                             size_t err_size);
void jc_signkeys_free(jc_signkeys *k);

/* jc_signkeys_refresh re-reads the keys through c when the copy is older
 * than tokens.key_reload_ms (or force). Returns 0, -1 when the read failed
 * (the previous copy stays in use). */
int jc_signkeys_refresh(jc_signkeys *k, PGconn *c, int force);

/* jc_signkeys_ready: an active key is loaded. */
int jc_signkeys_ready(const jc_signkeys *k);

/* jc_signkeys_jwks appends the JWKS document (active key first). */
void jc_signkeys_jwks(jc_signkeys *k, jc_buf *b);

/* jc_token_mint signs an access token for sub with role, scope and the
 * principal's token generation gen (claim "gen": the token works while the
 * principal's sessions are not ended, see principal_change.h), valid ttl_s
 * seconds, with the active key. Fills jti (>= 33 bytes) and *exp. Returns
 * the token length, -1 when no key is loaded or out is too small. */
int jc_token_mint(jc_signkeys *k, const char *issuer, const char *audience, const char *sub,
                  const char *role, const char *scope, int64_t gen, int ttl_s, char *out,
                  size_t out_size, char *jti, int64_t *exp);

typedef struct jc_token_claims {
    char sub[65];
    char role[16];
    char scope[512];
    char jti[80];
    char kid[65];
    int64_t exp, iat;
    int64_t gen; /* the principal's token generation; 0 when the claim is absent */
} jc_token_claims;

/* jc_token_verify checks an access token: compact JWS, alg pinned to EdDSA,
 * typ at+jwt, kid naming a published key, signature, iss == issuer, aud
 * (string or array) containing audience, exp in the future, iat and nbf
 * (when present, RFC 7519 section 4.1.5) not in the future (all within
 * skew_s), and the claims jobcoord needs. Returns
 * 0, or -1 with the reason in err (safe to show the caller). */
int jc_token_verify(jc_signkeys *k, const char *issuer, const char *audience, int skew_s,
                    const char *token, size_t len, jc_token_claims *out, char *err,
                    size_t err_size);

/* jc_token_issuer writes the issuer of this coordinator's tokens:
 * tokens.issuer, else http.public_url, else "http://" + http.listen, else
 * "jobcoord" (no trailing slash). */
void jc_token_issuer(const jc_config *cfg, char *out, size_t out_size);

/* The coordinator's own Kafka identity for SASL/OAUTHBEARER: tokens with
 * sub = kafka.group_id, role "coordinator", scope "kafka", signed with the
 * active signing key (re-read from PostgreSQL on each mint: librdkafka asks
 * at 80% of a token's lifetime, so rarely). */
typedef struct jc_kafka_minter {
    const jc_config *cfg;
    jc_signkeys *keys;
    char issuer[512];
} jc_kafka_minter;

/* jc_kafka_minter_mint has the jc_kafka_oauth_mint_fn signature (opaque is
 * a jc_kafka_minter). */
int jc_kafka_minter_mint(void *opaque, char *token, size_t size, int64_t *exp_ms,
                         char *principal, size_t psize, char *err, size_t errsz);

#endif
