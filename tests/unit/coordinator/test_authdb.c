/*
 * test_authdb.c - the PostgreSQL side of signing_keys.c and passwords.c,
 * against a private database (created here, in the server of the PG*
 * variables, which scripts/test and pg_virtualenv provide):
 *
 * - signing keys: the first key made once even when two connections race;
 *   loading (active first, retired within their grace, secrets opened and
 *   usable: a signature verifies with the stored public key); rotation;
 *   sealing with a keys file, the row binding, tampering detected;
 *   re-encryption;
 * - credentials: passwords for admins and readers only, lockout cleared,
 *   TOTP secrets sealed and opened, the first admin created once under
 *   races, and refused when its name is taken;
 * - plain text refused: with no keys file and without permission
 *   (security.allow_plaintext), no path stores a secret (first signing
 *   key, rotation, principal key, first admin, TOTP, re-encryption to
 *   plain text), each naming the settings; secrets already stored in plain
 *   text are still read.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "check.h"
#include "principals/passwords.h"
#include "core/db.h"
#include "secrets/sealed_columns.h"
#include "tokens/signing_keys.h"
#include "tmpfiles.h"

#define DB_NAME "jc_unit_authdb"
#define KEY_A "xchacha20poly1305:AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8="

static char tmpdir[] = "/tmp/jc-test-authdb-XXXXXX";

/* q runs sql and returns the first column of the first row (static
 * storage), or "<error>". */
static const char *q(PGconn *c, const char *sql)
{
    static char out[512];
    PGresult *r = PQexec(c, sql);

    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) > 0)
        snprintf(out, sizeof out, "%s", PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) == PGRES_COMMAND_OK || PQresultStatus(r) == PGRES_TUPLES_OK)
        snprintf(out, sizeof out, "%s", "");
    else
        snprintf(out, sizeof out, "<error: %s>", PQerrorMessage(c));
    PQclear(r);
    return out;
}

static PGconn *connect_db(const char *dbname)
{
    char conninfo[128], err[256];
    PGconn *c;

    snprintf(conninfo, sizeof conninfo, "dbname=%s", dbname);
    c = jc_db_connect(conninfo, err, sizeof err);
    if (!c)
        fprintf(stderr, "%s\n", err);
    return c;
}

/* A signature made with a loaded key verifies with its public key. */
static int signs(const jc_signing_key *k)
{
    uint8_t sig[crypto_sign_BYTES];
    static const uint8_t msg[] = "header.payload";

    crypto_sign_detached(sig, NULL, msg, sizeof msg, k->sk);
    return crypto_sign_verify_detached(sig, msg, sizeof msg, k->pk) == 0;
}

typedef struct race_arg {
    int mode; /* 0: signing ensure, 1: bootstrap admin */
    const char *name;
    const jc_keyring *kr;
    int created, rc;
} race_arg;

static void *race_thread(void *p)
{
    race_arg *a = p;
    char err[256];
    PGconn *c = connect_db(DB_NAME);

    a->rc = -1;
    if (!c)
        return NULL;
    if (a->mode == 0)
        a->rc = jc_signing_ensure(c, a->kr, &a->created, err, sizeof err);
    else
        a->rc = jc_principal_bootstrap_admin(c, a->kr, a->name, "bootstrap-password-1",
                                             &a->created, err, sizeof err) == JC_PR_OK
                    ? 0
                    : -1;
    if (a->rc != 0)
        fprintf(stderr, "race: %s\n", err);
    PQfinish(c);
    return NULL;
}

/* race runs two threads of mode at once; returns how many created. */
static int race(int mode, const jc_keyring *kr)
{
    race_arg a[2] = {{mode, "boot-a", kr, 0, 0}, {mode, "boot-b", kr, 0, 0}};
    pthread_t t[2];

    for (int i = 0; i < 2; i++)
        pthread_create(&t[i], NULL, race_thread, &a[i]);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ_INT(a[0].rc, 0);
    CHECK_EQ_INT(a[1].rc, 0);
    return a[0].created + a[1].created;
}

static void test_signing(PGconn *c, const jc_keyring *plain, const jc_keyring *kr)
{
    jc_signing_key keys[8], made, made2, retired;
    jc_signing_key *list = NULL;
    jc_reencrypt_opts o;
    jc_reencrypt_counts n;
    char err[256];
    int created = -1, count, nlist = 0;

    /* first start: one key, even when two processes start at once */
    for (int round = 0; round < 5; round++) {
        q(c, "DELETE FROM signing_keys");
        CHECK_EQ_INT(race(0, plain), 1);
        CHECK_EQ_STR(q(c, "SELECT count(*) FROM signing_keys WHERE retired_at IS NULL"), "1");
    }
    CHECK_EQ_INT(jc_signing_ensure(c, plain, &created, err, sizeof err), 0);
    CHECK_EQ_INT(created, 0);
    CHECK_EQ_STR(q(c, "SELECT count(*) || ' ' || coalesce(min(enc_key_id), 'plain') || ' ' ||"
                      " min(octet_length(secret)) FROM signing_keys"),
                 "1 plain 32");
    CHECK_EQ_STR(q(c, "SELECT kid ~ '^s[0-9a-f]{12}$' FROM signing_keys"), "t");

    count = jc_signing_load(c, plain, keys, 8, err, sizeof err);
    CHECK_EQ_INT(count, 1);
    CHECK(count == 1 && keys[0].active && keys[0].retired_at_ms == 0 && signs(&keys[0]));
    CHECK_EQ_STR(keys[0].kid, q(c, "SELECT kid FROM signing_keys"));

    /* two rotations with grace, then one without: the key cut off at once
     * is no longer loaded, the others are, active first */
    CHECK_EQ_INT(jc_signing_rotate_report(c, plain, 3600, &made, &retired, err, sizeof err), 0);
    CHECK_EQ_STR(retired.kid, keys[0].kid);
    CHECK(retired.valid_until_ms - retired.retired_at_ms == 3600 * 1000);
    CHECK(made.active && strcmp(made.kid, keys[0].kid) != 0);
    CHECK(sodium_is_zero(made.sk, sizeof made.sk));
    CHECK_EQ_INT(jc_signing_rotate(c, plain, 7200, &made2, err, sizeof err), 0);
    count = jc_signing_load(c, plain, keys, 8, err, sizeof err);
    CHECK_EQ_INT(count, 3);
    if (count == 3) {
        CHECK_EQ_STR(keys[0].kid, made2.kid);
        CHECK(keys[0].active && !keys[1].active && !keys[2].active);
        CHECK_EQ_STR(keys[1].kid, made.kid);
        CHECK(signs(&keys[0]) && signs(&keys[1]) && signs(&keys[2]));
        CHECK(memcmp(keys[0].pk, made2.pk, 32) == 0);
    }
    CHECK_EQ_INT(jc_signing_load(c, plain, keys, 2, err, sizeof err), 2);
    CHECK_EQ_INT(jc_signing_rotate(c, plain, 0, &made, err, sizeof err), 0);
    count = jc_signing_load(c, plain, keys, 8, err, sizeof err);
    CHECK_EQ_INT(count, 3); /* made2 expired at once */
    for (int i = 0; i < count; i++)
        CHECK(strcmp(keys[i].kid, made2.kid) != 0);
    CHECK_EQ_INT(jc_signing_rotate(c, plain, -1, &retired, err, sizeof err), -1);
    CHECK_EQ_INT(
        jc_signing_rotate(c, plain, JC_PRINCIPAL_GRACE_MAX + 1, &retired, err, sizeof err), -1);

    CHECK_EQ_INT(jc_signing_list(c, &list, &nlist, err, sizeof err), 0);
    CHECK_EQ_INT(nlist, 4);
    if (nlist == 4) {
        CHECK_EQ_STR(list[0].kid, made.kid);
        CHECK(list[0].active && !list[1].active);
        CHECK_EQ_STR(list[1].kid, made2.kid);
        CHECK(list[1].valid_until_ms == list[1].retired_at_ms);
        for (int i = 0; i < nlist; i++)
            CHECK(sodium_is_zero(list[i].sk, sizeof list[i].sk));
        for (int i = 1; i < nlist; i++)
            CHECK(list[i].created_at_ms <= list[i - 1].created_at_ms);
    }
    free(list);

    /* with a keys file: sealed, bound to the row, needs the key */
    CHECK_EQ_INT(jc_signing_rotate(c, kr, 3600, &made, err, sizeof err), 0);
    CHECK_EQ_STR(made.enc_key_id, "kA");
    CHECK_EQ_STR(q(c, "SELECT enc_key_id || ' ' || octet_length(secret) FROM signing_keys"
                      " WHERE retired_at IS NULL"),
                 "kA 72");
    count = jc_signing_load(c, kr, keys, 8, err, sizeof err);
    CHECK_EQ_INT(count, 4);
    CHECK(count > 0 && strcmp(keys[0].kid, made.kid) == 0 && signs(&keys[0]));
    CHECK_EQ_INT(jc_signing_load(c, plain, keys, 8, err, sizeof err), -1);
    CHECK_MSG(strstr(err, "'kA'") != NULL, "%s", err);

    /* re-encryption to plain text and back */
    memset(&o, 0, sizeof o);
    o.batch_size = 1;
    CHECK_EQ_INT(jc_signing_reencrypt(c, kr, &o, &n, err, sizeof err), JC_PR_OK);
    CHECK(n.moved == 1 && n.batches == 1 && n.remaining == 0);
    CHECK_EQ_INT(jc_signing_load(c, plain, keys, 8, err, sizeof err), 4);
    o.target_key_id = "kA";
    CHECK_EQ_INT(jc_signing_reencrypt(c, kr, &o, &n, err, sizeof err), JC_PR_OK);
    CHECK(n.moved == 5 && n.batches == 5 && n.remaining == 0);
    CHECK_EQ_STR(q(c, "SELECT count(*) FROM signing_keys WHERE enc_key_id = 'kA'"
                      " AND octet_length(secret) = 72"),
                 "5");
    count = jc_signing_load(c, kr, keys, 8, err, sizeof err);
    CHECK_EQ_INT(count, 4);
    for (int i = 0; i < count; i++)
        CHECK(signs(&keys[i]));
    o.principal_id = "alice"; /* signing keys belong to no principal */
    o.target_key_id = NULL;
    CHECK_EQ_INT(jc_signing_reencrypt(c, kr, &o, &n, err, sizeof err), JC_PR_OK);
    CHECK(n.moved == 0 && n.remaining == 0);

    /* a sealed seed copied to another row does not open */
    q(c, "UPDATE signing_keys SET secret = (SELECT secret FROM signing_keys"
         " WHERE retired_at IS NOT NULL ORDER BY created_at DESC LIMIT 1)"
         " WHERE retired_at IS NULL");
    CHECK_EQ_INT(jc_signing_load(c, kr, keys, 8, err, sizeof err), -1);
    CHECK_MSG(strstr(err, "cannot be opened") != NULL, "%s", err);
    /* a public key that is not the seed's is refused */
    q(c, "DELETE FROM signing_keys");
    CHECK_EQ_INT(jc_signing_ensure(c, plain, &created, err, sizeof err), 0);
    CHECK_EQ_INT(jc_signing_rotate(c, plain, 3600, &made, err, sizeof err), 0);
    q(c, "UPDATE signing_keys SET public_key = (SELECT public_key FROM signing_keys"
         " WHERE retired_at IS NOT NULL) WHERE retired_at IS NULL");
    CHECK_EQ_INT(jc_signing_load(c, plain, keys, 8, err, sizeof err), -1);
    CHECK_MSG(strstr(err, "does not match") != NULL, "%s", err);
    sodium_memzero(keys, sizeof keys);
}

static void test_credentials(PGconn *c, const jc_keyring *plain, const jc_keyring *kr)
{
    uint8_t secret[JC_TOTP_SECRET_LEN], opened[JC_TOTP_SECRET_LEN];
    jc_reencrypt_opts o;
    jc_reencrypt_counts n;
    jc_new_key nk;
    PGresult *r;
    char err[256];
    int created = -1;

    CHECK_EQ_INT(jc_principal_create(c, plain, "dash", "reader", NULL, &nk, err, sizeof err),
                 JC_PR_OK);
    CHECK_EQ_INT(jc_principal_create(c, plain, "w1", "worker", NULL, &nk, err, sizeof err),
                 JC_PR_OK);
    CHECK_EQ_STR(q(c, "SELECT role FROM principals WHERE id = 'dash'"), "reader");

    /* passwords: admins and readers only, 12..256 bytes, lockout cleared */
    q(c, "UPDATE principals SET failed_logins = 5, locked_until = now() + interval '1 h'");
    CHECK_EQ_INT(jc_principal_set_password(c, "dash", "reader-password-1", err, sizeof err),
                 JC_PR_OK);
    CHECK_EQ_STR(q(c, "SELECT failed_logins || ' ' || (locked_until IS NULL) || ' ' ||"
                      " (password_changed_at IS NOT NULL) FROM principals WHERE id = 'dash'"),
                 "0 true true");
    CHECK_EQ_INT(jc_password_check(q(c, "SELECT password_hash FROM principals WHERE id = 'dash'"),
                                   "reader-password-1"),
                 0);
    CHECK_EQ_INT(jc_principal_set_password(c, "w1", "worker-password-1", err, sizeof err),
                 JC_PR_INVALID);
    CHECK_MSG(strstr(err, "role worker") != NULL, "%s", err);
    CHECK_EQ_STR(q(c, "SELECT password_hash IS NULL FROM principals WHERE id = 'w1'"), "t");
    CHECK_EQ_INT(jc_principal_set_password(c, "ghost", "ghost-password-1", err, sizeof err),
                 JC_PR_NOT_FOUND);
    CHECK_EQ_INT(jc_principal_set_password(c, "dash", "short", err, sizeof err), JC_PR_INVALID);
    CHECK_EQ_INT(jc_principal_unlock(c, "w1", err, sizeof err), JC_PR_OK);
    CHECK_EQ_STR(q(c, "SELECT failed_logins || ' ' || (locked_until IS NULL) FROM principals"
                      " WHERE id = 'w1'"),
                 "0 true");
    CHECK_EQ_INT(jc_principal_unlock(c, "ghost", err, sizeof err), JC_PR_NOT_FOUND);

    /* TOTP: sealed with the keys file, bound to the principal */
    CHECK_EQ_INT(jc_principal_totp_enable(c, kr, "dash", JC_TOTP_SHA256, secret, err, sizeof err),
                 JC_PR_OK);
    CHECK(!sodium_is_zero(secret, sizeof secret));
    /* pending until a code confirms it */
    CHECK_EQ_STR(q(c,
                   "SELECT totp_enabled || ' ' || totp_pending || ' ' || totp_last_step || ' ' ||"
                   " totp_enc_key_id || ' ' || octet_length(totp_secret) || ' ' ||"
                   " totp_algorithm FROM principals WHERE id = 'dash'"),
                 "false true 0 kA 60 sha256");
    {
        char code[8], bad[8];
        int wrong = 0;
        int64_t step = (int64_t)time(NULL) / JC_TOTP_STEP_S;
        snprintf(code, sizeof code, "%06u", (unsigned)jc_totp_code(secret, sizeof secret, step));
        memcpy(bad, code, sizeof bad);
        bad[0] = bad[0] == '9' ? '0' : (char)(bad[0] + 1);
        CHECK_EQ_INT(jc_principal_totp_confirm(c, kr, "dash", bad, &wrong, err, sizeof err),
                     JC_PR_INVALID);
        CHECK_EQ_INT(wrong, 1);
        CHECK_EQ_INT(jc_principal_totp_confirm(c, kr, "dash", "12345", &wrong, err, sizeof err),
                     JC_PR_INVALID);
        CHECK_EQ_INT(wrong, 0);
        CHECK_EQ_INT(jc_principal_totp_confirm(c, kr, "ghost", code, &wrong, err, sizeof err),
                     JC_PR_NOT_FOUND);
        CHECK_EQ_STR(q(c,
                       "SELECT totp_enabled || ' ' || totp_pending FROM principals"
                       " WHERE id = 'dash'"),
                     "false true");
        CHECK_EQ_INT(jc_principal_totp_confirm(c, kr, "dash", code, &wrong, err, sizeof err),
                     JC_PR_OK);
        CHECK_EQ_STR(q(c,
                       "SELECT totp_enabled || ' ' || totp_pending || ' ' ||"
                       " (totp_last_step > 0) FROM principals WHERE id = 'dash'"),
                     "true false true");
        /* confirmed: nothing pending any more */
        CHECK_EQ_INT(jc_principal_totp_confirm(c, kr, "dash", code, &wrong, err, sizeof err),
                     JC_PR_INVALID);
        CHECK_EQ_INT(wrong, 0);
        CHECK(strstr(err, "already confirmed") != NULL);
        /* SHA-1: stored as such, confirmed by a SHA-1 code only */
        CHECK_EQ_INT(jc_principal_totp_enable(c, kr, "dash", JC_TOTP_SHA1, secret, err, sizeof err),
                     JC_PR_OK);
        CHECK_EQ_STR(q(c,
                       "SELECT totp_algorithm || ' ' || totp_enabled || ' ' || totp_pending"
                       " FROM principals WHERE id = 'dash'"),
                     "sha1 false true");
        snprintf(code, sizeof code, "%06u", (unsigned)jc_totp_code(secret, sizeof secret, step));
        snprintf(bad, sizeof bad, "%06u",
                 (unsigned)jc_totp_code_alg(JC_TOTP_SHA1, secret, sizeof secret, step, 6));
        if (strcmp(code, bad) != 0) { /* a SHA-256 code is refused (unless they collide) */
            CHECK_EQ_INT(jc_principal_totp_confirm(c, kr, "dash", code, &wrong, err, sizeof err),
                         JC_PR_INVALID);
            CHECK_EQ_INT(wrong, 1);
        }
        CHECK_EQ_INT(jc_principal_totp_confirm(c, kr, "dash", bad, &wrong, err, sizeof err),
                     JC_PR_OK);
        CHECK_EQ_INT(jc_principal_totp_enable(c, kr, "dash", JC_TOTP_SHA256, secret, err,
                                              sizeof err),
                     JC_PR_OK);
    }
    r = PQexec(c, "SELECT totp_secret, totp_enc_key_id FROM principals WHERE id = 'dash'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        size_t len = 0;
        unsigned char *b = PQunescapeBytea((const unsigned char *)PQgetvalue(r, 0, 0), &len);
        CHECK_EQ_INT(jc_totp_secret_open(kr, "dash", b, len, PQgetvalue(r, 0, 1), opened), 0);
        CHECK(memcmp(opened, secret, sizeof secret) == 0);
        CHECK_EQ_INT(jc_totp_secret_open(kr, "w1", b, len, PQgetvalue(r, 0, 1), opened), -1);
        PQfreemem(b);
    } else {
        CHECK(!"TOTP row readable");
    }
    PQclear(r);
    CHECK_EQ_INT(jc_principal_totp_enable(c, kr, "w1", JC_TOTP_SHA256, secret, err, sizeof err),
                 JC_PR_INVALID);
    CHECK(sodium_is_zero(secret, sizeof secret));
    CHECK_EQ_INT(jc_principal_totp_enable(c, kr, "ghost", JC_TOTP_SHA256, secret, err, sizeof err),
                 JC_PR_NOT_FOUND);

    /* re-encryption of TOTP secrets to plain text keeps the bytes */
    CHECK_EQ_INT(jc_principal_totp_enable(c, kr, "dash", JC_TOTP_SHA256, secret, err, sizeof err),
                 JC_PR_OK);
    memset(&o, 0, sizeof o);
    o.batch_size = 10;
    CHECK_EQ_INT(jc_totp_reencrypt(c, kr, &o, &n, err, sizeof err), JC_PR_OK);
    CHECK(n.moved == 1 && n.remaining == 0);
    CHECK_EQ_STR(q(c, "SELECT (totp_enc_key_id IS NULL) || ' ' || octet_length(totp_secret)"
                      " FROM principals WHERE id = 'dash'"),
                 "true 20");
    r = PQexec(c, "SELECT encode(totp_secret, 'hex') FROM principals WHERE id = 'dash'");
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) {
        char hex[2 * JC_TOTP_SECRET_LEN + 1];
        sodium_bin2hex(hex, sizeof hex, secret, sizeof secret);
        CHECK_EQ_STR(PQgetvalue(r, 0, 0), hex);
    }
    PQclear(r);
    CHECK_EQ_INT(jc_principal_totp_disable(c, "dash", err, sizeof err), JC_PR_OK);
    CHECK_EQ_STR(q(c,
                   "SELECT totp_enabled || ' ' || (totp_secret IS NULL) || ' ' || totp_pending"
                   " FROM principals WHERE id = 'dash'"),
                 "false true false");
    CHECK_EQ_INT(jc_principal_totp_disable(c, "ghost", err, sizeof err), JC_PR_NOT_FOUND);

    /* the first admin */
    CHECK_EQ_INT(jc_principal_bootstrap_admin(c, kr, "root", "", &created, err, sizeof err),
                 JC_PR_OK);
    CHECK_EQ_INT(created, 0);
    CHECK_EQ_INT(jc_principal_bootstrap_admin(c, kr, "root", "short", &created, err, sizeof err),
                 JC_PR_INVALID);
    CHECK_EQ_INT(jc_principal_bootstrap_admin(c, kr, "w1", "long-enough-pass", &created, err,
                                              sizeof err),
                 JC_PR_EXISTS);
    CHECK_EQ_INT(created, 0);
    CHECK_MSG(strstr(err, "auth.bootstrap_admin") != NULL, "%s", err);
    CHECK_EQ_STR(q(c, "SELECT count(*) FROM principals WHERE role = 'admin'"), "0");
    CHECK_EQ_INT(jc_principal_bootstrap_admin(c, kr, "root", "long-enough-pass", &created, err,
                                              sizeof err),
                 JC_PR_OK);
    CHECK_EQ_INT(created, 1);
    CHECK_EQ_STR(q(c, "SELECT role || ' ' || (SELECT count(*) FROM principal_keys"
                      " WHERE principal_id = 'root') || ' ' || (SELECT enc_key_id FROM"
                      " principal_keys WHERE principal_id = 'root') FROM principals"
                      " WHERE id = 'root'"),
                 "admin 1 kA");
    CHECK_EQ_INT(jc_password_check(q(c, "SELECT password_hash FROM principals WHERE id = 'root'"),
                                   "long-enough-pass"),
                 0);
    CHECK_EQ_INT(jc_principal_bootstrap_admin(c, kr, "root2", "long-enough-pass", &created, err,
                                              sizeof err),
                 JC_PR_OK);
    CHECK_EQ_INT(created, 0);
    for (int round = 0; round < 3; round++) {
        q(c, "DELETE FROM principals WHERE role = 'admin'");
        CHECK_EQ_INT(race(1, kr), 1);
        CHECK_EQ_STR(q(c, "SELECT count(*) FROM principals WHERE role = 'admin'"), "1");
    }
}

/* has_settings tells whether a refusal names the two settings involved. */
static int has_settings(const char *err)
{
    return strstr(err, "plain text") && strstr(err, "security.keys_file") &&
           strstr(err, "security.allow_plaintext");
}

/* test_refused runs first, on the empty database: none has no keys file
 * and no permission to store plain text, plain has that permission. */
static void test_refused(PGconn *c, const jc_keyring *none, const jc_keyring *plain)
{
    jc_signing_key made, keys[4];
    jc_new_key nk;
    jc_reencrypt_opts o;
    jc_reencrypt_counts n;
    uint8_t secret[JC_TOTP_SECRET_LEN];
    char err[512] = "";
    int created = -1;

    CHECK_EQ_INT(jc_keyring_plaintext_allowed(none), 0);
    CHECK_EQ_INT(jc_keyring_plaintext_allowed(plain), 1);
    CHECK_EQ_INT(jc_keyring_plaintext_allowed(NULL), 0);

    /* the first signing key, a rotation */
    CHECK_EQ_INT(jc_signing_ensure(c, none, &created, err, sizeof err), -2);
    CHECK_MSG(has_settings(err), "%s", err);
    CHECK_EQ_INT(created, 0);
    err[0] = '\0';
    CHECK_EQ_INT(jc_signing_rotate(c, none, 60, &made, err, sizeof err), -2);
    CHECK_MSG(has_settings(err), "%s", err);
    CHECK_EQ_STR(q(c, "SELECT count(*) FROM signing_keys"), "0");

    /* a principal's key, the first admin */
    err[0] = '\0';
    CHECK_EQ_INT(jc_principal_create(c, none, "w1", "worker", NULL, &nk, err, sizeof err),
                 JC_PR_INVALID);
    CHECK_MSG(has_settings(err) && strstr(err, "'w1'"), "%s", err);
    err[0] = '\0';
    CHECK_EQ_INT(jc_principal_bootstrap_admin(c, none, "root", "correct horse battery", &created,
                                              err, sizeof err),
                 JC_PR_INVALID);
    CHECK_MSG(has_settings(err), "%s", err);
    CHECK_EQ_STR(q(c, "SELECT count(*) FROM principals"), "0");
    CHECK_EQ_STR(q(c, "SELECT count(*) FROM principal_keys"), "0");

    /* made with permission, then neither rotated nor given TOTP without it */
    CHECK_EQ_INT(jc_principal_create(c, plain, "dash", "reader", NULL, &nk, err, sizeof err),
                 JC_PR_OK);
    CHECK_EQ_STR(nk.enc_key_id, "");
    err[0] = '\0';
    CHECK_EQ_INT(jc_principal_rotate_key(c, none, "dash", 60, &nk, err, sizeof err),
                 JC_PR_INVALID);
    CHECK_MSG(has_settings(err), "%s", err);
    CHECK_EQ_STR(q(c, "SELECT count(*) || ' ' || count(valid_until) FROM principal_keys"),
                 "1 0"); /* the current key stays current */
    err[0] = '\0';
    CHECK_EQ_INT(jc_principal_totp_enable(c, none, "dash", JC_TOTP_SHA256, secret, err, sizeof err),
                 JC_PR_INVALID);
    CHECK_MSG(has_settings(err), "%s", err);
    CHECK_EQ_STR(q(c, "SELECT totp_enabled || ' ' || (totp_secret IS NULL) FROM principals"
                      " WHERE id = 'dash'"),
                 "false true");

    /* re-encryption to plain text */
    CHECK_EQ_INT(jc_signing_ensure(c, plain, &created, err, sizeof err), 0);
    CHECK_EQ_INT(created, 1);
    memset(&o, 0, sizeof o);
    o.batch_size = 10;
    err[0] = '\0';
    CHECK_EQ_INT(jc_signing_reencrypt(c, none, &o, &n, err, sizeof err), JC_PR_INVALID);
    CHECK_MSG(has_settings(err), "%s", err);
    CHECK_EQ_INT(jc_principal_reencrypt(c, none, &o, &n, err, sizeof err), JC_PR_INVALID);

    /* what is in plain text already is still read */
    CHECK_EQ_INT(jc_signing_load(c, none, keys, 4, err, sizeof err), 1);
    CHECK_EQ_INT(signs(&keys[0]), 1);
    sodium_memzero(keys, sizeof keys);
    {
        long counts[JC_SECRETS_KINDS] = {-1, -1, -1};
        CHECK_EQ_INT(jc_secret_count_plain(c, counts, err, sizeof err), 0);
        CHECK_EQ_INT(counts[JC_SECRETS_PRINCIPAL_KEYS], 1);
        CHECK_EQ_INT(counts[JC_SECRETS_SIGNING_KEYS], 1);
        CHECK_EQ_INT(counts[JC_SECRETS_TOTP], 0);
    }
    q(c, "DELETE FROM principals");
    q(c, "DELETE FROM signing_keys");
}

int main(void)
{
    char text[256], err[256];
    jc_keyring *plain = NULL, *kr = NULL, *none = NULL;
    PGconn *admin = NULL, *c = NULL;

    if (sodium_init() < 0 || !mkdtemp(tmpdir)) {
        fprintf(stderr, "setup failed\n");
        return 1;
    }
    admin = connect_db("postgres");
    if (!admin)
        return 1;
    q(admin, "DROP DATABASE IF EXISTS " DB_NAME);
    q(admin, "CREATE DATABASE " DB_NAME);
    c = connect_db(DB_NAME);
    if (!c || jc_db_migrate(c, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "cannot prepare the database: %s\n", c ? err : "no connection");
        return 1;
    }
    snprintf(text, sizeof text, "keys = { kA = \"%s\"; };\n", KEY_A);
    plain = jc_keyring_load(NULL, NULL, err, sizeof err);
    none = jc_keyring_load(NULL, NULL, err, sizeof err);
    kr = jc_keyring_load(tmp_write(tmpdir, "keys.conf", text), "kA", err, sizeof err);
    if (!plain || !kr || !none) {
        fprintf(stderr, "keyring: %s\n", err);
        return 1;
    }
    /* security.allow_plaintext = true; for kr, its re-encryptions to plain */
    jc_keyring_allow_plaintext(plain, 1);
    jc_keyring_allow_plaintext(kr, 1);
    test_refused(c, none, plain);
    test_signing(c, plain, kr);
    test_credentials(c, plain, kr);
    PQfinish(c);
    q(admin, "DROP DATABASE IF EXISTS " DB_NAME);
    PQfinish(admin);
    jc_keyring_free(plain);
    jc_keyring_free(none);
    jc_keyring_free(kr);
    unlink(tmp_write(tmpdir, "keys.conf", ""));
    rmdir(tmpdir);
    return check_done("test_authdb");
}
