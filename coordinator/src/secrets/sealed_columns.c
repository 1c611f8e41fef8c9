/*
 * sealed_columns.c - storing secrets sealed or plain, and re-encrypting a table of
 * them (see sealed_columns.h).
 *
 * A re-encryption is jc_secret_open followed by jc_secret_store towards
 * another key, one batch of rows per transaction. Secrets travel to
 * PostgreSQL as binary parameters and come back as the text form of bytea,
 * decoded with PQunescapeBytea; every copy we make is wiped.
 */
#include "secrets/sealed_columns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/db.h"

#define SEALED_MAX (JC_SECRET_MAX + JC_KEYRING_OVERHEAD)
#define AD_MAX 256
#define NAME_MAX_LEN 256

int jc_secret_plain_refused(const jc_keyring *kr, const char *enc_id, const char *what,
                            char *errstr, size_t errstr_size)
{
    if (enc_id || jc_keyring_plaintext_allowed(kr))
        return 0;
    snprintf(errstr, errstr_size,
             "refusing to store %s in plain text: no keys file is configured "
             "(security.keys_file, with security.encryption_key_id) and "
             "security.allow_plaintext is false",
             what);
    return 1;
}

int jc_secret_store(const jc_keyring *kr, const char *enc_id, const uint8_t *ad, size_t ad_len,
                    const uint8_t *plain, size_t plain_len, uint8_t *out, size_t *out_len)
{
    if (!enc_id) {
        if (!jc_keyring_plaintext_allowed(kr))
            return -1;
        memcpy(out, plain, plain_len);
        *out_len = plain_len;
        return 0;
    }
    return jc_keyring_seal(kr, enc_id, ad, ad_len, plain, plain_len, out, out_len);
}

int jc_secret_open(const jc_keyring *kr, const char *enc_id, const uint8_t *ad, size_t ad_len,
                   const uint8_t *stored, size_t stored_len, uint8_t *out, size_t want_len)
{
    uint8_t plain[JC_SECRET_MAX];
    size_t plain_len = 0;
    int rc = -1;

    if (!enc_id || !*enc_id) {
        if (stored_len != want_len)
            return -1;
        memcpy(out, stored, want_len);
        return 0;
    }
    /* Exactly the sealed size of want_len bytes, so plain cannot overflow. */
    if (want_len > JC_SECRET_MAX || stored_len != want_len + JC_KEYRING_OVERHEAD)
        return -1;
    if (jc_keyring_open(kr, enc_id, ad, ad_len, stored, stored_len, plain, &plain_len) != 0 ||
        plain_len != want_len)
        goto out;
    memcpy(out, plain, want_len);
    rc = 0;
out:
    sodium_memzero(plain, sizeof plain);
    return rc;
}

int jc_secret_count_plain(PGconn *c, long counts[JC_SECRETS_KINDS], char *errstr,
                          size_t errstr_size)
{
    PGresult *r = PQexec(c, "SELECT (SELECT count(*) FROM principal_keys WHERE enc_key_id IS NULL),"
                            " (SELECT count(*) FROM signing_keys WHERE enc_key_id IS NULL),"
                            " (SELECT count(*) FROM principals"
                            "   WHERE totp_secret IS NOT NULL AND totp_enc_key_id IS NULL)");
    int rc = -1;

    if (!jc_db_ok(c, r, errstr, errstr_size))
        goto out;
    for (int i = 0; i < JC_SECRETS_KINDS; i++)
        counts[i] = atol(PQgetvalue(r, 0, i));
    rc = 0;
out:
    PQclear(r);
    return rc;
}

int jc_secret_plain_warning(PGconn *c, int sealing, int allow_plaintext, char *out, size_t out_size,
                            char *errstr, size_t errstr_size)
{
    long n[JC_SECRETS_KINDS];

    if (jc_secret_count_plain(c, n, errstr, errstr_size) != 0)
        return -1;
    if (n[0] + n[1] + n[2] > 0) {
        long all = n[0] + n[1] + n[2];

        snprintf(out, out_size,
                 "%ld %s stored in PostgreSQL in plain text (principals' HMAC keys %ld,"
                 " token signing keys %ld, TOTP secrets %ld): whoever reads the database or a"
                 " backup can use %s. %s",
                 all, all == 1 ? "secret is" : "secrets are", n[0], n[1], n[2],
                 all == 1 ? "it" : "them",
                 sealing ? "Seal with the keys file: jobcoord-admin security re-encrypt"
                         : "Configure a keys file (security.keys_file,"
                           " security.encryption_key_id), then seal: jobcoord-admin"
                           " security re-encrypt");
        return 1;
    }
    if (!sealing && allow_plaintext) {
        snprintf(out, out_size,
                 "no keys file is configured (security.keys_file) and security.allow_plaintext"
                 " is true: new secrets (principals' HMAC keys, token signing keys, TOTP"
                 " secrets) are stored in PostgreSQL in plain text");
        return 1;
    }
    return 0;
}

/* rollback ends a failed transaction; its own error is of no interest. */
static void rollback(PGconn *c)
{
    char ignored[128];

    jc_db_exec(c, "ROLLBACK", ignored, sizeof ignored);
}

/* move_row rewrites row i of a batch of t (ids, secret, enc_key_id) for
 * target. */
static int move_row(PGconn *c, const jc_keyring *kr, const jc_reencrypt_table *t,
                    const PGresult *b, int i, const char *target, char *errstr,
                    size_t errstr_size)
{
    const char *ids[2] = {NULL, NULL};
    const char *enc_id = PQgetisnull(b, i, t->n_ids + 1) ? NULL : PQgetvalue(b, i, t->n_ids + 1);
    uint8_t secret[JC_SECRET_MAX], ad[AD_MAX], sealed[SEALED_MAX];
    char name[NAME_MAX_LEN];
    unsigned char *stored = NULL;
    size_t stored_len = 0, sealed_len = 0, ad_len;
    const char *params[4];
    int lengths[4] = {0, 0, 0, 0}, formats[4] = {0, 0, 0, 0};
    PGresult *r = NULL;
    int rc = -1;

    for (int k = 0; k < t->n_ids; k++)
        ids[k] = PQgetvalue(b, i, k);
    ad_len = t->ad(ids, ad, t->ad_max < sizeof ad ? t->ad_max : sizeof ad);
    t->name(ids, name, sizeof name);
    stored = PQunescapeBytea((const unsigned char *)PQgetvalue(b, i, t->n_ids), &stored_len);
    if (!stored) {
        snprintf(errstr, errstr_size, "out of memory");
        goto out;
    }
    if (ad_len == 0 || jc_secret_open(kr, enc_id, ad, ad_len, stored, stored_len, secret,
                                      t->secret_len) != 0) {
        snprintf(errstr, errstr_size, "%s cannot be opened with %s%s%s", name,
                 enc_id ? "keys-file key '" : "plain storage", enc_id ? enc_id : "",
                 enc_id ? "' (missing from the keys file, or corrupt)" : "");
        goto out;
    }
    if (jc_secret_store(kr, target, ad, ad_len, secret, t->secret_len, sealed, &sealed_len) !=
        0) {
        snprintf(errstr, errstr_size, "cannot seal %s with '%s'", name, target);
        goto out;
    }
    for (int k = 0; k < t->n_ids; k++)
        params[k] = ids[k];
    params[t->n_ids] = (const char *)sealed;
    lengths[t->n_ids] = (int)sealed_len;
    formats[t->n_ids] = 1;
    params[t->n_ids + 1] = target;
    r = PQexecParams(c, t->update_sql, t->n_ids + 2, NULL, params, lengths, formats, 0);
    if (!jc_db_ok(c, r, errstr, errstr_size))
        goto out;
    rc = 0;
out:
    PQclear(r);
    if (stored) {
        sodium_memzero(stored, stored_len);
        PQfreemem(stored);
    }
    sodium_memzero(secret, sizeof secret);
    sodium_memzero(sealed, sizeof sealed);
    return rc;
}

/* filter_params fills params with the filters of o for t's statements
 * (target, [principal,] current key) and returns how many. */
static int filter_params(const jc_reencrypt_table *t, const jc_reencrypt_opts *o,
                         const char *params[3])
{
    int n = 0;

    params[n++] = o->target_key_id;
    if (t->principal_filter)
        params[n++] = o->principal_id;
    params[n++] = o->from_key_id;
    return n;
}

/* reencrypt_batch moves up to max rows in one transaction; *moved gets how
 * many (0: nothing left that is not locked by someone else). */
static int reencrypt_batch(PGconn *c, const jc_keyring *kr, const jc_reencrypt_table *t,
                           const jc_reencrypt_opts *o, long max, long *moved, char *errstr,
                           size_t errstr_size)
{
    char limit[32];
    const char *params[4];
    int n = filter_params(t, o, params);
    PGresult *b = NULL;
    int rc = -1;

    *moved = 0;
    snprintf(limit, sizeof limit, "%ld", max);
    params[n++] = limit;
    if (jc_db_exec(c, "BEGIN", errstr, errstr_size) != 0)
        return -1;
    b = PQexecParams(c, t->select_sql, n, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, b, errstr, errstr_size))
        goto out;
    for (int i = 0; i < PQntuples(b); i++) {
        if (move_row(c, kr, t, b, i, o->target_key_id, errstr, errstr_size) != 0)
            goto out;
    }
    if (jc_db_exec(c, "COMMIT", errstr, errstr_size) != 0)
        goto out;
    *moved = PQntuples(b);
    rc = 0;
out:
    PQclear(b);
    if (rc != 0)
        rollback(c);
    return rc;
}

/* count_remaining counts the rows of the filter not yet on the target. */
static int count_remaining(PGconn *c, const jc_reencrypt_table *t, const jc_reencrypt_opts *o,
                           long *remaining, char *errstr, size_t errstr_size)
{
    const char *params[3];
    int n = filter_params(t, o, params);
    PGresult *r;
    int rc = -1;

    r = PQexecParams(c, t->count_sql, n, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, r, errstr, errstr_size))
        goto out;
    *remaining = atol(PQgetvalue(r, 0, 0));
    rc = 0;
out:
    PQclear(r);
    return rc;
}

jc_pr_status jc_reencrypt_run(PGconn *c, const jc_keyring *kr, const jc_reencrypt_table *t,
                              const jc_reencrypt_opts *o, jc_reencrypt_counts *counts,
                              char *errstr, size_t errstr_size)
{
    memset(counts, 0, sizeof *counts);
    if (o->batch_size <= 0 || o->limit < 0) {
        snprintf(errstr, errstr_size, "batch size must be positive and limit not negative");
        return JC_PR_INVALID;
    }
    if (o->target_key_id && !jc_keyring_has(kr, o->target_key_id)) {
        snprintf(errstr, errstr_size, "target key '%s' is not in the keys file",
                 o->target_key_id);
        return JC_PR_INVALID;
    }
    if (!o->count_only && jc_secret_plain_refused(kr, o->target_key_id, "secrets", errstr,
                                                  errstr_size))
        return JC_PR_INVALID;
    while (!o->count_only) {
        long want = o->batch_size, moved = 0;

        if (o->limit > 0 && o->limit - counts->moved < want)
            want = o->limit - counts->moved;
        if (want <= 0)
            break;
        if (reencrypt_batch(c, kr, t, o, want, &moved, errstr, errstr_size) != 0)
            return JC_PR_ERROR;
        if (moved == 0)
            break;
        counts->moved += moved;
        counts->batches++;
    }
    if (count_remaining(c, t, o, &counts->remaining, errstr, errstr_size) != 0)
        return JC_PR_ERROR;
    return JC_PR_OK;
}
