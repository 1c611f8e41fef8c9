/*
 * admin_security.c - `jobcoord-admin security ...`: keys-file keys and the
 * encryption at rest of principals' secrets.
 *
 * Moving to a new keys-file key is: `security generate-key` prints a line
 * to add to the keys file; point security.encryption_key_id at it (new
 * secrets are then sealed with it); `security re-encrypt` moves the existing
 * rows; the old key can leave the keys file once nothing uses it (status of
 * each row: `user show`, column ENC_KEY_ID).
 */
#include "admin.h"

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "principals.h"

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
        fputc('{', stdout);
        admin_json_kv(stdout, 1, "id", id);
        admin_json_kv(stdout, 0, "value", value);
        fputs("}\n", stdout);
    } else {
        printf("%s = \"%s\";\n", id, value);
    }
    sodium_memzero(value, sizeof value);
    return ADMIN_OK;
}

/* print_counts reports how far a re-encryption got (also after an error). */
static void print_counts(const admin_ctx *ctx, const char *target, const jc_reencrypt_counts *n,
                         int ok)
{
    FILE *f = ok ? stdout : stderr;

    if (ctx->json && ok) {
        fputc('{', f);
        admin_json_kv(f, 1, "target", target);
        fprintf(f, ",\"moved\":%ld,\"batches\":%ld,\"remaining\":%ld}\n", n->moved, n->batches,
                n->remaining);
    } else {
        fprintf(f, "%s %ld key%s to %s%s%s in %ld batch%s; %ld remaining\n",
                ok ? "moved" : "before the error, moved", n->moved, n->moved == 1 ? "" : "s",
                target ? "keys-file key '" : "plain text", target ? target : "", target ? "'" : "",
                n->batches, n->batches == 1 ? "" : "es", n->remaining);
    }
}

/* cmd_reencrypt validates the options, resolves the target key and runs
 * jc_principal_reencrypt. */
static int cmd_reencrypt(admin_ctx *ctx, const admin_args *a)
{
    const char *client = admin_opt_value(a, "client-id"), *from = admin_opt_value(a, "from-key-id");
    const char *target = admin_opt_value(a, "key-id");
    const char *limit_text = admin_opt_value(a, "limit");
    const char *batch_text = admin_opt_value(a, "batch-size");
    int decrypt = admin_opt_value(a, "decrypt") != NULL;
    long limit = 0, batch = BATCH_DEFAULT;
    jc_reencrypt_opts o;
    jc_reencrypt_counts counts;
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
    st = jc_principal_reencrypt(ctx->db, ctx->kr, &o, &counts, err, sizeof err);
    print_counts(ctx, o.target_key_id, &counts, st == JC_PR_OK);
    if (st == JC_PR_INVALID)
        return admin_fail(ADMIN_REFUSED, "%s", err);
    if (st != JC_PR_OK)
        return admin_fail(ADMIN_SYSERR, "%s", err);
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
     "Re-seal principals' keys with another keys-file key, or store them in plain text.",
     "Rows are moved in batches, each in its own transaction (rows locked by another\n"
     "process are skipped and counted as remaining). The keys file must hold the key\n"
     "of every row to move and the target key.",
     0,
     {{"key-id", "ID", "target keys-file key (default: security.encryption_key_id)"},
      {"decrypt", NULL, "store the keys in plain text instead"},
      {"client-id", "ID", "only the keys of this principal"},
      {"from-key-id", "ID", "only keys now sealed with this keys-file key"},
      {"limit", "N", "move at most N keys (default: no limit)"},
      {"batch-size", "N", "keys per transaction (default 100)"}},
     cmd_reencrypt},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_security_commands(void)
{
    return security_commands;
}
