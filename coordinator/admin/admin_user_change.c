/*
 * admin_user_change.c - `jobcoord-admin user set|update|disable|enable|end-sessions`:
 * changing what a principal may do, through the data layer of
 * principal_change.c and principal_update.c. Every change of what it may do
 * ends the principal's sessions (its access and refresh tokens stop working
 * at once); the output says so.
 */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

#include "principals/principal_change.h"
#include "principals/principal_update.h"

/* cmd_set changes a principal's role and/or scopes. */
static int cmd_set(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0], *role = admin_opt_value(a, "role");
    const char *scopes = admin_opt_value(a, "scopes");
    int clear = admin_opt_value(a, "clear-scopes") != NULL;
    char err[512];
    jc_pr_status st;
    int rc;

    if (!role && !scopes && !clear)
        return admin_usage(a, "give --role, --scopes or --clear-scopes");
    if (scopes && clear)
        return admin_usage(a, "--scopes and --clear-scopes exclude each other");
    if (scopes && !*scopes)
        return admin_usage(a, "--scopes needs a list (--clear-scopes for none)");
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    st = jc_principal_set_access(ctx->db, id, role, clear ? "" : scopes, err, sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc)
        return rc;
    {
        jc_principal *p = NULL;
        size_t n = 0;

        st = jc_principal_list(ctx->db, NULL, id, 0, &p, &n, err, sizeof err);
        if (st != JC_PR_OK)
            return admin_pr_exit(st, err);
        if (ctx->json) {
            fputc('{', stdout);
            admin_json_kv(stdout, 1, "id", id);
            admin_json_kv(stdout, 0, "role", p->role);
            fputs(",\"scopes\":", stdout);
            admin_json_list(stdout, p->scopes);
            fputs(",\"sessions_ended\":true}\n", stdout);
        } else {
            printf("%s: role %s, scopes %s (sessions ended: its tokens no longer work)\n", id,
                   p->role, p->scopes[0] ? p->scopes : "- (the role's defaults)");
        }
        jc_principal_list_free(p, n);
    }
    return ADMIN_OK;
}

/* print_update reports what `user update` changed. */
static void print_update(const admin_ctx *ctx, const char *id, const jc_update_report *rep)
{
    if (ctx->json) {
        fputc('{', stdout);
        admin_json_kv(stdout, 1, "id", id);
        admin_json_kv(stdout, 0, "role", rep->role);
        fputs(",\"scopes\":", stdout);
        admin_json_list(stdout, rep->scopes);
        printf(
            ",\"sessions_ended\":%s,\"left_worker_role\":%s,\"held_jobs\":%ld,"
            "\"requeued\":%ld,\"failed\":%ld,\"canceled\":%ld}\n",
            rep->sessions_ended ? "true" : "false", rep->left_worker ? "true" : "false", rep->held,
            rep->requeued, rep->failed, rep->canceled);
        return;
    }
    if (rep->left_worker && rep->held)
        printf(
            "%ld held job%s taken back: %ld pending again, %ld failed (no attempts left),"
            " %ld canceled (were canceling)\n",
            rep->held, rep->held == 1 ? "" : "s", rep->requeued, rep->failed, rep->canceled);
    if (rep->left_worker)
        printf(
            "%s left the worker role: its worker record is kept, offline; its commands not"
            " yet acknowledged are failed\n",
            id);
    printf("updated %s: role %s, scopes %s, same keys%s\n", id, rep->role,
           rep->scopes[0] ? rep->scopes : "- (the role's defaults)",
           rep->sessions_ended ? " (sessions ended: its tokens no longer work)" : "");
}

/* cmd_update changes a principal's role, scopes and/or description in
 * place: same keys, same worker record. */
static int cmd_update(admin_ctx *ctx, const admin_args *a)
{
    jc_update_request req = {admin_opt_value(a, "role"), admin_opt_value(a, "scopes"),
                             admin_opt_value(a, "description"),
                             admin_opt_value(a, "force") != NULL};
    jc_update_report rep;
    char err[512];
    jc_pr_status st;
    int rc;

    if (admin_opt_value(a, "clear-scopes")) {
        if (req.scopes)
            return admin_usage(a, "--scopes and --clear-scopes exclude each other");
        req.scopes = "";
    } else if (req.scopes && !*req.scopes) {
        return admin_usage(a, "--scopes needs a list (--clear-scopes for none)");
    }
    if (!req.role && !req.scopes && !req.description)
        return admin_usage(a, "give --role, --scopes, --clear-scopes or --description");
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    st = jc_principal_update(ctx->db, &ctx->cfg, a->pos[0], &req, &rep, err, sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc == ADMIN_OK)
        print_update(ctx, a->pos[0], &rep);
    free(rep.scopes);
    return rc;
}

/* set_disabled disables or enables a principal. */
static int set_disabled(admin_ctx *ctx, const char *id, int disabled)
{
    char err[512];
    jc_pr_status st;
    int changed = 0, rc = admin_db(ctx, 1);

    if (rc)
        return rc;
    st = jc_principal_set_disabled(ctx->db, id, disabled, &changed, err, sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc)
        return rc;
    if (ctx->json)
        admin_print_done(ctx, id, disabled ? ",\"disabled\":true,\"sessions_ended\":true}\n"
                                           : ",\"disabled\":false}\n",
                         "%s", "");
    else if (disabled)
        printf("%s %s (sessions ended: its tokens no longer work; its messages are rejected)\n",
               changed ? "disabled" : "already disabled; sessions ended again for", id);
    else
        printf("%s %s\n", changed ? "enabled" : "already enabled:", id);
    return ADMIN_OK;
}

static int cmd_disable(admin_ctx *ctx, const admin_args *a)
{
    return set_disabled(ctx, a->pos[0], 1);
}

static int cmd_enable(admin_ctx *ctx, const admin_args *a)
{
    return set_disabled(ctx, a->pos[0], 0);
}

/* cmd_end_sessions makes every token issued to a principal so far stop
 * working. */
static int cmd_end_sessions(admin_ctx *ctx, const admin_args *a)
{
    char err[512];
    jc_pr_status st;
    int rc = admin_db(ctx, 1);

    if (rc)
        return rc;
    st = jc_principal_end_sessions(ctx->db, a->pos[0], "ended by an operator", err, sizeof err);
    rc = admin_pr_exit(st, err);
    if (rc)
        return rc;
    admin_print_done(ctx, a->pos[0], ",\"sessions_ended\":true}\n",
                     "sessions of %s ended: its access and refresh tokens no longer work\n",
                     a->pos[0]);
    return ADMIN_OK;
}

static const admin_cmd change_commands[] = {
    {"user",
     "set",
     "<id> [--role ROLE] [--scopes LIST | --clear-scopes]",
     "Change a principal's role and/or scopes; its sessions end.",
     "--scopes replaces the scopes (comma-separated); --clear-scopes removes them, so\n"
     "that the role's default scopes apply. Every access and refresh token issued to\n"
     "the principal before stops working at once. A worker that holds live jobs keeps\n"
     "the worker role (exit 1, nothing changed); one that leaves it loses its worker\n"
     "record, so that no job is assigned to it.",
     1,
     {{"role", "ROLE", "client, worker, admin or reader"},
      {"scopes", "LIST", "comma-separated scopes replacing the current ones"},
      {"clear-scopes", NULL, "remove the scopes: the role's defaults apply"}},
     cmd_set},
    {"user",
     "update",
     "<id> [--role ROLE] [--scopes LIST | --clear-scopes] [--description TEXT] [--force]",
     "Change a principal in place: same keys, same worker record.",
     "--description sets an operator's note (at most 256 bytes of UTF-8, no control\n"
     "characters; \"\" removes it); it changes nothing the principal may do. A change of\n"
     "--role or --scopes ends its sessions: every access and refresh token issued\n"
     "before stops working at once; its HMAC keys stay. A worker that leaves the\n"
     "worker role keeps its worker record (settings, history), marked offline so\n"
     "that no job is assigned to it, and its commands not yet acknowledged are\n"
     "marked failed. While it holds live jobs (assigned, running, canceling) that is\n"
     "refused (exit 1, nothing changed) unless --force, which takes them back as\n"
     "when a worker goes offline (pending again while attempts remain, else failed;\n"
     "canceling ones end canceled), in the same transaction.",
     1,
     {{"role", "ROLE", "client, worker, admin or reader"},
      {"scopes", "LIST", "comma-separated scopes replacing the current ones"},
      {"clear-scopes", NULL, "remove the scopes: the role's defaults apply"},
      {"description", "TEXT", "an operator's note about the principal"},
      {"force", NULL, "a worker leaving its role: take back the jobs it holds"}},
     cmd_update},
    {"user",
     "disable",
     "<id>",
     "Disable a principal; its sessions end.",
     "Its messages are rejected (disabled_principal) once the coordinators' key\n"
     "caches expire (ingest.key_cache_ttl_ms), it gets no token, and every access and\n"
     "refresh token issued to it before stops working at once.",
     1,
     {{NULL, NULL, NULL}},
     cmd_disable},
    {"user",
     "enable",
     "<id>",
     "Enable a disabled principal.",
     "Tokens issued before it was disabled stay invalid: it asks for new ones.",
     1,
     {{NULL, NULL, NULL}},
     cmd_enable},
    {"user",
     "end-sessions",
     "<id>",
     "Make every token issued to a principal stop working.",
     "Its access tokens are refused from now on and its refresh tokens can no longer\n"
     "be used (e.g. after a token leaked); it can get new ones as before.",
     1,
     {{NULL, NULL, NULL}},
     cmd_end_sessions},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_user_change_commands(void)
{
    return change_commands;
}
