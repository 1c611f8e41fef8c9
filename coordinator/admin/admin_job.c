/*
 * admin_job.c - `jobcoord-admin job list|show|logs|stats`: read-only views
 * of the jobs table, of a job's history (job_events), of the commands sent
 * about it (the outbox), and per-type statistics of finished jobs
 * (jobstats.c). The commands that change a job are in admin_job_control.c.
 *
 * Payloads and results are opaque bytes. The text output shows their size
 * and a short preview (as text when the first bytes are printable ASCII,
 * else in hex); --json carries them whole, in base64.
 */
#include "admin.h"

#include <stdlib.h>
#include <string.h>

#include "jobs/jobstate.h"
#include "jobs/jobstats.h"

#define LIMIT_DEFAULT "50"
#define LIMIT_MAX 10000L
#define WINDOW_MAX 31536000L
#define STATS_WINDOW_DEFAULT 3600L
#define PREVIEW_TEXT 64 /* bytes shown as text */
#define PREVIEW_HEX 32  /* bytes shown in hex */

static const char *const job_states[] = {"pending", "assigned", "running", "succeeded",
                                         "failed", "canceling", "canceled"};

/* The filters of `job list`: $1 state, $2 type, $3 worker, $4 window, $5 limit,
 * $6 submitter. */
#define JOB_LIST_FROM                                                                    \
    " FROM jobs"                                                                         \
    " WHERE ($1::text IS NULL OR state = $1) AND ($2::text IS NULL OR type = $2)"        \
    " AND ($3::text IS NULL OR worker_id = $3) AND ($6::text IS NULL OR submitter = $6)" \
    " AND ($4::bigint IS NULL OR created_at >= now() - $4::bigint * interval '1 s')"     \
    " ORDER BY created_at DESC, id DESC LIMIT $5::integer"

static const char job_list_text_sql[] =
    "SELECT id, type, state, attempt || '/' || max_attempts AS attempt, worker_id AS worker,"
    " submitter, priority, " ADMIN_TS("created_at") " AS created_at,"
    " " ADMIN_TS("updated_at") " AS updated_at,"
    " CASE WHEN length(error) > 60 THEN left(" ADMIN_ONE_LINE("error") ", 57) || '...'"
    " ELSE " ADMIN_ONE_LINE("error") " END AS error" JOB_LIST_FROM;

static const char job_list_json_sql[] =
    "SELECT id, type, state, attempt, max_attempts, worker_id AS worker, submitter, priority,"
    " " ADMIN_TS("created_at") " AS created_at, " ADMIN_TS("updated_at") " AS updated_at,"
    " error" JOB_LIST_FROM;

/* Every column of a job but the payload and the result. */
#define JOB_COLUMNS                                                                            \
    "SELECT id, submitter, ikey, type, state, attempt, max_attempts, refusals, priority,"      \
    " " ADMIN_TS("run_after") " AS run_after, timeout_ms, worker_id,"                          \
    " " ADMIN_TS("lease_expires_at") " AS lease_expires_at, progress, error, cancel_reason,"   \
    " last_event_ts_ms, " ADMIN_TS("created_at") " AS created_at,"                             \
    " " ADMIN_TS("updated_at") " AS updated_at, " ADMIN_TS("assigned_at") " AS assigned_at,"   \
    " " ADMIN_TS("started_at") " AS started_at, " ADMIN_TS("finished_at") " AS finished_at,"   \
    " " JC_SQL_WAITING("jobs") " AS waiting,"                                                \
    " octet_length(payload) AS payload_size, octet_length(result) AS result_size"

/* The text view adds the first bytes of payload and result in hex. */
static const char job_show_text_sql[] =
    JOB_COLUMNS ", encode(substring(payload FROM 1 FOR 64), 'hex') AS payload_head,"
                " encode(substring(result FROM 1 FOR 64), 'hex') AS result_head"
                " FROM jobs WHERE id = $1";

/* The JSON view adds them whole in base64 (encode() breaks lines: joined). */
static const char job_show_json_sql[] =
    JOB_COLUMNS ", translate(encode(payload, 'base64'), E'\\n', '') AS payload,"
                " translate(encode(result, 'base64'), E'\\n', '') AS result"
                " FROM jobs WHERE id = $1";

static const char job_commands_sql[] =
    "SELECT id, kind, recipient, attempt, state, reason, status, tries,"
    " " ADMIN_TS("created_at") " AS created_at, " ADMIN_TS("sent_at") " AS sent_at,"
    " " ADMIN_TS("acked_at") " AS acked_at, error"
    " FROM commands WHERE job_id = $1 ORDER BY seq";

/* In text, one line per event: what it says in one DETAIL column. */
static const char job_logs_text_sql[] =
    "SELECT " ADMIN_TS_MS("at") " AS at, attempt, kind, worker_id AS worker,"
    " CASE kind"
    "  WHEN 'state' THEN coalesce(from_state, '-') || ' -> ' || coalesce(to_state, '-')"
    "   || coalesce(': ' || " ADMIN_ONE_LINE("text") ", '')"
    "  WHEN 'log' THEN coalesce(stream, '-') || ': ' || coalesce(" ADMIN_ONE_LINE("text") ", '')"
    "  WHEN 'progress' THEN coalesce(progress || '%', '-')"
    "   || coalesce(' ' || " ADMIN_ONE_LINE("text") ", '')"
    "  ELSE coalesce(" ADMIN_ONE_LINE("text") ", '') END AS detail"
    " FROM job_events WHERE job_id = $1 ORDER BY id";

static const char job_logs_json_sql[] =
    "SELECT id, " ADMIN_TS_MS("at") " AS at, attempt, kind, from_state, to_state, worker_id,"
    " stream, progress, text FROM job_events WHERE job_id = $1 ORDER BY id";

/* job_id_arg checks a job id argument. */
static int job_id_arg(const char *id)
{
    if (!jc_id_text_valid(id))
        return admin_fail(ADMIN_REFUSED, "invalid job id '%s' (a UUID)", id);
    return ADMIN_OK;
}

/* cmd_job_list lists jobs, newest first. */
static int cmd_job_list(admin_ctx *ctx, const admin_args *a)
{
    const char *p[6];
    long n;
    size_t s;
    PGresult *r;
    int rc;

    p[5] = admin_opt_value(a, "submitter");
    if (p[5] && !jc_principal_name_valid(p[5]))
        return admin_fail(ADMIN_REFUSED, "invalid submitter '%s'", p[5]);
    p[0] = admin_opt_value(a, "state");
    p[1] = admin_opt_value(a, "type");
    p[2] = admin_opt_value(a, "worker");
    p[3] = admin_opt_value(a, "window");
    p[4] = admin_opt_value(a, "limit");
    for (s = 0; p[0] && s < sizeof job_states / sizeof job_states[0]; s++) {
        if (strcmp(p[0], job_states[s]) == 0)
            break;
    }
    if (p[0] && s == sizeof job_states / sizeof job_states[0])
        return admin_fail(ADMIN_REFUSED,
                          "unknown state '%s' (pending, assigned, running, succeeded, failed, "
                          "canceling or canceled)",
                          p[0]);
    if (p[3] && admin_parse_long("--window", p[3], 1, WINDOW_MAX, &n))
        return ADMIN_REFUSED;
    if (!p[4])
        p[4] = LIMIT_DEFAULT;
    else if (admin_parse_long("--limit", p[4], 1, LIMIT_MAX, &n))
        return ADMIN_REFUSED;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    r = admin_query(ctx, ctx->json ? job_list_json_sql : job_list_text_sql, 6, p);
    if (!r)
        return ADMIN_SYSERR;
    admin_print_rows(ctx, r);
    PQclear(r);
    return ADMIN_OK;
}

/* blob_preview describes bytes of which head_hex holds the first ones:
 * "N bytes: \"text\"" when they are printable ASCII (tab, CR and LF
 * escaped), else "N bytes, hex: 00ff..."; "..." marks a cut. */
static void blob_preview(const char *size_text, const char *head_hex, char *out, size_t out_size)
{
    unsigned char head[PREVIEW_TEXT];
    size_t n = strlen(head_hex) / 2, used;
    long size = strtol(size_text, NULL, 10);
    int printable = 1;

    if (n > sizeof head)
        n = sizeof head;
    for (size_t i = 0; i < n; i++) {
        char byte[3] = {head_hex[2 * i], head_hex[2 * i + 1], '\0'};
        head[i] = (unsigned char)strtoul(byte, NULL, 16);
        if ((head[i] < 0x20 || head[i] > 0x7e) && head[i] != '\t' && head[i] != '\n' &&
            head[i] != '\r')
            printable = 0;
    }
    used = (size_t)snprintf(out, out_size, "%ld byte%s", size, size == 1 ? "" : "s");
    if (n == 0 || used >= out_size)
        return;
    if (printable) {
        used += (size_t)snprintf(out + used, out_size - used, ": \"");
        for (size_t i = 0; i < n && used + 4 < out_size; i++) {
            const char *esc = head[i] == '\t' ? "\\t" : head[i] == '\n' ? "\\n"
                            : head[i] == '\r' ? "\\r" : head[i] == '"' ? "\\\""
                            : head[i] == '\\' ? "\\\\" : NULL;
            if (esc) {
                memcpy(out + used, esc, 2);
                used += 2;
            } else {
                out[used++] = (char)head[i];
            }
        }
        out[used] = '\0';
        snprintf(out + used, out_size - used, "\"%s", size > (long)n ? "..." : "");
        return;
    }
    if (n > PREVIEW_HEX)
        n = PREVIEW_HEX;
    snprintf(out + used, out_size - used, ", hex: %.*s%s", (int)(2 * n), head_hex,
             size > (long)n ? "..." : "");
}

/* print_job_text prints a job's row, its payload and result previews and
 * its commands. */
static void print_job_text(const PGresult *job, const PGresult *cmds)
{
    int width = admin_record_width(job);
    int payload_size = PQfnumber(job, "payload_size");
    char preview[PREVIEW_TEXT * 2 + 64];

    for (int c = 0; c < payload_size; c++)
        admin_print_field(stdout, width, PQfname(job, c),
                          PQgetisnull(job, 0, c) ? "-" : PQgetvalue(job, 0, c));
    blob_preview(PQgetvalue(job, 0, payload_size), PQgetvalue(job, 0, payload_size + 2),
                 preview, sizeof preview);
    admin_print_field(stdout, width, "payload", preview);
    if (PQgetisnull(job, 0, payload_size + 1))
        snprintf(preview, sizeof preview, "-");
    else
        blob_preview(PQgetvalue(job, 0, payload_size + 1), PQgetvalue(job, 0, payload_size + 3),
                     preview, sizeof preview);
    admin_print_field(stdout, width, "result", preview);
    printf("\ncommands:\n");
    admin_print_result(stdout, cmds);
}

/* cmd_job_show prints every column of a job and the commands about it. */
static int cmd_job_show(admin_ctx *ctx, const admin_args *a)
{
    PGresult *job = NULL, *cmds = NULL;
    int rc = job_id_arg(a->pos[0]);

    if (rc)
        return rc;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    rc = admin_snapshot(ctx);
    if (rc)
        return rc;
    rc = ADMIN_SYSERR;
    job = admin_query(ctx, ctx->json ? job_show_json_sql : job_show_text_sql, 1, &a->pos[0]);
    if (!job)
        goto out;
    if (PQntuples(job) == 0) {
        rc = admin_fail(ADMIN_REFUSED, "no job '%s'", a->pos[0]);
        goto out;
    }
    cmds = admin_query(ctx, job_commands_sql, 1, &a->pos[0]);
    if (!cmds)
        goto out;
    if (ctx->json) {
        if (admin_json_print_row_with(job, "commands", cmds) != ADMIN_OK)
            goto out;
    } else {
        print_job_text(job, cmds);
    }
    rc = ADMIN_OK;
out:
    PQclear(job);
    PQclear(cmds);
    return rc;
}

/* cmd_job_logs prints a job's events in the order they were recorded. */
static int cmd_job_logs(admin_ctx *ctx, const admin_args *a)
{
    PGresult *found = NULL, *r = NULL;
    int rc = job_id_arg(a->pos[0]);

    if (rc)
        return rc;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    rc = admin_snapshot(ctx);
    if (rc)
        return rc;
    rc = ADMIN_SYSERR;
    found = admin_query(ctx, "SELECT 1 FROM jobs WHERE id = $1", 1, &a->pos[0]);
    if (!found)
        goto out;
    if (PQntuples(found) == 0) {
        rc = admin_fail(ADMIN_REFUSED, "no job '%s'", a->pos[0]);
        goto out;
    }
    r = admin_query(ctx, ctx->json ? job_logs_json_sql : job_logs_text_sql, 1, &a->pos[0]);
    if (!r)
        goto out;
    admin_print_rows(ctx, r);
    rc = ADMIN_OK;
out:
    PQclear(found);
    PQclear(r);
    return rc;
}

/* json_rounded returns v rounded to decimals places as a JSON number (the
 * value the text output shows), or null when there is none. */
static json_t *json_rounded(int has, double v, int decimals)
{
    char text[64];

    if (!has)
        return json_null();
    snprintf(text, sizeof text, "%.*f", decimals, v);
    return json_real(strtod(text, NULL));
}

/* json_stats returns rows as a JSON array of objects named by key ("type"
 * or "submitter"), or NULL when it cannot be made. */
static json_t *json_stats(const char *key, const jc_jobstats_row *rows, size_t n)
{
    json_t *arr = json_array();

    for (size_t i = 0; arr && i < n; i++) {
        const jc_jobstats_row *s = &rows[i];
        json_t *o =
            json_pack("{s:s,s:I,s:I,s:I,s:I,s:o,s:o,s:o,s:o}", key, s->type, "succeeded",
                      (json_int_t)s->succeeded, "failed", (json_int_t)s->failed, "canceled",
                      (json_int_t)s->canceled, "total", (json_int_t)s->total, "success_rate",
                      json_rounded(s->success_rate >= 0, s->success_rate, 6), "p50_ms",
                      json_rounded(s->has_durations, s->p50_ms, 3), "p90_ms",
                      json_rounded(s->has_durations, s->p90_ms, 3), "p99_ms",
                      json_rounded(s->has_durations, s->p99_ms, 3));
        if (json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr;
}

/* print_stats prints rows as a table whose first column is first. */
static void print_stats(const char *first, const jc_jobstats_row *rows, size_t n)
{
    const char *hdr[] = {first,     "SUCCEEDED", "FAILED", "CANCELED", "TOTAL",
                         "SUCCESS", "P50_MS",    "P90_MS", "P99_MS"};
    admin_table *t = admin_table_new(9, hdr);

    for (size_t i = 0; i < n; i++) {
        const jc_jobstats_row *s = &rows[i];
        char num[4][24], rate[16], p[3][32];
        const char *cells[9];

        snprintf(num[0], sizeof num[0], "%lld", s->succeeded);
        snprintf(num[1], sizeof num[1], "%lld", s->failed);
        snprintf(num[2], sizeof num[2], "%lld", s->canceled);
        snprintf(num[3], sizeof num[3], "%lld", s->total);
        snprintf(rate, sizeof rate, "%.1f%%", 100.0 * s->success_rate);
        snprintf(p[0], sizeof p[0], "%.1f", s->p50_ms);
        snprintf(p[1], sizeof p[1], "%.1f", s->p90_ms);
        snprintf(p[2], sizeof p[2], "%.1f", s->p99_ms);
        cells[0] = s->type;
        cells[1] = num[0];
        cells[2] = num[1];
        cells[3] = num[2];
        cells[4] = num[3];
        cells[5] = s->success_rate >= 0 ? rate : NULL;
        cells[6] = s->has_durations ? p[0] : NULL;
        cells[7] = s->has_durations ? p[1] : NULL;
        cells[8] = s->has_durations ? p[2] : NULL;
        admin_table_add(t, cells);
    }
    admin_table_print(stdout, t);
    admin_table_free(t);
}

/* cmd_job_stats prints per-type and per-submitter outcomes and durations
 * of the jobs that finished within the window. */
static int cmd_job_stats(admin_ctx *ctx, const admin_args *a)
{
    const char *window_text = admin_opt_value(a, "window");
    long window = STATS_WINDOW_DEFAULT;
    jc_jobstats_row *rows = NULL, *subs = NULL;
    size_t n = 0, n_subs = 0;
    char err[512];
    int rc;

    if (window_text && admin_parse_long("--window", window_text, 1, JC_JOBSTATS_WINDOW_MAX,
                                        &window))
        return ADMIN_REFUSED;
    rc = admin_db(ctx, 1);
    if (rc)
        return rc;
    rc = admin_snapshot(ctx); /* both groupings from one snapshot */
    if (rc)
        return rc;
    if (jc_jobstats_query(ctx->db, window, &rows, &n, err, sizeof err) != 0 ||
        jc_jobstats_by_submitter(ctx->db, window, &subs, &n_subs, err, sizeof err) != 0) {
        free(rows);
        return admin_fail(ADMIN_SYSERR, "%s", err);
    }
    if (ctx->json) {
        rc = admin_json_print(json_pack("{s:I,s:o,s:o}", "window_s", (json_int_t)window, "types",
                                        json_stats("type", rows, n), "submitters",
                                        json_stats("submitter", subs, n_subs)));
    } else if (n == 0) {
        printf("(no job finished in the last %ld s)\n", window);
    } else {
        printf("jobs finished in the last %ld s, durations from creation to end:\n", window);
        print_stats("TYPE", rows, n);
        printf("\nby submitter:\n");
        print_stats("SUBMITTER", subs, n_subs);
    }
    free(rows);
    free(subs);
    return ADMIN_OK;
}

static const admin_cmd job_commands[] = {
    {"job",
     "list",
     "[--state S] [--type T] [--worker W] [--submitter P] [--window SECONDS] [--limit N]",
     "List jobs, newest first.",
     "Columns: id, type, state, attempt/max attempts, worker, submitter, priority, created and\n"
     "updated times, and the error (cut to 60 characters; whole with --json, where\n"
     "attempt and max_attempts are separate numbers).",
     0,
     {{"state", "S", "only jobs in this state"},
      {"type", "T", "only jobs of this type"},
      {"worker", "W", "only jobs held (or last held) by this worker"},
      {"submitter", "P", "only jobs submitted by this principal"},
      {"window", "SECONDS", "only jobs created within the last SECONDS"},
      {"limit", "N", "at most N jobs, 1..10000 (default 50)"}},
     cmd_job_list},
    {"job",
     "show",
     "<id>",
     "Show every column of a job and the commands about it.",
     "The payload and the result are shown as their size and a preview of their first\n"
     "bytes (as text when printable, else in hex); --json gives them whole, in base64,\n"
     "with payload_size and result_size. The commands (the outbox rows about the job:\n"
     "assign, cancel, job.update, job.refusal) are listed oldest first with their\n"
     "delivery status.",
     1,
     {{NULL, NULL, NULL}},
     cmd_job_show},
    {"job",
     "logs",
     "<id>",
     "Show a job's history: transitions, progress and log lines.",
     "One line per event, in order: time, attempt, kind, worker, and the detail\n"
     "(from -> to for a transition, stream: text for a log line, the percentage for\n"
     "progress). --json gives the raw columns.",
     1,
     {{NULL, NULL, NULL}},
     cmd_job_logs},
    {"job",
     "stats",
     "[--window SECONDS]",
     "Per job type and per submitter: outcomes and durations of recent jobs.",
     "Over the jobs that finished (succeeded, failed or canceled) within the window,\n"
     "per job type, then per submitter: the count of each outcome, the success rate\n"
     "(succeeded / total), and the 50th, 90th and 99th percentiles (continuous,\n"
     "interpolated) of the time from creation to end in milliseconds, queueing and\n"
     "retries included.",
     0,
     {{"window", "SECONDS", "jobs finished within the last SECONDS (default 3600)"}},
     cmd_job_stats},
    {NULL, NULL, NULL, NULL, NULL, 0, {{NULL, NULL, NULL}}, NULL},
};

const admin_cmd *admin_job_commands(void)
{
    return job_commands;
}
