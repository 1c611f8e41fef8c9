/*
 * admin_worker.c - `jobcoord-admin worker ...` and `status`: read-only views
 * of the fleet and of the coordinator, straight from the tables the daemon
 * writes (workers, heartbeats, rejections, consumer_offsets,
 * coordinator_instances, jobs, commands).
 *
 * Each command reads in one REPEATABLE READ snapshot (admin_snapshot), so
 * the numbers it prints belong together. The commands that change workers
 * are in admin_worker_control.c. Output is generated from the query results (see
 * admin_output.c), so a column added to a query shows up in text and JSON
 * alike.
 */
#include "admin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/db.h"
#include "core/json_out.h"
#include "kafka/kconf.h"
#include "jobs/workerstate.h"
#include "jobs/cmdstate.h"
#include "principals/key_age.h"
#include "secrets/sealed_columns.h"

#define WINDOW_MAX 31536000L
#define STATUS_WINDOW_DEFAULT 300L
#define STATUS_RECENT_JOBS "10"

/* window_arg validates --window; *text stays NULL when it is not given. */
static int window_arg(const admin_args *a, const char **text)
{
    long w;

    *text = admin_opt_value(a, "window");
    if (!*text)
        return ADMIN_OK;
    return admin_parse_long("--window", *text, 1, WINDOW_MAX, &w);
}

/* cmd_worker_list lists workers, optionally only those seen recently; old
 * offline records (JC_SQL_WORKER_HIDDEN, workerstate.h) only with --all. */
static int cmd_worker_list(admin_ctx *ctx, const admin_args *a)
{
    const char *window = NULL, *params[2];
    PGresult *r = NULL, *hidden = NULL;
    int rc, all = admin_opt_value(a, "all") != NULL;

    rc = window_arg(a, &window);
    if (rc)
        return rc;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    rc = admin_snapshot(ctx);
    if (rc)
        return rc;
    params[0] = window;
    params[1] = all ? "t" : "f";
    r = admin_query(ctx,
                    "SELECT id, status, capabilities, slots, running_jobs AS running, version,"
                    " host, " ADMIN_TS("last_seen_at") " AS last_seen_at,"
                    " extract(epoch FROM now() - last_seen_at)::bigint AS seen_s_ago,"
                    " unacked_assigns AS unacked,"
                    " CASE WHEN held_back_since IS NULL THEN 'no' ELSE 'yes' END AS held_back"
                    " FROM workers"
                    " WHERE ($1::bigint IS NULL OR last_seen_at >= now() - $1::bigint * interval '1 s')"
                    "   AND ($2::boolean OR NOT " JC_SQL_WORKER_HIDDEN("workers") ")"
                    " ORDER BY id",
                    2, params);
    if (!r)
        return ADMIN_SYSERR;
    hidden = admin_query(ctx,
                         "SELECT count(*) FROM workers WHERE NOT $2::boolean"
                         " AND " JC_SQL_WORKER_HIDDEN("workers")
                         " AND ($1::bigint IS NULL"
                         "      OR last_seen_at >= now() - $1::bigint * interval '1 s')",
                         2, params);
    if (!hidden) {
        PQclear(r);
        return ADMIN_SYSERR;
    }
    admin_print_rows(ctx, r);
    if (!ctx->json && strcmp(PQgetvalue(hidden, 0, 0), "0") != 0)
        printf(
            "(%s offline worker%s not seen for more than a day not listed: --all lists them;"
            " worker delete removes a record)\n",
            PQgetvalue(hidden, 0, 0), strcmp(PQgetvalue(hidden, 0, 0), "1") == 0 ? "" : "s");
    PQclear(r);
    PQclear(hidden);
    return ADMIN_OK;
}

/* cmd_worker_show prints a worker's row and its last 10 heartbeats. */
static int cmd_worker_show(admin_ctx *ctx, const admin_args *a)
{
    PGresult *w = NULL, *hb = NULL;
    int rc;

    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    rc = admin_snapshot(ctx);
    if (rc)
        return rc;
    rc = ADMIN_SYSERR;
    w = admin_query(ctx,
                    "SELECT id, status, capabilities, slots, running_jobs, version, host,"
                    " uptime_s, config_version, heartbeat_seq,"
                    " " ADMIN_TS("first_seen_at") " AS first_seen_at,"
                    " last_heartbeat_ts_ms,"
                    " " ADMIN_TS("last_seen_at") " AS last_seen_at,"
                    " extract(epoch FROM now() - last_seen_at)::bigint AS seen_s_ago,"
                    " " ADMIN_TS("status_changed_at") " AS status_changed_at,"
                    " unacked_assigns, " ADMIN_TS("held_back_since") " AS held_back_since,"
                    " CASE WHEN held_back_since IS NOT NULL THEN unacked_assigns"
                    "   || ' assigns in a row were not acknowledged: no job is given to this"
                    " worker until it acknowledges a command, proves a new key or restarts'"
                    " END AS held_back_reason,"
                    " (SELECT reply_key_id FROM principals p WHERE p.id = workers.id)"
                    "   AS signs_with_key"
                    " FROM workers WHERE id = $1",
                    1, &a->pos[0]);
    if (!w)
        goto out;
    if (PQntuples(w) == 0) {
        rc = admin_fail(ADMIN_REFUSED, "no worker '%s'", a->pos[0]);
        goto out;
    }
    hb = admin_query(ctx,
                     "SELECT msg_id, seq, " ADMIN_TS("sent_at") " AS sent_at,"
                     " " ADMIN_TS("received_at") " AS received_at,"
                     " slots, running_jobs, kafka_partition, kafka_offset"
                     " FROM heartbeats WHERE worker_id = $1"
                     " ORDER BY sent_at DESC, seq DESC LIMIT 10",
                     1, &a->pos[0]);
    if (!hb)
        goto out;
    if (ctx->json) {
        if (admin_json_print_row_with(w, "heartbeats", hb) != ADMIN_OK)
            goto out;
    } else {
        admin_print_record(stdout, w, 0);
        printf("\nlast heartbeats:\n");
        admin_print_result(stdout, hb);
    }
    rc = ADMIN_OK;
out:
    PQclear(w);
    PQclear(hb);
    return rc;
}

/* print_counts prints "name n, name n" from a two-column result. */
static void print_counts(const PGresult *r)
{
    for (int i = 0; i < PQntuples(r); i++)
        printf("%s%s %s", i ? ", " : "", PQgetvalue(r, i, 0), PQgetvalue(r, i, 1));
    fputs("\n", stdout);
}

/* json_counts returns {"name":n} from a two-column result, or NULL when it
 * cannot be made. */
static json_t *json_counts(const PGresult *r)
{
    json_t *o = json_object();

    for (int i = 0; o && i < PQntuples(r); i++)
        if (json_object_set_new(o, PQgetvalue(r, i, 0),
                                json_integer(strtoll(PQgetvalue(r, i, 1), NULL, 10))) != 0) {
            json_decref(o);
            o = NULL;
        }
    return o;
}

/* The count lines of `status`: label, JSON name, and a query that counts
 * every possible value (zeros included, in the order of the list). */
static const struct {
    const char *label, *json_name, *sql;
} status_counts[] = {
    {"workers", "workers",
     "SELECT s.v, count(w.id) FROM unnest(ARRAY[" JC_SQL_WORKER_STATUSES "])"
     " WITH ORDINALITY AS s(v, n) LEFT JOIN workers w ON w.status = s.v"
     " GROUP BY s.v, s.n ORDER BY s.n"},
    {"principals", "principals",
     "SELECT s.v, count(p.id) FROM unnest(ARRAY['client', 'worker', 'admin', 'reader'])"
     " WITH ORDINALITY AS s(v, n) LEFT JOIN principals p ON p.role = s.v"
     " GROUP BY s.v, s.n ORDER BY s.n"},
    {"jobs", "jobs",
     "SELECT s.v, coalesce(sum(c.n), 0)"
     "  FROM unnest(ARRAY['pending', 'assigned', 'running', 'succeeded',"
     " 'failed', 'canceling', 'canceled']) WITH ORDINALITY AS s(v, n)"
     " LEFT JOIN state_counts c ON c.tbl = 'jobs' AND c.state = s.v"
     " GROUP BY s.v, s.n ORDER BY s.n"},
    {"commands", "commands",
     "SELECT s.v, coalesce(sum(c.n), 0) FROM unnest(ARRAY[" JC_SQL_CMD_STATUSES "])"
     " WITH ORDINALITY AS s(v, n) LEFT JOIN state_counts c ON c.tbl = 'commands' AND c.state = s.v"
     " GROUP BY s.v, s.n ORDER BY s.n"},
};

/* The sections of `status` that are plain listings: title, JSON name, query. */
static const struct {
    const char *title, *json_name, *sql;
} status_lists[] = {
    {"Rejected messages", "rejections",
     "SELECT topic, reason, count, " ADMIN_TS("last_at") " AS last_at, last_detail"
     " FROM rejections ORDER BY topic, reason"},
    {"Consumer offsets", "consumer_offsets",
     "SELECT consumer_group, topic, kpartition AS partition, next_offset,"
     " " ADMIN_TS("updated_at") " AS updated_at, cluster_id,"
     " " ADMIN_TS("reset_at") " AS reset_at, reset_reason, lost_records,"
     " " ADMIN_TS("lost_at") " AS lost_at"
     " FROM consumer_offsets ORDER BY consumer_group, topic, kpartition"},
    {"Coordinator instances", "coordinator_instances",
     "SELECT id, host, pid, version, " ADMIN_TS("started_at") " AS started_at,"
     " " ADMIN_TS("last_seen_at") " AS last_seen_at,"
     " extract(epoch FROM now() - last_seen_at)::bigint AS seen_s_ago,"
     " " ADMIN_TS("caught_up_at") " AS caught_up_at"
     " FROM coordinator_instances ORDER BY id"},
};

/* The window's part of `status` ($1: the window in seconds): jobs created
 * in it by state (every state, zeros included), and the newest of them. */
static const char window_jobs_sql[] =
    "SELECT s.v, count(j.id) FROM unnest(ARRAY['pending', 'assigned', 'running', 'succeeded',"
    " 'failed', 'canceling', 'canceled']) WITH ORDINALITY AS s(v, n)"
    " LEFT JOIN jobs j ON j.state = s.v AND j.created_at >= now() - $1::bigint * interval '1 s'"
    " GROUP BY s.v, s.n ORDER BY s.n";
static const char recent_jobs_sql[] =
    "SELECT id, type, state, submitter, worker_id AS worker,"
    " " ADMIN_TS("created_at") " AS created_at, " ADMIN_TS("updated_at") " AS updated_at"
    " FROM jobs WHERE created_at >= now() - $1::bigint * interval '1 s'"
    " ORDER BY created_at DESC, id DESC LIMIT " STATUS_RECENT_JOBS;

/* print_window prints the jobs created within the window (counts, then the
 * newest), or with --json adds them to doc; returns an exit code. */
static int print_window(admin_ctx *ctx, const char *window, json_t *doc)
{
    PGresult *r = admin_query(ctx, window_jobs_sql, 1, &window);
    int rc = ADMIN_OK;

    if (!r)
        return ADMIN_SYSERR;
    if (ctx->json) {
        if (json_object_set_new(doc, "jobs_in_window", json_counts(r)) != 0)
            rc = admin_fail(ADMIN_SYSERR, "out of memory writing JSON");
    } else {
        printf("jobs created in it  ");
        print_counts(r);
    }
    PQclear(r);
    if (rc)
        return rc;
    r = admin_query(ctx, recent_jobs_sql, 1, &window);
    if (!r)
        return ADMIN_SYSERR;
    if (ctx->json) {
        if (json_object_set_new(doc, "recent_jobs", admin_json_result(r)) != 0)
            rc = admin_fail(ADMIN_SYSERR, "out of memory writing JSON");
    } else {
        printf("\nRecent jobs (the newest " STATUS_RECENT_JOBS " created in the last %s s):\n",
               window);
        admin_print_result(stdout, r);
    }
    PQclear(r);
    return rc;
}

/* cmd_status summarizes the installation from one snapshot. */
static int cmd_status(admin_ctx *ctx, const admin_args *a)
{
    const char *window_text = admin_opt_value(a, "window");
    char window[24];
    long window_s = STATUS_WINDOW_DEFAULT;
    PGresult *hb = NULL, *r = NULL;
    json_t *doc = NULL;
    int rc, version, latest = jc_db_latest_version();

    if (window_text && admin_parse_duration("--window", window_text, WINDOW_MAX, &window_s))
        return ADMIN_REFUSED;
    snprintf(window, sizeof window, "%ld", window_s);
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    version = jc_db_schema_version(ctx->db);
    rc = admin_snapshot(ctx);
    if (rc)
        return rc;
    rc = ADMIN_SYSERR;
    hb = admin_query(ctx,
                     "SELECT count(*) FROM heartbeats"
                     " WHERE received_at >= now() - $1::bigint * interval '1 s'",
                     1, (const char *const[]){window});
    if (!hb)
        goto out;
    if (ctx->json)
        doc = json_pack("{s:i,s:i,s:[]}", "schema_version", version, "latest_schema_version",
                        latest, "warnings");
    else
        printf("schema version      %d (this program: %d)\n", version, latest);
    {
        /* judged from the configuration this program shares with the daemon */
        char why[512], ages_why[512], plain_why[512], err[256];
        int warn = jc_kafka_auth_warning(&ctx->cfg, why, sizeof why), ages_warn, plain_warn;
        jc_key_age_counts ages;

        if (jc_key_age_count(ctx->db, &ctx->cfg, &ages, err, sizeof err) != 0) {
            admin_fail(ADMIN_SYSERR, "%s", err);
            goto out;
        }
        ages_warn = jc_key_age_warning(&ctx->cfg, &ages, ages_why, sizeof ages_why);
        plain_warn =
            jc_secret_plain_warning(ctx->db,
                                    ctx->cfg.keys_file && *ctx->cfg.keys_file &&
                                        ctx->cfg.encryption_key_id && *ctx->cfg.encryption_key_id,
                                    ctx->cfg.allow_plaintext, plain_why, sizeof plain_why, err,
                                    sizeof err);
        if (plain_warn < 0) {
            admin_fail(ADMIN_SYSERR, "%s", err);
            goto out;
        }
        if (ctx->json) {
            json_t *warnings = json_object_get(doc, "warnings");
            if ((warn && json_array_append_new(warnings, jc_json_text(why)) != 0) ||
                (ages_warn && json_array_append_new(warnings, jc_json_text(ages_why)) != 0) ||
                (plain_warn && json_array_append_new(warnings, jc_json_text(plain_why)) != 0))
                goto nomem;
        } else {
            if (warn)
                printf("warning             %s\n", why);
            if (ages_warn)
                printf("warning             %s\n", ages_why);
            if (plain_warn)
                printf("warning             %s\n", plain_why);
        }
    }
    for (size_t i = 0; i < sizeof status_counts / sizeof status_counts[0]; i++) {
        r = admin_query(ctx, status_counts[i].sql, 0, NULL);
        if (!r)
            goto out;
        if (ctx->json) {
            if (json_object_set_new(doc, status_counts[i].json_name, json_counts(r)) != 0)
                goto nomem;
        } else {
            printf("%-20s", status_counts[i].label);
            print_counts(r);
        }
        PQclear(r);
        r = NULL;
    }
    if (ctx->json) {
        if (json_object_set_new(doc, "window_s", json_integer(strtoll(window, NULL, 10))) != 0 ||
            json_object_set_new(doc, "heartbeats_applied",
                                json_integer(strtoll(PQgetvalue(hb, 0, 0), NULL, 10))) != 0)
            goto nomem;
    } else {
        printf("heartbeats applied  %s in the last %s s\n", PQgetvalue(hb, 0, 0), window);
    }
    rc = print_window(ctx, window, doc);
    if (rc)
        goto out;
    rc = ADMIN_SYSERR;
    for (size_t i = 0; i < sizeof status_lists / sizeof status_lists[0]; i++) {
        r = admin_query(ctx, status_lists[i].sql, 0, NULL);
        if (!r)
            goto out;
        if (ctx->json) {
            if (json_object_set_new(doc, status_lists[i].json_name, admin_json_result(r)) != 0)
                goto nomem;
        } else {
            printf("\n%s:\n", status_lists[i].title);
            admin_print_result(stdout, r);
        }
        PQclear(r);
        r = NULL;
    }
    rc = ctx->json ? admin_json_print(doc) : ADMIN_OK;
    doc = NULL; /* taken */
    goto out;
nomem:
    rc = admin_fail(ADMIN_SYSERR, "out of memory writing JSON");
out:
    json_decref(doc);
    PQclear(hb);
    PQclear(r);
    return rc;
}

#define WINDOW_OPT(what) {"window", "SECONDS", what}

static const admin_cmd worker_commands[] = {
    {"worker",
     "list",
     "[--window SECONDS] [--all]",
     "List workers.",
     "Columns: id, status, capabilities, slots, running jobs, version, host, when the\n"
     "coordinator last applied a heartbeat from it (and how many seconds ago).\n"
     "Offline workers not seen for more than a day are left out (a line says how\n"
     "many) unless --all; worker delete removes such a record for good.",
     0,
     {WINDOW_OPT("only workers seen within the last SECONDS"),
      {"all", NULL, "also offline workers not seen for more than a day"}},
     cmd_worker_list},
    {"worker",
     "show",
     "<id>",
     "Show a worker and its last 10 heartbeats.",
     NULL,
     1,
     {{NULL, NULL, NULL}},
     cmd_worker_show},
    {NULL,
     "status",
     "[--window DURATION]",
     "Show the state of the installation.",
     "Schema version, workers by status, principals by role, jobs by state, commands\n"
     "(the outbox) by status; then, over the window: heartbeats applied, the jobs\n"
     "created in it by state and the newest " STATUS_RECENT_JOBS " of them; then rejected\n"
     "messages by topic and reason, consumer offsets stored in PostgreSQL, and the\n"
     "coordinator instances. DURATION: seconds, or a number with s, m, h or d (300,\n"
     "5m, 2h, 1d).",
     0,
     {{"window", "DURATION", "the window (default 300 s, at most 365 d)"}},
     cmd_status},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_worker_commands(void)
{
    return worker_commands;
}
