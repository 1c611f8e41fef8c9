/*
 * metrics.c - the process's metrics registry and its text rendering.
 *
 * Concurrency: the ingest loop's counters are atomics added once per batch
 * (it tallies in its own memory first, see jc_metrics_tally), histograms
 * are atomics per bucket, so the hot path never takes a lock. The per-route
 * HTTP series and the per-partition lag are small maps behind one mutex
 * each: they change once per request and once a second.
 *
 * Rendering reads the atomics one by one, so a scrape racing with an update
 * may see a batch's counters half added; each value is itself exact, every
 * counter only grows, and a histogram's _count is computed from its buckets
 * so that it always equals the +Inf bucket.
 */
#include "core/metrics.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ingest/batch.h"
#include "jobcoord/jobcoord.h"

static const char *const reason_names[JC_METRICS_REASONS] = {
    JC_R_TOO_LARGE,      JC_R_MALFORMED,          JC_R_LIMIT,        JC_R_BAD_VERSION,
    JC_R_UNKNOWN_PRINCIPAL, JC_R_UNKNOWN_KEY,     JC_R_KEY_EXPIRED,  JC_R_DISABLED,
    JC_R_BAD_SIGNATURE,  JC_R_SCHEMA,             JC_R_PRINCIPAL_MISMATCH, JC_R_WRONG_TOPIC,
    JC_R_WRONG_ROLE,     JC_R_STALE,              JC_R_FUTURE,       JC_R_REPLAY,
    JC_R_APPLY_ERROR,    JC_R_UNKNOWN_JOB,        JC_R_STALE_ATTEMPT, JC_R_INVALID_TRANSITION,
    JC_R_NOT_OWNER,      JC_R_JOB_EXISTS,         JC_R_FORBIDDEN_SCOPE,
    "other", /* last: anything not listed above */
};

static const double batch_size_bounds[] = {1, 5, 10, 50, 100, 500, 1000, 5000, 10000};
static const double seconds_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                        0.25,  0.5,    1,     2.5,  5,     10};
#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

/* A route's statuses fill the slots in the order first seen; when all but
 * the last are taken, other statuses count in the last, labelled "other". */
typedef struct route_series {
    char route[128];
    unsigned statuses[JC_METRICS_STATUSES]; /* 0: "other" */
    uint64_t counts[JC_METRICS_STATUSES];
    size_t n_statuses;
    jc_histogram seconds;
} route_series;

static struct {
    atomic_uint_fast64_t consumed[JC_MSG__COUNT];
    atomic_uint_fast64_t rejected[JC_METRICS_REASONS];
    jc_histogram batch_size, apply_seconds;

    pthread_mutex_t http_mu;
    route_series routes[JC_METRICS_ROUTES]; /* the last one is "other" when full */
    size_t n_routes;

    pthread_mutex_t lag_mu;
    jc_metrics_lag *lags;
    size_t n_lags;
} reg = {.http_mu = PTHREAD_MUTEX_INITIALIZER, .lag_mu = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t reg_once = PTHREAD_ONCE_INIT;

static void reg_init(void)
{
    jc_histogram_init(&reg.batch_size, batch_size_bounds, N_OF(batch_size_bounds));
    jc_histogram_init(&reg.apply_seconds, seconds_bounds, N_OF(seconds_bounds));
}

static void reg_ensure(void) { pthread_once(&reg_once, reg_init); }

/* ---- histograms ---- */

int jc_histogram_init(jc_histogram *h, const double *bounds, size_t n_bounds)
{
    if (n_bounds > JC_HIST_MAX_BOUNDS)
        return -1;
    for (size_t i = 1; i < n_bounds; i++)
        if (!(bounds[i] > bounds[i - 1]))
            return -1;
    h->bounds = bounds;
    h->n_bounds = n_bounds;
    for (size_t i = 0; i <= JC_HIST_MAX_BOUNDS; i++)
        atomic_init(&h->counts[i], 0);
    atomic_init(&h->sum, 0.0);
    return 0;
}

void jc_histogram_observe(jc_histogram *h, double v)
{
    size_t i = 0;
    double old;
    if (isnan(v))
        return;
    while (i < h->n_bounds && v > h->bounds[i]) /* le: v <= bound falls in bucket i */
        i++;
    atomic_fetch_add(&h->counts[i], 1);
    old = atomic_load(&h->sum);
    while (!atomic_compare_exchange_weak(&h->sum, &old, old + v))
        ;
}

// fmt_double writes v the way Prometheus reads it: shortest %g, +Inf/-Inf/NaN.
static void fmt_double(char *out, size_t size, double v)
{
    if (isnan(v)) {
        snprintf(out, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(out, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    if (v == floor(v) && fabs(v) < 1e15) { /* integral: plain digits, never 1e+01 */
        snprintf(out, size, "%.0f", v);
        return;
    }
    for (int prec = 1; prec <= 17; prec++) { /* the shortest form that reads back exactly */
        snprintf(out, size, "%.*g", prec, v);
        if (strtod(out, NULL) == v)
            break;
    }
}

void jc_histogram_render(jc_buf *b, const char *name, const char *labels, const jc_histogram *h)
{
    const char *sep = labels && labels[0] ? "," : "";
    uint64_t cum = 0;
    char num[40];

    if (!labels)
        labels = "";
    for (size_t i = 0; i < h->n_bounds; i++) {
        cum += atomic_load(&h->counts[i]);
        fmt_double(num, sizeof num, h->bounds[i]);
        jc_buf_printf(b, "%s_bucket{%s%sle=\"%s\"} %llu\n", name, labels, sep, num,
                      (unsigned long long)cum);
    }
    cum += atomic_load(&h->counts[h->n_bounds]);
    jc_buf_printf(b, "%s_bucket{%s%sle=\"+Inf\"} %llu\n", name, labels, sep,
                  (unsigned long long)cum);
    fmt_double(num, sizeof num, atomic_load(&h->sum));
    if (labels[0]) {
        jc_buf_printf(b, "%s_sum{%s} %s\n", name, labels, num);
        jc_buf_printf(b, "%s_count{%s} %llu\n", name, labels, (unsigned long long)cum);
    } else {
        jc_buf_printf(b, "%s_sum %s\n", name, num);
        jc_buf_printf(b, "%s_count %llu\n", name, (unsigned long long)cum);
    }
}

/* ---- text helpers ---- */

void jc_metrics_label(jc_buf *b, const char *v)
{
    const char *run = v;
    for (const char *p = v; *p; p++) {
        const char *esc = *p == '\\' ? "\\\\" : *p == '"' ? "\\\"" : *p == '\n' ? "\\n" : NULL;
        if (!esc)
            continue;
        jc_buf_add(b, run, (size_t)(p - run));
        jc_buf_addstr(b, esc);
        run = p + 1;
    }
    jc_buf_addstr(b, run);
}

void jc_metrics_family(jc_buf *b, const char *name, const char *type, const char *help)
{
    jc_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- ingest ---- */

static size_t reason_index(const char *reason)
{
    for (size_t i = 0; i + 1 < JC_METRICS_REASONS; i++)
        if (reason == reason_names[i] || strcmp(reason, reason_names[i]) == 0)
            return i;
    return JC_METRICS_REASONS - 1;
}

void jc_metrics_tally_message(jc_metrics_tally *t, jc_msg_type type, const char *reason)
{
    if ((int)type < 0 || type >= JC_MSG__COUNT)
        type = JC_MSG_NONE;
    t->consumed[type]++;
    if (reason)
        t->rejected[reason_index(reason)]++;
    else
        t->applied++;
}

void jc_metrics_add_tally(const jc_metrics_tally *t)
{
    for (size_t i = 0; i < JC_MSG__COUNT; i++)
        if (t->consumed[i])
            atomic_fetch_add(&reg.consumed[i], t->consumed[i]);
    for (size_t i = 0; i < JC_METRICS_REASONS; i++)
        if (t->rejected[i])
            atomic_fetch_add(&reg.rejected[i], t->rejected[i]);
}

void jc_metrics_ingest_transaction(size_t n, double seconds)
{
    reg_ensure();
    jc_histogram_observe(&reg.batch_size, (double)n);
    jc_histogram_observe(&reg.apply_seconds, seconds);
}

int jc_metrics_set_lag(const jc_metrics_lag *lags, size_t n)
{
    jc_metrics_lag *copy = NULL;
    int rc = 0;
    if (n) {
        copy = malloc(n * sizeof *copy);
        if (copy)
            memcpy(copy, lags, n * sizeof *copy);
        else
            rc = -1;
    }
    pthread_mutex_lock(&reg.lag_mu);
    free(reg.lags);
    reg.lags = copy;
    reg.n_lags = copy ? n : 0;
    pthread_mutex_unlock(&reg.lag_mu);
    return rc;
}

/* ---- HTTP ---- */

// route_find returns route's series, adding it while there is room; the
// last slot is "other", for routes beyond the table. Called with http_mu held.
static route_series *route_find(const char *route)
{
    route_series *s;
    for (size_t i = 0; i < reg.n_routes; i++)
        if (strcmp(reg.routes[i].route, route) == 0)
            return &reg.routes[i];
    if (reg.n_routes == JC_METRICS_ROUTES)
        return &reg.routes[JC_METRICS_ROUTES - 1];
    if (reg.n_routes == JC_METRICS_ROUTES - 1)
        route = "other";
    s = &reg.routes[reg.n_routes++];
    memset(s, 0, sizeof *s);
    snprintf(s->route, sizeof s->route, "%s", route);
    jc_histogram_init(&s->seconds, seconds_bounds, N_OF(seconds_bounds));
    return s;
}

void jc_metrics_http_request(const char *route, unsigned status, double seconds)
{
    route_series *s;
    size_t i;

    if (!route || !route[0])
        route = "unmatched";
    pthread_mutex_lock(&reg.http_mu);
    s = route_find(route);
    for (i = 0; i < s->n_statuses && s->statuses[i] != status; i++)
        ;
    if (i == s->n_statuses) {
        if (s->n_statuses == JC_METRICS_STATUSES - 1)
            s->statuses[s->n_statuses++] = 0; /* the "other" slot */
        else if (s->n_statuses < JC_METRICS_STATUSES - 1)
            s->statuses[s->n_statuses++] = status;
        else
            i = JC_METRICS_STATUSES - 1;
    }
    s->counts[i]++;
    jc_histogram_observe(&s->seconds, seconds);
    pthread_mutex_unlock(&reg.http_mu);
}

/* ---- rendering ---- */

static void counter1(jc_buf *b, const char *name, const char *help, unsigned long long v)
{
    jc_metrics_family(b, name, "counter", help);
    jc_buf_printf(b, "%s %llu\n", name, v);
}

static void render_ingest(jc_buf *b, const jc_runtime *rt)
{
    jc_metrics_family(b, "jobcoord_messages_consumed_total", "counter",
                      "Messages this instance consumed and processed, by message type"
                      " (unknown: not decoded).");
    for (size_t i = 0; i < JC_MSG__COUNT; i++) {
        const char *name = i == JC_MSG_NONE ? NULL : jc_msg_type_name((jc_msg_type)i);
        jc_buf_printf(b, "jobcoord_messages_consumed_total{type=\"%s\"} %llu\n",
                      name ? name : "unknown",
                      (unsigned long long)atomic_load(&reg.consumed[i]));
    }
    counter1(b, "jobcoord_messages_applied_total", "Messages this instance applied.",
             (unsigned long long)atomic_load(&rt->applied));
    jc_metrics_family(b, "jobcoord_messages_rejected_total", "counter",
                      "Messages this instance rejected, by reason.");
    for (size_t i = 0; i < JC_METRICS_REASONS; i++)
        jc_buf_printf(b, "jobcoord_messages_rejected_total{reason=\"%s\"} %llu\n",
                      reason_names[i], (unsigned long long)atomic_load(&reg.rejected[i]));
    counter1(b, "jobcoord_ingest_transactions_total", "Ingest batches committed.",
             (unsigned long long)atomic_load(&rt->batches));
    jc_metrics_family(b, "jobcoord_ingest_batch_size", "histogram",
                      "Messages per committed ingest transaction.");
    jc_histogram_render(b, "jobcoord_ingest_batch_size", NULL, &reg.batch_size);
    jc_metrics_family(b, "jobcoord_ingest_apply_seconds", "histogram",
                      "Time from BEGIN to COMMIT of an ingest transaction.");
    jc_histogram_render(b, "jobcoord_ingest_apply_seconds", NULL, &reg.apply_seconds);
    jc_metrics_family(b, "jobcoord_assigned_partitions", "gauge",
                      "Partitions this instance consumes.");
    jc_buf_printf(b, "jobcoord_assigned_partitions %d\n", atomic_load(&rt->assigned_partitions));
    jc_metrics_family(b, "jobcoord_caught_up", "gauge",
                      "1 when this instance has read all its partitions.");
    jc_buf_printf(b, "jobcoord_caught_up %d\n", atomic_load(&rt->caught_up_at_ms) != 0);
    counter1(b, "jobcoord_ingest_position_resets_total",
             "Partitions read again from their beginning because the stored position belonged"
             " to another log (a new cluster or a recreated topic).",
             (unsigned long long)atomic_load(&rt->position_resets));
    jc_metrics_family(b, "jobcoord_ingest_record_time_trusted", "gauge",
                      "1 when the last consumed record carried the broker's LogAppendTime, 0"
                      " when a producer's CreateTime (judged by the receive time), -1 unknown.");
    jc_buf_printf(b, "jobcoord_ingest_record_time_trusted %d\n",
                  atomic_load(&rt->record_time) == JC_RECORD_TIME_LOG_APPEND ? 1
                  : atomic_load(&rt->record_time) == JC_RECORD_TIME_CREATE   ? 0
                                                                             : -1);
    counter1(b, "jobcoord_assigns_unacknowledged_total",
             "Assigns this instance's janitor took back (jobs.assign_timeout_ms) that the worker"
             " never acknowledged.",
             (unsigned long long)atomic_load(&rt->assigns_unacked));
    counter1(b, "jobcoord_ingest_records_lost_total",
             "Records that left the Kafka log before ingest read them.",
             (unsigned long long)atomic_load(&rt->records_lost));
    jc_metrics_family(b, "jobcoord_answers_total", "counter",
                      "Answers to clients' requests (refusals, repeated submissions, cancels):"
                      " queued for sending, or dropped by the per-principal rate bound.");
    jc_buf_printf(b, "jobcoord_answers_total{outcome=\"queued\"} %llu\n",
                  (unsigned long long)atomic_load(&rt->answers_queued));
    jc_buf_printf(b, "jobcoord_answers_total{outcome=\"dropped\"} %llu\n",
                  (unsigned long long)atomic_load(&rt->answers_dropped));
}

static void render_lag(jc_buf *b, const jc_runtime *rt)
{
    jc_metrics_family(b, "jobcoord_consumer_lag", "gauge",
                      "Messages between the consumer's position and the partition's high"
                      " watermark (refreshed at most once a second).");
    pthread_mutex_lock(&reg.lag_mu);
    for (size_t i = 0; i < reg.n_lags; i++) {
        jc_buf_addstr(b, "jobcoord_consumer_lag{topic=\"");
        jc_metrics_label(b, reg.lags[i].topic);
        jc_buf_printf(b, "\",partition=\"%d\"} %lld\n", (int)reg.lags[i].partition,
                      (long long)reg.lags[i].lag);
    }
    pthread_mutex_unlock(&reg.lag_mu);
    if (atomic_load(&rt->lag_at_ms) != 0) {
        jc_metrics_family(b, "jobcoord_consumer_lag_total", "gauge",
                          "Sum of jobcoord_consumer_lag over this instance's partitions.");
        jc_buf_printf(b, "jobcoord_consumer_lag_total %lld\n",
                      (long long)atomic_load(&rt->lag_total));
    }
}

static void render_http(jc_buf *b)
{
    jc_buf labels;
    jc_buf_init(&labels, 1024);
    pthread_mutex_lock(&reg.http_mu);
    jc_metrics_family(b, "jobcoord_http_requests_total", "counter",
                      "HTTP requests answered, by route pattern and status.");
    for (size_t i = 0; i < reg.n_routes; i++)
        for (size_t j = 0; j < reg.routes[i].n_statuses; j++) {
            char status[16];
            if (reg.routes[i].statuses[j])
                snprintf(status, sizeof status, "%u", reg.routes[i].statuses[j]);
            else
                snprintf(status, sizeof status, "other");
            jc_buf_addstr(b, "jobcoord_http_requests_total{route=\"");
            jc_metrics_label(b, reg.routes[i].route);
            jc_buf_printf(b, "\",status=\"%s\"} %llu\n", status,
                          (unsigned long long)reg.routes[i].counts[j]);
        }
    jc_metrics_family(b, "jobcoord_http_request_seconds", "histogram",
                      "Time to answer an HTTP request, by route pattern.");
    for (size_t i = 0; i < reg.n_routes; i++) {
        jc_buf_reset(&labels);
        jc_buf_addstr(&labels, "route=\"");
        jc_metrics_label(&labels, reg.routes[i].route);
        jc_buf_addstr(&labels, "\"");
        jc_histogram_render(b, "jobcoord_http_request_seconds", jc_buf_str(&labels),
                            &reg.routes[i].seconds);
    }
    pthread_mutex_unlock(&reg.http_mu);
    jc_buf_free(&labels);
}

void jc_metrics_render(jc_buf *b, const jc_runtime *rt)
{
    int64_t up_ms = (int64_t)jc_now_ms() - rt->started_at_ms;

    reg_ensure();
    jc_metrics_family(b, "jobcoord_up", "gauge", "1 while this coordinator serves.");
    jc_buf_addstr(b, "jobcoord_up 1\n");
    jc_metrics_family(b, "jobcoord_build_info", "gauge", "The coordinator's version.");
    jc_buf_printf(b, "jobcoord_build_info{version=\"%s\"} 1\n", JC_VERSION_STR);
    jc_metrics_family(b, "jobcoord_uptime_seconds", "gauge", "Seconds since this process started.");
    jc_buf_printf(b, "jobcoord_uptime_seconds %.3f\n", up_ms > 0 ? (double)up_ms / 1000.0 : 0.0);
    render_ingest(b, rt);
    render_lag(b, rt);
    render_http(b);
}

void jc_metrics_reset(void)
{
    reg_ensure();
    for (size_t i = 0; i < JC_MSG__COUNT; i++)
        atomic_store(&reg.consumed[i], 0);
    for (size_t i = 0; i < JC_METRICS_REASONS; i++)
        atomic_store(&reg.rejected[i], 0);
    reg_init();
    pthread_mutex_lock(&reg.http_mu);
    reg.n_routes = 0;
    pthread_mutex_unlock(&reg.http_mu);
    jc_metrics_set_lag(NULL, 0);
}
