/*
 * http_metrics.c - GET /metrics: Prometheus text exposition format 0.0.4.
 *
 * This instance's own metrics come from the registry (metrics.c) and the
 * runtime atomics; the fleet's gauges (jobs, workers, outbox rows,
 * rejections of all instances, HMAC keys near or past auth.max_key_age_s)
 * are read from PostgreSQL in one statement,
 * so a scrape costs one round trip. When PostgreSQL cannot be reached the
 * instance's metrics are still served, with jobcoord_fleet_metrics_ok 0.
 */
#include <string.h>

#include "http/http_int.h"
#include "http/token_throttle.h"
#include "jobs/jobstate.h"
#include "core/metrics.h"
#include "principals/key_age.h"

static const char *const job_states[] = {"pending",   "assigned", "running",  "succeeded",
                                         "failed",    "canceling", "canceled"};
static const char *const worker_statuses[] = {"online", "offline", "draining"};
static const char *const command_statuses[] = {"pending", "sent", "acked", "failed", "done"};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* (family, label, label2, value) rows; label2 is '' except for rejections. */
static const char fleet_sql[] =
    /* jobs by state, commands by status: state_counts (migration 027) */
    "SELECT tbl, state, '', sum(n)::bigint FROM state_counts GROUP BY tbl, state"
    " UNION ALL SELECT 'workers', status, '', count(*) FROM workers GROUP BY status"
    " UNION ALL SELECT 'held_back', '', '', count(*) FROM workers"
    "            WHERE held_back_since IS NOT NULL"
    " UNION ALL SELECT 'unschedulable', '', '', count(*) FROM jobs j WHERE " JC_SQL_NO_WORKER("j")
    " UNION ALL SELECT 'keys_aging', '', '', count(*) FROM principal_keys pk"
    "            WHERE " JC_SQL_KEY_AGING("pk", "$1::int", "$2::int")
    " UNION ALL SELECT 'keys_aged', '', '', count(*) FROM principal_keys pk"
    "            WHERE " JC_SQL_KEY_AGED("pk", "$1::int")
    " UNION ALL SELECT 'rejections', topic, reason, count FROM rejections"
    " ORDER BY 1, 2, 3";

// fleet_value returns the count of (family, label) in r, "0" when absent.
static const char *fleet_value(const PGresult *r, const char *family, const char *label)
{
    for (int i = 0; i < PQntuples(r); i++)
        if (strcmp(PQgetvalue(r, i, 0), family) == 0 && strcmp(PQgetvalue(r, i, 1), label) == 0)
            return PQgetvalue(r, i, 3);
    return "0";
}

// fleet_gauge renders one family with every label value of a fixed list.
static void fleet_gauge(jc_buf *b, const PGresult *r, const char *family, const char *name,
                        const char *help, const char *label, const char *const *values,
                        size_t n)
{
    jc_metrics_family(b, name, "gauge", help);
    for (size_t i = 0; i < n; i++)
        jc_buf_printf(b, "%s{%s=\"%s\"} %s\n", name, label, values[i],
                      fleet_value(r, family, values[i]));
}

static void render_fleet(jc_buf *b, PGresult *r)
{
    fleet_gauge(b, r, "jobs", "jobcoord_jobs", "Jobs by state (all instances).", "state",
                job_states, N_OF(job_states));
    fleet_gauge(b, r, "workers", "jobcoord_workers", "Workers by status.", "status",
                worker_statuses, N_OF(worker_statuses));
    jc_metrics_family(b, "jobcoord_workers_held_back", "gauge",
                      "Workers the scheduler skips because they left jobs.unacked_assign_limit"
                      " assigns in a row unacknowledged.");
    jc_buf_printf(b, "jobcoord_workers_held_back %s\n", fleet_value(r, "held_back", ""));
    fleet_gauge(b, r, "commands", "jobcoord_commands", "Outbox rows by status.", "status",
                command_statuses, N_OF(command_statuses));
    jc_metrics_family(b, "jobcoord_jobs_unschedulable", "gauge",
                      "Pending jobs whose type no online worker advertises (" JC_WAITING_NO_WORKER
                      ").");
    jc_buf_printf(b, "jobcoord_jobs_unschedulable %s\n", fleet_value(r, "unschedulable", ""));
    jc_metrics_family(b, "jobcoord_keys_near_max_age", "gauge",
                      "HMAC keys still accepted that reach auth.max_key_age_s within"
                      " auth.key_age_warn_s (0 when no maximum age is set).");
    jc_buf_printf(b, "jobcoord_keys_near_max_age %s\n", fleet_value(r, "keys_aging", ""));
    jc_metrics_family(b, "jobcoord_keys_past_max_age", "gauge",
                      "Current HMAC keys older than auth.max_key_age_s: refused, rotate them.");
    jc_buf_printf(b, "jobcoord_keys_past_max_age %s\n", fleet_value(r, "keys_aged", ""));
    jc_metrics_family(b, "jobcoord_rejections", "gauge",
                      "Rejected messages (all instances) by topic and reason.");
    for (int i = 0; i < PQntuples(r); i++) {
        if (strcmp(PQgetvalue(r, i, 0), "rejections") != 0)
            continue;
        jc_buf_addstr(b, "jobcoord_rejections{topic=\"");
        jc_metrics_label(b, PQgetvalue(r, i, 1));
        jc_buf_addstr(b, "\",reason=\"");
        jc_metrics_label(b, PQgetvalue(r, i, 2));
        jc_buf_printf(b, "\"} %s\n", PQgetvalue(r, i, 3));
    }
}

enum MHD_Result jc_http_metrics(jc_req *r)
{
    jc_buf b;
    PGconn *db = jc_http_db(r->h);
    PGresult *res = NULL;
    enum MHD_Result ret;
    int fleet_ok = 0;

    jc_buf_init(&b, 4u << 20);
    jc_metrics_render(&b, jc_http_runtime(r->h));
    {
        long open, cut;
        int busy;

        jc_conns_counts(jc_http_conns(r->h), &open, &cut, &busy);
        jc_metrics_family(&b, "jobcoord_http_connections_open", "gauge",
                          "HTTP connections open now (of http.max_connections).");
        jc_buf_printf(&b, "jobcoord_http_connections_open %ld\n", open);
        jc_metrics_family(&b, "jobcoord_http_busy_deadline", "gauge",
                          "1 while 3/4 of http.max_connections are open and requests must"
                          " arrive within http.busy_request_deadline_ms, else 0.");
        jc_buf_printf(&b, "jobcoord_http_busy_deadline %d\n", busy);
        jc_metrics_family(&b, "jobcoord_http_requests_cut_total", "counter",
                          "Connections cut because their request did not arrive whole within"
                          " its deadline (slow senders).");
        jc_buf_printf(&b, "jobcoord_http_requests_cut_total %ld\n", cut);
    }
    if (db) {
        const jc_config *cfg = jc_http_config(r->h);
        char max_age[16], warn[16];
        const char *params[2] = {max_age, warn};

        snprintf(max_age, sizeof max_age, "%d", cfg->max_key_age_s);
        snprintf(warn, sizeof warn, "%ld", jc_key_age_window(cfg));
        res = PQexecParams(db, fleet_sql, 2, NULL, params, NULL, NULL, 0);
        fleet_ok = PQresultStatus(res) == PGRES_TUPLES_OK;
        if (fleet_ok)
            render_fleet(&b, res);
        PQclear(res);
    }
    jc_metrics_family(&b, "jobcoord_token_throttled_total", "counter",
                      "POST /v1/token requests refused (429) by the per-address throttle.");
    jc_buf_printf(&b, "jobcoord_token_throttled_total %llu\n",
                  (unsigned long long)jc_token_throttled_total());
    jc_metrics_family(&b, "jobcoord_fleet_metrics_ok", "gauge",
                      "1 when the fleet gauges above could be read from PostgreSQL.");
    jc_buf_printf(&b, "jobcoord_fleet_metrics_ok %d\n", fleet_ok);
    if (b.failed)
        ret = jc_reply_error(r, 500, "internal", "the metrics do not fit in %zu bytes", b.max);
    else
        ret = jc_reply(r, 200, "text/plain; version=0.0.4; charset=utf-8", jc_buf_str(&b), b.len);
    jc_buf_free(&b);
    return ret;
}
