/*
 * admin_audit.c - the audit trail on the admin side: the entry every
 * command that writes leaves (admin_audit_after, called by admin_main.c
 * after the command ran) and `jobcoord-admin audit list`.
 *
 * Which commands write is the table below: a new command that writes gets
 * a row here and its action in core/audit.c, and nothing in its handler.
 * The entry is written once the command's own transaction ended, on the
 * same connection, so a refusal that reached the database (no such
 * principal, a live worker, a wrong state) is recorded as well as a
 * success; a command stopped before it connected (usage errors, bad numbers)
 * changed nothing and leaves no entry. Its detail is the options given
 * (values only of the options known to carry no secret; worker config
 * --set keeps the KEY only) and, when it failed, the message it printed.
 */
#include "admin.h"

#include <string.h>

#include "core/audit.h"


/* The commands that write. target_pos: the positional argument naming the
 * target (-1: none). action NULL: "user.totp." + the first argument. */
static const struct audited {
    const char *group, *name, *action;
    int target_pos;
} audited[] = {
    {"db", "migrate", "db.migrate", -1},
    {"user", "add", "user.add", 0},
    {"user", "delete", "user.delete", 0},
    {"user", "rotate-key", "user.rotate-key", 0},
    {"user", "set", "user.set", 0},
    {"user", "update", "user.update", 0},
    {"user", "disable", "user.disable", 0},
    {"user", "enable", "user.enable", 0},
    {"user", "end-sessions", "user.end-sessions", 0},
    {"user", "set-password", "user.set-password", 0},
    {"user", "unlock", "user.unlock", 0},
    {"user", "totp", NULL, 1},
    {"user", "revoke-sessions", "user.revoke-sessions", 0},
    {"security", "re-encrypt", "security.re-encrypt", -1},
    {"security", "rotate-signing-key", "security.rotate-signing-key", -1},
    {"job", "cancel", "job.cancel", 0},
    {"job", "retry", "job.retry", 0},
    {"job", "delete", "job.delete", 0},
    {"job", "purge", "job.purge", -1},
    {"command", "resend", "command.resend", 0},
    {"worker", "drain", "worker.drain", 0},
    {"worker", "undrain", "worker.undrain", 0},
    {"worker", "config", "worker.config", 0},
    {"worker", "delete", "worker.delete", 0},
};
#define N_AUDITED (sizeof audited / sizeof audited[0])

/* Options whose values are recorded; the others are recorded by name. */
static const char *const plain_opts[] = {"role",   "scopes",      "grace",       "reason",
                                         "key-id", "client-id",   "from-key-id", "limit",
                                         "unset",  "description", "algorithm",   "family",
                                         "state",  "before",      "batch-size",  "type",
                                         NULL};

static int plain_opt(const char *name)
{
    for (int i = 0; plain_opts[i]; i++)
        if (strcmp(plain_opts[i], name) == 0)
            return 1;
    return 0;
}

/* build_detail writes the options of a (and the failure, if any) into out. */
static void build_detail(const admin_args *a, int rc, char *out, size_t size)
{
    size_t len = 0;

    out[0] = '\0';
    for (int g = 0; g < a->ngiven && len < size; g++) {
        const admin_opt *o = &a->cmd->opts[a->given[g].opt];
        const char *v = a->given[g].value;
        int n;

        if (!o->arg)
            n = snprintf(out + len, size - len, "%s--%s", len ? " " : "", o->name);
        else if (strcmp(o->name, "set") == 0) /* worker config KEY=VALUE: the key only */
            n = snprintf(out + len, size - len, "%s--set=%.*s", len ? " " : "",
                         (int)strcspn(v, "="), v);
        else if (plain_opt(o->name))
            n = snprintf(out + len, size - len, "%s--%s=%s", len ? " " : "", o->name, v);
        else
            n = snprintf(out + len, size - len, "%s--%s=(not recorded)", len ? " " : "", o->name);
        if (n < 0)
            break;
        len += (size_t)n;
    }
    if (rc != ADMIN_OK && admin_last_failure[0] && len < size)
        snprintf(out + len, size - len, "%sexit %d: %s", len ? "; " : "", rc, admin_last_failure);
}

void admin_audit_after(admin_ctx *ctx, const admin_args *a, int rc)
{
    const struct audited *w = NULL;
    char action[64], actor[JC_AUDIT_ACTOR_MAX], detail[JC_AUDIT_DETAIL_MAX + 1], err[512];
    PGTransactionStatusType ts;
    jc_audit_entry e;

    for (size_t i = 0; i < N_AUDITED && !w; i++)
        if (a->cmd->group && strcmp(a->cmd->group, audited[i].group) == 0 &&
            strcmp(a->cmd->name, audited[i].name) == 0)
            w = &audited[i];
    if (!w || !ctx->db || PQstatus(ctx->db) != CONNECTION_OK)
        return; /* a view, or it never reached the database */
    if (w->action)
        snprintf(action, sizeof action, "%s", w->action);
    else
        snprintf(action, sizeof action, "user.totp.%.20s", a->npos > 0 ? a->pos[0] : "");
    if (!jc_audit_action_known(action))
        return;
    if (strcmp(action, "db.migrate") == 0 && rc != ADMIN_OK)
        return; /* the table may not exist yet */
    ts = PQtransactionStatus(ctx->db);
    if (ts == PQTRANS_INTRANS || ts == PQTRANS_INERROR)
        PQclear(PQexec(ctx->db, "ROLLBACK")); /* a handler left its transaction open */
    jc_audit_cli_actor(actor, sizeof actor);
    build_detail(a, rc, detail, sizeof detail);
    memset(&e, 0, sizeof e);
    e.actor_kind = "cli";
    e.actor = actor;
    e.action = action;
    e.target = w->target_pos >= 0 && w->target_pos < a->npos ? a->pos[w->target_pos] : NULL;
    e.outcome = rc == ADMIN_OK       ? JC_AUDIT_OK
                : rc == ADMIN_SYSERR ? JC_AUDIT_ERROR
                                     : JC_AUDIT_REFUSED;
    e.detail = detail;
    if (jc_audit_record(ctx->db, &e, err, sizeof err) != 0)
        fprintf(stderr, "jobcoord-admin: warning: the audit entry was not written: %s\n", err);
}

/* ---- audit list ---- */

/* text_filter checks --actor / --target: 1..256 bytes of UTF-8. */
static int text_filter(const char *name, const char *v)
{
    if (!v)
        return ADMIN_OK;
    if (!*v || !admin_text_valid(v, JC_AUDIT_TARGET_MAX))
        return admin_fail(ADMIN_REFUSED, "--%s must be 1..%d bytes of UTF-8", name,
                          JC_AUDIT_TARGET_MAX);
    return ADMIN_OK;
}

static int cmd_list(admin_ctx *ctx, const admin_args *a)
{
    static const char sql[] =
        "SELECT * FROM (SELECT id, " ADMIN_TS("at") " AS at, actor_kind, actor, action, target,"
        " outcome, address, " ADMIN_ONE_LINE("detail") " AS detail FROM audit_log"
        " WHERE ($1::text IS NULL OR actor = $1) AND ($2::text IS NULL OR target = $2)"
        "   AND ($3::text IS NULL OR action = $3) AND ($4::timestamptz IS NULL OR at >= $4)"
        " ORDER BY id DESC LIMIT $5::int) s ORDER BY id";
    const char *p[5] = {admin_opt_value(a, "actor"), admin_opt_value(a, "target"),
                        admin_opt_value(a, "action"), NULL, "100"};
    const char *since = admin_opt_value(a, "since"), *limit = admin_opt_value(a, "limit");
    char since_text[64];
    long n;
    PGresult *r;
    int rc;

    if ((rc = text_filter("actor", p[0])) || (rc = text_filter("target", p[1])))
        return rc;
    if (p[2] && !jc_audit_action_known(p[2])) {
        size_t na;
        const char *const *all = jc_audit_actions(&na);
        fprintf(stderr, "jobcoord-admin: --action '%.64s' is not an action; the actions:", p[2]);
        for (size_t i = 0; i < na; i++)
            fprintf(stderr, " %s", all[i]);
        fputc('\n', stderr);
        return ADMIN_REFUSED;
    }
    if (limit && admin_parse_long("--limit", limit, 1, 10000, &n))
        return ADMIN_REFUSED;
    if (limit)
        p[4] = limit;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    if (since) {
        rc = admin_since_arg(ctx, since, since_text, sizeof since_text);
        if (rc)
            return rc;
        p[3] = since_text;
    }
    r = admin_query(ctx, sql, 5, p);
    if (!r)
        return ADMIN_SYSERR;
    admin_print_rows(ctx, r);
    PQclear(r);
    return ADMIN_OK;
}

static const admin_cmd commands[] = {
    {"audit",
     "list",
     "[--actor A] [--target T] [--action X] [--since T] [--limit N]",
     "Show the audit trail: who changed what, newest entries last.",
     "Every command of this tool that writes leaves an entry (refusals too, once the\n"
     "command reached the database), as do logins, refreshes and revocations over\n"
     "HTTP. actor is user@host for this tool, the principal over HTTP. Entries cannot\n"
     "be changed or deleted; the janitor deletes them after janitor.audit_retention_s.",
     0,
     {{"actor", "A", "only entries of this actor (user@host, or a principal id)"},
      {"target", "T", "only entries about this target (principal, worker or job id)"},
      {"action", "X", "only this action (user.add, auth.login.password, ...)"},
      {"since", "T", "written since T: an ISO 8601 time, or a number of seconds ago"},
      {"limit", "N", "the last N entries, 1..10000 (default 100)"}},
     cmd_list},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_audit_commands(void)
{
    return commands;
}
