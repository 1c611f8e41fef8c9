/*
 * access_tokens.c - signing keys in memory, minting and verifying access tokens
 * (see access_tokens.h).
 */
#include "tokens/access_tokens.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/db.h"
#include "core/json_out.h"
#include "jcproto/jwt.h"
#include "core/log.h"
#include "tokens/signing_keys.h"

#define KEYS_MAX 16

struct jc_signkeys {
    const jc_config *cfg;
    const jc_keyring *kr;
    pthread_rwlock_t mu;
    jc_signing_key keys[KEYS_MAX]; /* [0] active when nkeys > 0 and keys[0].active */
    int nkeys;
    int64_t loaded_at_ms; /* monotonic */
};

static int64_t mono_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

jc_signkeys *jc_signkeys_new(const jc_config *cfg, const jc_keyring *kr, char *err,
                             size_t err_size)
{
    jc_signkeys *k = calloc(1, sizeof *k);
    if (!k) {
        snprintf(err, err_size, "out of memory");
        return NULL;
    }
    /* keep the secret keys out of swap; may be refused (RLIMIT_MEMLOCK), and
     * they are wiped on free either way */
    (void)sodium_mlock(k->keys, sizeof k->keys);
    k->cfg = cfg;
    k->kr = kr;
    pthread_rwlock_init(&k->mu, NULL);
    return k;
}

void jc_signkeys_free(jc_signkeys *k)
{
    if (!k)
        return;
    sodium_munlock(k->keys, sizeof k->keys); /* also wipes */
    pthread_rwlock_destroy(&k->mu);
    free(k);
}

int jc_signkeys_refresh(jc_signkeys *k, PGconn *c, int force)
{
    jc_signing_key fresh[KEYS_MAX];
    char err[256];
    int n;

    pthread_rwlock_rdlock(&k->mu);
    n = !force && k->nkeys > 0 && mono_ms() - k->loaded_at_ms < k->cfg->key_reload_ms;
    pthread_rwlock_unlock(&k->mu);
    if (n)
        return 0;
    n = jc_signing_load(c, k->kr, fresh, KEYS_MAX, err, sizeof err);
    if (n < 0) {
        LOG_WARN("tokens", "cannot load signing keys: %s", err);
        sodium_memzero(fresh, sizeof fresh);
        return -1;
    }
    pthread_rwlock_wrlock(&k->mu);
    if (n > 0 && k->nkeys > 0 && strcmp(fresh[0].kid, k->keys[0].kid) != 0)
        LOG_INFO("tokens", "signing key is now %s (was %s)", fresh[0].kid, k->keys[0].kid);
    sodium_memzero(k->keys, sizeof k->keys);
    memcpy(k->keys, fresh, sizeof(jc_signing_key) * (size_t)n);
    k->nkeys = n;
    k->loaded_at_ms = mono_ms();
    pthread_rwlock_unlock(&k->mu);
    sodium_memzero(fresh, sizeof fresh);
    return 0;
}

int jc_signkeys_ready(const jc_signkeys *k)
{
    int ok;
    pthread_rwlock_rdlock((pthread_rwlock_t *)&k->mu);
    ok = k->nkeys > 0 && k->keys[0].active;
    pthread_rwlock_unlock((pthread_rwlock_t *)&k->mu);
    return ok;
}

void jc_signkeys_jwks(jc_signkeys *k, jc_buf *b)
{
    json_t *keys = json_array();
    char x[64];

    pthread_rwlock_rdlock(&k->mu);
    for (int i = 0; i < k->nkeys; i++) {
        jc_b64url_encode(k->keys[i].pk, sizeof k->keys[i].pk, x, sizeof x);
        json_array_append_new(keys, json_pack("{s:s,s:s,s:s,s:s,s:s,s:s}", "kty", "OKP", "crv",
                                              "Ed25519", "x", x, "kid", k->keys[i].kid, "use",
                                              "sig", "alg", "EdDSA"));
    }
    pthread_rwlock_unlock(&k->mu);
    if (jc_json_dump(b, json_pack("{s:o}", "keys", keys)) != 0)
        b->failed = 1;
    else
        jc_buf_addstr(b, "\n");
}

int jc_token_mint(jc_signkeys *k, const char *issuer, const char *audience, const char *sub,
                  const char *role, const char *scope, int64_t gen, int ttl_s, char *out,
                  size_t out_size, char *jti, int64_t *exp)
{
    uint8_t rnd[16];
    char *hdr = NULL, *cl = NULL;
    int n = -1;
    int64_t now = (int64_t)time(NULL);

    randombytes_buf(rnd, sizeof rnd);
    sodium_bin2hex(jti, 33, rnd, sizeof rnd);
    *exp = now + ttl_s;
    pthread_rwlock_rdlock(&k->mu);
    if (k->nkeys > 0 && k->keys[0].active) {
        /* jansson writes them (json_pack refuses a string that is not UTF-8) */
        json_t *h =
            json_pack("{s:s,s:s,s:s}", "alg", "EdDSA", "typ", "at+jwt", "kid", k->keys[0].kid);
        json_t *c = json_pack("{s:s,s:s,s:s,s:s,s:I,s:I,s:s,s:s,s:s,s:I}", "iss", issuer, "sub",
                              sub, "client_id", sub, "aud", audience, "iat", (json_int_t)now, "exp",
                              (json_int_t)*exp, "jti", jti, "scope", scope, "role", role, "gen",
                              (json_int_t)gen);
        hdr = jc_json_dumps(h); /* not json_dumps: see jc_json_dumps */
        cl = jc_json_dumps(c);
        json_decref(h);
        json_decref(c);
        if (hdr && cl)
            n = jc_jws_sign(JC_JWS_EDDSA, hdr, cl, k->keys[0].sk, out, out_size);
    }
    pthread_rwlock_unlock(&k->mu);
    free(hdr);
    free(cl);
    return n;
}

static int fail(char *err, size_t err_size, const char *what)
{
    snprintf(err, err_size, "%s", what);
    return -1;
}

/* aud_has tells whether claim aud (a string, or an array of strings)
 * contains want. */
static int aud_has(const json_t *cl, const char *want)
{
    char v[512];
    const json_t *aud = json_object_get(cl, "aud"), *e;
    size_t i;

    if (json_is_string(aud))
        return jc_json_string(aud, v, sizeof v) >= 0 && strcmp(v, want) == 0;
    json_array_foreach (aud, i, e)
        if (jc_json_string(e, v, sizeof v) >= 0 && strcmp(v, want) == 0)
            return 1;
    return 0;
}

int jc_token_verify(jc_signkeys *k, const char *issuer, const char *audience, int skew_s,
                    const char *token, size_t len, jc_token_claims *out, char *err,
                    size_t err_size)
{
    jc_jws *j = malloc(sizeof *j);
    char iss[512];
    uint8_t pk[32];
    int found = 0, ret = -1;
    int64_t nbf, now = (int64_t)time(NULL);

    memset(out, 0, sizeof *out);
    if (!j)
        return fail(err, err_size, "out of memory");
    if (jc_jws_parse(token, len, j, err, err_size) < 0)
        goto done;
    if (strcmp(j->alg, "EdDSA") != 0) {
        snprintf(err, err_size, "algorithm %s is not accepted (EdDSA only)", j->alg);
        goto done;
    }
    if (strcmp(j->typ, "at+jwt") != 0) {
        fail(err, err_size, "typ is not at+jwt");
        goto done;
    }
    pthread_rwlock_rdlock(&k->mu);
    for (int i = 0; i < k->nkeys; i++)
        if (strcmp(k->keys[i].kid, j->kid) == 0) {
            memcpy(pk, k->keys[i].pk, sizeof pk);
            found = 1;
        }
    pthread_rwlock_unlock(&k->mu);
    if (!found) {
        fail(err, err_size, "unknown or expired signing key (kid)");
        goto done;
    }
    if (jc_jws_verify_eddsa(j, pk) != 0) {
        fail(err, err_size, "bad signature");
        goto done;
    }
    if (jc_json_member_string(j->cl, "iss", iss, sizeof iss) < 0 || strcmp(iss, issuer) != 0) {
        fail(err, err_size, "wrong issuer");
        goto done;
    }
    if (!aud_has(j->cl, audience)) {
        fail(err, err_size, "wrong audience");
        goto done;
    }
    if (jc_json_int64(json_object_get(j->cl, "exp"), &out->exp) < 0 ||
        jc_json_int64(json_object_get(j->cl, "iat"), &out->iat) < 0) {
        fail(err, err_size, "exp and iat must be numbers");
        goto done;
    }
    if (out->exp + skew_s <= now) {
        fail(err, err_size, "token expired");
        goto done;
    }
    if (out->iat - skew_s > now) {
        fail(err, err_size, "token issued in the future");
        goto done;
    }
    /* RFC 7519 section 4.1.5: optional, but when present it must be a
     * number and not later than now (within the same skew) */
    if (json_object_get(j->cl, "nbf") &&
        (jc_json_int64(json_object_get(j->cl, "nbf"), &nbf) < 0 || nbf - skew_s > now)) {
        fail(err, err_size, "token not valid yet (nbf), or nbf is not a number");
        goto done;
    }
    if (jc_json_member_string(j->cl, "sub", out->sub, sizeof out->sub) <= 0 ||
        jc_json_member_string(j->cl, "role", out->role, sizeof out->role) <= 0 ||
        jc_json_member_string(j->cl, "jti", out->jti, sizeof out->jti) <= 0 ||
        jc_json_member_string(j->cl, "scope", out->scope, sizeof out->scope) < 0) {
        fail(err, err_size, "sub, role, jti and scope are required");
        goto done;
    }
    out->gen = 0; /* tokens issued before sessions had generations */
    if (json_object_get(j->cl, "gen") &&
        (jc_json_int64(json_object_get(j->cl, "gen"), &out->gen) < 0 || out->gen < 0)) {
        fail(err, err_size, "gen must be a non-negative integer");
        goto done;
    }
    snprintf(out->kid, sizeof out->kid, "%s", j->kid);
    ret = 0;
done:
    jc_jws_free(j);
    free(j);
    return ret;
}

void jc_token_issuer(const jc_config *cfg, char *out, size_t out_size)
{
    size_t n;
    if (cfg->token_issuer && cfg->token_issuer[0])
        snprintf(out, out_size, "%s", cfg->token_issuer);
    else if (cfg->http_public_url && cfg->http_public_url[0])
        snprintf(out, out_size, "%s", cfg->http_public_url);
    else if (cfg->http_listen && cfg->http_listen[0])
        snprintf(out, out_size, "http://%s", cfg->http_listen);
    else
        snprintf(out, out_size, "jobcoord");
    n = strlen(out);
    while (n > 0 && out[n - 1] == '/')
        out[--n] = '\0';
}

int jc_kafka_minter_mint(void *opaque, char *token, size_t size, int64_t *exp_ms,
                         char *principal, size_t psize, char *err, size_t errsz)
{
    jc_kafka_minter *m = opaque;
    char jti[40];
    int64_t exp;
    PGconn *db = jc_db_connect(m->cfg->db_conninfo, err, errsz);
    if (db) {
        jc_signkeys_refresh(m->keys, db, 1);
        PQfinish(db);
    }
    if (!jc_signkeys_ready(m->keys)) {
        if (!db)
            return -1; /* err says why PostgreSQL could not be reached */
        snprintf(err, errsz, "no token signing key is loaded");
        return -1;
    }
    if (jc_token_mint(m->keys, m->issuer, m->cfg->token_audience, m->cfg->group_id,
                      "coordinator", "kafka", 0, m->cfg->access_ttl_s, token, size, jti, &exp) < 0) {
        snprintf(err, errsz, "cannot mint a token");
        return -1;
    }
    *exp_ms = exp * 1000;
    snprintf(principal, psize, "%s", m->cfg->group_id);
    LOG_INFO("tokens", "SASL/OAUTHBEARER token %s minted for Kafka principal '%s'", jti,
             m->cfg->group_id);
    return 0;
}
