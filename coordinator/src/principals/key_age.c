/*
 * key_age.c - counting the keys near or past auth.max_key_age_s for the
 * status views (see key_age.h).
 */
#include "principals/key_age.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"

long jc_key_age_window(const jc_config *cfg)
{
    if (cfg->max_key_age_s <= 0)
        return 0;
    return cfg->key_age_warn_s > 0 ? cfg->key_age_warn_s : cfg->max_key_age_s / 10;
}

int jc_key_age_count(PGconn *db, const jc_config *cfg, jc_key_age_counts *out, char *errstr,
                     size_t errstr_size)
{
    static const char sql[] =
        "WITH k AS (SELECT principal_id, key_id, " JC_SQL_KEY_AGE_END("pk", "$1::int") " AS ends,"
        "                  " JC_SQL_KEY_AGING("pk", "$1::int", "$2::int") " AS aging,"
        "                  " JC_SQL_KEY_AGED("pk", "$1::int") " AS aged"
        "             FROM principal_keys pk WHERE $1::int > 0)"
        " SELECT (SELECT count(*) FROM k WHERE aging), (SELECT count(*) FROM k WHERE aged),"
        "        f.principal_id, f.key_id,"
        "        to_char(f.ends AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
        "   FROM (SELECT 1) one"
        "   LEFT JOIN (SELECT * FROM k WHERE aging OR aged ORDER BY ends, principal_id, key_id"
        "              LIMIT 1) f ON true";
    char max[16], warn[16];
    const char *params[2] = {max, warn};
    PGresult *r;
    int rc = -1;

    memset(out, 0, sizeof *out);
    if (cfg->max_key_age_s <= 0)
        return 0;
    snprintf(max, sizeof max, "%d", cfg->max_key_age_s);
    snprintf(warn, sizeof warn, "%ld", jc_key_age_window(cfg));
    r = PQexecParams(db, sql, 2, NULL, params, NULL, NULL, 0);
    if (jc_db_ok(db, r, errstr, errstr_size) && PQntuples(r) == 1) {
        out->aging = atol(PQgetvalue(r, 0, 0));
        out->aged = atol(PQgetvalue(r, 0, 1));
        snprintf(out->first_principal, sizeof out->first_principal, "%s", PQgetvalue(r, 0, 2));
        snprintf(out->first_key, sizeof out->first_key, "%s", PQgetvalue(r, 0, 3));
        snprintf(out->first_at, sizeof out->first_at, "%s", PQgetvalue(r, 0, 4));
        rc = 0;
    }
    PQclear(r);
    return rc;
}

int jc_key_age_warning(const jc_config *cfg, const jc_key_age_counts *c, char *out, size_t n)
{
    if (c->aging == 0 && c->aged == 0)
        return 0;
    snprintf(out, n,
             "HMAC keys and auth.max_key_age_s (%d s): %ld key%s reach%s it within %ld s, %ld"
             " current key%s past it (refused: rotate with jobcoord-admin user rotate-key);"
             " first: key '%s' of '%s' at %s",
             cfg->max_key_age_s, c->aging, c->aging == 1 ? "" : "s", c->aging == 1 ? "es" : "",
             jc_key_age_window(cfg), c->aged, c->aged == 1 ? " is" : "s are", c->first_key,
             c->first_principal, c->first_at);
    return 1;
}
