/*
 * http_status.c - the read-only status API: /v1/status, /v1/workers,
 * /v1/workers/{id}, /v1/jobs, /v1/jobs/{id}, /v1/jobs/{id}/events and
 * /v1/jobs/stats (the contract: docs/http-api.md).
 *
 * Every handler authenticates the bearer token first, then checks the
 * query: an unknown, repeated or empty parameter, a malformed value or a
 * number out of range answers 400 naming the parameter, before any SQL.
 * Visibility is applied in SQL: admin and reader see everything; a client
 * only the jobs it submitted, and no workers or status (403); a worker only
 * itself and the jobs it holds (jobs.worker_id). What a caller may not see
 * answers exactly like what does not exist (404), so ids cannot be probed.
 * All SQL is static text with parameters. Answers are bounded: job lists
 * by limit (1..500) and a cursor, job events by 1000, worker events by 50,
 * and each answer by its buffer's maximum.
 *
 * /v1/jobs pages newest first by (created_at, id). The cursor (made and read
 * in http_query.c) holds created_at and the id of the page's last job; the
 * next page starts strictly after that job, so a page never repeats or skips
 * a job because rows were added before it.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "http/http_int.h"
#include "jobcoord/jobcoord.h"
#include "jobs/jobstate.h"
#include "jobs/cmdstate.h"
#include "principals/key_age.h"
#include "jobs/jobstats.h"
#include "kafka/kconf.h"
#include "core/log.h"
#include "jcproto/proto.h"

#define ANSWER_MAX (32u << 20) /* a job's payload (1 MiB) in base64, 1000 events of 4 KiB */

/* ---- answers ---- */

// unavailable answers 503 when PostgreSQL cannot be reached.
static enum MHD_Result unavailable(jc_req *r)
{
    return jc_reply_error(r, 503, "unavailable", "PostgreSQL cannot be reached");
}

// sql_failed logs a failed statement and answers 500. Clears res.
static enum MHD_Result sql_failed(jc_req *r, PGconn *db, PGresult *res, const char *what)
{
    LOG_ERROR("http", "%s %s: %s: %s", r->method, r->route ? r->route : r->path, what,
              res ? PQresultErrorMessage(res) : PQerrorMessage(db));
    PQclear(res);
    return jc_reply_error(r, 500, "internal", "the query failed");
}

// reply_buf answers 200 with b, or 500 when b overflowed its maximum, and
// frees b.
static enum MHD_Result reply_buf(jc_req *r, jc_buf *b)
{
    enum MHD_Result ret;

    if (b->failed)
        ret = jc_reply_error(r, 500, "internal", "the answer is larger than %zu bytes", b->max);
    else
        ret = jc_reply_json(r, 200, b);
    jc_buf_free(b);
    return ret;
}

/* ---- who sees what ---- */

// scope_or_reply sets the visibility filters of the caller: *submitter for
// a client, *worker for a worker, neither for admin and reader. Answers 403
// and returns -1 for any other role, or when clients are not served here.
static int scope_or_reply(jc_req *r, int clients_allowed, const char **submitter,
                          const char **worker, enum MHD_Result *ret)
{
    *submitter = NULL;
    *worker = NULL;
    if (jc_caller_sees_all(&r->caller))
        return 0;
    if (strcmp(r->caller.role, "worker") == 0) {
        *worker = r->caller.sub;
        return 0;
    }
    if (clients_allowed && strcmp(r->caller.role, "client") == 0) {
        *submitter = r->caller.sub;
        return 0;
    }
    *ret = jc_reply_error(r, 403, "forbidden", "role '%s' may not read %s", r->caller.role,
                          r->route ? r->route : r->path);
    return -1;
}

// begin_or_reply authenticates, checks the query's parameter names and
// sets the caller's visibility filters (scope_or_reply). Returns 0, or -1
// after answering.
static int begin_or_reply(jc_req *r, const char *const *params, int clients_allowed,
                          const char **submitter, const char **worker, enum MHD_Result *ret)
{
    static const char *const none[] = {NULL};
    if (jc_req_authenticate(r, ret) != 0 ||
        jc_query_check_or_reply(r, params ? params : none, ret) != 0)
        return -1;
    return scope_or_reply(r, clients_allowed, submitter, worker, ret);
}

// db_or_reply returns this thread's connection, or NULL after answering 503.
// Called once the request is known to be valid, so that a bad request gets
// its 400 or 403 whatever the state of PostgreSQL.
static PGconn *db_or_reply(jc_req *r, enum MHD_Result *ret)
{
    PGconn *db = jc_http_db(r->h);
    if (!db)
        *ret = unavailable(r);
    return db;
}

// query_or_reply runs sql on this thread's connection and returns its rows,
// or NULL after answering 503 (no connection) or 500 (what failed).
static PGresult *query_or_reply(jc_req *r, const char *sql, int n, const char *const *params,
                                const char *what, enum MHD_Result *ret)
{
    PGconn *db = db_or_reply(r, ret);
    PGresult *res;

    if (!db)
        return NULL;
    res = PQexecParams(db, sql, n, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(res) != PGRES_TUPLES_OK) {
        *ret = sql_failed(r, db, res, what);
        return NULL;
    }
    return res;
}

/* ---- rows as JSON ---- */

typedef struct field {
    const char *name;
    char kind; /* as jc_json_pg */
} field;

// put_fields appends "name":value pairs from columns col0.. of row.
static void put_fields(jc_buf *b, const PGresult *res, int row, int col0, const field *f,
                       size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            jc_buf_addstr(b, ",");
        jc_json_str(b, f[i].name);
        jc_buf_addstr(b, ":");
        jc_json_pg(b, res, row, col0 + (int)i, f[i].kind);
    }
}

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

// put_rows appends rows 0..n-1 of res as objects of fields f, comma-separated.
static void put_rows(jc_buf *b, const PGresult *res, int n, const field *f, size_t nf)
{
    for (int row = 0; row < n; row++) {
        jc_buf_addstr(b, row ? ",{" : "{");
        put_fields(b, res, row, 0, f, nf);
        jc_buf_addstr(b, "}");
    }
}

#define JOB_COLS                                                                              \
    "j.id, j.type, j.state, j.submitter, j.worker_id, j.priority, j.attempt, j.max_attempts," \
    " j.progress, j.error, j.cancel_reason, j.ikey, " JC_SQL_TS("j.created_at") ","           \
    " " JC_SQL_TS("j.updated_at") ", " JC_SQL_TS("j.assigned_at") ","                         \
    " " JC_SQL_TS("j.started_at") ", " JC_SQL_TS("j.finished_at") ","                         \
    " " JC_SQL_TS("j.run_after") ", j.timeout_ms, " JC_SQL_WAITING("j")
static const field job_fields[] = {
    {"id", 's'},          {"type", 's'},          {"state", 's'},         {"submitter", 's'},
    {"worker", 's'},      {"priority", 'n'},      {"attempt", 'n'},       {"max_attempts", 'n'},
    {"progress", 'n'},    {"error", 's'},         {"cancel_reason", 's'}, {"idempotency_key", 's'},
    {"created_at", 's'},  {"updated_at", 's'},    {"assigned_at", 's'},   {"started_at", 's'},
    {"finished_at", 's'}, {"run_after", 's'},     {"timeout_ms", 'n'},   {"waiting_reason", 's'},
};
#define JOB_NCOLS ((int)N_OF(job_fields))

/* The visibility of a job row j: $1 the client's id, $2 the worker's id. */
#define JOB_VISIBLE "($1::text IS NULL OR j.submitter = $1) AND ($2::text IS NULL OR j.worker_id = $2)"

#define WORKER_COLS                                                                          \
    "w.id, w.status, w.capabilities, w.slots, w.running_jobs, w.version, w.host, w.uptime_s," \
    " w.config_version, w.drain_requested, " JC_SQL_TS("w.first_seen_at") ","               \
    " " JC_SQL_TS("w.last_seen_at") ", " JC_SQL_TS("w.status_changed_at") ","               \
    " w.unacked_assigns, " JC_SQL_TS("w.held_back_since") ","                                \
    " CASE WHEN w.held_back_since IS NOT NULL THEN w.unacked_assigns"                         \
    "      || ' assigns in a row were not acknowledged: no job is given to this worker until"  \
    " it acknowledges a command, proves a new key or restarts (does it hold its current"       \
    " key?)' END"
/* unacked_assigns, held_back_since, held_back_reason: holdback.h */
static const field worker_fields[] = {
    {"id", 's'},          {"status", 's'},          {"capabilities", 'a'},
    {"slots", 'n'},       {"running_jobs", 'n'},    {"version", 's'},
    {"host", 's'},        {"uptime_s", 'n'},        {"config_version", 'n'},
    {"drain_requested", 'b'}, {"first_seen_at", 's'}, {"last_seen_at", 's'},
    {"status_changed_at", 's'}, {"unacked_assigns", 'n'}, {"held_back_since", 's'},
    {"held_back_reason", 's'},
};

/* ---- GET /v1/status ---- */

static const char status_sql[] =
    /* jobs by state and commands by status: kept as the rows change
     * (state_counts, migration 027), flat whatever the history */
    "SELECT tbl, state, NULL::text, sum(n)::bigint, NULL::text FROM state_counts"
    "  GROUP BY tbl, state"
    " UNION ALL SELECT 'workers', status, NULL, count(*), NULL FROM workers GROUP BY status"
    " UNION ALL SELECT 'rejections', topic, reason, count, " JC_SQL_TS(
        "last_at") " FROM rejections ORDER BY 1, 2, 3";

// put_counts appends "group":{"label":n,...} with every label of a fixed list.
static void put_counts(jc_buf *b, const PGresult *res, const char *group,
                       const char *const *labels, size_t n)
{
    jc_json_str(b, group);
    jc_buf_addstr(b, ":{");
    for (size_t i = 0; i < n; i++) {
        const char *v = "0";
        for (int row = 0; row < PQntuples(res); row++)
            if (strcmp(PQgetvalue(res, row, 0), group) == 0 &&
                strcmp(PQgetvalue(res, row, 1), labels[i]) == 0)
                v = PQgetvalue(res, row, 3);
        jc_buf_printf(b, "%s\"%s\":%s", i ? "," : "", labels[i], v);
    }
    jc_buf_addstr(b, "}");
}

// record_time_json names what consumed records' timestamps are, for status.
static const char *record_time_json(int t)
{
    return t == JC_RECORD_TIME_LOG_APPEND ? "\"log_append_time\""
           : t == JC_RECORD_TIME_CREATE   ? "\"create_time\""
                                          : "null";
}

enum MHD_Result jc_http_status(jc_req *r)
{
    static const char *const workers[] = {JC_WORKER_ONLINE, JC_WORKER_OFFLINE, JC_WORKER_DRAINING};
    static const char *const jobs[] = {"pending",   "assigned",  "running", "succeeded",
                                       "failed",    "canceling", "canceled"};
    static const char *const commands[] = {JC_CMD_PENDING, JC_CMD_SENT, JC_CMD_ACKED, JC_CMD_FAILED,
                                           JC_CMD_DONE};
    const jc_runtime *rt = jc_http_runtime(r->h);
    const char *submitter, *worker;
    enum MHD_Result ret;
    PGresult *res;
    jc_buf b;
    int first = 1;

    if (begin_or_reply(r, NULL, 0, &submitter, &worker, &ret) != 0)
        return ret;
    if (worker) /* workers see themselves, not the fleet */
        return jc_reply_error(r, 403, "forbidden", "role 'worker' may not read /v1/status");
    res = query_or_reply(r, status_sql, 0, NULL, "status", &ret);
    if (!res)
        return ret;
    jc_buf_init(&b, ANSWER_MAX);
    jc_buf_addstr(&b, "{\"version\":");
    jc_json_str(&b, JC_VERSION_STR);
    jc_buf_addstr(&b, ",\"instance\":");
    jc_json_str(&b, rt->instance_id);
    jc_buf_printf(&b, ",\"uptime_s\":%lld,",
                  (long long)(((int64_t)jc_now_ms() - rt->started_at_ms) / 1000));
    put_counts(&b, res, "workers", workers, N_OF(workers));
    jc_buf_addstr(&b, ",");
    put_counts(&b, res, "jobs", jobs, N_OF(jobs));
    jc_buf_addstr(&b, ",");
    put_counts(&b, res, "commands", commands, N_OF(commands));
    jc_buf_printf(&b, ",\"ingest\":{\"assigned_partitions\":%d,\"caught_up\":%s,\"lag\":",
                  atomic_load(&rt->assigned_partitions),
                  atomic_load(&rt->caught_up_at_ms) ? "true" : "false");
    if (atomic_load(&rt->lag_at_ms))
        jc_buf_printf(&b, "%lld", (long long)atomic_load(&rt->lag_total));
    else
        jc_buf_addstr(&b, "null");
    jc_buf_printf(&b,
                  ",\"applied_total\":%llu,\"rejected_total\":%llu,\"position_resets\":%llu,"
                  "\"records_lost\":%llu,\"record_timestamps\":%s},\"rejections\":[",
                  (unsigned long long)atomic_load(&rt->applied),
                  (unsigned long long)atomic_load(&rt->rejected),
                  (unsigned long long)atomic_load(&rt->position_resets),
                  (unsigned long long)atomic_load(&rt->records_lost),
                  record_time_json(atomic_load(&rt->record_time)));
    for (int row = 0; row < PQntuples(res); row++) {
        if (strcmp(PQgetvalue(res, row, 0), "rejections") != 0)
            continue;
        jc_buf_addstr(&b, first ? "{\"topic\":" : ",{\"topic\":");
        first = 0;
        jc_json_pg(&b, res, row, 1, 's');
        jc_buf_addstr(&b, ",\"reason\":");
        jc_json_pg(&b, res, row, 2, 's');
        jc_buf_addstr(&b, ",\"count\":");
        jc_json_pg(&b, res, row, 3, 'n');
        jc_buf_addstr(&b, ",\"last_at\":");
        jc_json_pg(&b, res, row, 4, 's');
        jc_buf_addstr(&b, "}");
    }
    jc_buf_addstr(&b, "],\"warnings\":[");
    {
        const jc_config *cfg = jc_http_config(r->h);
        char why[512], err[256];
        jc_key_age_counts ages;
        int n_warn = 0;

        if (jc_kafka_auth_warning(cfg, why, sizeof why)) {
            jc_json_str(&b, why);
            n_warn++;
        }
        if (jc_key_age_count(jc_http_db(r->h), cfg, &ages, err, sizeof err) != 0) {
            PQclear(res);
            jc_buf_free(&b);
            LOG_ERROR("http", "GET /v1/status: key ages: %s", err);
            return jc_reply_error(r, 500, "internal", "the query failed");
        }
        if (jc_key_age_warning(cfg, &ages, why, sizeof why)) {
            if (n_warn++)
                jc_buf_addstr(&b, ",");
            jc_json_str(&b, why);
        }
    }
    jc_buf_addstr(&b, "]}");
    PQclear(res);
    return reply_buf(r, &b);
}

/* ---- GET /v1/workers, /v1/workers/{id} ---- */

enum MHD_Result jc_http_workers(jc_req *r)
{
    static const char sql[] = "SELECT " WORKER_COLS " FROM workers w"
                              " WHERE ($1::text IS NULL OR w.id = $1) ORDER BY w.id COLLATE \"C\"";
    const char *submitter, *worker;
    enum MHD_Result ret;
    PGresult *res;
    jc_buf b;

    if (begin_or_reply(r, NULL, 0, &submitter, &worker, &ret) != 0)
        return ret;
    res = query_or_reply(r, sql, 1, &worker, "workers", &ret);
    if (!res)
        return ret;
    jc_buf_init(&b, ANSWER_MAX);
    jc_buf_addstr(&b, "{\"workers\":[");
    put_rows(&b, res, PQntuples(res), worker_fields, N_OF(worker_fields));
    jc_buf_addstr(&b, "]}");
    PQclear(res);
    return reply_buf(r, &b);
}

// read_only_tx begins (sql "BEGIN ...") or ends ("COMMIT"/"ROLLBACK") the
// snapshot the worker's three reads share. Returns 0 or -1.
static int read_only_tx(PGconn *db, const char *sql)
{
    PGresult *res = PQexecParams(db, sql, 0, NULL, NULL, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok ? 0 : -1;
}

enum MHD_Result jc_http_worker(jc_req *r)
{
    static const char worker_sql[] = "SELECT " WORKER_COLS " FROM workers w WHERE w.id = $1";
    static const char jobs_sql[] =
        "SELECT " JOB_COLS " FROM jobs j WHERE j.worker_id = $1"
        " AND j.state IN ('assigned', 'running', 'canceling')"
        " ORDER BY j.created_at DESC, j.id DESC LIMIT 1000";
    static const char events_sql[] =
        "SELECT " JC_SQL_TS("e.received_at") ", e.level, e.kind, e.text FROM"
        " (SELECT * FROM worker_events WHERE worker_id = $1 ORDER BY id DESC LIMIT 50) e"
        " ORDER BY e.id";
    static const field event_fields[] = {{"at", 's'}, {"level", 's'}, {"kind", 's'}, {"text", 's'}};
    const char *submitter, *worker, *id = r->arg;
    PGresult *res[3] = {NULL, NULL, NULL};
    enum MHD_Result ret;
    PGconn *db;
    jc_buf b;

    if (begin_or_reply(r, NULL, 0, &submitter, &worker, &ret) != 0)
        return ret;
    if (!id || !jc_query_name_valid(id))
        return jc_reply_error(r, 400, "bad_request",
                              "id: a worker id is 1..64 characters of [A-Za-z0-9._:@-]");
    if (worker && strcmp(worker, id) != 0)
        return jc_reply_error(r, 404, "not_found", "no such worker");
    db = db_or_reply(r, &ret);
    if (!db)
        return ret;
    if (read_only_tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0)
        return sql_failed(r, db, NULL, "begin");
    res[0] = PQexecParams(db, worker_sql, 1, NULL, &id, NULL, NULL, 0);
    res[1] = PQexecParams(db, jobs_sql, 1, NULL, &id, NULL, NULL, 0);
    res[2] = PQexecParams(db, events_sql, 1, NULL, &id, NULL, NULL, 0);
    read_only_tx(db, "ROLLBACK");
    for (int i = 0; i < 3; i++)
        if (PQresultStatus(res[i]) != PGRES_TUPLES_OK) {
            ret = sql_failed(r, db, res[i], "worker");
            res[i] = NULL;
            goto out;
        }
    if (PQntuples(res[0]) == 0) {
        ret = jc_reply_error(r, 404, "not_found", "no such worker");
        goto out;
    }
    jc_buf_init(&b, ANSWER_MAX);
    jc_buf_addstr(&b, "{");
    put_fields(&b, res[0], 0, 0, worker_fields, N_OF(worker_fields));
    jc_buf_addstr(&b, ",\"jobs\":[");
    put_rows(&b, res[1], PQntuples(res[1]), job_fields, N_OF(job_fields));
    jc_buf_addstr(&b, "],\"events\":[");
    put_rows(&b, res[2], PQntuples(res[2]), event_fields, N_OF(event_fields));
    jc_buf_addstr(&b, "]}");
    ret = reply_buf(r, &b);
out:
    for (int i = 0; i < 3; i++)
        PQclear(res[i]);
    return ret;
}

/* ---- GET /v1/jobs ---- */

static const char jobs_sql[] =
    "SELECT " JOB_COLS ", (extract(epoch FROM j.created_at) * 1000000)::bigint FROM jobs j"
    " WHERE " JOB_VISIBLE
    " AND ($3::text IS NULL OR j.state = $3) AND ($4::text IS NULL OR j.type = $4)"
    " AND ($5::text IS NULL OR j.worker_id = $5) AND ($6::text IS NULL OR j.submitter = $6)"
    " AND ($7::bigint IS NULL OR"
    "      j.created_at >= 'epoch'::timestamptz + $7::bigint * interval '1 microsecond')"
    " AND ($8::bigint IS NULL OR"
    "      (j.created_at <= 'epoch'::timestamptz + $8::bigint * interval '1 microsecond' AND"
    "       (j.created_at, j.id) < ('epoch'::timestamptz + $8::bigint * interval '1 microsecond',"
    "                               $9::uuid)))"
    " ORDER BY j.created_at DESC, j.id DESC LIMIT $10::int + 1";

enum MHD_Result jc_http_jobs(jc_req *r)
{
    static const char *const allowed[] = {"state", "type",  "worker", "submitter",
                                          "since", "limit", "cursor", NULL};
    const char *params[10] = {NULL};
    jc_jobs_query q;
    enum MHD_Result ret;
    PGresult *res;
    int n;
    jc_buf b;

    if (begin_or_reply(r, allowed, 1, &params[0], &params[1], &ret) != 0)
        return ret;
    if (jc_query_jobs_or_reply(r, params, &q, &ret) != 0)
        return ret;
    res = query_or_reply(r, jobs_sql, 10, params, "jobs", &ret);
    if (!res)
        return ret;
    n = PQntuples(res) < q.limit ? PQntuples(res) : (int)q.limit;
    jc_buf_init(&b, ANSWER_MAX);
    jc_buf_addstr(&b, "{\"jobs\":[");
    put_rows(&b, res, n, job_fields, N_OF(job_fields));
    jc_buf_addstr(&b, "],\"next_cursor\":");
    if (PQntuples(res) > q.limit) { /* there is a next page: it starts after row n - 1 */
        char next[64];
        jc_query_cursor_encode(strtoll(PQgetvalue(res, n - 1, JOB_NCOLS), NULL, 10),
                      PQgetvalue(res, n - 1, 0), next, sizeof next);
        jc_json_str(&b, next);
    } else {
        jc_buf_addstr(&b, "null");
    }
    jc_buf_addstr(&b, "}");
    PQclear(res);
    return reply_buf(r, &b);
}

/* ---- GET /v1/jobs/{id}, /v1/jobs/{id}/events ---- */

// job_query_or_reply runs sql ($1, $2: JOB_VISIBLE; $3: the job id of the
// path) for the caller and returns its rows, or NULL after answering (400
// for a bad id, 404 when it gives no row: no such job, or not visible).
static PGresult *job_query_or_reply(jc_req *r, const char *sql, const char *what,
                                    enum MHD_Result *ret)
{
    const char *params[3] = {NULL};
    PGresult *res;

    if (begin_or_reply(r, NULL, 1, &params[0], &params[1], ret) != 0)
        return NULL;
    if (!jc_id_text_valid(r->arg)) {
        *ret = jc_reply_error(r, 400, "bad_request", "id: a job id is a UUID");
        return NULL;
    }
    params[2] = r->arg;
    res = query_or_reply(r, sql, 3, params, what, ret);
    if (res && PQntuples(res) == 0) {
        PQclear(res);
        *ret = jc_reply_error(r, 404, "not_found", "no such job");
        return NULL;
    }
    return res;
}

enum MHD_Result jc_http_job(jc_req *r)
{
    static const char sql[] =
        "SELECT " JOB_COLS ", octet_length(j.payload), octet_length(j.result),"
        " translate(encode(j.payload, 'base64'), E'\\n', ''),"
        " translate(encode(j.result, 'base64'), E'\\n', '')"
        " FROM jobs j WHERE j.id = $3::uuid AND " JOB_VISIBLE;
    static const field extra[] = {{"payload_size", 'n'},
                                  {"result_size", 'n'},
                                  {"payload_base64", 's'},
                                  {"result_base64", 's'}};
    enum MHD_Result ret;
    PGresult *res;
    jc_buf b;

    res = job_query_or_reply(r, sql, "job", &ret);
    if (!res)
        return ret;
    jc_buf_init(&b, ANSWER_MAX);
    jc_buf_addstr(&b, "{");
    put_fields(&b, res, 0, 0, job_fields, N_OF(job_fields));
    jc_buf_addstr(&b, ",");
    put_fields(&b, res, 0, JOB_NCOLS, extra, N_OF(extra));
    jc_buf_addstr(&b, "}");
    PQclear(res);
    return reply_buf(r, &b);
}

enum MHD_Result jc_http_job_events(jc_req *r)
{
    /* The job's most recent 1000 events, oldest first; no rows at all when
     * the caller may not see the job (the first column tells them apart
     * from a visible job without events, which every job has anyway). */
    static const char sql[] =
        "SELECT v.ok, e.id, " JC_SQL_TS("e.at") ", e.attempt, e.kind, e.from_state, e.to_state,"
        " e.worker_id, e.stream, e.progress, e.text"
        " FROM (SELECT 1 AS ok FROM jobs j WHERE j.id = $3::uuid AND " JOB_VISIBLE ") v"
        " LEFT JOIN LATERAL (SELECT * FROM job_events WHERE job_id = $3::uuid"
        "                    ORDER BY id DESC LIMIT 1000) e ON true"
        " ORDER BY e.id";
    static const field event_fields[] = {
        {"id", 'n'},     {"at", 's'},     {"attempt", 'n'}, {"kind", 's'},     {"from", 's'},
        {"to", 's'},     {"worker", 's'}, {"stream", 's'},  {"progress", 'n'}, {"text", 's'},
    };
    enum MHD_Result ret;
    PGresult *res;
    jc_buf b;
    int first = 1;

    res = job_query_or_reply(r, sql, "job events", &ret);
    if (!res)
        return ret;
    jc_buf_init(&b, ANSWER_MAX);
    jc_buf_addstr(&b, "{\"events\":[");
    for (int row = 0; row < PQntuples(res); row++) {
        if (PQgetisnull(res, row, 1)) /* the job has no events */
            continue;
        jc_buf_addstr(&b, first ? "{" : ",{");
        first = 0;
        put_fields(&b, res, row, 1, event_fields, N_OF(event_fields));
        jc_buf_addstr(&b, "}");
    }
    jc_buf_addstr(&b, "]}");
    PQclear(res);
    return reply_buf(r, &b);
}

/* ---- GET /v1/jobs/stats ---- */

// put_number appends v in its shortest form that reads back exactly (93.02,
// not 93.019999999999996), or null when it is not finite.
static void put_number(jc_buf *b, double v)
{
    char num[40];
    if (!isfinite(v)) {
        jc_buf_addstr(b, "null");
        return;
    }
    for (int prec = 1; prec <= 17; prec++) {
        snprintf(num, sizeof num, "%.*g", prec, v);
        if (strtod(num, NULL) == v)
            break;
    }
    jc_buf_addstr(b, num);
}

// put_stats appends rows as a JSON array of objects named by key ("type"
// or "submitter").
static void put_stats(jc_buf *b, const char *key, const jc_jobstats_row *rows, size_t n)
{
    jc_buf_addstr(b, "[");
    for (size_t i = 0; i < n; i++) {
        const jc_jobstats_row *s = &rows[i];
        jc_buf_printf(b, "%s{\"%s\":", i ? "," : "", key);
        jc_json_str(b, s->type);
        jc_buf_printf(b,
                      ",\"succeeded\":%lld,\"failed\":%lld,\"canceled\":%lld,\"total\":%lld,"
                      "\"success_rate\":",
                      s->succeeded, s->failed, s->canceled, s->total);
        put_number(b, s->total > 0 ? s->success_rate : NAN);
        jc_buf_addstr(b, ",\"duration_ms\":");
        if (s->has_durations) {
            jc_buf_addstr(b, "{\"p50\":");
            put_number(b, s->p50_ms);
            jc_buf_addstr(b, ",\"p90\":");
            put_number(b, s->p90_ms);
            jc_buf_addstr(b, ",\"p99\":");
            put_number(b, s->p99_ms);
            jc_buf_addstr(b, "}");
        } else {
            jc_buf_addstr(b, "null");
        }
        jc_buf_addstr(b, "}");
    }
    jc_buf_addstr(b, "]");
}

enum MHD_Result jc_http_job_stats(jc_req *r)
{
    static const char *const allowed[] = {"window", NULL};
    const char *submitter, *worker, *window_s;
    jc_jobstats_row *rows = NULL, *subs = NULL;
    size_t n = 0, n_subs = 0;
    long window = 3600;
    char err[256];
    int failed;
    enum MHD_Result ret;
    PGconn *db;
    jc_buf b;

    if (begin_or_reply(r, allowed, 0, &submitter, &worker, &ret) != 0)
        return ret;
    if (worker)
        return jc_reply_error(r, 403, "forbidden", "role 'worker' may not read /v1/jobs/stats");
    window_s = jc_req_query(r, "window");
    if (window_s && jc_query_uint(window_s, 1, JC_JOBSTATS_WINDOW_MAX, &window) != 0)
        return jc_reply_error(r, 400, "bad_request", "window must be an integer 1..%ld (seconds)",
                              JC_JOBSTATS_WINDOW_MAX);
    db = db_or_reply(r, &ret);
    if (!db)
        return ret;
    /* both groupings from one snapshot */
    failed = read_only_tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0;
    if (failed)
        snprintf(err, sizeof err, "%s", PQerrorMessage(db));
    else
        failed = jc_jobstats_query(db, window, &rows, &n, err, sizeof err) != 0 ||
                 jc_jobstats_by_submitter(db, window, &subs, &n_subs, err, sizeof err) != 0;
    read_only_tx(db, "ROLLBACK");
    if (failed) {
        free(rows);
        LOG_ERROR("http", "GET /v1/jobs/stats: %s", err);
        return jc_reply_error(r, 500, "internal", "the query failed");
    }
    jc_buf_init(&b, ANSWER_MAX);
    jc_buf_printf(&b, "{\"window_s\":%ld,\"types\":", window);
    put_stats(&b, "type", rows, n);
    jc_buf_addstr(&b, ",\"submitters\":");
    put_stats(&b, "submitter", subs, n_subs);
    jc_buf_addstr(&b, "}");
    free(rows);
    free(subs);
    return reply_buf(r, &b);
}
