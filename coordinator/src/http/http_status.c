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
 * and each answer by its buffer's maximum. /v1/workers leaves out (and
 * counts) the offline records not seen for a day unless ?all=true, as
 * `jobcoord-admin worker list` does.
 *
 * /v1/jobs pages newest first by (created_at, id). The cursor (made and read
 * in http_query.c) holds created_at and the id of the page's last job; the
 * next page starts strictly after that job, so a page never repeats or skips
 * a job because rows were added before it.
 *
 * About 720 lines on purpose: every handler here goes through the same few
 * steps defined at the top (authenticate, check the query, set the
 * caller's visibility, take the thread's connection, answer a jansson
 * document or the error), and keeping them static in one file keeps that
 * sequence the only way in; the cursor and query parsing (http_query.c),
 * /v1/commands (http_commands.c), /v1/audit (http_audit.c) and /v1/me
 * (http_me.c) live apart.
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
#include "jobs/workerstate.h"
#include "principals/key_age.h"
#include "secrets/sealed_columns.h"
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

// reply_doc answers 200 with doc, compact, and drops it; 500 when doc could
// not be built (NULL, or ok is 0: an allocation failed on the way) or its
// text is larger than ANSWER_MAX.
static enum MHD_Result reply_doc(jc_req *r, json_t *doc, int ok)
{
    enum MHD_Result ret;
    jc_buf b;

    if (!doc || !ok) {
        json_decref(doc);
        return jc_reply_error(r, 500, "internal", "out of memory building the answer");
    }
    jc_buf_init(&b, ANSWER_MAX);
    if (jc_json_dump(&b, doc) != 0)
        ret = jc_reply_error(r, 500, "internal",
                             "the answer is larger than %zu bytes (or out of memory)", b.max);
    else
        ret = jc_reply_json(r, 200, &b);
    jc_buf_free(&b);
    return ret;
}

// set sets key of o to v (taking v; v NULL: a failed allocation). Returns
// 1, or 0 when v or o is NULL or the member cannot be added.
static int set(json_t *o, const char *key, json_t *v)
{
    return json_object_set_new(o, key, v) == 0;
}

// add appends v to array a (taking v). Returns 1, or 0 as set does.
static int add(json_t *a, json_t *v)
{
    return json_array_append_new(a, v) == 0;
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

typedef jc_json_field field;

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

// rows returns rows 0..n-1 of res as an array of objects of fields f, or
// NULL when an allocation failed.
static json_t *rows(const PGresult *res, int n, const field *f, size_t nf)
{
    json_t *a = json_array();
    for (int row = 0; a && row < n; row++)
        if (!add(a, jc_json_pg_object(res, row, 0, f, nf))) {
            json_decref(a);
            a = NULL;
        }
    return a;
}

#define JOB_COLS \
    "j.id, j.type, j.state, j.submitter, j.worker_id, j.priority, j.attempt, j.max_attempts," \
    " j.progress, j.error, j.cancel_reason, j.ikey, " JC_SQL_TS("j.created_at") ","           \
    " " JC_SQL_TS("j.updated_at") ", " JC_SQL_TS("j.assigned_at") ","                         \
    " " JC_SQL_TS("j.started_at") ", " JC_SQL_TS("j.finished_at") ","                         \
    " " JC_SQL_TS("j.run_after") ", j.timeout_ms, " JC_SQL_WAITING("j") ","                   \
    " j.refusals"
static const field job_fields[] = {
    {"id", 's'},          {"type", 's'},       {"state", 's'},         {"submitter", 's'},
    {"worker", 's'},      {"priority", 'n'},   {"attempt", 'n'},       {"max_attempts", 'n'},
    {"progress", 'n'},    {"error", 's'},      {"cancel_reason", 's'}, {"idempotency_key", 's'},
    {"created_at", 's'},  {"updated_at", 's'}, {"assigned_at", 's'},   {"started_at", 's'},
    {"finished_at", 's'}, {"run_after", 's'},  {"timeout_ms", 'n'},    {"waiting_reason", 's'},
    {"refusals", 'n'},
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

// counts returns {"label":n,...} of group with every label of a fixed list
// (0 when res has no row for it), or NULL when an allocation failed.
static json_t *counts(const PGresult *res, const char *group, const char *const *labels, size_t n)
{
    json_t *o = json_object();
    int ok = o != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        long long v = 0;
        for (int row = 0; row < PQntuples(res); row++)
            if (strcmp(PQgetvalue(res, row, 0), group) == 0 &&
                strcmp(PQgetvalue(res, row, 1), labels[i]) == 0)
                v = strtoll(PQgetvalue(res, row, 3), NULL, 10);
        ok = set(o, labels[i], json_integer(v));
    }
    if (!ok) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

// record_time_json names what consumed records' timestamps are, for status.
static json_t *record_time_json(int t)
{
    return t == JC_RECORD_TIME_LOG_APPEND ? json_string("log_append_time")
           : t == JC_RECORD_TIME_CREATE   ? json_string("create_time")
                                          : json_null();
}

// ingest returns the ingest part of /v1/status, or NULL when an allocation
// failed.
static json_t *ingest(const jc_runtime *rt)
{
    json_t *o = json_object();
    int ok =
        set(o, "assigned_partitions", json_integer(atomic_load(&rt->assigned_partitions))) &&
        set(o, "caught_up", json_boolean(atomic_load(&rt->caught_up_at_ms) != 0)) &&
        set(o, "lag",
            atomic_load(&rt->lag_at_ms) ? json_integer((json_int_t)atomic_load(&rt->lag_total))
                                        : json_null()) &&
        set(o, "applied_total", json_integer((json_int_t)atomic_load(&rt->applied))) &&
        set(o, "rejected_total", json_integer((json_int_t)atomic_load(&rt->rejected))) &&
        set(o, "position_resets", json_integer((json_int_t)atomic_load(&rt->position_resets))) &&
        set(o, "records_lost", json_integer((json_int_t)atomic_load(&rt->records_lost))) &&
        set(o, "record_timestamps", record_time_json(atomic_load(&rt->record_time)));
    if (!ok) {
        json_decref(o);
        o = NULL;
    }
    return o;
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
    json_t *doc;
    int ok;

    if (begin_or_reply(r, NULL, 0, &submitter, &worker, &ret) != 0)
        return ret;
    if (worker) /* workers see themselves, not the fleet */
        return jc_reply_error(r, 403, "forbidden", "role 'worker' may not read /v1/status");
    res = query_or_reply(r, status_sql, 0, NULL, "status", &ret);
    if (!res)
        return ret;
    {
        static const field rejection[] = {{"topic", 's'},
                                          {"reason", 's'},
                                          {"count", 'n'},
                                          {"last_at", 's'}};
        json_t *rejections = json_array(), *warnings = json_array();
        const jc_config *cfg = jc_http_config(r->h);
        char why[512], err[256];
        jc_key_age_counts ages;

        if (jc_key_age_count(jc_http_db(r->h), cfg, &ages, err, sizeof err) != 0) {
            PQclear(res);
            json_decref(rejections);
            json_decref(warnings);
            LOG_ERROR("http", "GET /v1/status: key ages: %s", err);
            return jc_reply_error(r, 500, "internal", "the query failed");
        }
        doc = json_object();
        ok = doc && rejections && warnings;
        for (int row = 0; ok && row < PQntuples(res); row++)
            if (strcmp(PQgetvalue(res, row, 0), "rejections") == 0)
                ok = add(rejections, jc_json_pg_object(res, row, 1, rejection, N_OF(rejection)));
        if (ok && jc_kafka_auth_warning(cfg, why, sizeof why))
            ok = add(warnings, jc_json_text(why));
        if (ok && jc_key_age_warning(cfg, &ages, why, sizeof why))
            ok = add(warnings, jc_json_text(why));
        if (ok) {
            const jc_keyring *kr = jc_http_keyring(r->h);
            int plain = jc_secret_plain_warning(jc_http_db(r->h), jc_keyring_default_id(kr) != NULL,
                                                jc_keyring_plaintext_allowed(kr), why, sizeof why,
                                                err, sizeof err);

            if (plain < 0) /* the document without it beats no document */
                LOG_WARN("http", "GET /v1/status: plain-text secrets: %s", err);
            else if (plain)
                ok = add(warnings, jc_json_text(why));
        }
        ok =
            ok && set(doc, "version", json_string(JC_VERSION_STR)) &&
            set(doc, "instance", jc_json_text(rt->instance_id)) &&
            set(doc, "uptime_s", json_integer(((int64_t)jc_now_ms() - rt->started_at_ms) / 1000)) &&
            set(doc, "workers", counts(res, "workers", workers, N_OF(workers))) &&
            set(doc, "jobs", counts(res, "jobs", jobs, N_OF(jobs))) &&
            set(doc, "commands", counts(res, "commands", commands, N_OF(commands))) &&
            set(doc, "ingest", ingest(rt));
        if (ok) {
            ok = set(doc, "rejections", rejections) & set(doc, "warnings", warnings);
        } else {
            json_decref(rejections);
            json_decref(warnings);
        }
    }
    PQclear(res);
    return reply_doc(r, doc, ok);
}

/* ---- GET /v1/workers, /v1/workers/{id} ---- */

// read_only_tx begins (sql "BEGIN ...") or ends ("COMMIT"/"ROLLBACK") the
// snapshot a handler's reads share. Returns 0 or -1.
static int read_only_tx(PGconn *db, const char *sql)
{
    PGresult *res = PQexecParams(db, sql, 0, NULL, NULL, NULL, NULL, 0);
    int ok = PQresultStatus(res) == PGRES_COMMAND_OK;
    PQclear(res);
    return ok ? 0 : -1;
}

// snapshot_read runs the n statements sqls, each with the same nparams
// params, in one read-only snapshot, so that the parts of one answer agree;
// res[i] gets the result of sqls[i]. Returns 0, or -1 with *ret the 500
// answer and nothing left in res.
static int snapshot_read(jc_req *r, PGconn *db, int n, const char *const sqls[], int nparams,
                         const char *const *params, PGresult *res[], const char *what,
                         enum MHD_Result *ret)
{
    if (read_only_tx(db, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") != 0) {
        *ret = sql_failed(r, db, NULL, "begin");
        return -1;
    }
    for (int i = 0; i < n; i++)
        res[i] = PQexecParams(db, sqls[i], nparams, NULL, params, NULL, NULL, 0);
    read_only_tx(db, "ROLLBACK");
    for (int i = 0; i < n; i++)
        if (PQresultStatus(res[i]) != PGRES_TUPLES_OK) {
            *ret = sql_failed(r, db, res[i], what);
            res[i] = NULL;
            for (int k = 0; k < n; k++) {
                PQclear(res[k]);
                res[k] = NULL;
            }
            return -1;
        }
    return 0;
}

// jc_http_workers lists the workers. Old offline records
// (JC_SQL_WORKER_HIDDEN, the same as `jobcoord-admin worker list`) are left
// out and counted unless ?all=true; a worker sees only itself, whatever its
// status. The list and the count come from one snapshot.
enum MHD_Result jc_http_workers(jc_req *r)
{
    static const char *const allowed[] = {"all", NULL};
    static const char sql[] = "SELECT " WORKER_COLS " FROM workers w"
                              " WHERE ($1::text IS NULL OR w.id = $1)"
                              "   AND ($2::boolean OR NOT " JC_SQL_WORKER_HIDDEN("w") ")"
                              " ORDER BY w.id COLLATE \"C\"";
    static const char hidden_sql[] =
        "SELECT count(*) FROM workers w"
        " WHERE ($1::text IS NULL OR w.id = $1) AND NOT $2::boolean"
        "   AND " JC_SQL_WORKER_HIDDEN("w");
    const char *submitter, *params[2], *all_s;
    PGresult *res[2] = {NULL, NULL};
    enum MHD_Result ret;
    PGconn *db;
    json_t *doc;
    int ok, all = 0;

    if (begin_or_reply(r, allowed, 0, &submitter, &params[0], &ret) != 0)
        return ret;
    all_s = jc_req_query(r, "all");
    if (all_s && jc_query_bool(all_s, &all) != 0)
        return jc_reply_error(r, 400, "bad_request", "all must be true or false");
    params[1] = all || params[0] ? "t" : "f"; /* a worker sees itself whatever its status */
    db = db_or_reply(r, &ret);
    if (!db)
        return ret;
    if (snapshot_read(r, db, 2, (const char *const[]){sql, hidden_sql}, 2, params, res, "workers",
                      &ret) != 0)
        return ret;
    doc = json_object();
    ok = set(doc, "workers", rows(res[0], PQntuples(res[0]), worker_fields, N_OF(worker_fields))) &&
         set(doc, "hidden_offline", json_integer(strtoll(PQgetvalue(res[1], 0, 0), NULL, 10)));
    ret = reply_doc(r, doc, ok);
    for (int i = 0; i < 2; i++)
        PQclear(res[i]);
    return ret;
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
    json_t *doc;
    int ok;

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
    if (snapshot_read(r, db, 3, (const char *const[]){worker_sql, jobs_sql, events_sql}, 1, &id,
                      res, "worker", &ret) != 0)
        return ret;
    if (PQntuples(res[0]) == 0) {
        ret = jc_reply_error(r, 404, "not_found", "no such worker");
        goto out;
    }
    doc = jc_json_pg_object(res[0], 0, 0, worker_fields, N_OF(worker_fields));
    ok = set(doc, "jobs", rows(res[1], PQntuples(res[1]), job_fields, N_OF(job_fields))) &&
         set(doc, "events", rows(res[2], PQntuples(res[2]), event_fields, N_OF(event_fields)));
    ret = reply_doc(r, doc, ok);
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
    char next[64] = "";
    json_t *doc;
    int n, ok;

    if (begin_or_reply(r, allowed, 1, &params[0], &params[1], &ret) != 0)
        return ret;
    if (jc_query_jobs_or_reply(r, params, &q, &ret) != 0)
        return ret;
    res = query_or_reply(r, jobs_sql, 10, params, "jobs", &ret);
    if (!res)
        return ret;
    n = PQntuples(res) < q.limit ? PQntuples(res) : (int)q.limit;
    if (PQntuples(res) > q.limit) /* there is a next page: it starts after row n - 1 */
        jc_query_cursor_encode(strtoll(PQgetvalue(res, n - 1, JOB_NCOLS), NULL, 10),
                               PQgetvalue(res, n - 1, 0), next, sizeof next);
    doc = json_object();
    ok = set(doc, "jobs", rows(res, n, job_fields, N_OF(job_fields))) &&
         set(doc, "next_cursor", next[0] ? json_string(next) : json_null());
    PQclear(res);
    return reply_doc(r, doc, ok);
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
    json_t *doc;
    int ok;

    res = job_query_or_reply(r, sql, "job", &ret);
    if (!res)
        return ret;
    doc = jc_json_pg_object(res, 0, 0, job_fields, N_OF(job_fields));
    ok = doc && jc_json_pg_fields(doc, res, 0, JOB_NCOLS, extra, N_OF(extra)) == 0;
    PQclear(res);
    return reply_doc(r, doc, ok);
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
    json_t *doc, *events;
    int ok;

    res = job_query_or_reply(r, sql, "job events", &ret);
    if (!res)
        return ret;
    doc = json_object();
    events = json_array();
    ok = set(doc, "events", events);
    for (int row = 0; ok && row < PQntuples(res); row++)
        if (!PQgetisnull(res, row, 1)) /* else the job has no events */
            ok = add(events, jc_json_pg_object(res, row, 1, event_fields, N_OF(event_fields)));
    PQclear(res);
    return reply_doc(r, doc, ok);
}

/* ---- GET /v1/jobs/stats ---- */

// number returns v as a JSON number, or null when it is not finite.
static json_t *number(double v)
{
    return isfinite(v) ? json_real(v) : json_null();
}

// durations returns one type's duration percentiles (null without
// durations), or NULL when an allocation failed.
static json_t *durations(const jc_jobstats_row *s)
{
    json_t *d;

    if (!s->has_durations)
        return json_null();
    d = json_object();
    if (!set(d, "p50", number(s->p50_ms)) || !set(d, "p90", number(s->p90_ms)) ||
        !set(d, "p99", number(s->p99_ms))) {
        json_decref(d);
        d = NULL;
    }
    return d;
}

// stats_row returns one row's statistics, named by key ("type" or
// "submitter"), or NULL when an allocation failed.
static json_t *stats_row(const char *key, const jc_jobstats_row *s)
{
    json_t *o = json_object();
    int ok =
        set(o, key, jc_json_text(s->type)) && set(o, "succeeded", json_integer(s->succeeded)) &&
        set(o, "failed", json_integer(s->failed)) &&
        set(o, "canceled", json_integer(s->canceled)) && set(o, "total", json_integer(s->total)) &&
        set(o, "success_rate", number(s->total > 0 ? s->success_rate : NAN)) &&
        set(o, "duration_ms", durations(s));
    if (!ok) {
        json_decref(o);
        o = NULL;
    }
    return o;
}

// stats_rows returns rows as a JSON array of objects named by key ("type"
// or "submitter"), or NULL when an allocation failed.
static json_t *stats_rows(const char *key, const jc_jobstats_row *rows, size_t n)
{
    json_t *a = json_array();
    int ok = a != NULL;

    for (size_t i = 0; ok && i < n; i++)
        ok = add(a, stats_row(key, &rows[i]));
    if (!ok) {
        json_decref(a);
        a = NULL;
    }
    return a;
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
    json_t *doc;
    int ok;

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
    doc = json_object();
    ok = set(doc, "window_s", json_integer(window)) &&
         set(doc, "types", stats_rows("type", rows, n)) &&
         set(doc, "submitters", stats_rows("submitter", subs, n_subs));
    free(rows);
    free(subs);
    return reply_doc(r, doc, ok);
}
