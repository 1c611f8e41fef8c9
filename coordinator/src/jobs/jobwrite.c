/*
 * jobwrite.c - job changes computed in memory, written set-based (see
 * jobwrite.h).
 *
 * Every statement takes arrays through unnest(), so its text is the same
 * whatever the number of rows (PostgreSQL parses and plans a few hundred
 * bytes, not a VALUES list of thousands of parameters); results travel in
 * a binary bytea[] (no hex blow-up), the rest as text arrays. Every UPDATE row is a compare-and-set on the
 * state and attempt that were read under FOR UPDATE, so a row changed
 * behind our back (which the lock should make impossible) fails the whole
 * transaction instead of being silently overwritten.
 */
#include "jobs/jobwrite.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/db.h"

#define EV_COLS 9
#define CMD_COLS 7
#define UPD_COLS 16
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
    jc_buf *c = jw->cmd + 1;
    uint8_t id[JC_ID_LEN];

    /* the id is made here (a version 4 UUID) so that a caller can name the
     * command it queued (the admin CLI prints it) */
    randombytes_buf(id, sizeof id);
    id[6] = (uint8_t)((id[6] & 0x0f) | 0x40);
    id[8] = (uint8_t)((id[8] & 0x3f) | 0x80);
    jc_id_format(id, jw->last_cmd_id);
    jc_buf_add_array_elem(&jw->cmd[0], jw->last_cmd_id, 36);
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
    jc_slice no = {NULL, 0}, said;
    char said_buf[JC_MAX_TEXT_LEN + 256];

    if (!args)
        args = &none;
    to = jc_job_next(from, input);
    if (to == JS_INVALID || (input == JI_RETRY && row->attempt >= JC_MAX_ATTEMPTS))
        return JS_INVALID;
    /* the history's text: the cause, if any, then the text */
    said = args->text;
    if (args->cause.n) {
        int n = snprintf(said_buf, sizeof said_buf, "%.*s%s%.*s", (int)args->cause.n,
                         (const char *)args->cause.p, args->text.n ? ": " : "", (int)args->text.n,
                         args->text.n ? (const char *)args->text.p : "");
        said.p = (const uint8_t *)said_buf;
        said.n = n < 0 ? 0 : (size_t)n < sizeof said_buf ? (size_t)n : sizeof said_buf - 1;
    }
    /* pending means "retry": only with attempts left (refused assignments
     * are not attempts, but are bounded by jobs.max_refusals), and only
     * when the failure is retryable; canceling jobs that lose their worker
     * end. attempt, the fencing token, counts every assignment and the
     * protocol carries at most JC_MAX_ATTEMPTS of them. */
    if (input == JI_REFUSED)
        row->refusals++;
    if (to == JS_PENDING && input != JI_RETRY &&
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
    case JI_RETRY: /* one more attempt if none is left; the rest starts afresh */
        if (row->attempt - row->refusals >= row->max_attempts)
            row->max_attempts = row->attempt - row->refusals + 1;
        add_flag(row, 'r');
        row->progress = -1;
        row->has_result = 0;
        row->has_error = 0;
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
    history(jw, row, "state", jc_job_state_name(from), jc_job_state_name(to), no, -1, said);
    switch (to) {
    case JS_PENDING:
        row->worker[0] = '\0';
        add_flag(row, 'w');
        set_lease(row, -1);
        row->run_after_ms = input == JI_FAILED ? retry_delay_ms(jw->cfg, row->attempt) : 0;
        break;
    case JS_CANCELING: {
        /* the whole reason (a text of up to JC_MAX_TEXT_LEN bytes, PROTOCOL.md):
         * a shorter buffer would cut it, possibly inside a UTF-8 sequence */
        char reason[JC_MAX_TEXT_LEN + 1];
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

/* The UPDATE: one statement over arrays (unnest), one element per changed
 * row, whatever their number: its text never changes, so PostgreSQL parses
 * it in microseconds (a VALUES list of 15 parameters a row cost as much to
 * parse and bind as to execute); results travel as a binary bytea[]. */
static const char update_sql[] =
    "UPDATE jobs j SET state = v.state, attempt = v.attempt,"
    " worker_id = CASE WHEN strpos(v.flags, 'w') > 0 THEN nullif(v.worker, '') ELSE j.worker_id END,"
    " lease_expires_at = CASE v.lease WHEN 'keep' THEN j.lease_expires_at WHEN 'null' THEN NULL"
    "   ELSE now() + v.lease::bigint * interval '1 millisecond' END,"
    " progress = CASE WHEN strpos(v.flags, 'r') > 0 THEN NULL WHEN v.progress < 0 THEN j.progress"
    "   ELSE v.progress END,"
    " result = CASE WHEN v.has_result THEN v.result WHEN strpos(v.flags, 'r') > 0 THEN NULL"
    "   ELSE j.result END,"
    " error = CASE WHEN v.has_error AND strpos(v.flags, 'c') = 0 THEN v.error"
    "   WHEN strpos(v.flags, 'r') > 0 THEN NULL ELSE j.error END,"
    " cancel_reason = CASE WHEN v.has_error AND strpos(v.flags, 'c') > 0 THEN v.error"
    "   WHEN strpos(v.flags, 'r') > 0 THEN NULL ELSE j.cancel_reason END,"
    " run_after = CASE WHEN v.run_after < 0 THEN j.run_after"
    "   ELSE now() + v.run_after * interval '1 millisecond' END,"
    " assigned_at = CASE WHEN strpos(v.flags, 'a') > 0 THEN now() ELSE j.assigned_at END,"
    " started_at = CASE WHEN strpos(v.flags, 's') > 0 THEN now() ELSE j.started_at END,"
    " finished_at = CASE WHEN strpos(v.flags, 'f') > 0 THEN now()"
    "   WHEN strpos(v.flags, 'r') > 0 THEN NULL ELSE j.finished_at END,"
    " last_event_ts_ms = v.last_ts, refusals = v.refusals, max_attempts = v.max_attempts,"
    " updated_at = now()"
    " FROM unnest($1::uuid[], $2::text[], $3::int[], $4::text[], $5::text[], $6::int[],"
    "             $7::bool[], $8::bytea[], $9::bool[], $10::text[], $11::bigint[], $12::text[],"
    "             $13::bigint[], $14::int[], $15::int[], $16::int[])"
    "   AS v(id, state, attempt, worker, lease, progress, has_result, result, has_error, error,"
    "        run_after, flags, last_ts, old_attempt, refusals, max_attempts)"
    " WHERE j.id = v.id AND j.attempt = v.old_attempt";

// flush_updates writes the dirty rows with one statement.
static int flush_updates(jc_jobwrite *jw, PGconn *db, char *errstr, size_t errstr_size)
{
    jc_buf a[UPD_COLS];
    const char *values[UPD_COLS];
    int lengths[UPD_COLS], formats[UPD_COLS];
    PGresult *r = NULL;
    int rows = 0, rc = -1;

    for (int c = 0; c < UPD_COLS; c++) {
        jc_buf_init(&a[c], ARRAY_MAX);
        if (c == 7)
            jc_buf_bytea_array_begin(&a[c]);
        else
            jc_buf_addstr(&a[c], "{");
    }
    for (size_t i = 0; i < jw->n; i++) {
        jc_jobrow *row = &jw->rows[i];
        if (!row->dirty)
            continue;
        /* the attempt read under the lock: jw_assign bumped it */
        int old_attempt = strchr(row->flags, 'a') ? row->attempt - 1 : row->attempt;
        jc_buf_add_array_elem(&a[0], row->idtext, 36);
        jc_buf_add_array_elem(&a[1], jc_job_state_name(row->state),
                              strlen(jc_job_state_name(row->state)));
        jc_buf_add_array_num(&a[2], row->attempt);
        jc_buf_add_array_elem(&a[3], row->worker, strlen(row->worker));
        jc_buf_add_array_elem(&a[4], row->lease, strlen(row->lease));
        jc_buf_add_array_num(&a[5], row->progress);
        jc_buf_add_array_elem(&a[6], row->has_result ? "t" : "f", 1);
        if (row->has_result)
            jc_buf_bytea_array_add(&a[7], row->result.p ? (const void *)row->result.p : "",
                                   row->result.n);
        else
            jc_buf_bytea_array_add(&a[7], NULL, 0);
        jc_buf_add_array_elem(&a[8], row->has_error ? "t" : "f", 1);
        if (row->has_error && row->error[0]) /* "": clear */
            jc_buf_add_array_elem(&a[9], row->error, strlen(row->error));
        else
            jc_buf_add_array_null(&a[9]);
        jc_buf_add_array_num(&a[10], (long long)row->run_after_ms);
        jc_buf_add_array_elem(&a[11], row->flags, strlen(row->flags));
        jc_buf_add_array_num(&a[12], (long long)row->last_event_ts);
        jc_buf_add_array_num(&a[13], old_attempt);
        jc_buf_add_array_num(&a[14], row->refusals);
        jc_buf_add_array_num(&a[15], row->max_attempts);
        rows++;
    }
    if (rows == 0) {
        rc = 0;
        goto out;
    }
    for (int c = 0; c < UPD_COLS; c++) {
        if (c != 7)
            jc_buf_addstr(&a[c], "}");
        if (a[c].failed) {
            snprintf(errstr, errstr_size, "job update statement too large");
            goto out;
        }
        values[c] = jc_buf_str(&a[c]);
        lengths[c] = (int)a[c].len;
        formats[c] = c == 7;
    }
    r = PQexecParams(db, update_sql, UPD_COLS, NULL, values, lengths, formats, 0);
    if (!jc_db_ok(db, r, errstr, errstr_size))
        goto out;
    if (atoi(PQcmdTuples(r)) != rows) {
        snprintf(errstr, errstr_size, "job update: %s of %d rows matched (concurrent change)",
                 PQcmdTuples(r), rows);
        goto out;
    }
    rc = 0;
out:
    PQclear(r);
    for (int c = 0; c < UPD_COLS; c++)
        jc_buf_free(&a[c]);
    return rc;
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
        " SELECT u.id, u.k, u.r, u.j, u.a, u.s, u.reason"
        "   FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::int[], $6::text[],"
        "               $7::text[]) AS u(id, k, r, j, a, s, reason)";
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
        if (!ok || jc_db_exec(db, "NOTIFY " JC_OUTBOX_CHANNEL, errstr, errstr_size) != 0)
            return -1;
    }
    jw_reset(jw);
    return 0;
}
