/*
 * db.c - PostgreSQL connections and the migration runner.
 *
 * Migrations run under a transaction-scoped advisory lock so that several
 * coordinators starting at once (and `jobcoord-admin db migrate`) apply each
 * version exactly once; each migration and its jc_schema_migrations row
 * commit together.
 */
#include "core/db.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/migrations.h"

/* An arbitrary constant: the advisory lock key of the migration runner. */
#define JC_MIGRATE_LOCK 0x6a6f62636f6f7264LL

// on_notice sends the server's notices (NOTICE, WARNING) to our log rather
// than to stderr unformatted.
static void on_notice(void *arg, const char *message)
{
    char line[1024];
    (void)arg;
    snprintf(line, sizeof line, "%s", message);
    line[strcspn(line, "\n")] = '\0';
    LOG_DEBUG("db", "server: %s", line);
}

PGconn *jc_db_connect(const char *conninfo, char *errstr, size_t errstr_size)
{
    PGconn *c = PQconnectdb(conninfo);
    if (!c) {
        snprintf(errstr, errstr_size, "out of memory connecting to PostgreSQL");
        return NULL;
    }
    if (PQstatus(c) != CONNECTION_OK) {
        snprintf(errstr, errstr_size, "cannot connect to PostgreSQL: %s", PQerrorMessage(c));
        /* libpq messages end with a newline */
        errstr[strcspn(errstr, "\n")] = '\0';
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, on_notice, NULL);
    return c;
}

int jc_db_ok(PGconn *c, const PGresult *r, char *errstr, size_t errstr_size)
{
    ExecStatusType st = r ? PQresultStatus(r) : PGRES_FATAL_ERROR;
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_COPY_IN)
        return 1;
    snprintf(errstr, errstr_size, "%s", r ? PQresultErrorMessage(r) : PQerrorMessage(c));
    errstr[strcspn(errstr, "\n")] = '\0';
    return 0;
}

int jc_db_exec(PGconn *c, const char *sql, char *errstr, size_t errstr_size)
{
    PGresult *r = PQexec(c, sql);
    int ok = jc_db_ok(c, r, errstr, errstr_size);
    PQclear(r);
    return ok ? 0 : -1;
}

static const char create_table_sql[] =
    "CREATE TABLE IF NOT EXISTS jc_schema_migrations ("
    " version integer PRIMARY KEY,"
    " name text NOT NULL,"
    " applied_at timestamptz NOT NULL DEFAULT now())";

int jc_db_schema_version(PGconn *c)
{
    PGresult *r = PQexec(c, "SELECT coalesce(max(version), 0) FROM jc_schema_migrations");
    int v = -1;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1)
        v = atoi(PQgetvalue(r, 0, 0));
    else if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && strcmp(state, "42P01") == 0) /* undefined_table: nothing applied */
            v = 0;
    }
    PQclear(r);
    return v;
}

int jc_db_latest_version(void)
{
    int v = 0;
    for (size_t i = 0; i < jc_migrations_count; i++)
        if (jc_migrations[i].version > v)
            v = jc_migrations[i].version;
    return v;
}

// apply_one applies migration m unless it is already recorded. Returns 1 if
// it ran, 0 if it was already there, -1 on error (rolled back).
static int apply_one(PGconn *c, const jc_migration *m, char *errstr, size_t errstr_size)
{
    char lock_sql[96], ver[16];
    const char *params[2];
    PGresult *r = NULL;
    int rc = -1;

    if (jc_db_exec(c, "BEGIN", errstr, errstr_size) != 0)
        return -1;
    snprintf(lock_sql, sizeof lock_sql, "SELECT pg_advisory_xact_lock(%lld)", JC_MIGRATE_LOCK);
    if (jc_db_exec(c, lock_sql, errstr, errstr_size) != 0 ||
        jc_db_exec(c, create_table_sql, errstr, errstr_size) != 0)
        goto out;

    snprintf(ver, sizeof ver, "%d", m->version);
    params[0] = ver;
    params[1] = m->name;
    r = PQexecParams(c, "SELECT 1 FROM jc_schema_migrations WHERE version = $1::int", 1, NULL,
                     params, NULL, NULL, 0);
    if (!jc_db_ok(c, r, errstr, errstr_size))
        goto out;
    if (PQntuples(r) == 1) {
        rc = 0;
        goto out;
    }
    PQclear(r);
    r = NULL;
    if (jc_db_exec(c, m->sql, errstr, errstr_size) != 0) {
        char inner[512];
        snprintf(inner, sizeof inner, "%s", errstr);
        snprintf(errstr, errstr_size, "migration %s: %s", m->name, inner);
        goto out;
    }
    r = PQexecParams(c, "INSERT INTO jc_schema_migrations (version, name) VALUES ($1::int, $2)",
                     2, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(c, r, errstr, errstr_size))
        goto out;
    rc = 1;
out:
    PQclear(r);
    if (rc < 0) {
        char ignored[64];
        jc_db_exec(c, "ROLLBACK", ignored, sizeof ignored);
    } else if (jc_db_exec(c, "COMMIT", errstr, errstr_size) != 0) {
        rc = -1;
    }
    return rc;
}

int jc_db_migrate(PGconn *c, int *applied, char *errstr, size_t errstr_size)
{
    int n = 0;
    if (applied)
        *applied = 0;
    for (size_t i = 0; i < jc_migrations_count; i++) {
        int rc = apply_one(c, &jc_migrations[i], errstr, errstr_size);
        if (rc < 0)
            return -1;
        n += rc;
    }
    if (applied)
        *applied = n;
    return 0;
}
