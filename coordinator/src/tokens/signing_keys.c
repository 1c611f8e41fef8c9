/*
 * signing_keys.c - the Ed25519 token-signing keys in PostgreSQL (see signing_keys.h).
 *
 * Creating the first key and rotating take the same transaction-scoped
 * advisory lock, so two coordinators starting at once make one key, and a
 * rotation never sees a half-made one; the partial unique index on the
 * active key is the last line of defence. Seeds are sealed and opened with
 * jc_secret_store / jc_secret_open (sealed_columns.h), like HMAC keys, and every
 * copy is wiped.
 */
#include "tokens/signing_keys.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/db.h"
#include "secrets/sealed_columns.h"

_Static_assert(crypto_sign_PUBLICKEYBYTES == 32, "jc_signing_key.pk");
_Static_assert(crypto_sign_SECRETKEYBYTES == 64, "jc_signing_key.sk");
_Static_assert(crypto_sign_SEEDBYTES == JC_SIGNING_SEED_LEN, "seed length");

/* An arbitrary constant ("jcsikeys"): the advisory lock of key changes. */
#define SIGNING_LOCK_SQL "SELECT pg_advisory_xact_lock(7666097887325288819)"
#define SEALED_MAX (JC_SIGNING_SEED_LEN + JC_KEYRING_OVERHEAD)
#define AD_MAX (32 + JC_SIGNING_KID_MAX)
#define MS(col) "coalesce((extract(epoch FROM " col ") * 1000)::bigint, 0)"

/* The columns fill_key reads, in this order; load adds the secret. */
#define KEY_COLUMNS                                                                          \
    "kid, public_key, coalesce(enc_key_id, ''), " MS("created_at") ", " MS("retired_at") ", " \
    MS("valid_until") ", retired_at IS NULL"

/* signing_ad builds the associated data of kid's row:
 * "jobcoord:signing_key:v1\0<kid>". Returns its length, 0 if too long. */
static size_t signing_ad(const char *kid, uint8_t *out, size_t out_size)
{
    static const char prefix[] = "jobcoord:signing_key:v1";
    size_t lk = strlen(kid), n = sizeof prefix + lk; /* sizeof counts the NUL */

    if (n > out_size)
        return 0;
    memcpy(out, prefix, sizeof prefix);
    memcpy(out + sizeof prefix, kid, lk);
    return n;
}

/* rollback ends a failed transaction; its own error is of no interest. */
static void rollback(PGconn *c)
{
    char ignored[128];

    jc_db_exec(c, "ROLLBACK", ignored, sizeof ignored);
}

/* begin_locked starts a transaction holding the signing keys' lock. */
static int begin_locked(PGconn *c, char *err, size_t errsz)
{
    if (jc_db_exec(c, "BEGIN", err, errsz) != 0)
        return -1;
    if (jc_db_exec(c, SIGNING_LOCK_SQL, err, errsz) != 0) {
        rollback(c);
        return -1;
    }
    return 0;
}

/* unescape returns the bytes of a bytea column (text form) in a
 * PQfreemem'd buffer, or NULL when out of memory. */
static unsigned char *unescape(const PGresult *r, int i, int col, size_t *len)
{
    return PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, col), len);
}

/* fill_key copies row i (KEY_COLUMNS) into k, without secrets. */
static int fill_key(const PGresult *r, int i, jc_signing_key *k, char *err, size_t errsz)
{
    unsigned char *pk;
    size_t pk_len = 0;

    memset(k, 0, sizeof *k);
    snprintf(k->kid, sizeof k->kid, "%s", PQgetvalue(r, i, 0));
    pk = unescape(r, i, 1, &pk_len);
    if (!pk || pk_len != sizeof k->pk) {
        snprintf(err, errsz, pk ? "signing key '%s' has a public key of %zu bytes"
                                : "out of memory (signing key '%s', %zu)",
                 k->kid, pk_len);
        PQfreemem(pk);
        return -1;
    }
    memcpy(k->pk, pk, sizeof k->pk);
    PQfreemem(pk);
    snprintf(k->enc_key_id, sizeof k->enc_key_id, "%s", PQgetvalue(r, i, 2));
    k->created_at_ms = strtoll(PQgetvalue(r, i, 3), NULL, 10);
    k->retired_at_ms = strtoll(PQgetvalue(r, i, 4), NULL, 10);
    k->valid_until_ms = strtoll(PQgetvalue(r, i, 5), NULL, 10);
    k->active = PQgetvalue(r, i, 6)[0] == 't';
    return 0;
}

/* open_key opens the seed in column col of row i for k and derives k->sk,
 * checking that it gives the stored public key. */
static int open_key(const PGresult *r, int i, int col, const jc_keyring *kr, jc_signing_key *k,
                    char *err, size_t errsz)
{
    uint8_t seed[JC_SIGNING_SEED_LEN], ad[AD_MAX], pk[sizeof k->pk];
    unsigned char *stored = NULL;
    size_t stored_len = 0, ad_len = signing_ad(k->kid, ad, sizeof ad);
    int rc = -1;

    stored = unescape(r, i, col, &stored_len);
    if (!stored) {
        snprintf(err, errsz, "out of memory");
        goto out;
    }
    if (ad_len == 0 || jc_secret_open(kr, k->enc_key_id, ad, ad_len, stored, stored_len, seed,
                                      sizeof seed) != 0) {
        if (k->enc_key_id[0] && !jc_keyring_has(kr, k->enc_key_id))
            snprintf(err, errsz,
                     "signing key '%s' is sealed with '%s', which is not in the keys file",
                     k->kid, k->enc_key_id);
        else
            snprintf(err, errsz, "signing key '%s' cannot be opened (corrupt or moved)", k->kid);
        goto out;
    }
    crypto_sign_seed_keypair(pk, k->sk, seed);
    if (memcmp(pk, k->pk, sizeof pk) != 0) {
        snprintf(err, errsz, "signing key '%s': its secret does not match its public key",
                 k->kid);
        goto out;
    }
    rc = 0;
out:
    if (stored) {
        sodium_memzero(stored, stored_len);
        PQfreemem(stored);
    }
    sodium_memzero(seed, sizeof seed);
    if (rc != 0)
        sodium_memzero(k->sk, sizeof k->sk);
    return rc;
}

/* insert_active makes a new key and stores it as the active one, inside the
 * caller's transaction; made gets it without sk. */
static int insert_active(PGconn *c, const jc_keyring *kr, jc_signing_key *made, char *err,
                         size_t errsz)
{
    const char *enc_id = jc_keyring_default_id(kr);
    uint8_t seed[JC_SIGNING_SEED_LEN], ad[AD_MAX], stored[SEALED_MAX], r6[6];
    size_t ad_len, stored_len = 0;
    const char *params[4];
    int lengths[4] = {0, (int)sizeof made->pk, 0, 0}, formats[4] = {0, 1, 1, 0};
    PGresult *r = NULL;
    int rc = -1;

    memset(made, 0, sizeof *made);
    randombytes_buf(r6, sizeof r6);
    snprintf(made->kid, sizeof made->kid, "s%02x%02x%02x%02x%02x%02x", r6[0], r6[1], r6[2],
             r6[3], r6[4], r6[5]);
    randombytes_buf(seed, sizeof seed);
    crypto_sign_seed_keypair(made->pk, made->sk, seed);
    ad_len = signing_ad(made->kid, ad, sizeof ad);
    if (jc_secret_plain_refused(kr, enc_id, "the token signing key", err, errsz))
        goto out;
    if (ad_len == 0 ||
        jc_secret_store(kr, enc_id, ad, ad_len, seed, sizeof seed, stored, &stored_len) != 0) {
        snprintf(err, errsz, "cannot seal signing key '%s' with '%s'", made->kid,
                 enc_id ? enc_id : "");
        goto out;
    }
    params[0] = made->kid;
    params[1] = (const char *)made->pk;
    params[2] = (const char *)stored;
    lengths[2] = (int)stored_len;
    params[3] = enc_id;
    r = PQexecParams(c,
                     "INSERT INTO signing_keys (kid, public_key, secret, enc_key_id)"
                     " VALUES ($1, $2, $3, $4) RETURNING " MS("created_at"),
                     4, NULL, params, lengths, formats, 0);
    if (!jc_db_ok(c, r, err, errsz))
        goto out;
    made->created_at_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    made->active = 1;
    snprintf(made->enc_key_id, sizeof made->enc_key_id, "%s", enc_id ? enc_id : "");
    rc = 0;
out:
    PQclear(r);
    sodium_memzero(seed, sizeof seed);
    sodium_memzero(stored, sizeof stored);
    sodium_memzero(made->sk, sizeof made->sk);
    return rc;
}

int jc_signing_ensure(PGconn *c, const jc_keyring *kr, int *created, char *err, size_t errsz)
{
    jc_signing_key made;
    PGresult *r = NULL;
    int rc = -1, made_one = 0;

    *created = 0;
    if (sodium_init() < 0) {
        snprintf(err, errsz, "libsodium cannot be initialized");
        return -1;
    }
    if (begin_locked(c, err, errsz) != 0)
        return -1;
    r = PQexec(c, "SELECT 1 FROM signing_keys WHERE retired_at IS NULL");
    if (!jc_db_ok(c, r, err, errsz))
        goto out;
    if (PQntuples(r) == 0) {
        if (jc_secret_plain_refused(kr, jc_keyring_default_id(kr), "the token signing key", err,
                                    errsz)) {
            PQclear(r);
            rollback(c);
            return -2;
        }
        if (insert_active(c, kr, &made, err, errsz) != 0)
            goto out;
        made_one = 1;
    }
    if (jc_db_exec(c, "COMMIT", err, errsz) != 0)
        goto out;
    *created = made_one;
    rc = 0;
out:
    PQclear(r);
    if (rc != 0)
        rollback(c);
    return rc;
}

int jc_signing_load(PGconn *c, const jc_keyring *kr, jc_signing_key *out, int max, char *err,
                    size_t errsz)
{
    char limit[16];
    const char *params[1] = {limit};
    PGresult *r = NULL;
    int n = 0, rc = -1;

    if (max <= 0)
        return 0;
    if (sodium_init() < 0) {
        snprintf(err, errsz, "libsodium cannot be initialized");
        return -1;
    }
    snprintf(limit, sizeof limit, "%d", max);
    r = PQexecParams(c,
                     "SELECT " KEY_COLUMNS ", secret FROM signing_keys"
                     " WHERE retired_at IS NULL OR valid_until > now()"
                     " ORDER BY retired_at IS NULL DESC, created_at DESC, kid LIMIT $1::integer",
                     1, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, r, err, errsz))
        goto out;
    for (n = 0; n < PQntuples(r); n++) {
        if (fill_key(r, n, &out[n], err, errsz) != 0 ||
            open_key(r, n, 7, kr, &out[n], err, errsz) != 0)
            goto out;
    }
    rc = n;
out:
    PQclear(r);
    if (rc < 0)
        sodium_memzero(out, (size_t)max * sizeof *out);
    return rc;
}

int jc_signing_rotate_report(PGconn *c, const jc_keyring *kr, long grace_s, jc_signing_key *made,
                             jc_signing_key *retired, char *err, size_t errsz)
{
    char grace[32];
    const char *params[1] = {grace};
    PGresult *r = NULL;
    int rc = -1;

    memset(made, 0, sizeof *made);
    if (retired)
        memset(retired, 0, sizeof *retired);
    if (grace_s < 0 || grace_s > JC_PRINCIPAL_GRACE_MAX) {
        snprintf(err, errsz, "grace must be 0..%ld seconds", JC_PRINCIPAL_GRACE_MAX);
        return -1;
    }
    if (jc_secret_plain_refused(kr, jc_keyring_default_id(kr), "a token signing key", err,
                                errsz))
        return -2;
    if (sodium_init() < 0) {
        snprintf(err, errsz, "libsodium cannot be initialized");
        return -1;
    }
    snprintf(grace, sizeof grace, "%ld", grace_s);
    if (begin_locked(c, err, errsz) != 0)
        return -1;
    r = PQexecParams(c,
                     "UPDATE signing_keys SET retired_at = now(),"
                     " valid_until = now() + $1::bigint * interval '1 s'"
                     " WHERE retired_at IS NULL RETURNING " KEY_COLUMNS,
                     1, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, r, err, errsz))
        goto out;
    if (retired && PQntuples(r) > 0 && fill_key(r, 0, retired, err, errsz) != 0)
        goto out;
    if (insert_active(c, kr, made, err, errsz) != 0)
        goto out;
    if (jc_db_exec(c, "COMMIT", err, errsz) != 0)
        goto out;
    rc = 0;
out:
    PQclear(r);
    if (rc != 0) {
        rollback(c);
        memset(made, 0, sizeof *made);
        if (retired)
            memset(retired, 0, sizeof *retired);
    }
    return rc;
}

int jc_signing_rotate(PGconn *c, const jc_keyring *kr, long grace_s, jc_signing_key *made,
                      char *err, size_t errsz)
{
    return jc_signing_rotate_report(c, kr, grace_s, made, NULL, err, errsz);
}

int jc_signing_list(PGconn *c, jc_signing_key **out, int *n, char *err, size_t errsz)
{
    PGresult *r;
    jc_signing_key *list = NULL;
    int rows, rc = -1;

    *out = NULL;
    *n = 0;
    r = PQexec(c, "SELECT " KEY_COLUMNS " FROM signing_keys ORDER BY created_at DESC, kid");
    if (!jc_db_ok(c, r, err, errsz))
        goto out;
    rows = PQntuples(r);
    if (rows > 0) {
        list = calloc((size_t)rows, sizeof *list);
        if (!list) {
            snprintf(err, errsz, "out of memory");
            goto out;
        }
    }
    for (int i = 0; i < rows; i++) {
        if (fill_key(r, i, &list[i], err, errsz) != 0)
            goto out;
    }
    *out = list;
    *n = rows;
    list = NULL;
    rc = 0;
out:
    PQclear(r);
    free(list);
    return rc;
}

/* The rows a re-encryption still has to move: $1 target (NULL: plain), $2
 * current-key filter. */
#define REENCRYPT_WHERE                                                   \
    " WHERE enc_key_id IS DISTINCT FROM $1::text"                         \
    " AND ($2::text IS NULL OR enc_key_id = $2)"

/* kid_ad is signing_ad for jc_reencrypt_run. */
static size_t kid_ad(const char *const *ids, uint8_t *out, size_t out_size)
{
    return signing_ad(ids[0], out, out_size);
}

/* kid_name is how messages call a signing key. */
static void kid_name(const char *const *ids, char *out, size_t out_size)
{
    snprintf(out, out_size, "signing key '%s'", ids[0]);
}

jc_pr_status jc_signing_reencrypt(PGconn *c, const jc_keyring *kr, const jc_reencrypt_opts *o,
                                  jc_reencrypt_counts *counts, char *err, size_t errsz)
{
    static const jc_reencrypt_table signing_keys = {
        .select_sql = "SELECT kid, secret, enc_key_id FROM signing_keys" REENCRYPT_WHERE
                      " ORDER BY kid LIMIT $3::bigint FOR UPDATE SKIP LOCKED",
        .count_sql = "SELECT count(*) FROM signing_keys" REENCRYPT_WHERE,
        .update_sql = "UPDATE signing_keys SET secret = $2, enc_key_id = $3 WHERE kid = $1",
        .n_ids = 1,
        .principal_filter = 0,
        .secret_len = JC_SIGNING_SEED_LEN,
        .ad_max = AD_MAX,
        .ad = kid_ad,
        .name = kid_name,
    };

    if (o->principal_id) {
        memset(counts, 0, sizeof *counts);
        return JC_PR_OK;
    }
    return jc_reencrypt_run(c, kr, &signing_keys, o, counts, err, errsz);
}
