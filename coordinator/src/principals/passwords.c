/*
 * passwords.c - passwords, TOTP and the first admin (see passwords.h).
 *
 * Changes that only make sense for a principal that logs in (a password, a
 * TOTP secret) are one UPDATE restricted to the admin and reader roles; when
 * it matches no row, a second query tells an unknown principal from one of
 * another role, for the message. Password hashing (a tenth of a second and
 * 64 MiB) happens before any transaction starts, so it never holds a lock.
 */
#include "principals/passwords.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "principals/principal_change.h"
#include "secrets/sealed_columns.h"

/* An arbitrary constant ("jcadmin0"): the advisory lock of the first-admin
 * creation. */
#define BOOTSTRAP_LOCK_SQL "SELECT pg_advisory_xact_lock(7666078074674966064)"
#define LOGIN_ROLES "role IN ('admin', 'reader')"
#define TOTP_SEALED_MAX (JC_TOTP_SECRET_LEN + JC_KEYRING_OVERHEAD)
#define TOTP_AD_MAX (32 + JC_MAX_PRINCIPAL_LEN)

/* DUMMY_HASH is what jc_password_check verifies against for an unknown
 * user: an Argon2id hash of a random password nobody kept, made with the
 * interactive limits jc_password_hash uses (t=2, m=64 MiB), so that both
 * paths cost the same. */
static const char DUMMY_HASH[] = "$argon2id$v=19$m=65536,t=2,p=1$kY/kUYfz2frb1BB6Yg7kPg$"
                                 "QJQUGnFMH8dYbqc12slDYXO9EYLQHS0FN1yNuY+SiVY";

int jc_password_hash(const char *pw, char out[crypto_pwhash_STRBYTES])
{
    if (sodium_init() < 0)
        return -1;
    return crypto_pwhash_str(out, pw, strlen(pw), crypto_pwhash_OPSLIMIT_INTERACTIVE,
                             crypto_pwhash_MEMLIMIT_INTERACTIVE) == 0
               ? 0
               : -1;
}

int jc_password_check(const char *hash_or_null, const char *pw)
{
    const char *hash = hash_or_null;
    int dummy = !hash || strncmp(hash, "$argon2", 7) != 0 ||
                strlen(hash) >= crypto_pwhash_STRBYTES;
    int ok;

    if (sodium_init() < 0)
        return -1;
    if (dummy)
        hash = DUMMY_HASH;
    ok = crypto_pwhash_str_verify(hash, pw, strlen(pw)) == 0;
    return ok && !dummy ? 0 : -1;
}

int jc_password_needs_rehash(const char *hash)
{
    if (sodium_init() < 0)
        return 1;
    return crypto_pwhash_str_needs_rehash(hash, crypto_pwhash_OPSLIMIT_INTERACTIVE,
                                          crypto_pwhash_MEMLIMIT_INTERACTIVE) != 0;
}

/* rollback ends a failed transaction; its own error is of no interest. */
static void rollback(PGconn *c)
{
    char ignored[128];

    jc_db_exec(c, "ROLLBACK", ignored, sizeof ignored);
}

/* password_valid checks pw's length, filling err when it is wrong. */
static int password_valid(const char *pw, char *err, size_t errsz)
{
    size_t n = pw ? strlen(pw) : 0;

    if (n < JC_PASSWORD_MIN || n > JC_PASSWORD_MAX) {
        snprintf(err, errsz, "a password must be %d to %d bytes long, not %zu", JC_PASSWORD_MIN,
                 JC_PASSWORD_MAX, n);
        return 0;
    }
    return 1;
}

/* id_valid checks a principal id, filling err when it is wrong. */
static int id_valid(const char *id, char *err, size_t errsz)
{
    if (jc_principal_name_valid(id))
        return 1;
    snprintf(err, errsz, "invalid principal id '%s' (1-64 of A-Z a-z 0-9 . _ : @ -)",
             id ? id : "");
    return 0;
}

/* login_refusal explains why an UPDATE restricted to the login roles
 * matched no row of id: there is no such principal, or what is for admins
 * and readers only. */
static jc_pr_status login_refusal(PGconn *c, const char *id, const char *what, char *err,
                                  size_t errsz)
{
    const char *params[1] = {id};
    PGresult *r;
    jc_pr_status st = JC_PR_ERROR;

    r = PQexecParams(c, "SELECT role FROM principals WHERE id = $1", 1, NULL, params, NULL,
                     NULL, 0);
    if (!jc_db_ok(c, r, err, errsz))
        goto out;
    if (PQntuples(r) == 0) {
        snprintf(err, errsz, "no principal '%s'", id);
        st = JC_PR_NOT_FOUND;
    } else {
        snprintf(err, errsz,
                 "principal '%s' has role %s: %s is only for admin and reader principals", id,
                 PQgetvalue(r, 0, 0), what);
        st = JC_PR_INVALID;
    }
out:
    PQclear(r);
    return st;
}

/* update_one runs an UPDATE of one principal ($1 = id) and tells whether it
 * matched: JC_PR_OK, JC_PR_NOT_FOUND (nothing matched) or JC_PR_ERROR. */
static jc_pr_status update_one(PGconn *c, const char *sql, int n, const char *const *params,
                               const int *lengths, const int *formats, char *err, size_t errsz)
{
    PGresult *r = PQexecParams(c, sql, n, NULL, params, lengths, formats, 0);
    jc_pr_status st = JC_PR_ERROR;

    if (!jc_db_ok(c, r, err, errsz))
        goto out;
    st = strcmp(PQcmdTuples(r), "0") == 0 ? JC_PR_NOT_FOUND : JC_PR_OK;
out:
    PQclear(r);
    return st;
}

jc_pr_status jc_principal_set_password(PGconn *c, const char *id, const char *pw, char *err,
                                       size_t errsz)
{
    char hash[crypto_pwhash_STRBYTES];
    const char *params[2] = {id, hash};
    jc_pr_status st;

    if (!id_valid(id, err, errsz) || !password_valid(pw, err, errsz))
        return JC_PR_INVALID;
    if (jc_password_hash(pw, hash) != 0) {
        snprintf(err, errsz, "cannot hash the password (out of memory)");
        return JC_PR_ERROR;
    }
    st = update_one(c,
                    "UPDATE principals SET password_hash = $2, password_changed_at = now(),"
                    " failed_logins = 0, locked_until = NULL,"
                    " " JC_SQL_END_SESSIONS("'password changed'")
                    " WHERE id = $1 AND " LOGIN_ROLES,
                    2, params, NULL, NULL, err, errsz);
    if (st == JC_PR_NOT_FOUND)
        st = login_refusal(c, id, "a password", err, errsz);
    sodium_memzero(hash, sizeof hash);
    return st;
}

jc_pr_status jc_principal_unlock(PGconn *c, const char *id, char *err, size_t errsz)
{
    const char *params[1] = {id};
    jc_pr_status st;

    if (!id_valid(id, err, errsz))
        return JC_PR_INVALID;
    st = update_one(c,
                    "UPDATE principals SET failed_logins = 0, locked_until = NULL WHERE id = $1",
                    1, params, NULL, NULL, err, errsz);
    if (st == JC_PR_NOT_FOUND)
        snprintf(err, errsz, "no principal '%s'", id);
    return st;
}

/* totp_ad builds the associated data of id's TOTP secret:
 * "jobcoord:totp:v1\0<id>". Returns its length, 0 if too long. */
static size_t totp_ad(const char *id, uint8_t *out, size_t out_size)
{
    static const char prefix[] = "jobcoord:totp:v1";
    size_t li = strlen(id), n = sizeof prefix + li; /* sizeof counts the NUL */

    if (n > out_size)
        return 0;
    memcpy(out, prefix, sizeof prefix);
    memcpy(out + sizeof prefix, id, li);
    return n;
}

jc_pr_status jc_principal_totp_enable(PGconn *c, const jc_keyring *kr, const char *id,
                                      jc_totp_alg alg, uint8_t secret_out[JC_TOTP_SECRET_LEN],
                                      char *err, size_t errsz)
{
    const char *enc_id = jc_keyring_default_id(kr);
    uint8_t ad[TOTP_AD_MAX], stored[TOTP_SEALED_MAX];
    size_t ad_len, stored_len = 0;
    const char *params[4];
    int lengths[4] = {0, 0, 0, 0}, formats[4] = {0, 1, 0, 0};
    jc_pr_status st = JC_PR_ERROR;

    memset(secret_out, 0, JC_TOTP_SECRET_LEN);
    if (!id_valid(id, err, errsz))
        return JC_PR_INVALID;
    if (jc_secret_plain_refused(kr, enc_id, "a TOTP secret", err, errsz))
        return JC_PR_INVALID;
    if (sodium_init() < 0) {
        snprintf(err, errsz, "libsodium cannot be initialized");
        return JC_PR_ERROR;
    }
    randombytes_buf(secret_out, JC_TOTP_SECRET_LEN);
    ad_len = totp_ad(id, ad, sizeof ad);
    if (ad_len == 0 || jc_secret_store(kr, enc_id, ad, ad_len, secret_out, JC_TOTP_SECRET_LEN,
                                       stored, &stored_len) != 0) {
        snprintf(err, errsz, "cannot seal the TOTP secret of '%s' with '%s'", id,
                 enc_id ? enc_id : "");
        goto out;
    }
    params[0] = id;
    params[1] = (const char *)stored;
    lengths[1] = (int)stored_len;
    params[2] = enc_id;
    params[3] = jc_totp_alg_name(alg);
    st = update_one(c,
                    "UPDATE principals SET totp_secret = $2, totp_enc_key_id = $3,"
                    " totp_enabled = false, totp_pending = true, totp_algorithm = $4,"
                    " totp_last_step = 0 WHERE id = $1 AND " LOGIN_ROLES,
                    4, params, lengths, formats, err, errsz);
    if (st == JC_PR_NOT_FOUND)
        st = login_refusal(c, id, "TOTP", err, errsz);
out:
    sodium_memzero(stored, sizeof stored);
    if (st != JC_PR_OK)
        sodium_memzero(secret_out, JC_TOTP_SECRET_LEN);
    return st;
}

jc_pr_status jc_principal_totp_disable(PGconn *c, const char *id, char *err, size_t errsz)
{
    const char *params[1] = {id};
    jc_pr_status st;

    if (!id_valid(id, err, errsz))
        return JC_PR_INVALID;
    st = update_one(c,
                    "UPDATE principals SET totp_enabled = false, totp_pending = false,"
                    " totp_secret = NULL, totp_enc_key_id = NULL, totp_last_step = 0,"
                    " totp_algorithm = 'sha256' WHERE id = $1",
                    1, params, NULL, NULL, err, errsz);
    if (st == JC_PR_NOT_FOUND)
        snprintf(err, errsz, "no principal '%s'", id);
    return st;
}

int jc_totp_secret_open(const jc_keyring *kr, const char *id, const uint8_t *sealed, size_t len,
                        const char *enc_key_id_or_null, uint8_t out[JC_TOTP_SECRET_LEN])
{
    uint8_t ad[TOTP_AD_MAX];
    size_t ad_len = totp_ad(id, ad, sizeof ad);

    if (ad_len == 0)
        return -1;
    return jc_secret_open(kr, enc_key_id_or_null, ad, ad_len, sealed, len, out,
                          JC_TOTP_SECRET_LEN);
}

uint32_t jc_totp_code_digits(const uint8_t *secret, size_t len, uint64_t step, int digits)
{
    return jc_totp_code_alg(JC_TOTP_SHA256, secret, len, step, digits);
}

uint32_t jc_totp_code(const uint8_t *secret, size_t len, uint64_t step)
{
    return jc_totp_code_digits(secret, len, step, JC_TOTP_DIGITS);
}

int jc_totp_check(jc_totp_alg alg, const uint8_t *secret, size_t len, const char *code,
                  int64_t now_s, int window, int64_t last_step, int64_t *matched_step)
{
    int64_t now_step, found = -1;
    char want[16];

    if (!code || strlen(code) != JC_TOTP_DIGITS || strspn(code, "0123456789") != JC_TOTP_DIGITS)
        return -1;
    if (sodium_init() < 0 || now_s < 0)
        return -1;
    if (window < 0)
        window = 0;
    if (window > JC_TOTP_WINDOW_MAX)
        window = JC_TOTP_WINDOW_MAX;
    now_step = now_s / JC_TOTP_STEP_S;
    for (int64_t s = now_step - window; s <= now_step + window; s++) {
        int same;

        if (s < 0 || s <= last_step)
            continue;
        snprintf(want, sizeof want, "%0*" PRIu32, JC_TOTP_DIGITS,
                 jc_totp_code_alg(alg, secret, len, (uint64_t)s, JC_TOTP_DIGITS));
        same = sodium_memcmp(want, code, JC_TOTP_DIGITS) == 0;
        if (same && found < 0)
            found = s;
    }
    sodium_memzero(want, sizeof want);
    if (found < 0)
        return -1;
    *matched_step = found;
    return 0;
}

size_t jc_base32_encode(const uint8_t *in, size_t n, char *out, size_t out_size)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    size_t need = (n * 8 + 4) / 5, o = 0;
    uint32_t acc = 0;
    int bits = 0;

    if (!out || out_size < need + 1)
        return 0;
    for (size_t i = 0; i < n; i++) {
        acc = (acc << 8 | in[i]) & 0xfff; /* at most 4 + 8 bits are pending */
        bits += 8;
        while (bits >= 5) {
            out[o++] = alphabet[(acc >> (bits - 5)) & 0x1f];
            bits -= 5;
        }
    }
    if (bits > 0)
        out[o++] = alphabet[(acc << (5 - bits)) & 0x1f];
    out[o] = '\0';
    return o;
}

/* admin_exists tells whether a principal with role admin exists: 1, 0, or
 * -1 on error. */
static int admin_exists(PGconn *c, char *err, size_t errsz)
{
    PGresult *r = PQexec(c, "SELECT 1 FROM principals WHERE role = 'admin' LIMIT 1");
    int rc = -1;

    if (jc_db_ok(c, r, err, errsz))
        rc = PQntuples(r) > 0;
    PQclear(r);
    return rc;
}

jc_pr_status jc_principal_bootstrap_admin(PGconn *c, const jc_keyring *kr, const char *username,
                                          const char *password, int *created, char *err,
                                          size_t errsz)
{
    char hash[crypto_pwhash_STRBYTES];
    const char *params[2] = {username, hash};
    jc_new_key discarded;
    jc_pr_status st = JC_PR_ERROR;
    int exists;

    *created = 0;
    if (!password || !*password)
        return JC_PR_OK;
    if (!id_valid(username, err, errsz) || !password_valid(password, err, errsz))
        return JC_PR_INVALID;
    /* The common case, an admin exists, costs one query and no hashing. */
    exists = admin_exists(c, err, errsz);
    if (exists != 0)
        return exists > 0 ? JC_PR_OK : JC_PR_ERROR;
    if (jc_password_hash(password, hash) != 0) {
        snprintf(err, errsz, "cannot hash the password (out of memory)");
        return JC_PR_ERROR;
    }
    if (jc_db_exec(c, "BEGIN", err, errsz) != 0 ||
        jc_db_exec(c, BOOTSTRAP_LOCK_SQL, err, errsz) != 0)
        goto out;
    exists = admin_exists(c, err, errsz); /* again, under the lock */
    if (exists != 0) {
        st = exists > 0 ? JC_PR_OK : JC_PR_ERROR;
        goto out;
    }
    st = jc_principal_insert(c, kr, username, "admin", NULL, &discarded, err, errsz);
    sodium_memzero(&discarded, sizeof discarded);
    if (st == JC_PR_EXISTS)
        snprintf(err, errsz,
                 "cannot create the first admin: principal '%s' exists with another role "
                 "(choose another auth.bootstrap_admin)",
                 username);
    if (st != JC_PR_OK)
        goto out;
    st = update_one(c,
                    "UPDATE principals SET password_hash = $2, password_changed_at = now()"
                    " WHERE id = $1",
                    2, params, NULL, NULL, err, errsz);
    if (st != JC_PR_OK) {
        st = JC_PR_ERROR;
        goto out;
    }
    if (jc_db_exec(c, "COMMIT", err, errsz) != 0) {
        st = JC_PR_ERROR;
        goto out;
    }
    *created = 1;
out:
    if (PQtransactionStatus(c) != PQTRANS_IDLE)
        rollback(c);
    sodium_memzero(hash, sizeof hash);
    return st;
}

/* The TOTP secrets a re-encryption still has to move: $1 target (NULL:
 * plain), $2 principal filter, $3 current-key filter. */
#define REENCRYPT_WHERE                                                   \
    " WHERE totp_secret IS NOT NULL"                                      \
    " AND totp_enc_key_id IS DISTINCT FROM $1::text"                      \
    " AND ($2::text IS NULL OR id = $2)"                                  \
    " AND ($3::text IS NULL OR totp_enc_key_id = $3)"

/* id_totp_ad is totp_ad for jc_reencrypt_run. */
static size_t id_totp_ad(const char *const *ids, uint8_t *out, size_t out_size)
{
    return totp_ad(ids[0], out, out_size);
}

/* totp_name is how messages call a principal's TOTP secret. */
static void totp_name(const char *const *ids, char *out, size_t out_size)
{
    snprintf(out, out_size, "the TOTP secret of '%s'", ids[0]);
}

jc_pr_status jc_totp_reencrypt(PGconn *c, const jc_keyring *kr, const jc_reencrypt_opts *o,
                               jc_reencrypt_counts *counts, char *err, size_t errsz)
{
    static const jc_reencrypt_table totp_secrets = {
        .select_sql = "SELECT id, totp_secret, totp_enc_key_id FROM principals" REENCRYPT_WHERE
                      " ORDER BY id LIMIT $4::bigint FOR UPDATE SKIP LOCKED",
        .count_sql = "SELECT count(*) FROM principals" REENCRYPT_WHERE,
        .update_sql =
            "UPDATE principals SET totp_secret = $2, totp_enc_key_id = $3 WHERE id = $1",
        .n_ids = 1,
        .principal_filter = 1,
        .secret_len = JC_TOTP_SECRET_LEN,
        .ad_max = TOTP_AD_MAX,
        .ad = id_totp_ad,
        .name = totp_name,
    };

    return jc_reencrypt_run(c, kr, &totp_secrets, o, counts, err, errsz);
}
