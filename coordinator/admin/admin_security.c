/*
 * admin_security.c - `jobcoord-admin security ...`: keys-file keys, the
 * encryption at rest of secrets (principals' HMAC keys, token signing keys,
 * TOTP secrets) and the token signing keys themselves.
 *
 * Moving to a new keys-file key is: `security generate-key` prints a line
 * to add to the keys file; point security.encryption_key_id at it (new
 * secrets are then sealed with it); `security re-encrypt` moves the existing
 * rows of the three tables; the old key can leave the keys file once nothing
 * uses it (status of each row: `user show`, column ENC_KEY_ID, and
 * `security signing-keys`, column SEALED_WITH).
 */
#include "admin.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "principals/passwords.h"
#include "principals/principals.h"
#include "tokens/signing_keys.h"

#define SUPPORTED_ALGS "xchacha20poly1305"
#define BATCH_DEFAULT 100
#define BATCH_MAX 10000

/* cmd_generate_key prints a new keys-file line: `<id> = "alg:base64";`.
 * The id is k<date>_<4 hex digits>, a valid libconfig setting name. */
static int cmd_generate_key(admin_ctx *ctx, const admin_args *a)
{
    char value[128], id[32];
    unsigned char r[2];
    time_t now = time(NULL);
    struct tm tm;

    if (jc_keyring_generate(a->pos[0], value, sizeof value) != 0)
        return admin_fail(ADMIN_REFUSED, "unknown algorithm '%s' (supported: " SUPPORTED_ALGS ")",
                          a->pos[0]);
    randombytes_buf(r, sizeof r);
    gmtime_r(&now, &tm);
    snprintf(id, sizeof id, "k%04d%02d%02d_%02x%02x", tm.tm_year + 1900, tm.tm_mon + 1,
             tm.tm_mday, r[0], r[1]);
    if (ctx->json) {
        admin_json_print(json_pack("{s:s,s:s}", "id", id, "value", value));
    } else {
        printf("%s = \"%s\";\n", id, value);
    }
    sodium_memzero(value, sizeof value);
    return ADMIN_OK;
}

/* The tables of secrets a re-encryption moves, in this order. */
enum { SECRETS_PRINCIPAL_KEYS, SECRETS_SIGNING_KEYS, SECRETS_TOTP, N_SECRETS };
static const char *const secrets_names[N_SECRETS] = {"principal_keys", "signing_keys",
                                                     "totp_secrets"};
static const char *const secrets_labels[N_SECRETS] = {"principal keys", "signing keys",
                                                      "TOTP secrets"};

/* print_counts reports how far a re-encryption got (also after an error):
 * the totals, then each table. */
static void print_counts(const admin_ctx *ctx, const char *target,
                         const jc_reencrypt_counts n[N_SECRETS], int ok)
{
    FILE *f = ok ? stdout : stderr;
    jc_reencrypt_counts t = {0, 0, 0};

    for (int i = 0; i < N_SECRETS; i++) {
        t.moved += n[i].moved;
        t.batches += n[i].batches;
        t.remaining += n[i].remaining;
    }
    if (ctx->json && ok) {
        json_t *doc =
            json_pack("{s:s?,s:I,s:I,s:I}", "target", target, "moved", (json_int_t)t.moved,
                      "batches", (json_int_t)t.batches, "remaining", (json_int_t)t.remaining);
        for (int i = 0; doc && i < N_SECRETS; i++)
            if (json_object_set_new(doc, secrets_names[i],
                                    json_pack("{s:I,s:I,s:I}", "moved", (json_int_t)n[i].moved,
                                              "batches", (json_int_t)n[i].batches, "remaining",
                                              (json_int_t)n[i].remaining)) != 0) {
                json_decref(doc);
                doc = NULL;
            }
        admin_json_print(doc);
    } else {
        fprintf(f, "%s %ld key%s to %s%s%s in %ld batch%s; %ld remaining (",
                ok ? "moved" : "before the error, moved", t.moved, t.moved == 1 ? "" : "s",
                target ? "keys-file key '" : "plain text", target ? target : "", target ? "'" : "",
                t.batches, t.batches == 1 ? "" : "es", t.remaining);
        for (int i = 0; i < N_SECRETS; i++)
            fprintf(f, "%s%s %ld", i ? ", " : "", secrets_labels[i], n[i].moved);
        fputs(" moved)\n", f);
    }
}

/* reencrypt_all runs the re-encryption of each table in turn, sharing the
 * limit; a table reached with the limit used up is only counted. */
static jc_pr_status reencrypt_all(admin_ctx *ctx, const jc_reencrypt_opts *o,
                                  jc_reencrypt_counts n[N_SECRETS], char *err, size_t errsz)
{
    jc_pr_status st = JC_PR_OK;
    long moved = 0;

    memset(n, 0, N_SECRETS * sizeof *n);
    for (int i = 0; i < N_SECRETS && st == JC_PR_OK; i++) {
        jc_reencrypt_opts oi = *o;

        if (o->limit > 0) {
            oi.limit = o->limit - moved;
            oi.count_only = oi.limit <= 0;
            if (oi.count_only)
                oi.limit = 0;
        }
        if (i == SECRETS_PRINCIPAL_KEYS)
            st = jc_principal_reencrypt(ctx->db, ctx->kr, &oi, &n[i], err, errsz);
        else if (i == SECRETS_SIGNING_KEYS)
            st = jc_signing_reencrypt(ctx->db, ctx->kr, &oi, &n[i], err, errsz);
        else
            st = jc_totp_reencrypt(ctx->db, ctx->kr, &oi, &n[i], err, errsz);
        moved += n[i].moved;
    }
    return st;
}

/* cmd_reencrypt validates the options, resolves the target key and moves
 * the secrets of every table. */
static int cmd_reencrypt(admin_ctx *ctx, const admin_args *a)
{
    const char *client = admin_opt_value(a, "client-id"), *from = admin_opt_value(a, "from-key-id");
    const char *target = admin_opt_value(a, "key-id");
    const char *limit_text = admin_opt_value(a, "limit");
    const char *batch_text = admin_opt_value(a, "batch-size");
    int decrypt = admin_opt_value(a, "decrypt") != NULL;
    long limit = 0, batch = BATCH_DEFAULT;
    jc_reencrypt_opts o;
    jc_reencrypt_counts counts[N_SECRETS];
    char err[512];
    jc_pr_status st;
    int rc;

    if (decrypt && target)
        return admin_usage(a, "--decrypt and --key-id exclude each other");
    if (limit_text && admin_parse_long("--limit", limit_text, 0, 1000000000L, &limit))
        return ADMIN_REFUSED;
    if (batch_text && admin_parse_long("--batch-size", batch_text, 1, BATCH_MAX, &batch))
        return ADMIN_REFUSED;
    if (!decrypt && !target)
        target = ctx->cfg.encryption_key_id;
    if (!decrypt && !*target)
        return admin_fail(ADMIN_REFUSED,
                          "no target key: give --key-id, --decrypt, or set "
                          "security.encryption_key_id");
    if (!decrypt && !*ctx->cfg.keys_file)
        return admin_fail(ADMIN_REFUSED, "target key '%s' needs a keys file (security.keys_file)",
                          target);
    if (decrypt && !ctx->cfg.allow_plaintext)
        return admin_fail(ADMIN_REFUSED,
                          "refusing to store secrets in plain text: --decrypt needs "
                          "security.allow_plaintext = true");
    /* The sealing default of the keyring is irrelevant here (the target is
     * explicit); use the target when the configuration names none. */
    rc = admin_keyring(ctx, *ctx->cfg.encryption_key_id ? NULL : target);
    if (rc)
        return rc;
    if (!decrypt && !jc_keyring_has(ctx->kr, target))
        return admin_fail(ADMIN_REFUSED, "key '%s' is not in the keys file %s", target,
                          ctx->cfg.keys_file);
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    memset(&o, 0, sizeof o);
    o.principal_id = client;
    o.from_key_id = from;
    o.target_key_id = decrypt ? NULL : target;
    o.limit = limit;
    o.batch_size = (int)batch;
    st = reencrypt_all(ctx, &o, counts, err, sizeof err);
    print_counts(ctx, o.target_key_id, counts, st == JC_PR_OK);
    if (st == JC_PR_INVALID)
        return admin_fail(ADMIN_REFUSED, "%s", err);
    if (st != JC_PR_OK)
        return admin_fail(ADMIN_SYSERR, "%s", err);
    return ADMIN_OK;
}

/* format_ms writes a time in ms as ISO 8601 UTC, or NULL for 0 (none). */
static const char *format_ms(int64_t ms, char *out, size_t out_size)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;

    if (ms == 0)
        return NULL;
    gmtime_r(&t, &tm);
    strftime(out, out_size, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return out;
}

/* signing_state names a key's state at now_ms: active, retired (still
 * verifying, published in the JWKS) or expired. */
static const char *signing_state(const jc_signing_key *k, int64_t now_ms)
{
    return k->active ? "active" : k->valid_until_ms > now_ms ? "retired" : "expired";
}

/* db_now_ms reads the database's clock, the one valid_until is set with. */
static int db_now_ms(admin_ctx *ctx, int64_t *now_ms)
{
    PGresult *r = admin_query(ctx, "SELECT (extract(epoch FROM now()) * 1000)::bigint", 0, NULL);

    if (!r)
        return ADMIN_SYSERR;
    *now_ms = strtoll(PQgetvalue(r, 0, 0), NULL, 10);
    PQclear(r);
    return ADMIN_OK;
}

/* cmd_signing_keys lists the token signing keys, newest first. */
static int cmd_signing_keys(admin_ctx *ctx, const admin_args *a)
{
    static const char *const hdr[] = {"KID", "STATE", "CREATED_AT", "RETIRED_AT", "VALID_UNTIL",
                                      "SEALED_WITH"};
    jc_signing_key *keys = NULL;
    int n = 0, rc;
    int64_t now_ms = 0;
    char err[512];

    (void)a;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    rc = db_now_ms(ctx, &now_ms);
    if (rc)
        return rc;
    if (jc_signing_list(ctx->db, &keys, &n, err, sizeof err) != 0)
        return admin_fail(ADMIN_SYSERR, "%s", err);
    if (ctx->json) {
        json_t *all = json_array();
        for (int i = 0; all && i < n; i++) {
            const jc_signing_key *k = &keys[i];
            char c[32], r[32], v[32];
            char pk[sodium_base64_ENCODED_LEN(32, sodium_base64_VARIANT_URLSAFE_NO_PADDING)];

            sodium_bin2base64(pk, sizeof pk, k->pk, sizeof k->pk,
                              sodium_base64_VARIANT_URLSAFE_NO_PADDING);
            if (json_array_append_new(
                    all, json_pack("{s:s,s:s,s:s,s:s?,s:s?,s:s?,s:s?,s:s}", "kid", k->kid, "state",
                                   signing_state(k, now_ms), "alg", "EdDSA", "created_at",
                                   format_ms(k->created_at_ms, c, sizeof c), "retired_at",
                                   format_ms(k->retired_at_ms, r, sizeof r), "valid_until",
                                   format_ms(k->valid_until_ms, v, sizeof v), "enc_key_id",
                                   k->enc_key_id[0] ? k->enc_key_id : NULL, "public_key", pk)) !=
                0) {
                json_decref(all);
                all = NULL;
            }
        }
        admin_json_print(all);
    } else if (n == 0) {
        printf("(none: the coordinator creates the first key at start, or run "
               "security rotate-signing-key)\n");
    } else {
        admin_table *t = admin_table_new(6, hdr);

        for (int i = 0; i < n; i++) {
            const jc_signing_key *k = &keys[i];
            char c[32], r[32], v[32];
            const char *cells[6] = {k->kid,
                                    signing_state(k, now_ms),
                                    format_ms(k->created_at_ms, c, sizeof c),
                                    format_ms(k->retired_at_ms, r, sizeof r),
                                    format_ms(k->valid_until_ms, v, sizeof v),
                                    k->enc_key_id[0] ? k->enc_key_id : "plain"};
            admin_table_add(t, cells);
        }
        admin_table_print(stdout, t);
        admin_table_free(t);
    }
    free(keys);
    return ADMIN_OK;
}

/* cmd_rotate_signing_key makes a new active signing key; the previous one
 * keeps verifying for --grace seconds. */
static int cmd_rotate_signing_key(admin_ctx *ctx, const admin_args *a)
{
    long grace = ctx->cfg.signing_key_grace_s;
    jc_signing_key made, retired;
    char err[512], v[32];
    const char *until;
    int rc;

    rc = admin_opt_grace(a, &grace);
    if (rc)
        return rc;
    rc = admin_db_keyring(ctx);
    if (rc)
        return rc;
    rc = jc_signing_rotate_report(ctx->db, ctx->kr, grace, &made, &retired, err, sizeof err);
    if (rc != 0)
        return admin_fail(rc == -2 ? ADMIN_REFUSED : ADMIN_SYSERR, "%s", err);
    until = retired.kid[0] ? format_ms(retired.valid_until_ms, v, sizeof v) : NULL;
    if (ctx->json) {
        admin_json_print(json_pack("{s:s,s:s?,s:s?,s:s?,s:I}", "kid", made.kid, "enc_key_id",
                                   made.enc_key_id[0] ? made.enc_key_id : NULL, "retired_kid",
                                   retired.kid[0] ? retired.kid : NULL, "retired_valid_until",
                                   until, "grace_s", (json_int_t)grace));
    } else {
        printf("kid      %s\nstored   %s%s\n", made.kid,
               made.enc_key_id[0] ? "sealed with " : "plain text", made.enc_key_id);
        if (retired.kid[0])
            printf("retired  %s valid until %s\n", retired.kid, until);
        else
            printf("retired  - (there was no active key)\n");
    }
    if (retired.kid[0] && grace < ctx->cfg.access_ttl_s)
        fprintf(stderr,
                "jobcoord-admin: warning: the grace (%ld s) is shorter than tokens.access_ttl_s "
                "(%d s): tokens signed with %s stop verifying before they expire\n",
                grace, ctx->cfg.access_ttl_s, retired.kid);
    return ADMIN_OK;
}

static const admin_cmd security_commands[] = {
    {"security", "generate-key", "<algorithm>",
     "Print a new keys-file key line (algorithms: " SUPPORTED_ALGS ").",
     "Add the printed line inside 'keys = { ... };' of the keys file. Nothing is\n"
     "written anywhere else: the key exists only in what you do with the output.",
     1, {{NULL, NULL, NULL}}, cmd_generate_key},
    {"security", "re-encrypt",
     "[--key-id ID | --decrypt] [--client-id ID] [--from-key-id ID] [--limit N] "
     "[--batch-size N]",
     "Re-seal stored secrets with another keys-file key, or store them in plain text.",
     "The secrets are principals' HMAC keys, token signing keys and TOTP secrets, in\n"
     "that order. Rows are moved in batches, each in its own transaction (rows locked\n"
     "by another process are skipped and counted as remaining). The keys file must\n"
     "hold the key of every row to move and the target key. Rows stored in plain text\n"
     "are moved too. --decrypt needs security.allow_plaintext = true.",
     0,
     {{"key-id", "ID", "target keys-file key (default: security.encryption_key_id)"},
      {"decrypt", NULL, "store the secrets in plain text instead"},
      {"client-id", "ID", "only this principal's keys and TOTP secret (no signing keys)"},
      {"from-key-id", "ID", "only secrets now sealed with this keys-file key"},
      {"limit", "N", "move at most N secrets in all (default: no limit)"},
      {"batch-size", "N", "secrets per transaction (default 100)"}},
     cmd_reencrypt},
    {"security", "signing-keys", "",
     "List the token signing keys (Ed25519) and their state.",
     "State: active (signs new tokens), retired (rotated out; still verifies and is\n"
     "published in the JWKS until valid_until) or expired. SEALED_WITH is the\n"
     "keys-file key sealing the secret, or plain. No secrets are printed; --json\n"
     "adds the public key (base64url, as the JWKS's x).",
     0, {{NULL, NULL, NULL}}, cmd_signing_keys},
    {"security", "rotate-signing-key", "[--grace SECONDS]",
     "Make a new active token signing key; the old one retires with a grace period.",
     "In one transaction the active key retires (valid until now + SECONDS, default\n"
     "tokens.signing_key_grace_s) and a new one is created, sealed with\n"
     "security.encryption_key_id (without a keys file: refused, unless\n"
     "security.allow_plaintext is true). Coordinators pick it up within tokens.key_reload_ms.\n"
     "Keep the grace at least tokens.access_ttl_s, or tokens signed just before stop\n"
     "verifying early (0 cuts them off at once, e.g. after a leak).",
     0, {{"grace", "SECONDS", "how long the retired key still verifies"}},
     cmd_rotate_signing_key},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_security_commands(void)
{
    return security_commands;
}
