/*
 * json_bench.c - jobcoord-json-bench: the cost of the project's JSON,
 * written by hand (core/json_out.c on a jc_buf) against jansson building
 * and dumping the same document, and read by the strict reader
 * (jcproto/json.h, over jansson). It exists to decide, with figures, where
 * jansson does the work (docs/architecture.md, "Dependencies"): each
 * writing case builds the same document both ways, checks that the two
 * hold the same values, then times them.
 *
 *   jobcoord-json-bench [iterations]
 *
 * Cases: a /v1/status-sized document (the counts and a few lag and
 * rejection rows), a /v1/jobs page of 500 jobs (the largest page), the
 * claims of an access token (read on every authenticated request), and a
 * token endpoint answer (read by the SDK when it fetches a token). The
 * figures of the hand-written reader jansson replaced are in
 * docs/architecture.md.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <jansson.h>

#include "core/buf.h"
#include "core/json_out.h"
#include "jcproto/json.h"

#define JOBS_PAGE 500

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---- the documents' content ---- */

static const char *const job_keys[] = {"id",         "type",          "state",
                                       "submitter",  "worker",        "priority",
                                       "attempt",    "max_attempts",  "progress",
                                       "error",      "cancel_reason", "idempotency_key",
                                       "created_at", "updated_at",    "assigned_at",
                                       "started_at", "finished_at",   "run_after",
                                       "timeout_ms", "waiting_reason"};
#define N_JOB_KEYS (sizeof job_keys / sizeof job_keys[0])
/* 's': string, 'n': number, '0': null */
static const char job_kinds[N_JOB_KEYS] = {'s', 's', 's', 's', 's', 'n', 'n', 'n', 'n', 's',
                                           '0', 's', 's', 's', 's', 's', '0', 's', 'n', '0'};

static void job_values(int row, const char *out[N_JOB_KEYS], char bufs[4][64])
{
    snprintf(bufs[0], 64, "0192f3c4-%04x-4e55-a0f1-6c8b2d8e5f02", row);
    snprintf(bufs[1], 64, "%d", row % 10);
    snprintf(bufs[2], 64, "%d", 1 + row % 3);
    snprintf(bufs[3], 64, "key-%d", row);
    const char *v[N_JOB_KEYS] = {bufs[0],
                                 "transcode",
                                 "running",
                                 "client-17",
                                 "transcoder-3",
                                 bufs[1],
                                 bufs[2],
                                 "3",
                                 "40",
                                 "ffmpeg: \"input\" ended early\n(retrying)",
                                 NULL,
                                 bufs[3],
                                 "2026-01-15T10:02:11.204Z",
                                 "2026-01-15T10:02:20.512Z",
                                 "2026-01-15T10:02:11.391Z",
                                 "2026-01-15T10:02:11.500Z",
                                 NULL,
                                 "2026-01-15T10:02:11.100Z",
                                 "60000",
                                 NULL};
    memcpy(out, v, sizeof v);
}

static void jobs_hand(jc_buf *b)
{
    char bufs[4][64];
    const char *v[N_JOB_KEYS];

    jc_buf_reset(b);
    jc_buf_addstr(b, "{\"jobs\":[");
    for (int row = 0; row < JOBS_PAGE; row++) {
        job_values(row, v, bufs);
        jc_buf_addstr(b, row ? ",{" : "{");
        for (size_t k = 0; k < N_JOB_KEYS; k++) {
            if (k)
                jc_buf_addstr(b, ",");
            jc_json_str(b, job_keys[k]);
            jc_buf_addstr(b, ":");
            if (job_kinds[k] == '0' || !v[k])
                jc_buf_addstr(b, "null");
            else if (job_kinds[k] == 'n')
                jc_buf_addstr(b, v[k]);
            else
                jc_json_str(b, v[k]);
        }
        jc_buf_addstr(b, "}");
    }
    jc_buf_addstr(b, "],\"next_cursor\":\"MjAyNi0wMS0xNVQxMDowMjoxMS4yMDRa\"}");
}

static char *jobs_jansson(size_t *len)
{
    char bufs[4][64];
    const char *v[N_JOB_KEYS];
    json_t *doc = json_object(), *jobs = json_array();
    char *s;

    for (int row = 0; row < JOBS_PAGE; row++) {
        json_t *o = json_object();
        job_values(row, v, bufs);
        for (size_t k = 0; k < N_JOB_KEYS; k++) {
            json_t *val = job_kinds[k] == '0' || !v[k] ? json_null()
                          : job_kinds[k] == 'n'        ? json_integer(strtoll(v[k], NULL, 10))
                                                       : json_string(v[k]);
            json_object_set_new(o, job_keys[k], val);
        }
        json_array_append_new(jobs, o);
    }
    json_object_set_new(doc, "jobs", jobs);
    json_object_set_new(doc, "next_cursor", json_string("MjAyNi0wMS0xNVQxMDowMjoxMS4yMDRa"));
    s = jc_json_dumps(doc); /* as the server writes it: json_out.c */
    json_decref(doc);
    *len = s ? strlen(s) : 0;
    return s;
}

static const char *const groups[3][8] = {{"online", "offline", "draining", NULL},
                                         {"pending", "assigned", "running", "succeeded", "failed",
                                          "canceling", "canceled", NULL},
                                         {"pending", "sent", "acked", "failed", "done", NULL}};
static const char *const group_names[3] = {"workers", "jobs", "commands"};

static void status_hand(jc_buf *b)
{
    jc_buf_reset(b);
    jc_buf_addstr(b, "{\"version\":");
    jc_json_str(b, "0.9.0");
    jc_buf_addstr(b, ",\"instance\":");
    jc_json_str(b, "coord-a1b2c3");
    for (int g = 0; g < 3; g++) {
        jc_buf_addstr(b, ",");
        jc_json_str(b, group_names[g]);
        jc_buf_addstr(b, ":{");
        for (int i = 0; groups[g][i]; i++) {
            if (i)
                jc_buf_addstr(b, ",");
            jc_json_str(b, groups[g][i]);
            jc_buf_printf(b, ":%d", 1000 + i * 37);
        }
        jc_buf_addstr(b, "}");
    }
    jc_buf_addstr(b, ",\"lag\":[");
    for (int p = 0; p < 12; p++) {
        jc_buf_addstr(b, p ? ",{\"topic\":" : "{\"topic\":");
        jc_json_str(b, p < 4 ? "job-requests" : p < 8 ? "job-events" : "heartbeats");
        jc_buf_printf(b, ",\"partition\":%d,\"lag\":%d}", p % 4, p * 3);
    }
    jc_buf_addstr(b, "],\"rejections\":[");
    for (int row = 0; row < 8; row++) {
        jc_buf_addstr(b, row ? ",{\"topic\":" : "{\"topic\":");
        jc_json_str(b, "job-events");
        jc_buf_addstr(b, ",\"reason\":");
        jc_json_str(b, "stale_attempt");
        jc_buf_printf(b, ",\"count\":%d,\"last_at\":", row * 11);
        jc_json_str(b, "2026-01-15T10:02:11.204Z");
        jc_buf_addstr(b, "}");
    }
    jc_buf_addstr(b, "],\"warnings\":[]}");
}

static char *status_jansson(size_t *len)
{
    json_t *doc = json_object(), *lag = json_array(), *rej = json_array();
    char *s;

    json_object_set_new(doc, "version", json_string("0.9.0"));
    json_object_set_new(doc, "instance", json_string("coord-a1b2c3"));
    for (int g = 0; g < 3; g++) {
        json_t *o = json_object();
        for (int i = 0; groups[g][i]; i++)
            json_object_set_new(o, groups[g][i], json_integer(1000 + i * 37));
        json_object_set_new(doc, group_names[g], o);
    }
    for (int p = 0; p < 12; p++)
        json_array_append_new(lag, json_pack("{s:s,s:i,s:i}", "topic",
                                             p < 4   ? "job-requests"
                                             : p < 8 ? "job-events"
                                                     : "heartbeats",
                                             "partition", p % 4, "lag", p * 3));
    json_object_set_new(doc, "lag", lag);
    for (int row = 0; row < 8; row++)
        json_array_append_new(rej, json_pack("{s:s,s:s,s:i,s:s}", "topic", "job-events", "reason",
                                             "stale_attempt", "count", row * 11, "last_at",
                                             "2026-01-15T10:02:11.204Z"));
    json_object_set_new(doc, "rejections", rej);
    json_object_set_new(doc, "warnings", json_array());
    s = jc_json_dumps(doc); /* as the server writes it: json_out.c */
    json_decref(doc);
    *len = s ? strlen(s) : 0;
    return s;
}

/* ---- reading ---- */

static const char claims[] =
    "{\"iss\":\"https://jobcoord.example.com\",\"sub\":\"client-17\",\"aud\":\"jobcoord\","
    "\"iat\":1768471331,\"nbf\":1768471331,\"exp\":1768472231,\"jti\":"
    "\"c2a1f0b4d1e94a2c9f3b7e8d6a5c4b3a\",\"role\":\"client\",\"scope\":\"jobs:submit "
    "jobs:read\",\"fam\":\"f3b7e8d6a5c4b3a2\"}";

static const char answer[] =
    "{\"access_token\":\"eyJhbGciOiJFZERTQSIsImtpZCI6ImsxIiwidHlwIjoiYXQrand0In0."
    "eyJpc3MiOiJodHRwczovL2pvYmNvb3JkLmV4YW1wbGUuY29tIiwic3ViIjoiY2xpZW50LTE3IiwiYXVkIjoiam9i"
    "Y29vcmQiLCJpYXQiOjE3Njg0NzEzMzEsImV4cCI6MTc2ODQ3MjIzMSwianRpIjoiYzJhMWYwYjRkMWU5NGEyYyJ9."
    "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFy\","
    "\"token_type\":\"Bearer\",\"expires_in\":900,\"scope\":\"jobs:submit jobs:read\"}";

/* read_doc reads the named string members and one number with the
 * project's reader; it returns a checksum of what it read (the lengths and
 * the number). */
static long read_doc(const char *src, size_t len, const char *const *keys, const char *num)
{
    char err[160], out[2048];
    json_t *doc = jc_json_parse(src, len, err, sizeof err);
    int64_t v = 0;
    long sum = 0;

    if (!doc)
        return -1;
    for (int i = 0; keys[i]; i++)
        sum += jc_json_member_string(doc, keys[i], out, sizeof out);
    if (jc_json_int64(json_object_get(doc, num), &v) != 0)
        sum = -1000000;
    json_decref(doc);
    return sum + (long)v;
}

static long read_jansson(const char *src, size_t len, const char *const *keys, const char *num)
{
    json_error_t err;
    json_t *doc = json_loadb(src, len, JSON_REJECT_DUPLICATES, &err), *n;
    long sum = 0;

    if (!doc)
        return -1;
    for (int i = 0; keys[i]; i++)
        sum += (long)json_string_length(json_object_get(doc, keys[i]));
    n = json_object_get(doc, num);
    sum += json_is_integer(n) ? (long)json_integer_value(n) : -1000000;
    json_decref(doc);
    return sum;
}

/* same_json tells whether two documents hold the same values (escapes may
 * differ: the hand writer spells control characters \u00XX, jansson \n). */
static int same_json(const char *a, size_t an, const char *b, size_t bn)
{
    json_error_t err;
    json_t *x = json_loadb(a, an, JSON_REJECT_DUPLICATES, &err);
    json_t *y = json_loadb(b, bn, JSON_REJECT_DUPLICATES, &err);
    int same = x && y && json_equal(x, y);
    json_decref(x);
    json_decref(y);
    return same;
}

typedef struct result {
    const char *name;
    size_t bytes;
    double hand_us, jansson_us;
} result;

int main(int argc, char **argv)
{
    long iters = argc > 1 ? atol(argv[1]) : 2000;
    static const char *const claim_keys[] = {"iss", "sub", "aud", "jti", "role", "scope", NULL};
    static const char *const answer_keys[] = {"access_token", "token_type", "scope", NULL};
    result res[4] = {{"write /v1/status", 0, 0, 0},
                     {"write /v1/jobs page (500 jobs)", 0, 0, 0},
                     {"read access-token claims", sizeof claims - 1, 0, 0},
                     {"read token endpoint answer", sizeof answer - 1, 0, 0}};
    jc_buf b;
    size_t n;
    char *s;
    double t;
    volatile long sink = 0;
    int bad = 0;

    if (iters < 1)
        iters = 1;
    jc_buf_init(&b, 64u << 20);

    /* the two ways must write the same documents and read the same values */
    status_hand(&b);
    s = status_jansson(&n);
    if (!s || !same_json(s, n, jc_buf_str(&b), b.len)) {
        fprintf(stderr, "status documents differ:\n%s\n%s\n", jc_buf_str(&b), s ? s : "");
        bad = 1;
    }
    res[0].bytes = b.len;
    free(s);
    jobs_hand(&b);
    s = jobs_jansson(&n);
    if (!s || !same_json(s, n, jc_buf_str(&b), b.len)) {
        fprintf(stderr, "jobs documents differ\n");
        bad = 1;
    }
    res[1].bytes = b.len;
    free(s);
    if (read_doc(claims, sizeof claims - 1, claim_keys, "exp") !=
            read_jansson(claims, sizeof claims - 1, claim_keys, "exp") ||
        read_doc(answer, sizeof answer - 1, answer_keys, "expires_in") !=
            read_jansson(answer, sizeof answer - 1, answer_keys, "expires_in")) {
        fprintf(stderr, "the readers disagree\n");
        bad = 1;
    }
    if (bad)
        return 1;

    t = now_s();
    for (long i = 0; i < iters * 10; i++) {
        status_hand(&b);
        sink += (long)b.len;
    }
    res[0].hand_us = (now_s() - t) * 1e6 / (double)(iters * 10);
    t = now_s();
    for (long i = 0; i < iters * 10; i++) {
        s = status_jansson(&n);
        sink += (long)n;
        free(s);
    }
    res[0].jansson_us = (now_s() - t) * 1e6 / (double)(iters * 10);

    t = now_s();
    for (long i = 0; i < iters / 10 + 1; i++) {
        jobs_hand(&b);
        sink += (long)b.len;
    }
    res[1].hand_us = (now_s() - t) * 1e6 / (double)(iters / 10 + 1);
    t = now_s();
    for (long i = 0; i < iters / 10 + 1; i++) {
        s = jobs_jansson(&n);
        sink += (long)n;
        free(s);
    }
    res[1].jansson_us = (now_s() - t) * 1e6 / (double)(iters / 10 + 1);

    t = now_s();
    for (long i = 0; i < iters * 50; i++)
        sink += read_doc(claims, sizeof claims - 1, claim_keys, "exp");
    res[2].hand_us = (now_s() - t) * 1e6 / (double)(iters * 50);
    t = now_s();
    for (long i = 0; i < iters * 50; i++)
        sink += read_jansson(claims, sizeof claims - 1, claim_keys, "exp");
    res[2].jansson_us = (now_s() - t) * 1e6 / (double)(iters * 50);

    t = now_s();
    for (long i = 0; i < iters * 50; i++)
        sink += read_doc(answer, sizeof answer - 1, answer_keys, "expires_in");
    res[3].hand_us = (now_s() - t) * 1e6 / (double)(iters * 50);
    t = now_s();
    for (long i = 0; i < iters * 50; i++)
        sink += read_jansson(answer, sizeof answer - 1, answer_keys, "expires_in");
    res[3].jansson_us = (now_s() - t) * 1e6 / (double)(iters * 50);

    /* reading: "by hand" is the project's reader (jc_json_parse: jansson
     * with its flags and the depth check), "jansson" a bare json_loadb */
    printf("%-32s %9s %12s %12s %7s\n", "case", "bytes", "project us", "jansson us", "ratio");
    for (int i = 0; i < 4; i++)
        printf("%-32s %9zu %12.2f %12.2f %7.2f\n", res[i].name, res[i].bytes, res[i].hand_us,
               res[i].jansson_us, res[i].jansson_us / res[i].hand_us);
    jc_buf_free(&b);
    return sink == 42 ? 2 : 0;
}
