/*
 * db.h - PostgreSQL connections (libpq) and schema migrations.
 *
 * Each thread owns its connection; nothing here is shared between threads.
 * Migrations are the files schemas/sql/NNN_name.sql, embedded in the binary
 * at build time, applied in order under an advisory lock, each in its own
 * transaction with its version recorded in jc_schema_migrations, so running
 * them again (or from two processes at once) is a no-op.
 */
#ifndef JC_DB_H
#define JC_DB_H

#include <stddef.h>

#include <libpq-fe.h>

/* jc_db_connect opens a connection; NULL with errstr on failure. */
PGconn *jc_db_connect(const char *conninfo, char *errstr, size_t errstr_size);

/* jc_db_exec runs a statement without parameters expecting no rows (or
 * rows it ignores). Returns 0, or -1 with errstr. */
int jc_db_exec(PGconn *c, const char *sql, char *errstr, size_t errstr_size);

/* jc_db_ok tells whether r is a success (COMMAND_OK or TUPLES_OK); on
 * failure it copies the server's message into errstr. Does not clear r. */
int jc_db_ok(PGconn *c, const PGresult *r, char *errstr, size_t errstr_size);

/* jc_db_migrate applies pending migrations. *applied gets how many ran
 * (may be NULL). Returns 0, or -1 with errstr. */
int jc_db_migrate(PGconn *c, int *applied, char *errstr, size_t errstr_size);

/* jc_db_schema_version returns the highest applied migration, 0 if none,
 * -1 on error. */
int jc_db_schema_version(PGconn *c);

/* jc_db_latest_version returns the highest migration built into the binary. */
int jc_db_latest_version(void);

#endif
