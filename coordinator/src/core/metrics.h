/*
 * metrics.h - this instance's Prometheus metrics: counters and histograms
 * updated by the ingest, outbox and HTTP threads, rendered in the text
 * exposition format (0.0.4) by GET /metrics (http_metrics.c, which adds the
 * fleet's gauges read from PostgreSQL).
 *
 * There is one registry per process, kept in metrics.c, because the callers
 * (the ingest loop, the HTTP framework) have no handle in common to carry
 * it; every label set is fixed or a small bounded map, so a hostile client
 * cannot grow it. Every function may be called from any thread.
 */
#ifndef JC_METRICS_H
#define JC_METRICS_H

#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "jcproto/proto.h"
#include "core/runtime.h"

/* ---- histograms (lock-free, usable on their own) ---- */

#define JC_HIST_MAX_BOUNDS 16

/* jc_histogram counts observations in buckets with ascending upper bounds
 * (le); +Inf is implicit. counts[i] holds the observations of bucket i alone
 * (not cumulative; rendering accumulates), counts[n_bounds] those above the
 * last bound. The count rendered is the sum of the buckets, so _count always
 * equals the +Inf bucket. */
typedef struct jc_histogram {
    const double *bounds; /* static storage */
    size_t n_bounds;      /* <= JC_HIST_MAX_BOUNDS */
    atomic_uint_fast64_t counts[JC_HIST_MAX_BOUNDS + 1];
    _Atomic double sum;
} jc_histogram;

/* jc_histogram_init empties h; bounds must outlive it. Returns -1 when
 * there are too many bounds or they are not strictly ascending. */
int jc_histogram_init(jc_histogram *h, const double *bounds, size_t n_bounds);
/* jc_histogram_observe adds one observation of v (NaN is ignored). */
void jc_histogram_observe(jc_histogram *h, double v);
/* jc_histogram_render appends the _bucket, _sum and _count lines of one
 * series of family name; labels is NULL or rendered label pairs without
 * braces ("route=\"/v1/jobs\""), put before le. */
void jc_histogram_render(jc_buf *b, const char *name, const char *labels,
                         const jc_histogram *h);

/* jc_metrics_label appends v escaped as a label value of the exposition
 * format (backslash, double quote and line feed escaped), without quotes. */
void jc_metrics_label(jc_buf *b, const char *v);
/* jc_metrics_family appends the # HELP and # TYPE lines of a family. */
void jc_metrics_family(jc_buf *b, const char *name, const char *type, const char *help);

/* ---- the ingest loop ---- */

/* Rejection reasons counted by label; anything else counts as "other". */
#define JC_METRICS_REASONS 24

/* jc_metrics_tally gathers one batch's counts in the ingest thread's own
 * memory, so the shared counters are touched once per batch, not once per
 * message. */
typedef struct jc_metrics_tally {
    uint64_t consumed[JC_MSG__COUNT]; /* [JC_MSG_NONE]: not decoded ("unknown") */
    uint64_t rejected[JC_METRICS_REASONS];
    uint64_t applied;
} jc_metrics_tally;

/* jc_metrics_tally_message counts one message of type (JC_MSG_NONE when it
 * was not decoded) as applied (reason NULL) or rejected with reason. */
void jc_metrics_tally_message(jc_metrics_tally *t, jc_msg_type type, const char *reason);
/* jc_metrics_add_tally adds a batch's counts to the registry. */
void jc_metrics_add_tally(const jc_metrics_tally *t);
/* jc_metrics_ingest_transaction records one committed ingest transaction
 * of n messages that took seconds from BEGIN to COMMIT. */
void jc_metrics_ingest_transaction(size_t n, double seconds);

/* jc_metrics_lag is one partition's consumer lag. */
typedef struct jc_metrics_lag {
    char topic[256];
    int32_t partition;
    int64_t lag;
} jc_metrics_lag;

/* jc_metrics_set_lag replaces the per-partition lag with lags[0, n) (copied;
 * n 0 clears it). Returns -1 when out of memory (the old values are then
 * dropped). */
int jc_metrics_set_lag(const jc_metrics_lag *lags, size_t n);

/* ---- the HTTP framework ---- */

/* jc_metrics_http_request counts one answered request: route is the
 * matched pattern from the route table (NULL when none matched), status the
 * HTTP status sent, seconds the time from the request to the answer. At most
 * JC_METRICS_ROUTES routes and JC_METRICS_STATUSES statuses per route get
 * their own series; the rest count under route "other" / are dropped. */
#define JC_METRICS_ROUTES 32
#define JC_METRICS_STATUSES 16
void jc_metrics_http_request(const char *route, unsigned status, double seconds);

/* ---- rendering ---- */

/* jc_metrics_render appends this instance's metrics: the registry's and the
 * runtime's counters (rt), jobcoord_up, build info and uptime. */
void jc_metrics_render(jc_buf *b, const jc_runtime *rt);

/* jc_metrics_reset empties the registry (tests). */
void jc_metrics_reset(void);

#endif
