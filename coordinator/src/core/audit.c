/*
 * audit.c - appending to the audit trail and pruning it (see audit.h; the
 * table and its append-only trigger: migration 022). Shared by the admin
 * CLI and the daemon through jccore.
 */
#include "core/audit.h"

#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Every action the trail may hold; docs/operations.md lists them too. */
static const char *const actions[] = {
    /* jobcoord-admin (admin_audit.c), one per command that writes */
    "db.migrate",                  /* db migrate */
    "user.add",                    /* user add */
    "user.delete",                 /* user delete */
    "user.rotate-key",             /* user rotate-key */
    "user.set",                    /* user set */
    "user.update",                 /* user update */
    "user.disable",                /* user disable */
    "user.enable",                 /* user enable */
    "user.end-sessions",           /* user end-sessions */
    "user.set-password",           /* user set-password */
    "user.unlock",                 /* user unlock */
    "user.totp.enable",            /* user totp enable */
    "user.totp.disable",           /* user totp disable */
    "user.totp.confirm",           /* user totp confirm */
    "user.revoke-sessions",        /* user revoke-sessions */
    "security.re-encrypt",         /* security re-encrypt */
    "security.rotate-signing-key", /* security rotate-signing-key */
    "job.cancel",                  /* job cancel */
    "job.retry",                   /* job retry */
    "job.delete",                  /* job delete */
    "job.purge",                   /* job purge (--dry-run too) */
    "command.resend",              /* command resend */
    "worker.drain",                /* worker drain */
    "worker.undrain",              /* worker undrain */
    "worker.config",               /* worker config */
    "worker.delete",               /* worker delete */
    /* the HTTP surface */
    "auth.login.password", /* password grant */
    "auth.login.client",   /* client_credentials grant */
    "auth.refresh",        /* refresh_token grant */
    "auth.revoke",         /* POST /v1/revoke (a refresh token's family, or an access token) */
    "auth.family-revoked", /* a rotated refresh token used again: its family revoked */
    "me.password",         /* POST /v1/me/password */
    "me.totp",             /* POST /v1/me/totp */
};
#define N_ACTIONS (sizeof actions / sizeof actions[0])

const char *const *jc_audit_actions(size_t *n)
{
    if (n)
        *n = N_ACTIONS;
    return actions;
}

int jc_audit_action_known(const char *action)
{
    for (size_t i = 0; action && i < N_ACTIONS; i++)
        if (strcmp(actions[i], action) == 0)
            return 1;
    return 0;
}

const char *jc_audit_outcome_name(jc_audit_outcome o)
{
    return o == JC_AUDIT_OK ? "ok" : o == JC_AUDIT_REFUSED ? "refused" : "error";
}

/* cut copies at most max bytes of s into out (max + 1 bytes), ending at a
 * UTF-8 character boundary, and replaces control characters by spaces. */
static void cut(const char *s, char *out, size_t max)
{
    size_t n = s ? strlen(s) : 0;
    if (n > max) {
        n = max;
        while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
            n--;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
    out[n] = '\0';
}

int jc_audit_record(PGconn *db, const jc_audit_entry *e, char *err, size_t err_size)
{
    static const char sql[] =
        "INSERT INTO audit_log (actor_kind, actor, action, target, outcome,"
        " address, detail) VALUES ($1, $2, $3, $4, $5, $6, $7)";
    char actor[JC_AUDIT_ACTOR_MAX + 1], target[JC_AUDIT_TARGET_MAX + 1];
    char detail[JC_AUDIT_DETAIL_MAX + 1], address[65];
    const char *params[7];
    PGresult *r;
    int ok;

    if (!jc_audit_action_known(e->action)) {
        snprintf(err, err_size, "audit: unknown action '%.64s'", e->action ? e->action : "");
        return -1;
    }
    cut(e->actor && e->actor[0] ? e->actor : "?", actor, JC_AUDIT_ACTOR_MAX);
    cut(e->target, target, JC_AUDIT_TARGET_MAX);
    cut(e->detail, detail, JC_AUDIT_DETAIL_MAX);
    cut(e->address, address, 64);
    params[0] = e->actor_kind;
    params[1] = actor;
    params[2] = e->action;
    params[3] = target;
    params[4] = jc_audit_outcome_name(e->outcome);
    params[5] = e->address ? address : NULL;
    params[6] = detail;
    r = PQexecParams(db, sql, 7, NULL, params, NULL, NULL, 0);
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    if (!ok)
        snprintf(err, err_size, "audit: %s", PQresultErrorMessage(r));
    PQclear(r);
    return ok ? 0 : -1;
}

void jc_audit_cli_actor(char *out, size_t out_size)
{
    char host[256] = "";
    const char *user = NULL;
    struct passwd *pw = getpwuid(geteuid());

    if (pw && pw->pw_name)
        user = pw->pw_name;
    if (!user)
        user = getenv("USER");
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "unknown-host");
    if (user)
        snprintf(out, out_size, "%s@%s", user, host);
    else
        snprintf(out, out_size, "uid%ld@%s", (long)geteuid(), host);
}

int jc_audit_prune(PGconn *db, int retention_s, long *deleted, char *err, size_t err_size)
{
    static const char sql[] =
        "DELETE FROM audit_log WHERE at < now() - make_interval(secs => $1::int)";
    char secs[16];
    const char *params[1] = {secs};
    PGresult *r;
    int ok;

    *deleted = 0;
    if (retention_s <= 0)
        return 0;
    snprintf(secs, sizeof secs, "%d", retention_s);
    r = PQexec(db, "BEGIN; SET LOCAL jobcoord.audit_prune = 'on'");
    ok = PQresultStatus(r) == PGRES_COMMAND_OK;
    PQclear(r);
    if (ok) {
        r = PQexecParams(db, sql, 1, NULL, params, NULL, NULL, 0);
        ok = PQresultStatus(r) == PGRES_COMMAND_OK;
        if (ok)
            *deleted = atol(PQcmdTuples(r));
        else
            snprintf(err, err_size, "audit prune: %s", PQresultErrorMessage(r));
        PQclear(r);
    } else {
        snprintf(err, err_size, "audit prune: %s", PQerrorMessage(db));
    }
    r = PQexec(db, ok ? "COMMIT" : "ROLLBACK");
    if (ok && PQresultStatus(r) != PGRES_COMMAND_OK) {
        snprintf(err, err_size, "audit prune: %s", PQresultErrorMessage(r));
        ok = 0;
    }
    PQclear(r);
    return ok ? 0 : -1;
}
