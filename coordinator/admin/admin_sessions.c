/*
 * admin_sessions.c - `jobcoord-admin user sessions|revoke-sessions`: a
 * principal's sessions (refresh-token families: one per password login,
 * carried on by its refreshes) and ending them with the access tokens
 * minted from them (tokens/sessions.c). Unlike `user end-sessions`, which
 * ends every token of the principal, client-credentials tokens included,
 * this ends chosen password sessions and nothing else.
 */
#include "admin.h"

#include <string.h>

#include "tokens/sessions.h"

/* principal_exists: ADMIN_OK, or refused for an unknown principal. */
static int principal_exists(admin_ctx *ctx, const char *id)
{
    PGresult *r = admin_query(ctx, "SELECT 1 FROM principals WHERE id = $1", 1, &id);
    int rc;

    if (!r)
        return ADMIN_SYSERR;
    rc = PQntuples(r) == 1 ? ADMIN_OK : admin_fail(ADMIN_REFUSED, "no principal '%s'", id);
    PQclear(r);
    return rc;
}

static int id_arg(const char *id)
{
    if (!jc_name_valid((const uint8_t *)id, strlen(id), JC_MAX_NAME_LEN))
        return admin_fail(ADMIN_REFUSED, "'%s' is not a principal id (1..64 of [A-Za-z0-9._:@-])",
                          id);
    return ADMIN_OK;
}

static int cmd_sessions(admin_ctx *ctx, const admin_args *a)
{
    static const char sql[] =
        "SELECT family, " ADMIN_TS("created") " AS created, " ADMIN_TS("last_used") " AS last_used, login_address, last_address, " ADMIN_TS(
            "expires_at") " AS expires_at, state FROM (" JC_SQL_SESSIONS
                          ") s"
                          " WHERE $2::bool OR state = 'active' ORDER BY s.created DESC";
    const char *p[2] = {a->pos[0], admin_opt_value(a, "all") ? "true" : "false"};
    PGresult *r;
    int rc;

    if ((rc = id_arg(p[0])) || (rc = admin_db(ctx, 1)) || (rc = admin_snapshot(ctx)) ||
        (rc = principal_exists(ctx, p[0])))
        return admin_end_tx(ctx, rc);
    r = admin_query(ctx, sql, 2, p);
    if (!r)
        return admin_end_tx(ctx, ADMIN_SYSERR);
    admin_print_rows(ctx, r);
    PQclear(r);
    return admin_end_tx(ctx, ADMIN_OK);
}

static int cmd_revoke(admin_ctx *ctx, const admin_args *a)
{
    const char *id = a->pos[0], *family = admin_opt_value(a, "family");
    long families = 0, tokens = 0;
    char err[512];
    jc_pr_status st;
    int rc;

    if ((rc = id_arg(id)))
        return rc;
    if (family && !jc_id_text_valid(family))
        return admin_fail(ADMIN_REFUSED,
                          "--family must be a session id (a UUID, as `user sessions` shows)");
    if ((rc = admin_db(ctx, 1)) || (rc = admin_exec(ctx, "BEGIN")) ||
        (rc = principal_exists(ctx, id)))
        return admin_end_tx(ctx, rc);
    st = jc_sessions_revoke(ctx->db, id, family, NULL, ctx->cfg.clock_skew_s, &families, &tokens,
                            err, sizeof err);
    rc = admin_end_tx(ctx, admin_pr_exit(st, err));
    if (rc)
        return rc;
    if (ctx->json) {
        putchar('{');
        admin_json_kv(stdout, 1, "id", id);
        printf(",\"sessions_revoked\":%ld,\"access_tokens_revoked\":%ld}\n", families, tokens);
    } else
        printf("%s: %ld session%s revoked, with %ld access token%s\n", id, families,
               families == 1 ? "" : "s", tokens, tokens == 1 ? "" : "s");
    return ADMIN_OK;
}

static const admin_cmd commands[] = {
    {"user",
     "sessions",
     "<id> [--all]",
     "List a principal's sessions (password logins and their refreshes).",
     "One line per refresh-token family: its id, when it was created (the login), last\n"
     "used (its latest refresh, else the login), the client's address at the login and\n"
     "at the latest refresh, when its refresh token expires, and its state. Only the\n"
     "active ones unless --all (also expired, revoked and ended ones, kept until a day\n"
     "after they expire).",
     1,
     {{"all", NULL, "also the sessions that are no longer active"}},
     cmd_sessions},
    {"user",
     "revoke-sessions",
     "<id> [--family ID]",
     "End a principal's sessions, or one of them, with their access tokens.",
     "Revokes the refresh tokens of every session of the principal (or only of the\n"
     "session --family, an id `user sessions` shows) and every access token issued\n"
     "from them, at once on every coordinator. Tokens obtained with client\n"
     "credentials are not sessions: `user end-sessions` ends those too.",
     1,
     {{"family", "ID", "only this session"}},
     cmd_revoke},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_sessions_commands(void)
{
    return commands;
}
