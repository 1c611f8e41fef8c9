/*
 * test_metrics.c - the metrics registry: histogram buckets (le inclusive,
 * cumulative, +Inf equal to _count, _sum), label escaping, the ingest tally
 * (types, reasons, "unknown", "other"), the bounded HTTP series, the lag
 * gauges, and counts from two threads adding at once.
 */
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "ingest/batch.h"
#include "core/buf.h"
#include "core/metrics.h"

// has_line tells whether text holds line as a whole line.
static int has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = strstr(text, line); p; p = strstr(p + 1, line))
        if ((p == text || p[-1] == '\n') && p[n] == '\n')
            return 1;
    return 0;
}

#define CHECK_LINE(text, line) CHECK_MSG(has_line(text, line), "missing line: %s", line)

// value_of returns the value of the sample line starting with series.
static double value_of(const char *text, const char *series)
{
    size_t n = strlen(series);
    for (const char *p = strstr(text, series); p; p = strstr(p + 1, series))
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
    return NAN;
}

static void test_histogram(void)
{
    static const double bounds[] = {1, 5, 10};
    static const double bad[] = {1, 1};
    jc_histogram h;
    jc_buf b;

    CHECK_EQ_INT(jc_histogram_init(&h, bad, 2), -1);
    CHECK_EQ_INT(jc_histogram_init(&h, bounds, 3), 0);
    /* le is inclusive: 1 falls in le="1", 5 in le="5" */
    jc_histogram_observe(&h, 0.5);
    jc_histogram_observe(&h, 1);
    jc_histogram_observe(&h, 3);
    jc_histogram_observe(&h, 5);
    jc_histogram_observe(&h, 10);
    jc_histogram_observe(&h, 11);
    jc_histogram_observe(&h, 1000);
    jc_histogram_observe(&h, NAN); /* ignored */
    jc_buf_init(&b, 1 << 16);
    jc_histogram_render(&b, "x", NULL, &h);
    CHECK_LINE(jc_buf_str(&b), "x_bucket{le=\"1\"} 2");
    CHECK_LINE(jc_buf_str(&b), "x_bucket{le=\"5\"} 4");
    CHECK_LINE(jc_buf_str(&b), "x_bucket{le=\"10\"} 5");
    CHECK_LINE(jc_buf_str(&b), "x_bucket{le=\"+Inf\"} 7");
    CHECK_LINE(jc_buf_str(&b), "x_count 7");
    CHECK_LINE(jc_buf_str(&b), "x_sum 1030.5");
    /* buckets come in ascending le order, +Inf last */
    CHECK(strstr(jc_buf_str(&b), "le=\"1\"") < strstr(jc_buf_str(&b), "le=\"5\""));
    CHECK(strstr(jc_buf_str(&b), "le=\"10\"") < strstr(jc_buf_str(&b), "le=\"+Inf\""));

    jc_buf_reset(&b);
    jc_histogram_render(&b, "y", "route=\"/a\"", &h);
    CHECK_LINE(jc_buf_str(&b), "y_bucket{route=\"/a\",le=\"5\"} 4");
    CHECK_LINE(jc_buf_str(&b), "y_sum{route=\"/a\"} 1030.5");
    CHECK_LINE(jc_buf_str(&b), "y_count{route=\"/a\"} 7");
    jc_buf_free(&b);
}

static void test_fractional_bounds(void)
{
    static const double bounds[] = {0.001, 0.0025, 0.1};
    jc_histogram h;
    jc_buf b;

    CHECK_EQ_INT(jc_histogram_init(&h, bounds, 3), 0);
    jc_histogram_observe(&h, 0.001);
    jc_histogram_observe(&h, 0.002);
    jc_histogram_observe(&h, 0.05);
    jc_buf_init(&b, 1 << 16);
    jc_histogram_render(&b, "s", NULL, &h);
    CHECK_LINE(jc_buf_str(&b), "s_bucket{le=\"0.001\"} 1");
    CHECK_LINE(jc_buf_str(&b), "s_bucket{le=\"0.0025\"} 2");
    CHECK_LINE(jc_buf_str(&b), "s_bucket{le=\"0.1\"} 3");
    CHECK_LINE(jc_buf_str(&b), "s_bucket{le=\"+Inf\"} 3");
    CHECK(fabs(value_of(jc_buf_str(&b), "s_sum") - 0.053) < 1e-12);
    jc_buf_free(&b);
}

static void test_escaping(void)
{
    jc_buf b;
    jc_buf_init(&b, 1024);
    jc_metrics_label(&b, "a\\b\"c\nd");
    CHECK_EQ_STR(jc_buf_str(&b), "a\\\\b\\\"c\\nd");
    jc_buf_reset(&b);
    jc_metrics_label(&b, "plain/{id}");
    CHECK_EQ_STR(jc_buf_str(&b), "plain/{id}");
    jc_buf_reset(&b);
    jc_metrics_label(&b, "");
    CHECK_EQ_STR(jc_buf_str(&b), "");
    jc_buf_free(&b);
}

static jc_runtime rt;

static char *render(void)
{
    jc_buf b;
    char *s;
    jc_buf_init(&b, 1 << 22);
    jc_metrics_render(&b, &rt);
    CHECK(!b.failed);
    s = strdup(jc_buf_str(&b));
    jc_buf_free(&b);
    return s;
}

static void test_registry(void)
{
    jc_metrics_tally t;
    jc_metrics_lag lags[2];
    char *text;

    jc_metrics_reset();
    memset(&t, 0, sizeof t);
    jc_metrics_tally_message(&t, JC_MSG_HEARTBEAT, NULL);
    jc_metrics_tally_message(&t, JC_MSG_HEARTBEAT, JC_R_REPLAY);
    jc_metrics_tally_message(&t, JC_MSG_JOB_SUBMIT, NULL);
    jc_metrics_tally_message(&t, JC_MSG_NONE, JC_R_BAD_SIGNATURE);
    jc_metrics_tally_message(&t, JC_MSG_NONE, "made_up_reason");
    CHECK_EQ_INT(t.applied, 2);
    jc_metrics_add_tally(&t);
    jc_metrics_ingest_transaction(5, 0.002);
    jc_metrics_ingest_transaction(1000, 0.5);

    memset(lags, 0, sizeof lags);
    snprintf(lags[0].topic, sizeof lags[0].topic, "jobcoord.heartbeats");
    lags[0].partition = 0;
    lags[0].lag = 7;
    snprintf(lags[1].topic, sizeof lags[1].topic, "odd\"topic");
    lags[1].partition = 3;
    lags[1].lag = 0;
    CHECK_EQ_INT(jc_metrics_set_lag(lags, 2), 0);
    atomic_store(&rt.lag_total, 7);
    atomic_store(&rt.lag_at_ms, 1);
    atomic_store(&rt.applied, 2);
    atomic_store(&rt.batches, 2);
    atomic_store(&rt.assigned_partitions, 4);

    jc_metrics_http_request("/v1/jobs/{id}", 200, 0.003);
    jc_metrics_http_request("/v1/jobs/{id}", 200, 0.2);
    jc_metrics_http_request("/v1/jobs/{id}", 404, 0.001);
    jc_metrics_http_request(NULL, 404, 0.0001);

    text = render();
    CHECK_LINE(text, "# TYPE jobcoord_messages_consumed_total counter");
    CHECK_LINE(text, "jobcoord_messages_consumed_total{type=\"heartbeat\"} 2");
    CHECK_LINE(text, "jobcoord_messages_consumed_total{type=\"job.submit\"} 1");
    CHECK_LINE(text, "jobcoord_messages_consumed_total{type=\"unknown\"} 2");
    CHECK_LINE(text, "jobcoord_messages_consumed_total{type=\"job.event\"} 0");
    CHECK_LINE(text, "jobcoord_messages_rejected_total{reason=\"replay\"} 1");
    CHECK_LINE(text, "jobcoord_messages_rejected_total{reason=\"bad_signature\"} 1");
    CHECK_LINE(text, "jobcoord_messages_rejected_total{reason=\"other\"} 1");
    CHECK_LINE(text, "jobcoord_messages_applied_total 2");
    CHECK_LINE(text, "jobcoord_ingest_transactions_total 2");
    CHECK_LINE(text, "# TYPE jobcoord_ingest_batch_size histogram");
    CHECK_LINE(text, "jobcoord_ingest_batch_size_bucket{le=\"1\"} 0");
    CHECK_LINE(text, "jobcoord_ingest_batch_size_bucket{le=\"5\"} 1");
    CHECK_LINE(text, "jobcoord_ingest_batch_size_bucket{le=\"500\"} 1");
    CHECK_LINE(text, "jobcoord_ingest_batch_size_bucket{le=\"1000\"} 2");
    CHECK_LINE(text, "jobcoord_ingest_batch_size_bucket{le=\"10000\"} 2");
    CHECK_LINE(text, "jobcoord_ingest_batch_size_bucket{le=\"+Inf\"} 2");
    CHECK_LINE(text, "jobcoord_ingest_batch_size_sum 1005");
    CHECK_LINE(text, "jobcoord_ingest_batch_size_count 2");
    CHECK_LINE(text, "jobcoord_ingest_apply_seconds_bucket{le=\"0.001\"} 0");
    CHECK_LINE(text, "jobcoord_ingest_apply_seconds_bucket{le=\"0.0025\"} 1");
    CHECK_LINE(text, "jobcoord_ingest_apply_seconds_bucket{le=\"0.5\"} 2");
    CHECK_LINE(text, "jobcoord_ingest_apply_seconds_count 2");
    CHECK_LINE(text, "jobcoord_consumer_lag{topic=\"jobcoord.heartbeats\",partition=\"0\"} 7");
    CHECK_LINE(text, "jobcoord_consumer_lag{topic=\"odd\\\"topic\",partition=\"3\"} 0");
    CHECK_LINE(text, "jobcoord_consumer_lag_total 7");
    CHECK_LINE(text, "jobcoord_assigned_partitions 4");
    CHECK_LINE(text, "jobcoord_caught_up 0");
    CHECK_LINE(text, "jobcoord_http_requests_total{route=\"/v1/jobs/{id}\",status=\"200\"} 2");
    CHECK_LINE(text, "jobcoord_http_requests_total{route=\"/v1/jobs/{id}\",status=\"404\"} 1");
    CHECK_LINE(text, "jobcoord_http_requests_total{route=\"unmatched\",status=\"404\"} 1");
    CHECK_LINE(text,
               "jobcoord_http_request_seconds_bucket{route=\"/v1/jobs/{id}\",le=\"0.001\"} 1");
    CHECK_LINE(text,
               "jobcoord_http_request_seconds_bucket{route=\"/v1/jobs/{id}\",le=\"0.005\"} 2");
    CHECK_LINE(text,
               "jobcoord_http_request_seconds_bucket{route=\"/v1/jobs/{id}\",le=\"+Inf\"} 3");
    CHECK_LINE(text, "jobcoord_http_request_seconds_count{route=\"/v1/jobs/{id}\"} 3");
    CHECK_LINE(text, "jobcoord_up 1");
    CHECK_LINE(text, "jobcoord_build_info{version=\"0.1.0\"} 1");
    CHECK_LINE(text, "# TYPE jobcoord_uptime_seconds gauge");
    /* every family has HELP then TYPE */
    for (const char *p = strstr(text, "# TYPE "); p; p = strstr(p + 1, "# TYPE ")) {
        char name[128];
        char help[160];
        CHECK(sscanf(p, "# TYPE %127s", name) == 1);
        snprintf(help, sizeof help, "# HELP %s ", name);
        CHECK_MSG(strstr(text, help) != NULL && strstr(text, help) < p, "%s has no HELP", name);
    }
    free(text);

    /* lag cleared: no series, and no total while it is unknown */
    jc_metrics_set_lag(NULL, 0);
    atomic_store(&rt.lag_at_ms, 0);
    text = render();
    CHECK(strstr(text, "jobcoord_consumer_lag{") == NULL);
    CHECK(strstr(text, "jobcoord_consumer_lag_total ") == NULL);
    free(text);
}

static void test_http_bounded(void)
{
    char route[64], *text;
    jc_metrics_reset();
    for (int i = 0; i < 100; i++) {
        snprintf(route, sizeof route, "/r%d", i);
        jc_metrics_http_request(route, 200, 0.01);
    }
    for (unsigned s = 100; s < 140; s++)
        jc_metrics_http_request("/r0", s, 0.01);
    text = render();
    /* 31 routes of their own, the rest under "other" */
    CHECK_LINE(text, "jobcoord_http_requests_total{route=\"/r30\",status=\"200\"} 1");
    CHECK(strstr(text, "route=\"/r31\"") == NULL);
    CHECK_LINE(text, "jobcoord_http_requests_total{route=\"other\",status=\"200\"} 69");
    /* /r0: 200 and 14 more statuses of their own, the other 26 under "other" */
    CHECK_LINE(text, "jobcoord_http_requests_total{route=\"/r0\",status=\"113\"} 1");
    CHECK(strstr(text, "route=\"/r0\",status=\"114\"") == NULL);
    CHECK_LINE(text, "jobcoord_http_requests_total{route=\"/r0\",status=\"other\"} 26");
    CHECK_LINE(text, "jobcoord_http_request_seconds_count{route=\"/r0\"} 41");
    free(text);
}

#define ROUNDS 200000

static void *hammer(void *arg)
{
    (void)arg;
    for (int i = 0; i < ROUNDS; i++) {
        jc_metrics_tally t;
        memset(&t, 0, sizeof t);
        jc_metrics_tally_message(&t, JC_MSG_JOB_EVENT, NULL);
        jc_metrics_tally_message(&t, JC_MSG_JOB_EVENT, JC_R_STALE_ATTEMPT);
        jc_metrics_add_tally(&t);
        jc_metrics_ingest_transaction(2, 0.5);
        if (i % 10 == 0)
            jc_metrics_http_request("/v1/status", 200, 0.25);
    }
    return NULL;
}

static void test_two_threads(void)
{
    pthread_t a, b;
    char *text;
    char line[160];

    jc_metrics_reset();
    pthread_create(&a, NULL, hammer, NULL);
    pthread_create(&b, NULL, hammer, NULL);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    text = render();
    snprintf(line, sizeof line, "jobcoord_messages_consumed_total{type=\"job.event\"} %d",
             4 * ROUNDS);
    CHECK_LINE(text, line);
    snprintf(line, sizeof line, "jobcoord_messages_rejected_total{reason=\"stale_attempt\"} %d",
             2 * ROUNDS);
    CHECK_LINE(text, line);
    snprintf(line, sizeof line, "jobcoord_ingest_batch_size_count %d", 2 * ROUNDS);
    CHECK_LINE(text, line);
    snprintf(line, sizeof line, "jobcoord_ingest_batch_size_sum %d", 4 * ROUNDS);
    CHECK_LINE(text, line);
    snprintf(line, sizeof line, "jobcoord_ingest_apply_seconds_sum %d", ROUNDS);
    CHECK_LINE(text, line);
    snprintf(line, sizeof line, "jobcoord_http_requests_total{route=\"/v1/status\",status=\"200\"} %d",
             2 * ROUNDS / 10);
    CHECK_LINE(text, line);
    snprintf(line, sizeof line, "jobcoord_http_request_seconds_sum{route=\"/v1/status\"} %d",
             2 * ROUNDS / 10 / 4);
    CHECK_LINE(text, line);
    free(text);
}

int main(void)
{
    rt.started_at_ms = (int64_t)jc_now_ms();
    test_histogram();
    test_fractional_bounds();
    test_escaping();
    test_registry();
    test_http_bounded();
    test_two_threads();
    return check_done("test_metrics");
}
