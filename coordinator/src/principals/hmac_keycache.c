/*
 * hmac_keycache.c - HMAC keys of principals for the ingest loop (see hmac_keycache.h).
 *
 * An open-addressing table of fixed size; when it fills up it is simply
 * cleared (entries are cheap to refetch), so its memory is bounded whatever
 * principals the network names.
 */
#include "principals/hmac_keycache.h"
#include "principals/key_age.h"
#include "principals/scopes.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/db.h"
#include "core/log.h"

/* A batch holds at most 10000 messages (config.c caps it), so after the
 * clear at the start of a batch the table can always take a whole batch. */
#define KC_SLOTS 32768 /* power of two */
#define KC_MAX_USED 8192

struct jc_keycache {
    const jc_keyring *kr;
    int ttl_ms;
    int max_key_age_s; /* auth.max_key_age_s, 0: off */
    size_t used;
    size_t wanted;
    jc_key_entry *slots;
};

const char *jc_role_name(jc_role r)
{
    switch (r) {
    case JC_ROLE_CLIENT: return "client";
    case JC_ROLE_WORKER: return "worker";
    case JC_ROLE_ADMIN: return "admin";
    case JC_ROLE_READER: return "reader";
    default: return "none";
    }
}

static jc_role role_parse(const char *s)
{
    if (strcmp(s, "client") == 0)
        return JC_ROLE_CLIENT;
    if (strcmp(s, "worker") == 0)
        return JC_ROLE_WORKER;
    if (strcmp(s, "admin") == 0)
        return JC_ROLE_ADMIN;
    if (strcmp(s, "reader") == 0)
        return JC_ROLE_READER;
    return JC_ROLE_NONE;
}

jc_keycache *jc_keycache_new(const jc_keyring *kr, int ttl_ms)
{
    jc_keycache *kc = calloc(1, sizeof *kc);
    if (!kc)
        return NULL;
    kc->slots = calloc(KC_SLOTS, sizeof *kc->slots);
    if (!kc->slots) {
        free(kc);
        return NULL;
    }
    kc->kr = kr;
    kc->ttl_ms = ttl_ms;
    return kc;
}

void jc_keycache_set_max_age(jc_keycache *kc, int max_key_age_s)
{
    kc->max_key_age_s = max_key_age_s;
}

void jc_keycache_free(jc_keycache *kc)
{
    if (!kc)
        return;
    sodium_memzero(kc->slots, KC_SLOTS * sizeof *kc->slots);
    free(kc->slots);
    free(kc);
}

static uint64_t hash_pair(jc_slice p, jc_slice k)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (uint32_t i = 0; i < p.n; i++)
        h = (h ^ p.p[i]) * 1099511628211ULL;
    h = (h ^ 0xff) * 1099511628211ULL;
    for (uint32_t i = 0; i < k.n; i++)
        h = (h ^ k.p[i]) * 1099511628211ULL;
    return h;
}

static int entry_is(const jc_key_entry *e, jc_slice p, jc_slice k)
{
    return strlen(e->principal) == p.n && memcmp(e->principal, p.p, p.n) == 0 &&
           strlen(e->key_id) == k.n && memcmp(e->key_id, k.p, k.n) == 0;
}

// slot_for finds the entry of (p, k) or the empty slot where it belongs.
static jc_key_entry *slot_for(jc_keycache *kc, jc_slice p, jc_slice k)
{
    size_t i = (size_t)hash_pair(p, k) & (KC_SLOTS - 1);
    for (;;) {
        jc_key_entry *e = &kc->slots[i];
        if (!e->used || entry_is(e, p, k))
            return e;
        i = (i + 1) & (KC_SLOTS - 1);
    }
}

void jc_keycache_begin_batch(jc_keycache *kc)
{
    if (kc->used >= KC_MAX_USED) {
        sodium_memzero(kc->slots, KC_SLOTS * sizeof *kc->slots);
        kc->used = 0;
        kc->wanted = 0;
    }
}

const jc_key_entry *jc_keycache_want(jc_keycache *kc, jc_slice principal, jc_slice key_id,
                                     int64_t now_ms)
{
    jc_key_entry *e;
    if (principal.n == 0 || principal.n > JC_MAX_PRINCIPAL_LEN || key_id.n == 0 ||
        key_id.n > JC_MAX_KEY_ID_LEN)
        return NULL;
    e = slot_for(kc, principal, key_id);
    if (e->used && !e->want && now_ms - e->fetched_at_ms < kc->ttl_ms)
        return e;
    if (!e->used) {
        if (kc->used >= KC_SLOTS - 1)
            return NULL; /* full of wanted entries: the caller rejects as unknown */
        memset(e, 0, sizeof *e);
        e->used = 1;
        memcpy(e->principal, principal.p, principal.n);
        memcpy(e->key_id, key_id.p, key_id.n);
        kc->used++;
    }
    if (!e->want) {
        e->want = 1;
        kc->wanted++;
    }
    return NULL;
}

void jc_keycache_set_recorded(jc_keycache *kc, const jc_key_entry *e, int64_t now_ms)
{
    /* e points into kc->slots: the cast gives back the access kc owns */
    if (e >= kc->slots && e < kc->slots + KC_SLOTS)
        kc->slots[e - kc->slots].recorded_at_ms = now_ms;
}

void jc_keycache_set_version(jc_keycache *kc, const jc_key_entry *e, uint32_t version,
                             int64_t ts_ms)
{
    if (e >= kc->slots && e < kc->slots + KC_SLOTS) {
        kc->slots[e - kc->slots].proto_version = version;
        kc->slots[e - kc->slots].proto_version_ts_ms = ts_ms;
    }
}

const jc_key_entry *jc_keycache_get(jc_keycache *kc, jc_slice principal, jc_slice key_id)
{
    jc_key_entry *e;
    if (principal.n == 0 || principal.n > JC_MAX_PRINCIPAL_LEN || key_id.n == 0 ||
        key_id.n > JC_MAX_KEY_ID_LEN)
        return NULL;
    e = slot_for(kc, principal, key_id);
    return e->used && !e->want ? e : NULL;
}

// fill_entry sets e from one row of the lookup query.
static void fill_entry(jc_keycache *kc, jc_key_entry *e, PGresult *r, int row, int64_t now_ms)
{
    size_t secret_len = 0;
    unsigned char *secret = NULL;

    e->fetched_at_ms = now_ms;
    e->want = 0;
    e->status = JC_KEY_UNKNOWN_PRINCIPAL;
    if (PQgetisnull(r, row, 2))
        return;
    e->proto_version = (uint32_t)atoi(PQgetvalue(r, row, 8));
    e->proto_version_ts_ms = strtoll(PQgetvalue(r, row, 9), NULL, 10);
    e->role = role_parse(PQgetvalue(r, row, 2));
    e->scopes = jc_scopes_effective(PQgetvalue(r, row, 2), PQgetvalue(r, row, 7));
    e->disabled = strcmp(PQgetvalue(r, row, 3), "t") == 0;
    e->status = JC_KEY_UNKNOWN_KEY;
    if (PQgetisnull(r, row, 4))
        return;
    e->valid_until_ms = PQgetisnull(r, row, 6) ? INT64_MAX : strtoll(PQgetvalue(r, row, 6), NULL, 10);
    e->by_age = strcmp(PQgetvalue(r, row, 10), "t") == 0;
    e->status = JC_KEY_UNUSABLE;
    secret = PQunescapeBytea((const unsigned char *)PQgetvalue(r, row, 4), &secret_len);
    if (!secret)
        return;
    if (PQgetisnull(r, row, 5)) {
        if (secret_len == JC_KEY_LEN) {
            memcpy(e->key, secret, JC_KEY_LEN);
            e->status = JC_KEY_FOUND;
        }
    } else {
        uint8_t ad[256], plain[JC_KEY_LEN + 64];
        size_t ad_len = jc_keyring_principal_ad(e->principal, e->key_id, ad, sizeof ad);
        size_t plain_len = 0;
        const char *enc_id = PQgetvalue(r, row, 5);
        if (secret_len <= sizeof plain + JC_KEYRING_OVERHEAD && ad_len > 0 &&
            jc_keyring_open(kc->kr, enc_id, ad, ad_len, secret, secret_len, plain, &plain_len) == 0 &&
            plain_len == JC_KEY_LEN) {
            memcpy(e->key, plain, JC_KEY_LEN);
            e->status = JC_KEY_FOUND;
        } else {
            LOG_ERROR("keycache", "key %s of principal %s is sealed with keys-file key '%s' and "
                      "cannot be opened (missing from the keys file, or corrupt)",
                      e->key_id, e->principal, enc_id);
        }
        sodium_memzero(plain, sizeof plain);
    }
    sodium_memzero(secret, secret_len);
    PQfreemem(secret);
}

int jc_keycache_fetch(jc_keycache *kc, PGconn *db, int64_t now_ms, char *errstr,
                      size_t errstr_size)
{
    static const char sql[] =
        "SELECT u.p, u.k, pr.role, pr.disabled, k.secret, k.enc_key_id,"
        "       (extract(epoch FROM least(k.valid_until,"
        "                                 " JC_SQL_KEY_AGE_END("k", "$3::int") ")) * 1000)::bigint,"
        "       array_to_string(pr.scopes, ','), pr.proto_version, pr.proto_version_ts_ms,"
        "       coalesce(" JC_SQL_KEY_AGE_END("k", "$3::int") " < k.valid_until"
        "                OR (k.valid_until IS NULL AND $3::int > 0), false)"
        "  FROM unnest($1::text[], $2::text[]) AS u(p, k)"
        "  LEFT JOIN principals pr ON pr.id = u.p"
        "  LEFT JOIN principal_keys k ON k.principal_id = u.p AND k.key_id = u.k";
    jc_buf ps, ks;
    const char *params[3];
    char max_age[16];
    PGresult *r = NULL;
    int rc = -1;

    if (kc->wanted == 0)
        return 0;
    jc_buf_init(&ps, 4u << 20);
    jc_buf_init(&ks, 4u << 20);
    jc_buf_addstr(&ps, "{");
    jc_buf_addstr(&ks, "{");
    for (size_t i = 0; i < KC_SLOTS; i++) {
        jc_key_entry *e = &kc->slots[i];
        if (!e->used || !e->want)
            continue;
        jc_buf_add_array_elem(&ps, e->principal, strlen(e->principal));
        jc_buf_add_array_elem(&ks, e->key_id, strlen(e->key_id));
    }
    jc_buf_addstr(&ps, "}");
    jc_buf_addstr(&ks, "}");
    if (ps.failed || ks.failed) {
        snprintf(errstr, errstr_size, "key lookup: out of memory");
        goto out;
    }
    snprintf(max_age, sizeof max_age, "%d", kc->max_key_age_s);
    params[0] = jc_buf_str(&ps);
    params[1] = jc_buf_str(&ks);
    params[2] = max_age;
    r = PQexecParams(db, sql, 3, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(db, r, errstr, errstr_size))
        goto out;
    for (int row = 0; row < PQntuples(r); row++) {
        jc_slice p = jc_slice_str(PQgetvalue(r, row, 0));
        jc_slice k = jc_slice_str(PQgetvalue(r, row, 1));
        jc_key_entry *e = slot_for(kc, p, k);
        if (e->used && e->want)
            fill_entry(kc, e, r, row, now_ms);
    }
    /* Anything still wanted was not returned (cannot happen with the LEFT
     * JOINs above, but never leave an entry half-fetched). */
    for (size_t i = 0; i < KC_SLOTS; i++) {
        jc_key_entry *e = &kc->slots[i];
        if (e->used && e->want) {
            e->want = 0;
            e->status = JC_KEY_UNKNOWN_PRINCIPAL;
            e->fetched_at_ms = now_ms;
        }
    }
    kc->wanted = 0;
    rc = 0;
out:
    PQclear(r);
    jc_buf_free(&ps);
    jc_buf_free(&ks);
    return rc;
}
