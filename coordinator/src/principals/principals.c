/*
 * principals.c - principals and their HMAC keys in PostgreSQL (see
 * principals.h).
 *
 * How a key is stored is decided in one place, store_secret: sealed with
 * the keyring's default key and bound to its row by the associated data, or
 * plain when there is no keys file. open_secret is its inverse. The
 * re-encryption of principal_keys is sealed_columns.c's jc_reencrypt_run over the
 * table described in jc_principal_reencrypt.
 *
 * Secrets travel to PostgreSQL as binary parameters and come back as the
 * text form of bytea, decoded with PQunescapeBytea; every copy we make is
 * wiped.
 */
#include "principals/principals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/db.h"
#include "core/log.h"
#include "principals/scopes.h"
#include "secrets/sealed_columns.h"

#define SCOPE_CHARS "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._:/*-"
#define SEALED_MAX (JC_PRINCIPAL_KEY_LEN + JC_KEYRING_OVERHEAD)
#define AD_MAX (64 + 2 * JC_MAX_PRINCIPAL_LEN)
#define UTC_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

int jc_principal_role_valid(const char *role)
{
    return role && (strcmp(role, "client") == 0 || strcmp(role, "worker") == 0 ||
                    strcmp(role, "admin") == 0 || strcmp(role, "reader") == 0);
}

/* scopes_valid checks a comma-separated scope list: each scope 1-64 of
 * letters, digits and ". _ : / * -", no empty element. */
static int scopes_valid(const char *scopes)
{
    const char *p = scopes;

    if (!*p)
        return 1;
    for (;;) {
        size_t n = strcspn(p, ",");
        if (n == 0 || n > 64 || strspn(p, SCOPE_CHARS) < n)
            return 0;
        if (!p[n])
            return 1;
        p += n + 1;
    }
}

int jc_principal_scopes_valid(const char *role, const char *scopes, char *errstr,
                              size_t errstr_size)
{
    if (!scopes_valid(scopes ? scopes : "")) {
        snprintf(errstr, errstr_size,
                 "invalid scopes '%s' (comma-separated, each 1-64 of A-Z a-z 0-9 . _ : / * -)",
                 scopes);
        return 0;
    }
    return jc_scopes_check(role, scopes, errstr, errstr_size);
}

/* rollback ends a failed transaction; its own error is of no interest. */
static void rollback(PGconn *c)
{
    char ignored[128];

    jc_db_exec(c, "ROLLBACK", ignored, sizeof ignored);
}

/* store_secret gives the stored form of key for (principal, key_id): sealed
 * with enc_id, or plain when enc_id is NULL. */
static int store_secret(const jc_keyring *kr, const char *enc_id, const char *principal,
                        const char *key_id, const uint8_t key[JC_PRINCIPAL_KEY_LEN],
                        uint8_t out[SEALED_MAX], size_t *out_len)
{
    uint8_t ad[AD_MAX];
    size_t ad_len = jc_keyring_principal_ad(principal, key_id, ad, sizeof ad);

    if (ad_len == 0)
        return -1;
    return jc_secret_store(kr, enc_id, ad, ad_len, key, JC_PRINCIPAL_KEY_LEN, out, out_len);
}

/* open_secret recovers the 32-byte key from its stored form (enc_id NULL
 * or "": plain). */
static int open_secret(const jc_keyring *kr, const char *enc_id, const char *principal,
                       const char *key_id, const uint8_t *stored, size_t stored_len,
                       uint8_t key[JC_PRINCIPAL_KEY_LEN])
{
    uint8_t ad[AD_MAX];
    size_t ad_len = jc_keyring_principal_ad(principal, key_id, ad, sizeof ad);

    if (ad_len == 0)
        return -1;
    return jc_secret_open(kr, enc_id, ad, ad_len, stored, stored_len, key,
                          JC_PRINCIPAL_KEY_LEN);
}

/* new_key fills out with a random key and key id ("k" + 8 hex digits). */
static void new_key(jc_new_key *out)
{
    uint8_t r[4];

    memset(out, 0, sizeof *out);
    randombytes_buf(r, sizeof r);
    snprintf(out->key_id, sizeof out->key_id, "k%02x%02x%02x%02x", r[0], r[1], r[2], r[3]);
    randombytes_buf(out->key, sizeof out->key);
}

/* insert_key generates a key for principal, stores it as the current key
 * and reports it in out. Runs inside the caller's transaction. Returns 0,
 * -1, or -2 when the key would be stored in plain text and kr refuses. */
static int insert_key(PGconn *c, const jc_keyring *kr, const char *principal, jc_new_key *out,
                      char *errstr, size_t errstr_size)
{
    const char *enc_id = jc_keyring_default_id(kr);
    uint8_t stored[SEALED_MAX];
    char what[JC_MAX_PRINCIPAL_LEN + 32];
    size_t stored_len = 0;
    const char *params[4];
    int lengths[4] = {0, 0, 0, 0};
    int formats[4] = {0, 0, 1, 0};
    PGresult *r = NULL;
    int rc = -1;

    new_key(out);
    snprintf(what, sizeof what, "the key of '%s'", principal);
    if (jc_secret_plain_refused(kr, enc_id, what, errstr, errstr_size)) {
        rc = -2;
        goto out;
    }
    if (store_secret(kr, enc_id, principal, out->key_id, out->key, stored, &stored_len) != 0) {
        snprintf(errstr, errstr_size, "cannot seal the key of '%s' with '%s'", principal,
                 enc_id ? enc_id : "");
        goto out;
    }
    snprintf(out->enc_key_id, sizeof out->enc_key_id, "%s", enc_id ? enc_id : "");
    params[0] = principal;
    params[1] = out->key_id;
    params[2] = (const char *)stored;
    lengths[2] = (int)stored_len;
    params[3] = enc_id;
    r = PQexecParams(c,
                     "INSERT INTO principal_keys (principal_id, key_id, secret, enc_key_id)"
                     " VALUES ($1, $2, $3, $4)",
                     4, NULL, params, lengths, formats, 0);
    if (!jc_db_ok(c, r, errstr, errstr_size))
        goto out;
    rc = 0;
out:
    PQclear(r);
    sodium_memzero(stored, sizeof stored);
    return rc;
}

jc_pr_status jc_principal_insert(PGconn *c, const jc_keyring *kr, const char *id,
                                 const char *role, const char *scopes, jc_new_key *out,
                                 char *errstr, size_t errstr_size)
{
    const char *params[3];
    PGresult *r = NULL;
    jc_pr_status st = JC_PR_ERROR;
    int rc;

    memset(out, 0, sizeof *out);
    if (!scopes)
        scopes = "";
    if (!jc_principal_name_valid(id)) {
        snprintf(errstr, errstr_size, "invalid principal id '%s' (1-64 of A-Z a-z 0-9 . _ : @ -)",
                 id);
        return JC_PR_INVALID;
    }
    if (!jc_principal_role_valid(role)) {
        snprintf(errstr, errstr_size, "invalid role '%s' (" JC_PRINCIPAL_ROLES ")", role);
        return JC_PR_INVALID;
    }
    if (!jc_principal_scopes_valid(role, scopes, errstr, errstr_size))
        return JC_PR_INVALID;
    if (sodium_init() < 0) {
        snprintf(errstr, errstr_size, "libsodium cannot be initialized");
        return JC_PR_ERROR;
    }
    params[0] = id;
    params[1] = role;
    params[2] = scopes;
    r = PQexecParams(c,
                     "INSERT INTO principals (id, role, scopes)"
                     " VALUES ($1, $2, string_to_array($3, ','))"
                     " ON CONFLICT (id) DO NOTHING",
                     3, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, r, errstr, errstr_size))
        goto out;
    if (strcmp(PQcmdTuples(r), "1") != 0) {
        snprintf(errstr, errstr_size, "principal '%s' already exists", id);
        st = JC_PR_EXISTS;
        goto out;
    }
    if ((rc = insert_key(c, kr, id, out, errstr, errstr_size)) != 0) {
        st = rc == -2 ? JC_PR_INVALID : JC_PR_ERROR;
        goto out;
    }
    st = JC_PR_OK;
out:
    PQclear(r);
    if (st != JC_PR_OK)
        sodium_memzero(out, sizeof *out);
    return st;
}

jc_pr_status jc_principal_create(PGconn *c, const jc_keyring *kr, const char *id,
                                 const char *role, const char *scopes, jc_new_key *out,
                                 char *errstr, size_t errstr_size)
{
    jc_pr_status st;

    memset(out, 0, sizeof *out);
    if (jc_db_exec(c, "BEGIN", errstr, errstr_size) != 0)
        return JC_PR_ERROR;
    st = jc_principal_insert(c, kr, id, role, scopes, out, errstr, errstr_size);
    if (st == JC_PR_OK && jc_db_exec(c, "COMMIT", errstr, errstr_size) != 0)
        st = JC_PR_ERROR;
    if (st != JC_PR_OK) {
        rollback(c);
        sodium_memzero(out, sizeof *out);
    }
    return st;
}

jc_pr_status jc_principal_rotate_key(PGconn *c, const jc_keyring *kr, const char *id,
                                     long grace_s, jc_new_key *out, char *errstr,
                                     size_t errstr_size)
{
    char grace[32];
    const char *params[2];
    PGresult *r = NULL;
    char prev_id[JC_MAX_PRINCIPAL_LEN + 1] = "";
    char prev_until[JC_PRINCIPAL_TS_LEN] = "";
    jc_pr_status st = JC_PR_ERROR;
    int rc;

    if (grace_s < 0 || grace_s > JC_PRINCIPAL_GRACE_MAX) {
        snprintf(errstr, errstr_size, "grace must be 0..%ld seconds", JC_PRINCIPAL_GRACE_MAX);
        return JC_PR_INVALID;
    }
    if (sodium_init() < 0) {
        snprintf(errstr, errstr_size, "libsodium cannot be initialized");
        return JC_PR_ERROR;
    }
    if (jc_db_exec(c, "BEGIN", errstr, errstr_size) != 0)
        return JC_PR_ERROR;
    params[0] = id;
    r = PQexecParams(c, "SELECT 1 FROM principals WHERE id = $1 FOR UPDATE", 1, NULL, params,
                     NULL, NULL, 0);
    if (!jc_db_ok(c, r, errstr, errstr_size))
        goto out;
    if (PQntuples(r) == 0) {
        snprintf(errstr, errstr_size, "no principal '%s'", id);
        st = JC_PR_NOT_FOUND;
        goto out;
    }
    PQclear(r);
    snprintf(grace, sizeof grace, "%ld", grace_s);
    params[1] = grace;
    r = PQexecParams(c,
                     "UPDATE principal_keys SET valid_until = now() + $2::bigint * interval '1 s'"
                     " WHERE principal_id = $1 AND valid_until IS NULL"
                     " RETURNING key_id, " UTC_TS("valid_until"),
                     2, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, r, errstr, errstr_size))
        goto out;
    if (PQntuples(r) == 1) {
        snprintf(prev_id, sizeof prev_id, "%s", PQgetvalue(r, 0, 0));
        snprintf(prev_until, sizeof prev_until, "%s", PQgetvalue(r, 0, 1));
    }
    if ((rc = insert_key(c, kr, id, out, errstr, errstr_size)) != 0) {
        if (rc == -2)
            st = JC_PR_INVALID;
        goto out;
    }
    if (jc_db_exec(c, "COMMIT", errstr, errstr_size) != 0)
        goto out;
    memcpy(out->previous_key_id, prev_id, sizeof prev_id);
    memcpy(out->previous_valid_until, prev_until, sizeof prev_until);
    st = JC_PR_OK;
out:
    PQclear(r);
    if (st != JC_PR_OK) {
        rollback(c);
        sodium_memzero(out, sizeof *out);
    }
    return st;
}

jc_pr_status jc_principal_prune_keys(PGconn *c, int retention_s, long *pruned, char *errstr,
                                     size_t errstr_size)
{
    /* valid_until IS NULL is the current key: the NOT NULL test keeps it */
    static const char sql[] =
        "DELETE FROM principal_keys WHERE valid_until IS NOT NULL"
        "   AND valid_until < now() - make_interval(secs => $1::int)"
        " RETURNING principal_id, key_id, to_char(valid_until AT TIME ZONE 'UTC',"
        "                                         'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')";
    char secs[16];
    const char *params[1] = {secs};
    PGresult *r;

    *pruned = 0;
    snprintf(secs, sizeof secs, "%d", retention_s);
    r = PQexecParams(c, sql, 1, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_TUPLES_OK) {
        snprintf(errstr, errstr_size, "pruning expired keys: %s", PQerrorMessage(c));
        PQclear(r);
        return JC_PR_ERROR;
    }
    for (int i = 0; i < PQntuples(r); i++)
        LOG_INFO("janitor", "pruned key %s of %s (its grace period ended %s)",
                 PQgetvalue(r, i, 1), PQgetvalue(r, i, 0), PQgetvalue(r, i, 2));
    *pruned = PQntuples(r);
    PQclear(r);
    return JC_PR_OK;
}

/* fill_key copies row i of a keys query into k, opening the secret when
 * with_secrets. Columns: principal_id, key_id, enc_key_id, created_at,
 * valid_until, current, expired, secret, age in seconds, last_used_at,
 * created_at in Unix seconds. */
static int fill_key(const PGresult *r, int i, const jc_keyring *kr, int with_secrets,
                    jc_principal_key *k, char *errstr, size_t errstr_size)
{
    const char *principal = PQgetvalue(r, i, 0);
    unsigned char *stored = NULL;
    size_t stored_len = 0;
    int rc = -1;

    snprintf(k->key_id, sizeof k->key_id, "%s", PQgetvalue(r, i, 1));
    snprintf(k->enc_key_id, sizeof k->enc_key_id, "%s", PQgetvalue(r, i, 2));
    snprintf(k->created_at, sizeof k->created_at, "%s", PQgetvalue(r, i, 3));
    snprintf(k->valid_until, sizeof k->valid_until, "%s", PQgetvalue(r, i, 4));
    k->current = PQgetvalue(r, i, 5)[0] == 't';
    k->expired = PQgetvalue(r, i, 6)[0] == 't';
    k->age_s = strtoll(PQgetvalue(r, i, 8), NULL, 10);
    snprintf(k->last_used_at, sizeof k->last_used_at, "%s", PQgetvalue(r, i, 9));
    k->created_epoch = strtoll(PQgetvalue(r, i, 10), NULL, 10);
    if (!with_secrets)
        return 0;
    stored = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 7), &stored_len);
    if (!stored) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (open_secret(kr, k->enc_key_id, principal, k->key_id, stored, stored_len, k->secret) !=
        0) {
        if (k->enc_key_id[0] && !jc_keyring_has(kr, k->enc_key_id))
            snprintf(errstr, errstr_size,
                     "key '%s' of '%s' is sealed with '%s', which is not in the keys file",
                     k->key_id, principal, k->enc_key_id);
        else
            snprintf(errstr, errstr_size, "key '%s' of '%s' cannot be opened (corrupt or moved)",
                     k->key_id, principal);
        goto out;
    }
    k->has_secret = 1;
    rc = 0;
out:
    if (stored) {
        sodium_memzero(stored, stored_len);
        PQfreemem(stored);
    }
    return rc;
}

/* attach_keys distributes the rows of the keys query (ordered by principal)
 * over list, which is ordered by id the same way. */
static int attach_keys(const PGresult *r, const jc_keyring *kr, int with_secrets,
                       jc_principal *list, size_t n, char *errstr, size_t errstr_size)
{
    int rows = PQntuples(r);
    int i = 0;

    for (size_t p = 0; p < n; p++) {
        int first = i;
        while (i < rows && strcmp(PQgetvalue(r, i, 0), list[p].id) == 0)
            i++;
        if (i == first)
            continue;
        list[p].keys = calloc((size_t)(i - first), sizeof *list[p].keys);
        if (!list[p].keys) {
            snprintf(errstr, errstr_size, "out of memory");
            return -1;
        }
        for (int j = first; j < i; j++) {
            if (fill_key(r, j, kr, with_secrets, &list[p].keys[list[p].n_keys], errstr,
                         errstr_size) != 0)
                return -1;
            list[p].n_keys++;
        }
    }
    return 0;
}

jc_pr_status jc_principal_list(PGconn *c, const jc_keyring *kr, const char *id,
                               int with_secrets, jc_principal **out, size_t *n, char *errstr,
                               size_t errstr_size)
{
    const char *params[1] = {id};
    PGresult *pr = NULL, *kr_rows = NULL;
    jc_principal *list = NULL;
    size_t count = 0;
    jc_pr_status st = JC_PR_ERROR;

    *out = NULL;
    *n = 0;
    /* One snapshot for both queries, so keys match their principals. */
    if (jc_db_exec(c, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY", errstr, errstr_size) !=
        0)
        return JC_PR_ERROR;
    pr = PQexecParams(c,
                      "SELECT id, role, array_to_string(scopes, ','), disabled, "
                      UTC_TS("created_at") ", password_hash IS NOT NULL, failed_logins,"
                      " coalesce(" UTC_TS("locked_until") ", ''),"
                      " coalesce(locked_until > now(), false), totp_enabled, description, totp_pending,"
                      " CASE WHEN totp_enabled OR totp_pending THEN totp_algorithm ELSE '' END"
                      " FROM principals"
                      " WHERE $1::text IS NULL OR id = $1 ORDER BY id COLLATE \"C\"",
                      1, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, pr, errstr, errstr_size))
        goto out;
    if (id && PQntuples(pr) == 0) {
        snprintf(errstr, errstr_size, "no principal '%s'", id);
        st = JC_PR_NOT_FOUND;
        goto out;
    }
    kr_rows = PQexecParams(
        c,
        "SELECT principal_id, key_id, coalesce(enc_key_id, ''), " UTC_TS("created_at") ", "
        "coalesce(" UTC_TS("valid_until") ", ''), valid_until IS NULL,"
        " coalesce(valid_until <= now(), false), secret,"
        " floor(extract(epoch FROM now() - created_at))::bigint,"
        " coalesce(" UTC_TS("last_used_at") ", ''), floor(extract(epoch FROM created_at))::bigint"
        " FROM principal_keys"
        " WHERE $1::text IS NULL OR principal_id = $1"
        " ORDER BY principal_id COLLATE \"C\", valid_until IS NULL DESC, created_at DESC, key_id",
        1, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, kr_rows, errstr, errstr_size))
        goto out;
    count = (size_t)PQntuples(pr);
    list = calloc(count ? count : 1, sizeof *list);
    if (!list) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < count; i++) {
        jc_principal *p = &list[i];
        snprintf(p->id, sizeof p->id, "%s", PQgetvalue(pr, (int)i, 0));
        snprintf(p->role, sizeof p->role, "%s", PQgetvalue(pr, (int)i, 1));
        p->scopes = strdup(PQgetvalue(pr, (int)i, 2));
        p->disabled = PQgetvalue(pr, (int)i, 3)[0] == 't';
        snprintf(p->created_at, sizeof p->created_at, "%s", PQgetvalue(pr, (int)i, 4));
        p->has_password = PQgetvalue(pr, (int)i, 5)[0] == 't';
        p->failed_logins = atol(PQgetvalue(pr, (int)i, 6));
        snprintf(p->locked_until, sizeof p->locked_until, "%s", PQgetvalue(pr, (int)i, 7));
        p->locked = PQgetvalue(pr, (int)i, 8)[0] == 't';
        p->totp_enabled = PQgetvalue(pr, (int)i, 9)[0] == 't';
        snprintf(p->description, sizeof p->description, "%s", PQgetvalue(pr, (int)i, 10));
        p->totp_pending = PQgetvalue(pr, (int)i, 11)[0] == 't';
        snprintf(p->totp_algorithm, sizeof p->totp_algorithm, "%s", PQgetvalue(pr, (int)i, 12));
        if (!p->scopes) {
            snprintf(errstr, errstr_size, "out of memory");
            goto out;
        }
    }
    if (attach_keys(kr_rows, kr, with_secrets, list, count, errstr, errstr_size) != 0)
        goto out;
    st = JC_PR_OK;
out:
    PQclear(pr);
    PQclear(kr_rows);
    rollback(c); /* read-only: nothing to commit */
    if (st == JC_PR_OK) {
        *out = list;
        *n = count;
    } else {
        jc_principal_list_free(list, count);
    }
    return st;
}

void jc_principal_list_free(jc_principal *list, size_t n)
{
    if (!list)
        return;
    for (size_t i = 0; i < n; i++) {
        if (list[i].keys) {
            sodium_memzero(list[i].keys, list[i].n_keys * sizeof *list[i].keys);
            free(list[i].keys);
        }
        free(list[i].scopes);
    }
    free(list);
}

/* The rows a re-encryption still has to move: $1 target (NULL: plain),
 * $2 principal filter, $3 current-key filter. */
#define REENCRYPT_WHERE                                                   \
    " WHERE enc_key_id IS DISTINCT FROM $1::text"                         \
    " AND ($2::text IS NULL OR principal_id = $2)"                        \
    " AND ($3::text IS NULL OR enc_key_id = $3)"

/* key_ad is the associated data of a principal_keys row (principal, key_id). */
static size_t key_ad(const char *const *ids, uint8_t *out, size_t out_size)
{
    return jc_keyring_principal_ad(ids[0], ids[1], out, out_size);
}

/* key_name is how messages call the key of a principal_keys row. */
static void key_name(const char *const *ids, char *out, size_t out_size)
{
    snprintf(out, out_size, "key '%s' of '%s'", ids[1], ids[0]);
}

jc_pr_status jc_principal_reencrypt(PGconn *c, const jc_keyring *kr, const jc_reencrypt_opts *o,
                                    jc_reencrypt_counts *counts, char *errstr,
                                    size_t errstr_size)
{
    static const jc_reencrypt_table principal_keys = {
        .select_sql = "SELECT principal_id, key_id, secret, enc_key_id FROM principal_keys"
                      REENCRYPT_WHERE
                      " ORDER BY principal_id, key_id LIMIT $4::bigint FOR UPDATE SKIP LOCKED",
        .count_sql = "SELECT count(*) FROM principal_keys" REENCRYPT_WHERE,
        .update_sql = "UPDATE principal_keys SET secret = $3, enc_key_id = $4"
                      " WHERE principal_id = $1 AND key_id = $2",
        .n_ids = 2,
        .principal_filter = 1,
        .secret_len = JC_PRINCIPAL_KEY_LEN,
        .ad_max = AD_MAX,
        .ad = key_ad,
        .name = key_name,
    };

    return jc_reencrypt_run(c, kr, &principal_keys, o, counts, errstr, errstr_size);
}
