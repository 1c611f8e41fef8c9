/*
 * jobwrite.c - job changes computed in memory, written set-based (see
 * jobwrite.h).
 *
 * The UPDATE is a multi-row VALUES list so that results travel as binary
 * bytea parameters (no hex blow-up); it is chunked to stay far below
 * PostgreSQL's 65535-parameter limit. History and outbox rows are text
 * arrays through unnest(). Every UPDATE row is a compare-and-set on the
 * state and attempt that were read under FOR UPDATE, so a row changed
 * behind our back (which the lock should make impossible) fails the whole
 * transaction instead of being silently overwritten.
 */
#include "jobwrite.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "db.h"

#define EV_COLS 9
#define CMD_COLS 6
#define UPD_COLS 15
#define UPD_CHUNK 400
#define ARRAY_MAX (256u << 20)

static const char job_columns[] =
    "SELECT id, state, attempt, max_attempts, coalesce(worker_id, ''), submitter, timeout_ms,"
    " last_event_ts_ms, type, refusals FROM jobs ";

void jw_init(jc_jobwrite *jw, const jc_config *cfg)
{
    memset(jw, 0, sizeof *jw);
    jw->cfg = cfg;
    for (int i = 0; i < EV_COLS; i++)
        jc_buf_init(&jw->ev[i], ARRAY_MAX);
    for (int i = 0; i < CMD_COLS; i++)
        jc_buf_init(&jw->cmd[i], ARRAY_MAX);
    jw_reset(jw);
}

void jw_reset(jc_jobwrite *jw)
{
    jw->n = 0;
    jw->n_events = 0;
    jw->n_cmds = 0;
    for (int i = 0; i < EV_COLS; i++) {
        jc_buf_reset(&jw->ev[i]);
        jc_buf_addstr(&jw->ev[i], "{");
    }
    for (int i = 0; i < CMD_COLS; i++) {
        jc_buf_reset(&jw->cmd[i]);
        jc_buf_addstr(&jw->cmd[i], "{");
    }
}

void jw_free(jc_jobwrite *jw)
{
    for (int i = 0; i < EV_COLS; i++)
        jc_buf_free(&jw->ev[i]);
    for (int i = 0; i < CMD_COLS; i++)
        jc_buf_free(&jw->cmd[i]);
    free(jw->rows);
    free(jw->submit_scratch);
    free(jw->update_scratch);
    memset(jw, 0, sizeof *jw);
}

jc_jobrow *jw_find(jc_jobwrite *jw, const uint8_t id[JC_ID_LEN])
{
    for (size_t i = 0; i < jw->n; i++)
        if (memcmp(jw->rows[i].id, id, JC_ID_LEN) == 0)
            return &jw->rows[i];
    return NULL;
}

int jw_load(jc_jobwrite *jw, PGconn *db, const char *tail, int n_params, const char *const *params,
            char *errstr, size_t errstr_size)
{
    jc_buf q;
    PGresult *r;
    int added = 0;

    jc_buf_init(&q, 1 << 16);
    jc_buf_addstr(&q, job_columns);
    jc_buf_addstr(&q, tail);
    r = PQexecParams(db, jc_buf_str(&q), n_params, NULL, params, NULL, NULL, 0);
    jc_buf_free(&q);
    if (!jc_db_ok(db, r, errstr, errstr_size)) {
        PQclear(r);
        return -1;
    }
    for (int i = 0; i < PQntuples(r); i++) {
        uint8_t id[JC_ID_LEN];
        jc_jobrow *row;
        if (jc_id_parse(PQgetvalue(r, i, 0), id) != 0 || jw_find(jw, id))
            continue;
        if (jw->n == jw->cap) {
            size_t cap = jw->cap ? jw->cap * 2 : 64;
            jc_jobrow *p = realloc(jw->rows, cap * sizeof *p);
            if (!p) {
                snprintf(errstr, errstr_size, "out of memory loading jobs");
                PQclear(r);
                return -1;
            }
            jw->rows = p;
            jw->cap = cap;
        }
        row = &jw->rows[jw->n++];
        memset(row, 0, sizeof *row);
        memcpy(row->id, id, JC_ID_LEN);
        jc_id_format(id, row->idtext);
        row->state = jc_job_state_parse(PQgetvalue(r, i, 1));
        row->attempt = atoi(PQgetvalue(r, i, 2));
        row->max_attempts = atoi(PQgetvalue(r, i, 3));
        snprintf(row->worker, sizeof row->worker, "%s", PQgetvalue(r, i, 4));
        snprintf(row->submitter, sizeof row->submitter, "%s", PQgetvalue(r, i, 5));
        row->timeout_ms = atoi(PQgetvalue(r, i, 6));
        row->last_event_ts = strtoll(PQgetvalue(r, i, 7), NULL, 10);
        snprintf(row->type, sizeof row->type, "%s", PQgetvalue(r, i, 8));
        row->refusals = atoi(PQgetvalue(r, i, 9));
        row->progress = -1;
        row->run_after_ms = -1;
        snprintf(row->lease, sizeof row->lease, "keep");
        added++;
    }
    PQclear(r);
    return added;
}

// history records one job_events row for row.
static void history(jc_jobwrite *jw, const jc_jobrow *row, const char *kind, const char *from,
                    const char *to, jc_slice stream, int progress, jc_slice text)
{
    jc_buf *e = jw->ev;
    jc_buf_add_array_elem(&e[0], row->idtext, 36);
    jc_buf_add_array_num(&e[1], row->attempt);
    jc_buf_add_array_elem(&e[2], kind, strlen(kind));
    if (from)
        jc_buf_add_array_elem(&e[3], from, strlen(from));
    else
        jc_buf_add_array_null(&e[3]);
    if (to)
        jc_buf_add_array_elem(&e[4], to, strlen(to));
    else
        jc_buf_add_array_null(&e[4]);
    if (row->worker[0])
        jc_buf_add_array_elem(&e[5], row->worker, strlen(row->worker));
    else
        jc_buf_add_array_null(&e[5]);
    if (stream.n)
        jc_buf_add_array_elem(&e[6], (const char *)stream.p, stream.n);
    else
        jc_buf_add_array_null(&e[6]);
    if (progress >= 0)
        jc_buf_add_array_num(&e[7], progress);
    else
        jc_buf_add_array_null(&e[7]);
    if (text.n)
        jc_buf_add_array_elem(&e[8], (const char *)text.p, text.n);
    else
        jc_buf_add_array_null(&e[8]);
    jw->n_events++;
}

void jw_command(jc_jobwrite *jw, const char *kind, const char *recipient, const char *job,
                int attempt, const char *state, const char *reason)
{
    jc_buf *c = jw->cmd;
    jc_buf_add_array_elem(&c[0], kind, strlen(kind));
    jc_buf_add_array_elem(&c[1], recipient, strlen(recipient));
    if (job)
        jc_buf_add_array_elem(&c[2], job, strlen(job));
    else
        jc_buf_add_array_null(&c[2]);
    if (attempt >= 0)
        jc_buf_add_array_num(&c[3], attempt);
    else
        jc_buf_add_array_null(&c[3]);
    if (state)
        jc_buf_add_array_elem(&c[4], state, strlen(state));
    else
        jc_buf_add_array_null(&c[4]);
    if (reason && *reason)
        jc_buf_add_array_elem(&c[5], reason, strlen(reason));
    else
        jc_buf_add_array_null(&c[5]);
    jw->n_cmds++;
}

static void set_lease(jc_jobrow *row, long long ms)
{
    if (ms < 0)
        snprintf(row->lease, sizeof row->lease, "null");
    else
        snprintf(row->lease, sizeof row->lease, "%lld", ms);
}

static void add_flag(jc_jobrow *row, char f)
{
    size_t n = strlen(row->flags);
    if (!strchr(row->flags, f) && n + 1 < sizeof row->flags) {
        row->flags[n] = f;
        row->flags[n + 1] = '\0';
    }
}

static void set_error(jc_jobrow *row, jc_slice text)
{
    size_t n = text.n < JC_MAX_TEXT_LEN ? text.n : JC_MAX_TEXT_LEN;
    memcpy(row->error, text.p, n);
    row->error[n] = '\0';
    row->has_error = 1;
}

// retry_delay_ms is the backoff before attempt+1: exponential with jitter
// (between half and one and a half times the nominal delay).
static int64_t retry_delay_ms(const jc_config *cfg, int attempt)
{
    int64_t d = cfg->retry_backoff_ms;
    for (int i = 1; i < attempt && d < cfg->retry_backoff_max_ms; i++)
        d *= 2;
    if (d > cfg->retry_backoff_max_ms)
        d = cfg->retry_backoff_max_ms;
    return d / 2 + (int64_t)randombytes_uniform((uint32_t)(d > 0 ? d : 1));
}

// finish records the effects common to reaching a final state.
static void finish(jc_jobwrite *jw, jc_jobrow *row)
{
    add_flag(row, 'f');
    set_lease(row, -1);
    jw_command(jw, "job.update", row->submitter, row->idtext, row->attempt,
               jc_job_state_name(row->state), NULL);
}

jc_job_state jw_apply(jc_jobwrite *jw, jc_jobrow *row, jc_job_input input,
                      const jc_job_input_args *args)
{
    static const jc_job_input_args none;
    jc_job_state from = row->state, to;
    jc_slice no = {NULL, 0};

    if (!args)
        args = &none;
    to = jc_job_next(from, input);
    if (to == JS_INVALID)
        return JS_INVALID;
    /* pending means "retry": only with attempts left (refused assignments
     * are not attempts, but are bounded by jobs.max_refusals), and only
     * when the failure is retryable; canceling jobs that lose their worker
     * end. attempt, the fencing token, counts every assignment and the
     * protocol carries at most JC_MAX_ATTEMPTS of them. */
    if (input == JI_REFUSED)
        row->refusals++;
    if (to == JS_PENDING &&
        (row->attempt >= JC_MAX_ATTEMPTS ||
         (input == JI_REFUSED ? row->refusals > jw->cfg->max_refusals
                              : row->attempt - row->refusals >= row->max_attempts) ||
         (input == JI_FAILED && !args->retryable)))
        to = JS_FAILED;
    row->dirty = 1;
    if (args->event_ts > row->last_event_ts)
        row->last_event_ts = args->event_ts;

    switch (input) {
    case JI_PROGRESS:
        row->progress = args->progress;
        set_lease(row, row->timeout_ms);
        history(jw, row, "progress", NULL, NULL, no, args->progress, no);
        break;
    case JI_LOG:
        history(jw, row, "log", NULL, NULL, args->stream, -1, args->text);
        break;
    case JI_STARTED: set_lease(row, row->timeout_ms); break;
    case JI_SUCCEEDED:
        if (args->result.n) {
            row->has_result = 1;
            row->result = args->result;
        }
        break;
    case JI_FAILED:
    case JI_REQUEUE:
    case JI_REFUSED:
    case JI_UNSCHEDULABLE:
        if (args->text.n)
            set_error(row, args->text);
        break;
    case JI_CANCEL: /* the reason goes to cancel_reason, not error */
        if (args->text.n) {
            set_error(row, args->text);
            add_flag(row, 'c');
        }
        break;
    default: break;
    }
    if (to == from)
        return to;

    row->state = to;
    if (from == JS_ASSIGNED && to == JS_RUNNING)
        add_flag(row, 's');
    history(jw, row, "state", jc_job_state_name(from), jc_job_state_name(to), no, -1, args->text);
    switch (to) {
    case JS_PENDING:
        row->worker[0] = '\0';
        add_flag(row, 'w');
        set_lease(row, -1);
        row->run_after_ms = input == JI_FAILED ? retry_delay_ms(jw->cfg, row->attempt) : 0;
        break;
    case JS_CANCELING: {
        char reason[256];
        size_t n = args->text.n < sizeof reason - 1 ? args->text.n : sizeof reason - 1;
        memcpy(reason, args->text.p ? (const char *)args->text.p : "", n);
        reason[n] = '\0';
        set_lease(row, jw->cfg->cancel_timeout_ms);
        jw_command(jw, "cancel", row->worker, row->idtext, row->attempt, NULL, reason);
        break;
    }
    case JS_SUCCEEDED:
    case JS_FAILED:
    case JS_CANCELED: finish(jw, row); break;
    default: break;
    }
    return to;
}

void jw_assign(jc_jobwrite *jw, jc_jobrow *row, const char *worker)
{
    jc_slice no = {NULL, 0};
    row->dirty = 1;
    row->attempt++;
    row->state = JS_ASSIGNED;
    snprintf(row->worker, sizeof row->worker, "%s", worker);
    add_flag(row, 'a');
    add_flag(row, 'w');
    row->last_event_ts = 0;
    row->progress = -1;
    /* a new attempt starts without the last one's error (its history keeps it) */
    row->has_error = 1;
    row->error[0] = '\0';
    set_lease(row, jw->cfg->assign_timeout_ms);
    history(jw, row, "state", "pending", "assigned", no, -1, no);
    jw_command(jw, "assign", worker, row->idtext, row->attempt, NULL, NULL);
}

/* The UPDATE: v(...) columns, in parameter order. */
static const char update_head[] =
    "UPDATE jobs j SET state = v.state, attempt = v.attempt,"
    " worker_id = CASE WHEN strpos(v.flags, 'w') > 0 THEN nullif(v.worker, '') ELSE j.worker_id END,"
    " lease_expires_at = CASE v.lease WHEN 'keep' THEN j.lease_expires_at WHEN 'null' THEN NULL"
    "   ELSE now() + v.lease::bigint * interval '1 millisecond' END,"
    " progress = CASE WHEN v.progress < 0 THEN j.progress ELSE v.progress END,"
    " result = CASE WHEN v.has_result THEN v.result ELSE j.result END,"
    " error = CASE WHEN v.has_error AND strpos(v.flags, 'c') = 0 THEN v.error ELSE j.error END,"
    " cancel_reason = CASE WHEN v.has_error AND strpos(v.flags, 'c') > 0 THEN v.error"
    "   ELSE j.cancel_reason END,"
    " run_after = CASE WHEN v.run_after < 0 THEN j.run_after"
    "   ELSE now() + v.run_after * interval '1 millisecond' END,"
    " assigned_at = CASE WHEN strpos(v.flags, 'a') > 0 THEN now() ELSE j.assigned_at END,"
    " started_at = CASE WHEN strpos(v.flags, 's') > 0 THEN now() ELSE j.started_at END,"
    " finished_at = CASE WHEN strpos(v.flags, 'f') > 0 THEN now() ELSE j.finished_at END,"
    " last_event_ts_ms = v.last_ts, refusals = v.refusals, updated_at = now()"
    " FROM (VALUES ";
static const char update_tail[] =
    ") AS v(id, state, attempt, worker, lease, progress, has_result, result, has_error, error,"
    "       run_after, flags, last_ts, old_attempt, refusals)"
    " WHERE j.id = v.id AND j.attempt = v.old_attempt";

/* The parameters of one chunk's UPDATE: about 160 KiB, allocated once per
 * writer (jw->update_scratch, freed by jw_free) rather than on the stack. */
typedef struct update_scratch {
    const char *values[UPD_CHUNK * UPD_COLS];
    int lengths[UPD_CHUNK * UPD_COLS], formats[UPD_CHUNK * UPD_COLS];
    char nums[UPD_CHUNK][7][24];
} update_scratch;

// flush_updates writes the dirty rows, UPD_CHUNK at a time.
static int flush_updates(jc_jobwrite *jw, PGconn *db, char *errstr, size_t errstr_size)
{
    size_t i = 0;
    update_scratch *sc = jw->update_scratch;
    if (!sc && jw->n > 0) {
        sc = jw->update_scratch = malloc(sizeof *sc);
        if (!sc) {
            snprintf(errstr, errstr_size, "out of memory for a chunk of job updates");
            return -1;
        }
    }
    while (i < jw->n) {
        const char **values = sc->values;
        int *lengths = sc->lengths, *formats = sc->formats;
        char(*nums)[7][24] = sc->nums;
        jc_buf sql;
        int np = 0, rows = 0, expected;
        PGresult *r;

        jc_buf_init(&sql, 1 << 20);
        jc_buf_addstr(&sql, update_head);
        for (; i < jw->n && rows < UPD_CHUNK; i++) {
            jc_jobrow *row = &jw->rows[i];
            int b = np;
            if (!row->dirty)
                continue;
            /* the attempt read under the lock: jw_assign bumped it */
            int old_attempt = strchr(row->flags, 'a') ? row->attempt - 1 : row->attempt;
            snprintf(nums[rows][0], 24, "%d", row->attempt);
            snprintf(nums[rows][1], 24, "%d", row->progress);
            snprintf(nums[rows][2], 24, "%" PRId64, row->run_after_ms);
            snprintf(nums[rows][3], 24, "%" PRId64, row->last_event_ts);
            snprintf(nums[rows][4], 24, "%d", old_attempt);
            snprintf(nums[rows][5], 24, "%d", row->refusals);
            values[np] = row->idtext;
            values[np + 1] = jc_job_state_name(row->state);
            values[np + 2] = nums[rows][0];
            values[np + 3] = row->worker;
            values[np + 4] = row->lease;
            values[np + 5] = nums[rows][1];
            values[np + 6] = row->has_result ? "t" : "f";
            values[np + 7] = row->has_result ? (const char *)row->result.p : NULL;
            values[np + 8] = row->has_error ? "t" : "f";
            values[np + 9] = row->has_error && row->error[0] ? row->error : NULL; /* "": clear */
            values[np + 10] = nums[rows][2];
            values[np + 11] = row->flags;
            values[np + 12] = nums[rows][3];
            values[np + 13] = nums[rows][4];
            values[np + 14] = nums[rows][5];
            for (int k = 0; k < UPD_COLS; k++) {
                formats[np + k] = 0;
                lengths[np + k] = 0;
            }
            formats[np + 7] = 1;
            lengths[np + 7] = (int)row->result.n;
            jc_buf_printf(&sql,
                          "%s($%d::uuid, $%d::text, $%d::int, $%d::text, $%d::text, $%d::int,"
                          " $%d::bool, $%d::bytea, $%d::bool, $%d::text, $%d::bigint, $%d::text,"
                          " $%d::bigint, $%d::int, $%d::int)",
                          rows ? "," : "", b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7, b + 8,
                          b + 9, b + 10, b + 11, b + 12, b + 13, b + 14, b + 15);
            np += UPD_COLS;
            rows++;
        }
        if (rows == 0) {
            jc_buf_free(&sql);
            break;
        }
        jc_buf_addstr(&sql, update_tail);
        if (sql.failed) {
            snprintf(errstr, errstr_size, "job update statement too large");
            jc_buf_free(&sql);
            return -1;
        }
        r = PQexecParams(db, jc_buf_str(&sql), np, NULL, values, lengths, formats, 0);
        jc_buf_free(&sql);
        if (!jc_db_ok(db, r, errstr, errstr_size)) {
            PQclear(r);
            return -1;
        }
        expected = rows;
        if (atoi(PQcmdTuples(r)) != expected) {
            snprintf(errstr, errstr_size, "job update: %s of %d rows matched (concurrent change)",
                     PQcmdTuples(r), expected);
            PQclear(r);
            return -1;
        }
        PQclear(r);
    }
    return 0;
}

int jw_flush(jc_jobwrite *jw, PGconn *db, char *errstr, size_t errstr_size)
{
    static const char events_sql[] =
        "INSERT INTO job_events (job_id, attempt, kind, from_state, to_state, worker_id, stream,"
        "                        progress, text)"
        " SELECT * FROM unnest($1::uuid[], $2::int[], $3::text[], $4::text[], $5::text[],"
        "                      $6::text[], $7::text[], $8::int[], $9::text[])";
    static const char commands_sql[] =
        "INSERT INTO commands (id, kind, recipient, job_id, attempt, state, reason)"
        " SELECT gen_random_uuid(), u.k, u.r, u.j, u.a, u.s, u.reason"
        "   FROM unnest($1::text[], $2::text[], $3::uuid[], $4::int[], $5::text[], $6::text[])"
        "        AS u(k, r, j, a, s, reason)";
    const char *params[EV_COLS];
    PGresult *r;
    int ok;

    if (flush_updates(jw, db, errstr, errstr_size) != 0)
        return -1;
    if (jw->n_events) {
        for (int i = 0; i < EV_COLS; i++) {
            jc_buf_addstr(&jw->ev[i], "}");
            params[i] = jc_buf_str(&jw->ev[i]);
            if (jw->ev[i].failed) {
                snprintf(errstr, errstr_size, "job history too large for one statement");
                return -1;
            }
        }
        r = PQexecParams(db, events_sql, EV_COLS, NULL, params, NULL, NULL, 0);
        ok = jc_db_ok(db, r, errstr, errstr_size);
        PQclear(r);
        if (!ok)
            return -1;
    }
    if (jw->n_cmds) {
        for (int i = 0; i < CMD_COLS; i++) {
            jc_buf_addstr(&jw->cmd[i], "}");
            params[i] = jc_buf_str(&jw->cmd[i]);
            if (jw->cmd[i].failed) {
                snprintf(errstr, errstr_size, "outbox rows too large for one statement");
                return -1;
            }
        }
        r = PQexecParams(db, commands_sql, CMD_COLS, NULL, params, NULL, NULL, 0);
        ok = jc_db_ok(db, r, errstr, errstr_size);
        PQclear(r);
        if (!ok || jc_db_exec(db, "NOTIFY jobcoord_outbox", errstr, errstr_size) != 0)
            return -1;
    }
    jw_reset(jw);
    return 0;
}
