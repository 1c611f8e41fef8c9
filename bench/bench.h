/*
 * bench.h - jobcoord-bench: drives a running coordinator through Kafka with
 * simulated workers and clients, and measures what it sustains.
 *
 * The simulated principals use the private codec (proto.h) directly, so the
 * benchmark's own cost per message is one HMAC and one encode: the
 * coordinator, Kafka and PostgreSQL are what is measured. Principals are
 * created with the admin CLI, as an operator would.
 */
#ifndef JC_BENCH_H
#define JC_BENCH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>
#include <libpq-fe.h>

#include "jcproto/partition.h"
#include "jcproto/proto.h"

/* bench_opts is the command line. */
typedef struct bench_opts {
    const char *scenarios; /* comma-separated: heartbeats,jobs,latency */
    const char *db;        /* libpq conninfo of the coordinator's database */
    const char *brokers;
    const char *prefix;   /* topic prefix */
    const char *group;    /* the coordinator's consumer group */
    const char *admin;    /* path of jobcoord-admin */
    const char *out;      /* Markdown report, "" for none */
    const char *cmdline;  /* the command line, for the report */
    const char *setup;    /* how the coordinator was run, for the report */
    double duration_s;    /* per measured step */
    double hb_rate;       /* heartbeats/s offered */
    int hb_workers;
    double job_rate;      /* job submissions/s offered */
    int job_workers;
    int job_slots;
    int clients;
    double latency_rate;  /* 0: half the jobs scenario's sustained rate */
    double warmup_s;      /* jobs steps: seconds not counted, -1: a quarter, at least 2 */
    long compare_jobs;    /* compare: jobs enqueued before the workers start */
    int coord_pid;        /* compare: the coordinator's pid (CPU time), 0 unknown */
    int quiet;
} bench_opts;

/* principal is one simulated worker or client and its HMAC key. */
typedef struct principal {
    char id[JC_MAX_PRINCIPAL_LEN + 1];
    char key_id[JC_MAX_KEY_ID_LEN + 1];
    uint8_t key[JC_KEY_LEN];
    uint64_t last_ts; /* heartbeats: strictly increasing per worker */
    uint64_t seq;
} principal;

/* principals_create makes n principals "<prefix><i>" with role through the
 * admin CLI (a few at a time). Returns a calloc'd array or NULL (errstr). */
principal *principals_create(const bench_opts *o, const char *prefix, const char *role, int n,
                             char *errstr, size_t errstr_size);
/* principal_find returns the principal whose id equals s[0..n), or NULL.
 * ps must be sorted by id (principals_create returns them sorted). */
const principal *principal_find(const principal *ps, int n, const uint8_t *s, size_t len);

/* ---- Kafka (bench_kafka.c) ---- */

/* bk_producer makes a producer tuned for throughput (murmur2_random
 * partitioner, as the protocol requires). */
rd_kafka_t *bk_producer(const bench_opts *o, char *errstr, size_t errstr_size);
/* bk_consumer makes a consumer without group management (assign only). */
rd_kafka_t *bk_consumer(const bench_opts *o, char *errstr, size_t errstr_size);
/* bk_partitions returns the partition count of topic, or -1. */
int bk_partitions(rd_kafka_t *rk, const char *topic);
/* bk_assign_from_end assigns the given partitions of topic (all when want
 * is NULL) at their current high watermarks, so that nothing produced
 * after the call is missed. Returns 0 or -1. */
int bk_assign_from_end(rd_kafka_t *rk, const char *topic, int n_parts, const int *want);
/* bk_end_offsets sums the high watermarks of topic's partitions, -1 on
 * error. */
int64_t bk_end_offsets(rd_kafka_t *rk, const char *topic, int n_parts);
/* bk_produce produces a copy of value with key, waiting while the local
 * queue is full. Returns 0, or -1 when it stayed full for timeout_ms. */
int bk_produce(rd_kafka_t *rk, rd_kafka_topic_t *t, const char *key, const void *value,
               size_t len, int timeout_ms);

/* ---- measurement (bench_stats.c) ---- */

double bench_now(void); /* monotonic seconds */

/* lat_hist collects latencies (microseconds) for percentiles. */
typedef struct lat_hist {
    int64_t *v;
    size_t n, cap;
} lat_hist;
void lat_add(lat_hist *h, int64_t us);
/* lat_pct returns the q-quantile (0..1) in milliseconds, -1 when empty;
 * sorts h. */
double lat_pct(lat_hist *h, double q);
void lat_free(lat_hist *h);

/* applied_offsets returns sum(next_offset) of the coordinator's group over
 * topic from consumer_offsets, -1 on error. */
int64_t applied_offsets(PGconn *db, const char *group, const char *topic);

/* ---- results ---- */

typedef struct hb_result {
    double offered_rate, produced_rate, applied_rate;
    int64_t lag_end, lag_max;
    int bounded;
    double seconds;
    char note[256];
} hb_result;

typedef struct jobs_result {
    double offered_rate, submitted_rate, completed_rate;
    int64_t submitted, assigned, completed, incomplete, duplicates, bad_commands;
    double assign_p50, assign_p99, done_p50, done_p99; /* ms */
    int kept_up;
    double seconds;
    char db_states[256]; /* job states in PostgreSQL at the end */
    char note[256];
} jobs_result;

/* bench_heartbeats runs one heartbeats step at rate with the n workers ws.
 * Returns 0 when it ran (its figures may still say it failed), -1 when it
 * could not run (r->note says why). */
int bench_heartbeats(const bench_opts *o, principal *ws, int n, double rate, hb_result *r);
/* bench_jobs runs one jobs step at rate with workers ws and clients cs,
 * whose ids start with worker_prefix and client_prefix. Returns as
 * bench_heartbeats. */
int bench_jobs(const bench_opts *o, principal *ws, int n_ws, principal *cs, int n_cs,
               const char *worker_prefix, const char *client_prefix, double rate,
               jobs_result *res);

/* bench_compare runs the compare scenario (bench_compare.c): a 500/s step
 * on the fresh database, then N jobs enqueued with no worker running, then
 * drained, then the step again; it prints "compare.KEY=VALUE" lines.
 * Returns 0 when it ran, -1 when it could not (err says why). */
int bench_compare(const bench_opts *o, principal *ws, int n_ws, principal *cs, int n_cs,
                  const char *worker_prefix, const char *client_prefix, char *err,
                  size_t err_size);

/* report_write writes the Markdown report to o->out. */
int report_write(const bench_opts *o, const hb_result *hb, int n_hb, const jobs_result *jobs,
                 const jobs_result *lat);

#endif
