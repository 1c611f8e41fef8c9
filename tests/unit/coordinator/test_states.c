/*
 * test_states.c - the state tables: the job state machine (jobstate.c,
 * including an operator's cancel and retry), the worker status
 * (workerstate.c) and the outbox delivery status (cmdstate.c); the SQL lists
 * built from their names against the tables, and the tables against the
 * CHECK constraints of the migrations; and what jobwrite records for an
 * operator's cancel and retry (in memory: no database).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "core/config.h"
#include "jobs/cmdstate.h"
#include "jobs/jobstate.h"
#include "jobs/jobwrite.h"
#include "jobs/workerstate.h"

/* quoted_set parses the quoted names of an SQL list ("('a', 'b')" or
 * "'a', 'b'") into a bit set over names[0..n), -1 if one is unknown. */
static long quoted_set(const char *sql, const char *(*name)(int), int n)
{
    long set = 0;
    const char *p = sql;

    while ((p = strchr(p, '\'')) != NULL) {
        const char *e = strchr(p + 1, '\'');
        int found = 0;
        if (!e)
            return -1;
        for (int i = 0; i < n; i++) {
            const char *nm = name(i);
            if (strlen(nm) == (size_t)(e - p - 1) && memcmp(nm, p + 1, (size_t)(e - p - 1)) == 0) {
                set |= 1L << i;
                found = 1;
            }
        }
        if (!found)
            return -1;
        p = e + 1;
    }
    return set;
}

static const char *job_name(int i)
{
    return jc_job_state_name((jc_job_state)i);
}
static const char *worker_name(int i)
{
    return jc_worker_status_name((jc_worker_status)i);
}
static const char *cmd_name(int i)
{
    return jc_cmd_status_name((jc_cmd_status)i);
}

/* check_constraint returns the text of the "CHECK (<column> IN (...))" in
 * migration file path (static buffer), "" if absent. */
static const char *check_constraint(const char *path, const char *column)
{
    static char out[512];
    char buf[16384], pat[64];
    size_t n;
    FILE *f = fopen(path, "r");
    const char *p, *e;

    out[0] = '\0';
    if (!f)
        return out;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    snprintf(pat, sizeof pat, "CHECK (%s IN (", column);
    p = strstr(buf, pat);
    if (!p || !(e = strstr(p, "))")))
        return out;
    snprintf(out, sizeof out, "%.*s", (int)(e - p), p);
    return out;
}

static void test_job_table(void)
{
    long all = (1L << JS__COUNT) - 1;

    /* an operator's cancel: pending ends at once, a held job waits for its
     * worker, anything else is refused */
    CHECK_EQ_INT(jc_job_next(JS_PENDING, JI_CANCEL), JS_CANCELED);
    CHECK_EQ_INT(jc_job_next(JS_ASSIGNED, JI_CANCEL), JS_CANCELING);
    CHECK_EQ_INT(jc_job_next(JS_RUNNING, JI_CANCEL), JS_CANCELING);
    CHECK_EQ_INT(jc_job_next(JS_CANCELING, JI_CANCEL), JS_INVALID);
    /* an operator's retry: only failed and canceled jobs start over */
    for (int s = 0; s < JS__COUNT; s++) {
        jc_job_state want = s == JS_FAILED || s == JS_CANCELED ? JS_PENDING : JS_INVALID;
        CHECK_EQ_INT(jc_job_next((jc_job_state)s, JI_RETRY), want);
    }
    /* a final state has no way out but an operator's retry */
    for (int s = 0; s < JS__COUNT; s++) {
        if (!jc_job_state_final((jc_job_state)s))
            continue;
        for (int i = 0; i < JI__COUNT; i++)
            if (i != JI_RETRY)
                CHECK_EQ_INT(jc_job_next((jc_job_state)s, (jc_job_input)i), JS_INVALID);
    }
    CHECK_EQ_INT(jc_job_next(JS_INVALID, JI_CANCEL), JS_INVALID);
    CHECK_EQ_INT(jc_job_next(JS_PENDING, JI__COUNT), JS_INVALID);
    for (int s = 0; s < JS__COUNT; s++)
        CHECK_EQ_INT(jc_job_state_parse(jc_job_state_name((jc_job_state)s)), s);
    CHECK_EQ_INT(jc_job_state_parse("paused"), JS_INVALID);
    CHECK_EQ_INT(quoted_set(check_constraint("schemas/sql/002_jobs.sql", "state"), job_name,
                            JS__COUNT),
                 all);
}

static void test_worker_table(void)
{
    long all = (1L << WS__COUNT) - 1;

    for (int s = 0; s < WS__COUNT; s++) {
        CHECK_EQ_INT(jc_worker_status_parse(jc_worker_status_name((jc_worker_status)s)), s);
        /* a heartbeat brings any worker back, draining or not */
        CHECK_EQ_INT(jc_worker_next((jc_worker_status)s, WI_HEARTBEAT), WS_ONLINE);
        CHECK_EQ_INT(jc_worker_next((jc_worker_status)s, WI_HEARTBEAT_DRAIN), WS_DRAINING);
    }
    CHECK_EQ_INT(jc_worker_next(WS_ONLINE, WI_DRAIN), WS_DRAINING);
    CHECK_EQ_INT(jc_worker_next(WS_DRAINING, WI_DRAIN), WS_DRAINING);
    CHECK_EQ_INT(jc_worker_next(WS_DRAINING, WI_UNDRAIN), WS_ONLINE);
    CHECK_EQ_INT(jc_worker_next(WS_ONLINE, WI_UNDRAIN), WS_ONLINE);
    /* an offline worker keeps its status until it is heard again */
    CHECK_EQ_INT(jc_worker_next(WS_OFFLINE, WI_DRAIN), WS_OFFLINE);
    CHECK_EQ_INT(jc_worker_next(WS_OFFLINE, WI_UNDRAIN), WS_OFFLINE);
    CHECK_EQ_INT(jc_worker_next(WS_ONLINE, WI_SILENT), WS_OFFLINE);
    CHECK_EQ_INT(jc_worker_next(WS_DRAINING, WI_SILENT), WS_OFFLINE);
    CHECK_EQ_INT(jc_worker_next(WS_OFFLINE, WI_SILENT), WS_INVALID);
    CHECK_EQ_INT(jc_worker_next(WS_INVALID, WI_HEARTBEAT), WS_INVALID);
    CHECK_EQ_INT(jc_worker_status_parse("busy"), WS_INVALID);
    CHECK_EQ_INT(quoted_set(JC_SQL_WORKER_STATUSES, worker_name, WS__COUNT), all);
    CHECK_EQ_INT(quoted_set(check_constraint("schemas/sql/001_init.sql", "status"), worker_name,
                            WS__COUNT),
                 all);
}

static void test_cmd_table(void)
{
    long all = (1L << CS__COUNT) - 1, finals = 0;

    for (int s = 0; s < CS__COUNT; s++) {
        CHECK_EQ_INT(jc_cmd_status_parse(jc_cmd_status_name((jc_cmd_status)s)), s);
        if (jc_cmd_status_final((jc_cmd_status)s)) {
            finals |= 1L << s;
            for (int i = 0; i < CI__COUNT; i++)
                CHECK_EQ_INT(jc_cmd_next((jc_cmd_status)s, (jc_cmd_input)i), CS_INVALID);
        } else {
            /* every open row can be acknowledged, refused or given up */
            CHECK_EQ_INT(jc_cmd_next((jc_cmd_status)s, CI_ACKED), CS_ACKED);
            CHECK_EQ_INT(jc_cmd_next((jc_cmd_status)s, CI_REFUSED), CS_FAILED);
            CHECK_EQ_INT(jc_cmd_next((jc_cmd_status)s, CI_GIVEN_UP), CS_FAILED);
        }
    }
    CHECK_EQ_INT(jc_cmd_next(CS_PENDING, CI_PRODUCED), CS_SENT);
    CHECK_EQ_INT(jc_cmd_next(CS_SENT, CI_PRODUCED), CS_SENT);
    CHECK_EQ_INT(jc_cmd_next(CS_PENDING, CI_DELIVERED), CS_DONE);
    CHECK_EQ_INT(jc_cmd_status_parse("queued"), CS_INVALID);
    /* the SQL lists are exactly the open and the final statuses */
    CHECK_EQ_INT(quoted_set(JC_SQL_CMD_OPEN, cmd_name, CS__COUNT), all & ~finals);
    CHECK_EQ_INT(quoted_set(JC_SQL_CMD_FINAL, cmd_name, CS__COUNT), finals);
    CHECK_EQ_INT(quoted_set(JC_SQL_CMD_STATUSES, cmd_name, CS__COUNT), all);
    CHECK_EQ_INT(quoted_set(check_constraint("schemas/sql/002_jobs.sql", "status"), cmd_name,
                            CS__COUNT),
                 all);
}

/* array_text returns the PostgreSQL array literal a jobwrite column holds. */
static const char *array_text(jc_buf *b)
{
    return jc_buf_str(b);
}

static jc_jobrow *add_row(jc_jobwrite *jw, jc_job_state state, int attempt, int max_attempts,
                          const char *worker)
{
    jc_jobrow *row;
    jw->rows = realloc(jw->rows, (jw->n + 1) * sizeof *jw->rows);
    jw->cap = jw->n + 1;
    row = &jw->rows[jw->n++];
    memset(row, 0, sizeof *row);
    for (int i = 0; i < JC_ID_LEN; i++)
        row->id[i] = (uint8_t)(jw->n * 16 + i);
    jc_id_format(row->id, row->idtext);
    row->state = state;
    row->attempt = attempt;
    row->max_attempts = max_attempts;
    row->timeout_ms = 60000;
    snprintf(row->worker, sizeof row->worker, "%s", worker);
    snprintf(row->submitter, sizeof row->submitter, "alice");
    row->progress = -1;
    row->run_after_ms = -1;
    snprintf(row->lease, sizeof row->lease, "keep");
    return row;
}

static void test_jobwrite_operator(const jc_config *cfg)
{
    jc_jobwrite jw;
    jc_job_input_args args;
    jc_jobrow *row;

    jw_init(&jw, cfg);
    /* cancel of a running job: the history names the cause, the worker's
     * cancel command and cancel_reason carry the reason alone, and the
     * lease is cut to jobs.cancel_timeout_ms */
    row = add_row(&jw, JS_RUNNING, 2, 3, "w1");
    memset(&args, 0, sizeof args);
    args.cause = jc_slice_str("canceled by operator ops@box");
    args.text = jc_slice_str("no longer needed");
    CHECK_EQ_INT(jw_apply(&jw, row, JI_CANCEL, &args), JS_CANCELING);
    CHECK_EQ_INT(jw.n_events, 1);
    CHECK(strstr(array_text(&jw.ev[8]), "canceled by operator ops@box: no longer needed") != NULL);
    CHECK_EQ_INT(jw.n_cmds, 1);
    CHECK(strstr(array_text(&jw.cmd[1]), "cancel") != NULL);
    CHECK(strstr(array_text(&jw.cmd[2]), "w1") != NULL);
    CHECK_EQ_STR(array_text(&jw.cmd[6]), "{\"no longer needed\"");
    CHECK(strstr(array_text(&jw.cmd[0]), jw.last_cmd_id) != NULL);
    CHECK_EQ_INT(jw.last_cmd_id[14], '4'); /* a version 4 UUID */
    CHECK_EQ_STR(row->error, "no longer needed");
    CHECK(strchr(row->flags, 'c') != NULL);
    CHECK_EQ_INT(atoi(row->lease), cfg->cancel_timeout_ms);

    /* a long reason reaches the worker whole (it was cut at 255 bytes) */
    {
        char longer[1100];
        memset(longer, 'r', sizeof longer - 1);
        longer[sizeof longer - 1] = '\0';
        memcpy(longer + 250, "\xc3\xa9", 2); /* a 2-byte character across the old cut */
        jw_reset(&jw);
        row = add_row(&jw, JS_ASSIGNED, 1, 3, "w1");
        args.text = jc_slice_str(longer);
        CHECK_EQ_INT(jw_apply(&jw, row, JI_CANCEL, &args), JS_CANCELING);
        CHECK_EQ_INT(strlen(array_text(&jw.cmd[6])), 1 + 1 + strlen(longer) + 1);
        CHECK(strstr(array_text(&jw.cmd[6]), longer) != NULL);
    }

    /* a cancel without a reason: the history still names the operator */
    jw_reset(&jw);
    jw.n = 0;
    row = add_row(&jw, JS_PENDING, 0, 3, "");
    memset(&args, 0, sizeof args);
    args.cause = jc_slice_str("canceled by operator ops@box");
    CHECK_EQ_INT(jw_apply(&jw, row, JI_CANCEL, &args), JS_CANCELED);
    CHECK(strstr(array_text(&jw.ev[8]), "\"canceled by operator ops@box\"") != NULL);
    CHECK_EQ_INT(row->has_error, 0); /* no cancel_reason */
    CHECK(strstr(array_text(&jw.cmd[1]), "job.update") != NULL);
    CHECK(strstr(array_text(&jw.cmd[2]), "alice") != NULL);

    /* retry of a failed job that used its attempts: pending at once, one
     * more attempt, the attempt count kept, everything else cleared, no
     * command */
    jw_reset(&jw);
    jw.n = 0;
    row = add_row(&jw, JS_FAILED, 3, 3, "w1");
    row->has_error = 0;
    memset(&args, 0, sizeof args);
    args.cause = jc_slice_str("retried by operator ops@box");
    CHECK_EQ_INT(jw_apply(&jw, row, JI_RETRY, &args), JS_PENDING);
    CHECK_EQ_INT(row->attempt, 3);
    CHECK_EQ_INT(row->max_attempts, 4);
    CHECK(strchr(row->flags, 'r') != NULL);
    CHECK(strchr(row->flags, 'w') != NULL);
    CHECK_EQ_STR(row->worker, "");
    CHECK_EQ_STR(row->lease, "null");
    CHECK_EQ_INT(row->run_after_ms, 0);
    CHECK_EQ_INT(jw.n_cmds, 0);
    CHECK(strstr(array_text(&jw.ev[3]), "failed") != NULL);
    CHECK(strstr(array_text(&jw.ev[4]), "pending") != NULL);
    CHECK(strstr(array_text(&jw.ev[8]), "retried by operator ops@box") != NULL);
    /* a retried job with attempts left keeps its max_attempts */
    row = add_row(&jw, JS_CANCELED, 1, 5, "w2");
    CHECK_EQ_INT(jw_apply(&jw, row, JI_RETRY, &args), JS_PENDING);
    CHECK_EQ_INT(row->max_attempts, 5);
    /* a job that used every attempt the protocol numbers is refused,
     * nothing recorded */
    row = add_row(&jw, JS_FAILED, JC_MAX_ATTEMPTS, JC_MAX_ATTEMPTS, "w1");
    CHECK_EQ_INT(jw_apply(&jw, row, JI_RETRY, &args), JS_INVALID);
    CHECK_EQ_INT(row->dirty, 0);
    CHECK_EQ_INT(jw.n_events, 2);
    /* retry of a job that is not over is refused */
    row = add_row(&jw, JS_RUNNING, 1, 3, "w1");
    CHECK_EQ_INT(jw_apply(&jw, row, JI_RETRY, &args), JS_INVALID);
    jw_free(&jw);
}

int main(void)
{
    jc_config cfg;

    if (jc_config_init(&cfg) != 0) {
        fprintf(stderr, "config init failed\n");
        return 1;
    }
    test_job_table();
    test_worker_table();
    test_cmd_table();
    test_jobwrite_operator(&cfg);
    jc_config_free(&cfg);
    return check_done("test_states");
}
