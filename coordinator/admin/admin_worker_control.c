/*
 * admin_worker_control.c - `jobcoord-admin worker drain|undrain|config|
 * events`: what an operator tells a worker, and what the worker reported
 * that belongs to no job.
 *
 * A change is one transaction: the worker's row is read under FOR UPDATE and
 * changed by a compare-and-set on what was read, and the command that tells
 * the worker is a row of the outbox (commands) followed by NOTIFY
 * jobcoord_outbox; the coordinator's relay sends it after the commit and
 * re-sends it until the worker acknowledges it.
 *
 * Settings are stored per worker (worker_settings); every change bumps
 * workers.desired_config_version and sends the whole set with that version,
 * so a worker that missed a command catches up with the next one. The
 * version the worker applied comes back in its heartbeats
 * (workers.config_version).
 */
#include "admin.h"
#include "jobs/workerstate.h"
#include "jobs/jobwrite.h"
#include "core/json_out.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SETTING_KEY_MAX 64
#define SETTING_VALUE_MAX 1024
#define EVENTS_LIMIT_DEFAULT "100"
#define EVENTS_LIMIT_MAX 10000L
#define SINCE_MAX 315360000L /* ten years of seconds */

static const char *const event_levels[] = {"debug", "info", "warn", "error"};

/* The columns lock_worker reads. */
enum { COL_STATUS, COL_DRAIN, COL_DESIRED };

/* lock_worker starts the transaction and reads the worker's row under FOR
 * UPDATE into *w (caller PQclears). Returns an exit code; the transaction
 * stays open in every case (admin_end_tx closes it). */
static int lock_worker(admin_ctx *ctx, const char *id, PGresult **w)
{
    return admin_lock_row(ctx,
                          "SELECT status, drain_requested, desired_config_version FROM workers"
                          " WHERE id = $1 FOR UPDATE",
                          id, "worker", w);
}

/* run_cas runs a compare-and-set statement; refuses when no row matched. */
static int run_cas(admin_ctx *ctx, const char *sql, int nparams, const char *const *params,
                   PGresult **out)
{
    PGresult *r = admin_query(ctx, sql, nparams, params);

    if (!r)
        return ADMIN_SYSERR;
    if (strcmp(PQcmdTuples(r), "1") != 0) {
        PQclear(r);
        return admin_fail(ADMIN_REFUSED, "worker '%s' changed meanwhile; try again", params[0]);
    }
    if (out)
        *out = r;
    else
        PQclear(r);
    return ADMIN_OK;
}

/* notify_relay wakes the coordinator's outbox relay (delivered at commit). */
static int notify_relay(admin_ctx *ctx)
{
    return admin_exec(ctx, "NOTIFY " JC_OUTBOX_CHANNEL);
}

/* set_drain sets or clears the worker's drain flag and sends it a drain or
 * undrain command. A worker already in the asked state is left alone. */
static int set_drain(admin_ctx *ctx, const admin_args *a, int drain)
{
    const char *id = a->pos[0], *kind = drain ? "drain" : "undrain";
    const char *status, *new_status;
    PGresult *w = NULL, *cmd = NULL;
    int rc, requested, changed;

    rc = lock_worker(ctx, id, &w);
    if (rc)
        goto out;
    status = PQgetvalue(w, 0, COL_STATUS);
    requested = PQgetvalue(w, 0, COL_DRAIN)[0] == 't';
    /* the worker status table says where the flag takes the status */
    new_status = jc_worker_status_name(
        jc_worker_next(jc_worker_status_parse(status), drain ? WI_DRAIN : WI_UNDRAIN));
    changed = drain ? !requested : requested || strcmp(status, JC_WORKER_DRAINING) == 0;
    if (!changed)
        new_status = status;
    if (changed) {
        const char *p[5] = {id, status, requested ? "t" : "f", drain ? "t" : "f", new_status};
        const char *c[2] = {kind, id};

        rc = run_cas(ctx,
                     "UPDATE workers SET drain_requested = $4::boolean, status = $5,"
                     " status_changed_at = CASE WHEN status = $5 THEN status_changed_at"
                     "  ELSE now() END"
                     " WHERE id = $1 AND status = $2 AND drain_requested = $3::boolean",
                     5, p, NULL);
        if (rc)
            goto out;
        cmd = admin_query(ctx,
                          "INSERT INTO commands (id, kind, recipient)"
                          " VALUES (gen_random_uuid(), $1, $2) RETURNING id",
                          2, c);
        if (!cmd) {
            rc = ADMIN_SYSERR;
            goto out;
        }
        rc = notify_relay(ctx);
        if (rc)
            goto out;
    }
    rc = admin_end_tx(ctx, ADMIN_OK);
    if (rc)
        goto out;
    if (ctx->json) {
        admin_json_print(json_pack("{s:s,s:b,s:s,s:b,s:s?}", "id", id, "drain_requested", drain,
                                   "status", new_status, "changed", changed, "command_id",
                                   cmd ? PQgetvalue(cmd, 0, 0) : NULL));
    } else if (changed) {
        printf("worker %s: %s requested (status %s -> %s)\nqueued %s command %s for %s\n", id,
               kind, status, new_status, kind, PQgetvalue(cmd, 0, 0), id);
    } else {
        printf("worker %s: %s already requested; nothing sent\n", id, kind);
    }
out:
    rc = admin_end_tx(ctx, rc);
    PQclear(w);
    PQclear(cmd);
    return rc;
}

static int cmd_worker_drain(admin_ctx *ctx, const admin_args *a)
{
    return set_drain(ctx, a, 1);
}

static int cmd_worker_undrain(admin_ctx *ctx, const admin_args *a)
{
    return set_drain(ctx, a, 0);
}

/* setting_key_valid tells whether key is a setting name: 1-64 of
 * A-Z a-z 0-9 . _ : @ - (the alphabet of principal ids). */
static int setting_key_valid(const char *key, size_t len)
{
    static const char extra[] = "._:@-";

    if (len == 0 || len > SETTING_KEY_MAX)
        return 0;
    for (size_t i = 0; i < len; i++) {
        char ch = key[i];
        int alnum = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
                    (ch >= '0' && ch <= '9');
        if (!alnum && (ch == '\0' || !strchr(extra, ch)))
            return 0;
    }
    return 1;
}

/* A setting change of `worker config`: value NULL removes key. */
typedef struct setting_change {
    char key[SETTING_KEY_MAX + 1];
    const char *value;
} setting_change;

/* parse_changes reads the --set and --unset options, in order, into ch.
 * Returns an exit code. */
static int parse_changes(const admin_args *a, setting_change *ch, int *n)
{
    *n = 0;
    for (int i = 0; i < a->ngiven; i++) {
        const char *opt = a->cmd->opts[a->given[i].opt].name, *v = a->given[i].value;
        int set = strcmp(opt, "set") == 0;
        const char *eq = set ? strchr(v, '=') : NULL;
        size_t len = eq ? (size_t)(eq - v) : strlen(v);

        if (set && !eq)
            return admin_usage(a, "--set needs KEY=VALUE, not '%s'", v);
        if (!setting_key_valid(v, len))
            return admin_fail(ADMIN_REFUSED,
                              "invalid setting name '%.*s' (1-64 of A-Z a-z 0-9 . _ : @ -)",
                              (int)len, v);
        if (set && !admin_text_valid(eq + 1, SETTING_VALUE_MAX))
            return admin_fail(ADMIN_REFUSED,
                              "the value of setting '%.*s' must be at most %d bytes of UTF-8",
                              (int)len, v, SETTING_VALUE_MAX);
        memcpy(ch[*n].key, v, len);
        ch[*n].key[len] = '\0';
        ch[*n].value = set ? eq + 1 : NULL;
        (*n)++;
    }
    return ADMIN_OK;
}

/* read_config reads the worker's versions (*w, no row if unknown) and its
 * settings (*s). Returns an exit code; the caller PQclears both. */
static int read_config(admin_ctx *ctx, const char *id, PGresult **w, PGresult **s)
{
    *w = admin_query(ctx,
                     "SELECT desired_config_version, config_version FROM workers WHERE id = $1",
                     1, &id);
    *s = admin_query(ctx,
                     "SELECT key, value, " ADMIN_TS("updated_at") " AS updated_at"
                     " FROM worker_settings WHERE worker_id = $1 ORDER BY key",
                     1, &id);
    return *w && *s ? ADMIN_OK : ADMIN_SYSERR;
}

/* print_config shows what read_config read, and the command just queued
 * (NULL for none). */
static void print_config(const admin_ctx *ctx, const char *id, const PGresult *w,
                         const PGresult *s, const char *cmd_id)
{
    const char *applied = PQgetisnull(w, 0, 1) ? NULL : PQgetvalue(w, 0, 1);

    if (ctx->json) {
        json_t *settings = json_object();
        json_t *doc =
            json_pack("{s:s,s:I,s:o}", "id", id, "desired_config_version",
                      (json_int_t)strtoll(PQgetvalue(w, 0, 0), NULL, 10), "config_version",
                      applied ? json_integer(strtoll(applied, NULL, 10)) : json_null());
        for (int i = 0; settings && i < PQntuples(s); i++)
            if (json_object_set_new(settings, PQgetvalue(s, i, 0),
                                    jc_json_text(PQgetvalue(s, i, 1))) != 0) {
                json_decref(settings);
                settings = NULL;
            }
        /* | and not ||: settings is taken whatever happens */
        if ((cmd_id && json_object_set_new(doc, "command_id", json_string(cmd_id)) != 0) |
            (json_object_set_new(doc, "settings", settings) != 0)) {
            json_decref(doc);
            doc = NULL;
        }
        admin_json_print(doc);
        return;
    }
    admin_print_field(stdout, 22, "worker", id);
    admin_print_field(stdout, 22, "desired_config_version", PQgetvalue(w, 0, 0));
    admin_print_field(stdout, 22, "config_version", applied ? applied : "-");
    if (cmd_id)
        admin_print_field(stdout, 22, "command", cmd_id);
    printf("settings:\n");
    admin_print_result(stdout, s);
}

/* apply_changes bumps the desired version (compare-and-set on the version
 * read), applies the changes and queues the config command with the whole
 * resulting set. The command id goes to cmd_id. */
static int apply_changes(admin_ctx *ctx, const char *id, const PGresult *w,
                         const setting_change *ch, int n, char *cmd_id, size_t cmd_id_size)
{
    const char *p[3] = {id, PQgetvalue(w, 0, COL_DESIRED), NULL};
    PGresult *r = NULL;
    char version[32];
    int rc;

    rc = run_cas(ctx,
                 "UPDATE workers SET desired_config_version = desired_config_version + 1"
                 " WHERE id = $1 AND desired_config_version = $2::bigint"
                 " RETURNING desired_config_version",
                 2, p, &r);
    if (rc)
        return rc;
    snprintf(version, sizeof version, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    for (int i = 0; i < n; i++) {
        p[1] = ch[i].key;
        p[2] = ch[i].value;
        r = ch[i].value ? admin_query(ctx,
                                      "INSERT INTO worker_settings (worker_id, key, value)"
                                      " VALUES ($1, $2, $3) ON CONFLICT (worker_id, key)"
                                      " DO UPDATE SET value = excluded.value, updated_at = now()",
                                      3, p)
                        : admin_query(ctx,
                                      "DELETE FROM worker_settings"
                                      " WHERE worker_id = $1 AND key = $2",
                                      2, p);
        if (!r)
            return ADMIN_SYSERR;
        PQclear(r);
    }
    p[1] = version;
    r = admin_query(ctx,
                    "INSERT INTO commands (id, kind, recipient, config_version, settings)"
                    " SELECT gen_random_uuid(), 'config', $1, $2::bigint,"
                    "  coalesce((SELECT array_agg(t.kv ORDER BY s.key, t.ord)"
                    "   FROM worker_settings s, LATERAL (VALUES (1, s.key), (2, s.value))"
                    "   AS t(ord, kv) WHERE s.worker_id = $1), '{}')"
                    " RETURNING id",
                    2, p);
    if (!r)
        return ADMIN_SYSERR;
    snprintf(cmd_id, cmd_id_size, "%s", PQgetvalue(r, 0, 0));
    PQclear(r);
    return notify_relay(ctx);
}

/* cmd_worker_config shows a worker's settings, or changes them and sends
 * the new set. */
static int cmd_worker_config(admin_ctx *ctx, const admin_args *a)
{
    setting_change ch[ADMIN_MAX_GIVEN];
    const char *id = a->pos[0];
    PGresult *w = NULL, *settings = NULL, *versions = NULL;
    char cmd_id[64];
    int n, rc;

    rc = parse_changes(a, ch, &n);
    if (rc)
        return rc;
    if (n == 0) {
        rc = admin_db(ctx, 1);
        if (rc)
            return rc;
        rc = admin_snapshot(ctx);
        if (!rc)
            rc = read_config(ctx, id, &versions, &settings);
        if (!rc && PQntuples(versions) == 0)
            rc = admin_fail(ADMIN_REFUSED, "no worker '%s'", id);
        if (!rc)
            print_config(ctx, id, versions, settings, NULL);
        goto out;
    }
    rc = lock_worker(ctx, id, &w);
    if (rc)
        goto out;
    rc = apply_changes(ctx, id, w, ch, n, cmd_id, sizeof cmd_id);
    if (rc)
        goto out;
    rc = read_config(ctx, id, &versions, &settings);
    if (rc)
        goto out;
    rc = admin_end_tx(ctx, ADMIN_OK);
    if (!rc)
        print_config(ctx, id, versions, settings, cmd_id);
out:
    rc = admin_end_tx(ctx, rc);
    PQclear(w);
    PQclear(versions);
    PQclear(settings);
    return rc;
}

/* admin_since_arg (admin.h): `worker events --since` and `audit list
 * --since`. */
int admin_since_arg(admin_ctx *ctx, const char *text, char *out, size_t out_size)
{
    int seconds = *text && strspn(text, "0123456789") == strlen(text);
    long n;
    PGresult *r;
    int rc = ADMIN_OK;

    if (seconds && admin_parse_long("--since", text, 0, SINCE_MAX, &n))
        return ADMIN_REFUSED;
    if (!admin_text_valid(text, 64))
        return admin_fail(ADMIN_REFUSED,
                          "--since must be a timestamp (2026-01-15T10:00:00Z)"
                          " or a number of seconds");
    r = PQexecParams(ctx->db,
                     seconds ? "SELECT now() - $1::bigint * interval '1 s'"
                             : "SELECT $1::timestamptz",
                     1, NULL, &text, NULL, NULL, 0);
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        snprintf(out, out_size, "%s", PQgetvalue(r, 0, 0));
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        /* class 22, data exception: the text is no timestamp */
        rc = state && strncmp(state, "22", 2) == 0
                 ? admin_fail(ADMIN_REFUSED,
                              "--since must be a timestamp (2026-01-15T10:00:00Z) or a number "
                              "of seconds, not '%s'",
                              text)
                 : admin_fail(ADMIN_SYSERR, "%s", PQerrorMessage(ctx->db));
    }
    PQclear(r);
    return rc;
}

/* The events of a worker: $1 worker, $2 since, $3 minimum level, $4 limit;
 * the newest $4, printed oldest first. */
#define EVENTS_FROM                                                                            \
    " FROM (SELECT * FROM worker_events WHERE worker_id = $1"                                  \
    "  AND ($2::timestamptz IS NULL OR received_at >= $2::timestamptz)"                        \
    "  AND ($3::text IS NULL OR array_position(ARRAY['debug', 'info', 'warn', 'error'], level)" \
    "   >= array_position(ARRAY['debug', 'info', 'warn', 'error'], $3::text))"                 \
    "  ORDER BY id DESC LIMIT $4::integer) e ORDER BY id"

static const char events_text_sql[] =
    "SELECT id, " ADMIN_TS_MS("received_at") " AS received_at,"
    " " ADMIN_TS_MS("sent_at") " AS sent_at, level, kind, " ADMIN_ONE_LINE("text") " AS text,"
    " " ADMIN_ONE_LINE("array_to_string(ARRAY(SELECT m.k || '=' || coalesce(m.v, '')"
                       " FROM unnest(meta_keys, meta_values) AS m(k, v) WHERE m.k IS NOT NULL),"
                       " ' ')") " AS meta" EVENTS_FROM;

static const char events_json_sql[] =
    "SELECT id, " ADMIN_TS_MS("received_at") " AS received_at,"
    " " ADMIN_TS_MS("sent_at") " AS sent_at, level, kind, text,"
    " (SELECT coalesce(json_object_agg(m.k, m.v), '{}') FROM unnest(meta_keys, meta_values)"
    "  AS m(k, v) WHERE m.k IS NOT NULL) AS meta" EVENTS_FROM;

/* cmd_worker_events prints the events a worker reported. */
static int cmd_worker_events(admin_ctx *ctx, const admin_args *a)
{
    const char *since = admin_opt_value(a, "since"), *level = admin_opt_value(a, "level");
    const char *limit = admin_opt_value(a, "limit");
    const char *p[4] = {a->pos[0], NULL, level, limit ? limit : EVENTS_LIMIT_DEFAULT};
    char since_ts[64];
    PGresult *known = NULL, *r = NULL;
    size_t l, n_levels = sizeof event_levels / sizeof event_levels[0];
    long n;
    int rc;

    for (l = 0; level && l < n_levels; l++) {
        if (strcmp(level, event_levels[l]) == 0)
            break;
    }
    if (level && l == n_levels)
        return admin_fail(ADMIN_REFUSED, "unknown level '%s' (debug, info, warn or error)", level);
    if (limit && admin_parse_long("--limit", limit, 1, EVENTS_LIMIT_MAX, &n))
        return ADMIN_REFUSED;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    if (since) {
        rc = admin_since_arg(ctx, since, since_ts, sizeof since_ts);
        if (rc)
            return rc;
        p[1] = since_ts;
    }
    rc = admin_snapshot(ctx);
    if (rc)
        return rc;
    rc = ADMIN_SYSERR;
    known = admin_query(ctx,
                        "SELECT EXISTS (SELECT 1 FROM principals WHERE id = $1)"
                        " OR EXISTS (SELECT 1 FROM worker_events WHERE worker_id = $1)",
                        1, p);
    if (!known)
        goto out;
    if (PQgetvalue(known, 0, 0)[0] != 't') {
        rc = admin_fail(ADMIN_REFUSED, "no worker '%s'", a->pos[0]);
        goto out;
    }
    r = admin_query(ctx, ctx->json ? events_json_sql : events_text_sql, 4, p);
    if (!r)
        goto out;
    admin_print_rows(ctx, r);
    rc = ADMIN_OK;
out:
    PQclear(known);
    PQclear(r);
    return rc;
}

static const admin_cmd worker_control_commands[] = {
    {"worker", "drain", "<id>", "Ask a worker to take no new jobs.",
     "Sets the worker's drain flag (status online becomes draining) and sends it a drain\n"
     "command; the scheduler assigns it nothing more, and the jobs it holds run to\n"
     "their end. Nothing is sent if a drain was already requested.",
     1, {{NULL, NULL, NULL}}, cmd_worker_drain},
    {"worker", "undrain", "<id>", "Let a drained worker take jobs again.",
     "Clears the drain flag (status draining becomes online) and sends an undrain\n"
     "command. Nothing is sent if the worker is neither drain-requested nor draining.",
     1, {{NULL, NULL, NULL}}, cmd_worker_undrain},
    {"worker", "config", "<id> [--set KEY=VALUE]... [--unset KEY]...",
     "Show a worker's settings, or change them and send them.",
     "Without --set or --unset, shows the stored settings with the desired version and\n"
     "the version the worker last reported applying. Otherwise, in order, stores or\n"
     "removes each setting, bumps the desired version and sends the worker a config\n"
     "command with that version and the whole set. Names are 1-64 of\n"
     "A-Z a-z 0-9 . _ : @ -, values at most 1024 bytes of UTF-8. A global --set must\n"
     "come before the command words here.",
     1,
     {{"set", "KEY=VALUE", "store a setting (repeatable)"},
      {"unset", "KEY", "remove a setting (repeatable)"}},
     cmd_worker_config},
    {"worker", "events", "<id> [--since T] [--level L] [--limit N]",
     "Show the events a worker reported (disk.low, ...), newest last.",
     "Columns: id, when received and sent, level, kind, text, and the metadata as\n"
     "key=value pairs (an object with --json).",
     1,
     {{"since", "T", "received since T: an ISO 8601 time, or a number of seconds ago"},
      {"level", "L", "at least this level: debug < info < warn < error"},
      {"limit", "N", "the last N events, 1..10000 (default 100)"}},
     cmd_worker_events},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_worker_control_commands(void)
{
    return worker_control_commands;
}
