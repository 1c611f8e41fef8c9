/*
 * hmac_keycache.h - principals' HMAC keys as the ingest loop needs them: looked up
 * by (principal, key id), fetched from PostgreSQL in one query per batch for
 * all misses, decrypted with the keyring, and kept for key_cache_ttl_ms so a
 * rotation, deletion or role change takes effect within that time. Misses
 * (unknown principal or key) are cached too, so a flood of forged principals
 * costs one query per batch, not one per message. Owned by the ingest thread.
 */
#ifndef JC_KEYCACHE_H
#define JC_KEYCACHE_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "secrets/keyring.h"
#include "jcproto/proto.h"

typedef enum jc_key_status {
    JC_KEY_FOUND = 0,
    JC_KEY_UNKNOWN_PRINCIPAL,
    JC_KEY_UNKNOWN_KEY,
    JC_KEY_UNUSABLE, /* sealed with a keys-file key we do not have, or corrupt */
} jc_key_status;

/* A reader may only read the HTTP status API: no topic's role mask
 * (checks.c) includes it, so everything it sends is rejected (wrong_role). */
typedef enum jc_role {
    JC_ROLE_NONE = 0,
    JC_ROLE_CLIENT,
    JC_ROLE_WORKER,
    JC_ROLE_ADMIN,
    JC_ROLE_READER
} jc_role;

typedef struct jc_key_entry {
    char principal[JC_MAX_PRINCIPAL_LEN + 1];
    char key_id[JC_MAX_KEY_ID_LEN + 1];
    jc_key_status status;
    jc_role role;
    unsigned scopes; /* effective scopes (scopes.h): what it may send */
    int disabled;
    int64_t valid_until_ms; /* INT64_MAX: current key; with auth.max_key_age_s at most
                             * its creation plus that age (key_age.h) */
    int by_age;             /* valid_until_ms is the age limit, not a rotation's end */
    uint8_t key[JC_KEY_LEN];
    int64_t fetched_at_ms;
    int used; /* slot in use */
    int want; /* being fetched in this round */
    int64_t recorded_at_ms; /* reply_key.c: when principals.reply_key_id was last made
                             * at least as new as this key; 0: not yet */
    /* principals.proto_version and proto_version_ts_ms as fetched, or as
     * this instance has since written them (replykey.c) */
    uint32_t proto_version;
    int64_t proto_version_ts_ms;
} jc_key_entry;

typedef struct jc_keycache jc_keycache;

jc_keycache *jc_keycache_new(const jc_keyring *kr, int ttl_ms);
void jc_keycache_free(jc_keycache *kc);

/* jc_keycache_set_max_age sets auth.max_key_age_s (0: off) for the next
 * fetches: a key older than that is expired (key_age.h). */
void jc_keycache_set_max_age(jc_keycache *kc, int max_key_age_s);

/* jc_keycache_begin_batch bounds the cache's memory: it clears the table
 * when it is over its limit. Call before the first want of a batch. */
void jc_keycache_begin_batch(jc_keycache *kc);

/* jc_keycache_want notes that (principal, key_id) will be needed; returns
 * the entry if it is cached and fresh, else NULL (it will be fetched). */
const jc_key_entry *jc_keycache_want(jc_keycache *kc, jc_slice principal, jc_slice key_id,
                                     int64_t now_ms);

/* jc_keycache_fetch loads every wanted entry in one query. Returns 0, or -1
 * with errstr (database trouble: retry the batch). */
int jc_keycache_fetch(jc_keycache *kc, PGconn *db, int64_t now_ms, char *errstr,
                      size_t errstr_size);

/* jc_keycache_get returns the entry after a fetch (NULL if never wanted). */
const jc_key_entry *jc_keycache_get(jc_keycache *kc, jc_slice principal, jc_slice key_id);

/* jc_keycache_set_recorded notes that the use of entry e's key was
 * recorded at now_ms (e: an entry of kc, as a message's signer). */
void jc_keycache_set_recorded(jc_keycache *kc, const jc_key_entry *e, int64_t now_ms);

/* jc_keycache_set_version notes that principals.proto_version of e's
 * principal now holds version, set by a message signed at ts_ms. */
void jc_keycache_set_version(jc_keycache *kc, const jc_key_entry *e, uint32_t version,
                             int64_t ts_ms);

const char *jc_role_name(jc_role r);

#endif
