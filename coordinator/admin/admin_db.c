/*
 * admin_db.c - the database side every jobcoord-admin command shares: the
 * connection (with the schema version check), transactions, snapshots,
 * locking the row a command changes, the keyring of secrets at rest, and
 * the operator's name recorded with what a command changes.
 */
#include "admin.h"

#include <ctype.h>
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "core/db.h"

int admin_db(admin_ctx *ctx, int check_schema)
{
    char err[512];
    int have, want;

    if (!ctx->db) {
        ctx->db = jc_db_connect(ctx->cfg.db_conninfo, err, sizeof err);
        if (!ctx->db)
            return admin_fail(ADMIN_SYSERR, "%s", err);
        if (jc_db_exec(ctx->db, "SET application_name = 'jobcoord-admin'", err, sizeof err) != 0)
            return admin_fail(ADMIN_SYSERR, "%s", err);
    }
    if (!check_schema)
        return ADMIN_OK;
    have = jc_db_schema_version(ctx->db);
    want = jc_db_latest_version();
    if (have < 0)
        return admin_fail(ADMIN_SYSERR, "cannot read the schema version: %s",
                          PQerrorMessage(ctx->db));
    if (have < want)
        return admin_fail(ADMIN_SYSERR,
                          "the database schema is at version %d, this jobcoord-admin needs %d: "
                          "run jobcoord-admin db migrate",
                          have, want);
    if (have > want)
        fprintf(stderr,
                "jobcoord-admin: warning: the database schema (version %d) is newer than this "
                "jobcoord-admin knows (%d)\n",
                have, want);
    return ADMIN_OK;
}

int admin_exec(admin_ctx *ctx, const char *sql)
{
    char err[512];

    if (jc_db_exec(ctx->db, sql, err, sizeof err) != 0)
        return admin_fail(ADMIN_SYSERR, "%s", err);
    return ADMIN_OK;
}

int admin_end_tx(admin_ctx *ctx, int rc)
{
    if (!ctx->db || PQtransactionStatus(ctx->db) == PQTRANS_IDLE)
        return rc;
    if (rc == ADMIN_OK)
        return admin_exec(ctx, "COMMIT");
    admin_exec(ctx, "ROLLBACK");
    return rc;
}

int admin_snapshot(admin_ctx *ctx)
{
    return admin_exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY");
}

int admin_keyring(admin_ctx *ctx, const char *default_id)
{
    char err[512];

    if (ctx->kr)
        return ADMIN_OK;
    ctx->kr = jc_keyring_load(ctx->cfg.keys_file, default_id ? default_id
                              : ctx->cfg.encryption_key_id, err, sizeof err);
    if (!ctx->kr)
        return admin_fail(ADMIN_SYSERR, "%s", err);
    jc_keyring_allow_plaintext(ctx->kr, ctx->cfg.allow_plaintext);
    return ADMIN_OK;
}

int admin_db_keyring(admin_ctx *ctx)
{
    int rc = admin_db(ctx, 1);

    if (rc)
        return rc;
    return admin_keyring(ctx, NULL);
}

int admin_lock_row(admin_ctx *ctx, const char *sql, const char *id, const char *what,
                   PGresult **row)
{
    int rc;

    *row = NULL;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    rc = admin_exec(ctx, "BEGIN");
    if (rc)
        return rc;
    *row = admin_query(ctx, sql, 1, &id);
    if (!*row)
        return ADMIN_SYSERR;
    if (PQntuples(*row) == 0)
        return admin_fail(ADMIN_REFUSED, "no %s '%s'", what, id);
    return ADMIN_OK;
}

const char *admin_operator(void)
{
    static char name[300];
    char host[256] = "";
    struct passwd *pw;

    if (name[0])
        return name;
    pw = getpwuid(geteuid());
    if (gethostname(host, sizeof host - 1) != 0 || !host[0])
        snprintf(host, sizeof host, "unknown-host");
    if (pw && pw->pw_name && pw->pw_name[0])
        snprintf(name, sizeof name, "%.64s@%.200s", pw->pw_name, host);
    else
        snprintf(name, sizeof name, "uid%ld@%.200s", (long)geteuid(), host);
    return name;
}
