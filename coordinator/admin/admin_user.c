/*
 * admin_user.c - `jobcoord-admin user ...`: principals and their HMAC keys,
 * through the data layer of principals.c.
 *
 * A new key is printed exactly once, by `user add` and `user rotate-key`;
 * afterwards it can only be read back with --show-key, which opens it with
 * the keys file. The notice that the key will not be shown again goes to
 * stderr, so that stdout stays parseable.
 */
#include "admin.h"

#include <string.h>
#include <time.h>

#include <sodium.h>

#include "core/json_out.h"
#include "principals/principal_delete.h"
#include "principals/principals.h"

#define B64_KEY_LEN sodium_base64_ENCODED_LEN(JC_PRINCIPAL_KEY_LEN, sodium_base64_VARIANT_ORIGINAL)

/* print_new_key shows a freshly made key, once. */
static void print_new_key(const admin_ctx *ctx, const char *id, const char *role,
                          const jc_new_key *nk)
{
    char b64[B64_KEY_LEN];

    admin_b64(nk->key, sizeof nk->key, b64, sizeof b64);
    if (ctx->json) {
        json_t *doc = json_pack("{s:s}", "id", id);
        int ok =
            (!role || json_object_set_new(doc, "role", json_string(role)) == 0) &&
            json_object_update_new(doc, json_pack("{s:s,s:s,s:s?}", "key_id", nk->key_id, "key",
                                                  b64, "enc_key_id",
                                                  nk->enc_key_id[0] ? nk->enc_key_id : NULL)) ==
                0 &&
            (role ||
             json_object_update_new(doc,
                                    json_pack("{s:s?,s:s?}", "previous_key_id",
                                              nk->previous_key_id[0] ? nk->previous_key_id : NULL,
                                              "previous_valid_until",
                                              nk->previous_valid_until[0] ? nk->previous_valid_until
                                                                          : NULL)) == 0);
        if (!ok) {
            json_decref(doc);
            doc = NULL;
        }
        admin_json_print(doc);
    } else {
        printf("id          %s\n", id);
        if (role)
            printf("role        %s\n", role);
        printf("key_id      %s\n", nk->key_id);
        printf("key         %s\n", b64);
        printf("stored      %s%s\n", nk->enc_key_id[0] ? "sealed with " : "plain text",
               nk->enc_key_id);
        if (!role && nk->previous_key_id[0])
            printf("previous    %s valid until %s\n", nk->previous_key_id,
                   nk->previous_valid_until);
    }
    fflush(stdout);
    fprintf(stderr, "jobcoord-admin: this key is shown only once: hand it over now\n");
    sodium_memzero(b64, sizeof b64);
}

/* cmd_add creates a principal with its first key. */
static int cmd_add(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0], *role = admin_opt_value(a, "role");
    const char *scopes = admin_opt_value(a, "scopes");
    char err[512];
    jc_new_key nk;
    jc_pr_status st;
    int rc;

    if (!role)
        return admin_usage(a, "--role is required");
    if (!jc_principal_name_valid(id))
        return admin_fail(ADMIN_REFUSED, "invalid principal id '%s' (1-64 of A-Z a-z 0-9 . _ : @ -)",
                          id);
    if (!jc_principal_role_valid(role))
        return admin_fail(ADMIN_REFUSED, "invalid role '%s' (" JC_PRINCIPAL_ROLES ")", role);
    rc = admin_db_keyring(ctx);
    if (rc)
        return rc;
    st = jc_principal_create(ctx->db, ctx->kr, id, role, scopes, &nk, err, sizeof err);
    if (st != JC_PR_OK)
        return admin_pr_exit(st, err);
    print_new_key(ctx, id, role, &nk);
    sodium_memzero(&nk, sizeof nk);
    return ADMIN_OK;
}

/* aged_out tells whether k is older than auth.max_key_age_s (max_age). */
static int aged_out(const jc_principal_key *k, long max_age)
{
    return max_age > 0 && k->age_s >= max_age;
}

/* key_status names a key's state: current, valid (rotated, in its grace
 * period) or expired (its grace ended, or it is older than
 * auth.max_key_age_s). */
static const char *key_status(const jc_principal_key *k, long max_age)
{
    return k->expired || aged_out(k, max_age) ? "expired" : k->current ? "current" : "valid";
}

/* key_age_text writes k's age as "3d4h", "5h2m", "40m" or "12s". */
static void key_age_text(const jc_principal_key *k, char *out, size_t n)
{
    long long s = k->age_s < 0 ? 0 : k->age_s;

    if (s >= 86400)
        snprintf(out, n, "%lldd%lldh", s / 86400, s % 86400 / 3600);
    else if (s >= 3600)
        snprintf(out, n, "%lldh%lldm", s / 3600, s % 3600 / 60);
    else if (s >= 60)
        snprintf(out, n, "%lldm", s / 60);
    else
        snprintf(out, n, "%llds", s);
}

/* expires_by_age writes when k reaches auth.max_key_age_s (ISO 8601 UTC),
 * "" when there is no limit. */
static void expires_by_age(const jc_principal_key *k, long max_age, char *out, size_t n)
{
    time_t t = (time_t)(k->created_epoch + max_age);
    struct tm tm;

    out[0] = '\0';
    if (max_age > 0 && gmtime_r(&t, &tm))
        strftime(out, n, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

/* json_principal returns p and its keys as one JSON object, or NULL when
 * it cannot be made; max_age is auth.max_key_age_s. */
static json_t *json_principal(const jc_principal *p, long max_age)
{
    char b64[B64_KEY_LEN], by_age[JC_PRINCIPAL_TS_LEN];
    json_t *keys = json_array();
    json_t *o = json_pack("{s:s,s:s,s:o,s:o,s:b,s:s,s:b,s:I,s:s?,s:b,s:b,s:b,s:s?}", "id", p->id,
                          "role", p->role, "scopes", admin_json_csv(p->scopes), "description",
                          jc_json_text(p->description), "disabled", p->disabled, "created_at",
                          p->created_at, "has_password", p->has_password, "failed_logins",
                          (json_int_t)p->failed_logins, "locked_until",
                          p->locked_until[0] ? p->locked_until : NULL, "locked", p->locked,
                          "totp_enabled", p->totp_enabled, "totp_pending", p->totp_pending,
                          "totp_algorithm", p->totp_algorithm[0] ? p->totp_algorithm : NULL);
    int ok = json_object_set_new(o, "keys", keys) == 0;

    for (size_t i = 0; ok && i < p->n_keys; i++) {
        const jc_principal_key *k = &p->keys[i];
        json_t *ko;

        expires_by_age(k, max_age, by_age, sizeof by_age);
        ko =
            json_pack("{s:s,s:s,s:s?,s:s,s:s?,s:I,s:b,s:s?,s:s?}", "key_id", k->key_id, "status",
                      key_status(k, max_age), "enc_key_id", k->enc_key_id[0] ? k->enc_key_id : NULL,
                      "created_at", k->created_at, "valid_until",
                      k->valid_until[0] ? k->valid_until : NULL, "age_s", (json_int_t)k->age_s,
                      "aged_out", aged_out(k, max_age), "expires_by_age", by_age[0] ? by_age : NULL,
                      "last_used_at", k->last_used_at[0] ? k->last_used_at : NULL);
        if (k->has_secret) {
            admin_b64(k->secret, sizeof k->secret, b64, sizeof b64);
            if (json_object_set_new(ko, "key", json_string(b64)) != 0) {
                json_decref(ko);
                ko = NULL;
            }
        }
        ok = json_array_append_new(keys, ko) == 0;
    }
    sodium_memzero(b64, sizeof b64);
    if (!ok) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

/* list_principals reads id (NULL: all) and prints it with the keys. */
static int list_principals(admin_ctx *ctx, const admin_args *a, const char *id)
{
    int show_key = admin_opt_value(a, "show-key") != NULL;
    long max_age = ctx->cfg.max_key_age_s;
    jc_principal *list = NULL;
    size_t n = 0;
    char err[512];
    jc_pr_status st;
    int rc;

    if (id && !jc_principal_name_valid(id))
        return admin_fail(ADMIN_REFUSED, "invalid principal id '%s'", id);
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    if (show_key) {
        rc = admin_keyring(ctx, NULL);
        if (rc)
            return rc;
    }
    st = jc_principal_list(ctx->db, ctx->kr, id, show_key, &list, &n, err, sizeof err);
    if (st != JC_PR_OK)
        return admin_pr_exit(st, err);
    if (ctx->json && id) {
        rc = admin_json_print(json_principal(&list[0], max_age));
    } else if (ctx->json) {
        json_t *all = json_array();
        for (size_t i = 0; all && i < n; i++)
            if (json_array_append_new(all, json_principal(&list[i], max_age)) != 0) {
                json_decref(all);
                all = NULL;
            }
        rc = admin_json_print(all);
    } else if (id) {
        const jc_principal *p = &list[0];
        static const char *const hdr[] = {"KEY_ID",         "STATUS",       "ENC_KEY_ID",
                                          "CREATED_AT",     "VALID_UNTIL",  "AGE",
                                          "EXPIRES_BY_AGE", "LAST_USED_AT", "KEY"};
        admin_table *t = admin_table_new(show_key ? 9 : 8, hdr);
        char b64[B64_KEY_LEN] = "";

        printf(
            "id             %s\nrole           %s\nscopes         %s\ndescription    %s\n"
            "disabled       %s\n"
            "created_at     %s\nhas_password   %s\nfailed_logins  %ld\n"
            "locked_until   %s%s\ntotp_enabled   %s%s\ntotp_algorithm %s\nkeys:\n",
            p->id, p->role, p->scopes[0] ? p->scopes : "-",
            p->description[0] ? p->description : "-", p->disabled ? "yes" : "no", p->created_at,
            p->has_password ? "yes" : "no", p->failed_logins,
            p->locked_until[0] ? p->locked_until : "-", p->locked ? " (locked)" : "",
            p->totp_enabled ? "yes" : "no",
            p->totp_pending ? " (a secret is pending: user totp confirm)" : "",
            p->totp_algorithm[0] ? p->totp_algorithm : "-");
        for (size_t i = 0; i < p->n_keys; i++) {
            const jc_principal_key *k = &p->keys[i];
            char age[32], by_age[JC_PRINCIPAL_TS_LEN];
            const char *cells[9];

            key_age_text(k, age, sizeof age);
            expires_by_age(k, max_age, by_age, sizeof by_age);
            cells[0] = k->key_id;
            cells[1] = key_status(k, max_age);
            cells[2] = k->enc_key_id[0] ? k->enc_key_id : NULL;
            cells[3] = k->created_at;
            cells[4] = k->valid_until[0] ? k->valid_until : NULL;
            cells[5] = age;
            cells[6] = by_age[0] ? by_age : NULL;
            cells[7] = k->last_used_at[0] ? k->last_used_at : NULL;
            cells[8] = b64;
            if (k->has_secret)
                admin_b64(k->secret, sizeof k->secret, b64, sizeof b64);
            admin_table_add(t, cells);
        }
        admin_table_print(stdout, t);
        admin_table_free(t);
        sodium_memzero(b64, sizeof b64);
    } else if (n == 0) {
        printf("(none)\n");
    } else {
        static const char *const hdr[] = {"ID",      "ROLE",           "SCOPES",     "DISABLED",
                                          "KEYS",    "CURRENT_KEY",    "ENC_KEY_ID", "CREATED_AT",
                                          "KEY_AGE", "EXPIRES_BY_AGE", "KEY"};
        admin_table *t = admin_table_new(show_key ? 11 : 10, hdr);

        for (size_t i = 0; i < n; i++) {
            const jc_principal *p = &list[i];
            const jc_principal_key *cur = p->n_keys && p->keys[0].current ? &p->keys[0] : NULL;
            char nkeys[24], b64[B64_KEY_LEN] = "", age[32] = "", by_age[JC_PRINCIPAL_TS_LEN] = "";
            const char *cells[11] = {p->id,
                                     p->role,
                                     p->scopes[0] ? p->scopes : NULL,
                                     p->disabled ? "yes" : "no",
                                     nkeys,
                                     cur ? cur->key_id : NULL,
                                     cur && cur->enc_key_id[0] ? cur->enc_key_id : NULL,
                                     p->created_at,
                                     cur ? age : NULL,
                                     NULL,
                                     b64};
            snprintf(nkeys, sizeof nkeys, "%zu", p->n_keys);
            if (cur) {
                key_age_text(cur, age, sizeof age);
                expires_by_age(cur, max_age, by_age, sizeof by_age);
                cells[9] = by_age[0] ? by_age : NULL;
            }
            if (cur && cur->has_secret)
                admin_b64(cur->secret, sizeof cur->secret, b64, sizeof b64);
            admin_table_add(t, cells);
            sodium_memzero(b64, sizeof b64);
        }
        admin_table_print(stdout, t);
        admin_table_free(t);
    }
    jc_principal_list_free(list, n);
    return ADMIN_OK;
}

/* cmd_list lists every principal. */
static int cmd_list(admin_ctx *ctx, const admin_args *a)
{
    return list_principals(ctx, a, NULL);
}

/* cmd_show shows one principal with all its keys. */
static int cmd_show(admin_ctx *ctx, const admin_args *a)
{
    return list_principals(ctx, a, a->pos[0]);
}

/* cmd_rotate_key makes a new current key; the old one keeps working for
 * --grace seconds. */
static int cmd_rotate_key(admin_ctx *ctx, const admin_args *a)
{
    long grace = 0;
    char err[512];
    jc_new_key nk;
    jc_pr_status st;
    int rc;

    rc = admin_opt_grace(a, &grace);
    if (rc)
        return rc;
    rc = admin_db_keyring(ctx);
    if (rc)
        return rc;
    st = jc_principal_rotate_key(ctx->db, ctx->kr, a->pos[0], grace, &nk, err, sizeof err);
    if (st != JC_PR_OK)
        return admin_pr_exit(st, err);
    print_new_key(ctx, a->pos[0], NULL, &nk);
    sodium_memzero(&nk, sizeof nk);
    return ADMIN_OK;
}

/* print_delete reports what deleting a principal did to its jobs and
 * commands (with --json one object). */
static void print_delete(const admin_ctx *ctx, const char *id, const jc_delete_report *rep)
{
    if (ctx->json) {
        json_t *jobs = json_array();
        json_t *doc =
            json_pack("{s:s,s:s,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}", "id", id, "role", rep->role,
                      "deleted", 1, "held_jobs", (json_int_t)rep->held, "requeued",
                      (json_int_t)rep->requeued, "failed", (json_int_t)rep->failed, "held_canceled",
                      (json_int_t)rep->held_canceled, "submitted_jobs", (json_int_t)rep->submitted,
                      "canceled", (json_int_t)rep->canceled, "canceling",
                      (json_int_t)rep->canceling, "commands_canceled",
                      (json_int_t)rep->commands_canceled);
        int ok = json_object_set_new(doc, "jobs", jobs) == 0;
        for (size_t i = 0; ok && i < rep->n_jobs; i++) {
            const jc_deleted_job *j = &rep->jobs[i];
            ok = json_array_append_new(jobs, json_pack("{s:s,s:s,s:s,s:s}", "id", j->id, "as",
                                                       j->held ? "worker" : "submitter", "from",
                                                       j->from, "to", j->to)) == 0;
        }
        if (!ok) {
            json_decref(doc);
            doc = NULL;
        }
        admin_json_print(doc);
        return;
    }
    for (size_t i = 0; i < rep->n_jobs; i++) {
        const jc_deleted_job *j = &rep->jobs[i];
        printf("job %s: %s -> %s (%s)\n", j->id, j->from, j->to,
               j->held ? "held by it: taken back" : "submitted by it: canceled");
    }
    if ((size_t)(rep->held + rep->submitted) > rep->n_jobs)
        printf("(%zu jobs listed of %ld)\n", rep->n_jobs, rep->held + rep->submitted);
    if (rep->held)
        printf("%ld held job%s taken back: %ld pending again, %ld failed (no attempts left),"
               " %ld canceled (were canceling)\n",
               rep->held, rep->held == 1 ? "" : "s", rep->requeued, rep->failed,
               rep->held_canceled);
    if (rep->submitted)
        printf("%ld submitted job%s not ended: %ld canceled, %ld canceling (their worker was"
               " sent a cancel)\n",
               rep->submitted, rep->submitted == 1 ? "" : "s", rep->canceled, rep->canceling);
    printf("%ld pending command%s to %s canceled\n", rep->commands_canceled,
           rep->commands_canceled == 1 ? "" : "s", id);
    printf("deleted %s\n", id);
}

/* cmd_delete deletes a principal; its keys and worker row go with it. While
 * it holds or submitted live jobs it refuses unless --force, which settles
 * them (principal_delete.h). */
static int cmd_delete(admin_ctx *ctx, const admin_args *a)
{
    int force = admin_opt_value(a, "force") != NULL;
    jc_delete_report rep;
    char err[512];
    jc_pr_status st;
    int rc = admin_db(ctx, 1);

    if (rc)
        return rc;
    st = jc_principal_delete(ctx->db, &ctx->cfg, a->pos[0], force, admin_operator(), &rep, err,
                             sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc == ADMIN_OK)
        print_delete(ctx, a->pos[0], &rep);
    jc_delete_report_free(&rep);
    return rc;
}

#define SHOW_KEY_OPT {"show-key", NULL, "also print keys, opened with the keys file"}

static const admin_cmd user_commands[] = {
    {"user", "add", "<id> --role client|worker|admin|reader [--scopes LIST]",
     "Create a principal and print its new HMAC key (once).",
     "The id is 1-64 of A-Z a-z 0-9 . _ : @ -. The key is 32 random bytes, printed in\n"
     "base64 with its key id; it is stored sealed with security.encryption_key_id, or\n"
     "refused (exit 1) when no keys file is configured, unless\n"
     "security.allow_plaintext is true: then in plain text. A reader may read the HTTP\n"
     "status API and send nothing over Kafka; admins and readers log in with a\n"
     "password (user set-password).",
     1,
     {{"role", "ROLE", "client, worker, admin or reader (required)"},
      {"scopes", "LIST", "comma-separated scopes the role may hold (default: all of them)"}},
     cmd_add},
    {"user", "list", "[--show-key]", "List principals with their current key.", NULL, 0,
     {SHOW_KEY_OPT}, cmd_list},
    {"user", "show", "<id> [--show-key]",
     "Show a principal, its login state and all its keys, rotated ones included.",
     "A key's status is current, valid (rotated out, still accepted until valid_until)\n"
     "or expired. The login state is whether a password is set, the failed logins in\n"
     "a row, the lockout end and whether TOTP is on (never the secrets).",
     1, {SHOW_KEY_OPT}, cmd_show},
    {"user", "rotate-key", "<id> [--grace SECONDS]",
     "Give a principal a new current key and print it (once).",
     "The previous current key stays valid for the grace period, so that messages\n"
     "already signed with it (in Kafka, or from workers not yet reconfigured) are\n"
     "still accepted. With --grace 0 (the default) it expires at once.",
     1, {{"grace", "SECONDS", "how long the previous key stays valid (default 0)"}},
     cmd_rotate_key},
    {"user", "delete", "<id> [--force]", "Delete a principal, its keys and its worker record.",
     "A principal that holds live jobs (a worker with jobs assigned, running or\n"
     "canceling) or submitted jobs that have not ended is not deleted: exit 1, nothing\n"
     "changed, the message counts the jobs. With --force, in the same transaction:\n"
     "the jobs it holds are taken back as when a worker goes offline (pending again\n"
     "while attempts remain, else failed; canceling ones end canceled), the jobs it\n"
     "submitted are canceled (their worker is sent a cancel), commands not yet\n"
     "acknowledged by it are marked failed, each with a reason naming this action;\n"
     "then the principal is deleted. Every job changed is printed.",
     1, {{"force", NULL, "settle its live jobs and pending commands, then delete it"}},
     cmd_delete},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_user_commands(void)
{
    return user_commands;
}
