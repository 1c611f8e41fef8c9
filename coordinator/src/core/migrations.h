/* migrations.h - the SQL migrations built into the binary (generated from
 * schemas/sql/NNN_name.sql by cmake/embed_sql.cmake). */
#ifndef JC_MIGRATIONS_H
#define JC_MIGRATIONS_H

#include <stddef.h>

typedef struct jc_migration {
    int version;
    const char *name;
    const char *sql;
} jc_migration;

extern const jc_migration jc_migrations[];
extern const size_t jc_migrations_count;

#endif
