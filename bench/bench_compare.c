/*
 * bench_compare.c - the compare scenario: the phases PostgreSQL job queues
 * are commonly measured with, run against the coordinator so that
 * bench/compare can put its figures beside such a queue's, phase for phase:
 *
 *   fresh:   the jobs scenario at --latency-rate (500/s) for --duration on
 *            the fresh database, every job counted (--warmup 0);
 *   enqueue: the clients submit --compare-jobs no-op jobs (N) as fast as
 *            they can while no worker runs; the figure is N over the time
 *            from the first submission to the coordinator's commit of the
 *            last (its committed position on job-requests), and every job
 *            is then checked to be pending in PostgreSQL;
 *   drain:   the workers start (their first heartbeat) and run the N jobs;
 *            the figure is N over the time from that heartbeat to the last
 *            job.update "succeeded" a client received;
 *   after:   the fresh step again, on the tables the drain left.
 *
 * VACUUM ANALYZE runs before enqueue, drain and after. Over enqueue and
 * drain the scenario also counts the row writes of every table
 * (pg_stat_user_tables: inserted + updated + deleted) and the
 * coordinator's CPU time (--coord-pid). It prints "compare.KEY=VALUE"
 * lines, which bench/compare reads; it writes no report.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bench_jobs.h"

/* PostgreSQL sends a backend's table counters at most once a second, and
 * an idle backend's only after 10 s: wait that long before reading them. */
#define STATS_SETTLE_S 11
#define ENQUEUE_MAX_S 600.0
#define ENQUEUE_STALL_S 60.0 /* give up when nothing more is applied for this long */

static void put(const char *key, double v) { printf("compare.%s=%.3f\n", key, v); }

// cpu_seconds returns the user + system CPU time of pid, -1 when unknown.
static double cpu_seconds(int pid)
{
    char path[64], buf[2048], *p;
    unsigned long ut, st;
    FILE *f;
    size_t n;
    if (pid <= 0)
        return -1;
    snprintf(path, sizeof path, "/proc/%d/stat", pid);
    if (!(f = fopen(path, "r")))
        return -1;
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* the fields after the command name, which may hold spaces: state is
     * field 3, utime 14, stime 15 */
    if (!(p = strrchr(buf, ')')) ||
        sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

static int64_t query_int(PGconn *db, const char *sql, const char *param)
{
    const char *params[1] = {param};
    PGresult *q = PQexecParams(db, sql, param ? 1 : 0, NULL, params, NULL, NULL, 0);
    int64_t v = -1;
    if (PQresultStatus(q) == PGRES_TUPLES_OK && PQntuples(q) == 1 && !PQgetisnull(q, 0, 0))
        v = strtoll(PQgetvalue(q, 0, 0), NULL, 10);
    else
        fprintf(stderr, "jobcoord-bench: %s", PQerrorMessage(db));
    PQclear(q);
    return v;
}

// row_writes returns the rows inserted, updated and deleted in every user
// table so far, after letting the backends' counters arrive.
static int64_t row_writes(PGconn *db)
{
    sleep(STATS_SETTLE_S);
    PQclear(PQexec(db, "SELECT pg_stat_clear_snapshot()"));
    return query_int(db,
                     "SELECT coalesce(sum(n_tup_ins + n_tup_upd + n_tup_del), 0)"
                     " FROM pg_stat_user_tables",
                     NULL);
}

static int vacuum(PGconn *db)
{
    double t = bench_now();
    PGresult *q = PQexec(db, "VACUUM ANALYZE");
    int ok = PQresultStatus(q) == PGRES_COMMAND_OK;
    if (!ok)
        fprintf(stderr, "jobcoord-bench: VACUUM ANALYZE: %s", PQerrorMessage(db));
    PQclear(q);
    fprintf(stderr, "  (vacuum analyze: %.0f ms)\n", (bench_now() - t) * 1000);
    return ok ? 0 : -1;
}

static int rate_step(const bench_opts *o, const char *name, principal *ws, int n_ws,
                     principal *cs, int n_cs, const char *wp, const char *cp)
{
    double rate = o->latency_rate > 0 ? o->latency_rate : 500;
    char key[64];
    jobs_result res;
    if (bench_jobs(o, ws, n_ws, cs, n_cs, wp, cp, rate, &res) != 0) {
        fprintf(stderr, "jobcoord-bench: %s step: %s\n", name, res.note);
        return -1;
    }
    printf("%s: offered %.0f/s submitted %lld completed %lld incomplete %lld duplicates %lld;"
           " submit->assigned p50 %.1f ms p99 %.1f ms; submit->completed p50 %.1f ms p99 %.1f"
           " ms; db: %s %s\n",
           name, rate, (long long)res.submitted, (long long)res.completed,
           (long long)res.incomplete, (long long)res.duplicates, res.assign_p50, res.assign_p99,
           res.done_p50, res.done_p99, res.db_states, res.note);
#define PUT(k, v) (snprintf(key, sizeof key, "%s_%s", name, k), put(key, v))
    PUT("rate", rate);
    PUT("completed_rate", res.completed_rate);
    PUT("assigned_p50_ms", res.assign_p50);
    PUT("assigned_p99_ms", res.assign_p99);
    PUT("completed_p50_ms", res.done_p50);
    PUT("completed_p99_ms", res.done_p99);
    PUT("incomplete", (double)res.incomplete);
    PUT("duplicates", (double)res.duplicates);
#undef PUT
    return 0;
}

// enqueue submits r->cap jobs with no worker running and waits until the
// coordinator has committed them all. Returns the seconds it took, -1.
static double enqueue(jobs_run *r, PGconn *db, const char *client_prefix, char *err,
                      size_t err_size)
{
    char topic[256];
    int64_t base, applied = 0, queued;
    pthread_t th;
    double t0, t_end = 0, until;

    snprintf(topic, sizeof topic, "%sjob-requests", r->o->prefix);
    if ((base = applied_offsets(db, r->o->group, topic)) < 0) {
        snprintf(err, err_size, "consumer_offsets: %s", PQerrorMessage(db));
        return -1;
    }
    r->rate = 1e9; /* as fast as the producer takes them */
    t0 = bench_now();
    if (pthread_create(&th, NULL, jobs_submitter, r) != 0) {
        snprintf(err, err_size, "cannot start the submitter");
        return -1;
    }
    until = t0 + ENQUEUE_STALL_S;
    while (bench_now() < until) {
        int64_t now_applied = applied_offsets(db, r->o->group, topic) - base;
        if (now_applied >= (int64_t)r->cap) {
            t_end = bench_now();
            break;
        }
        if (now_applied != applied) { /* progress: the coordinator is not stuck */
            applied = now_applied;
            until = bench_now() + ENQUEUE_STALL_S < t0 + ENQUEUE_MAX_S
                        ? bench_now() + ENQUEUE_STALL_S
                        : t0 + ENQUEUE_MAX_S;
        }
        usleep(20000);
    }
    atomic_store(&r->stop_submit, 1);
    pthread_join(th, NULL);
    rd_kafka_flush(r->prod, 5000);
    if (t_end == 0) {
        snprintf(err, err_size, "enqueue: %lld of %zu submissions applied after %.0f s",
                 (long long)applied, r->cap, bench_now() - t0);
        return -1;
    }
    queued = query_int(db,
                       "SELECT count(*) FROM jobs WHERE state = 'pending'"
                       " AND starts_with(submitter, $1)",
                       client_prefix);
    printf("enqueue: %zu jobs submitted, %lld pending in PostgreSQL\n", r->cap, (long long)queued);
    if (queued != (int64_t)r->cap) {
        snprintf(err, err_size, "enqueue: %lld of %zu jobs pending", (long long)queued, r->cap);
        return -1;
    }
    return t_end - t0;
}

// drain starts the workers and waits until the clients have heard of every
// job's success. Returns 0 and the figures, or -1.
static int drain(jobs_run *r, double *seconds, double *first_ms, char *err, size_t err_size)
{
    pthread_t th[3];
    void *(*fn[3])(void *) = {fleet_heartbeats, fleet_commands, fleet_updates};
    int started = 0;
    msgpack_sbuffer sb;
    int64_t t_start, last = 0, first = INT64_MAX;
    double until, next_progress;
    long long n = (long long)r->cap;

    msgpack_sbuffer_init(&sb);
    t_start = jobs_us(r);
    fleet_send_heartbeats(r, &sb, 0);
    rd_kafka_poll(r->prod, 0);
    for (; started < 3; started++)
        if (pthread_create(&th[started], NULL, fn[started], r) != 0)
            break;
    /* a tenth of the floor measured before this harness existed, and never
     * less than two minutes */
    until = bench_now() + (n / 200.0 > 120 ? n / 200.0 : 120);
    next_progress = bench_now() + 1;
    while (started == 3 && atomic_load(&r->completed) < n && bench_now() < until) {
        usleep(10000);
        if (!r->o->quiet && bench_now() >= next_progress) {
            fprintf(stderr, "  drain t=%4.0fs assigned=%lld completed=%lld\n",
                    (double)(jobs_us(r) - t_start) / 1e6, (long long)atomic_load(&r->assigned),
                    (long long)atomic_load(&r->completed));
            next_progress += 1;
        }
    }
    atomic_store(&r->stop_all, 1);
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    fleet_send_heartbeats(r, &sb, 1);
    msgpack_sbuffer_destroy(&sb);
    if (atomic_load(&r->completed) < n) {
        snprintf(err, err_size, "drain: %lld of %lld jobs completed",
                 (long long)atomic_load(&r->completed), n);
        return -1;
    }
    for (size_t i = 0; i < r->cap; i++) {
        int64_t a = atomic_load(&r->jobs[i].assigned_us), d = atomic_load(&r->jobs[i].done_us);
        if (d > last)
            last = d;
        if (a > 0 && a < first)
            first = a;
    }
    *seconds = (double)(last - t_start) / 1e6;
    *first_ms = (double)(first - t_start) / 1e3;
    return 0;
}

int bench_compare(const bench_opts *o, principal *ws, int n_ws, principal *cs, int n_cs,
                  const char *worker_prefix, const char *client_prefix, char *err,
                  size_t err_size)
{
    PGconn *db = PQconnectdb(o->db);
    jobs_run r;
    int rc = -1;
    int64_t w0, w1, w2;
    double cpu0, cpu1, cpu2, cpu_enq, enq_s, drain_s = 0, first_ms = 0;

    memset(&r, 0, sizeof r);
    if (PQstatus(db) != CONNECTION_OK) {
        snprintf(err, err_size, "database: %s", PQerrorMessage(db));
        goto out;
    }
    fprintf(stderr, "compare: %.0f jobs/s for %.0f s on the fresh database\n",
            o->latency_rate > 0 ? o->latency_rate : 500, o->duration_s);
    if (rate_step(o, "fresh", ws, n_ws, cs, n_cs, worker_prefix, client_prefix) != 0) {
        snprintf(err, err_size, "the step on the fresh database did not run");
        goto out;
    }

    r.o = o;
    r.ws = ws;
    r.n_ws = n_ws;
    r.cs = cs;
    r.n_cs = n_cs;
    r.cap = (size_t)o->compare_jobs;
    r.jobs = calloc(r.cap, sizeof *r.jobs);
    randombytes_buf(&r.idx_mask, sizeof r.idx_mask);
    r.t0 = bench_now();
    if (!r.jobs || jobs_setup(&r, err, err_size) != 0) {
        if (!r.jobs)
            snprintf(err, err_size, "out of memory");
        goto out;
    }
    if (vacuum(db) != 0 || (w0 = row_writes(db)) < 0) {
        snprintf(err, err_size, "database: %s", PQerrorMessage(db));
        goto out;
    }
    fprintf(stderr, "compare: enqueue %zu jobs, no worker running\n", r.cap);
    cpu0 = cpu_seconds(o->coord_pid);
    if ((enq_s = enqueue(&r, db, client_prefix, err, err_size)) < 0)
        goto out;
    cpu_enq = cpu_seconds(o->coord_pid) - cpu0;
    printf("enqueue: %zu jobs in %.2f s = %.0f jobs/s (submitted to committed)\n", r.cap, enq_s,
           (double)r.cap / enq_s);
    if ((w1 = row_writes(db)) < 0 || vacuum(db) != 0) {
        snprintf(err, err_size, "database: %s", PQerrorMessage(db));
        goto out;
    }
    /* VACUUM ANALYZE changes none of the counters row_writes sums */
    fprintf(stderr, "compare: the workers start and drain\n");
    cpu1 = cpu_seconds(o->coord_pid);
    if (drain(&r, &drain_s, &first_ms, err, err_size) != 0)
        goto out;
    cpu2 = cpu_seconds(o->coord_pid);
    w2 = row_writes(db);
    printf("drain: %zu jobs in %.2f s = %.0f jobs/s to the last job.update received (first "
           "assign %.0f ms after the workers' first heartbeat); duplicates %lld\n",
           r.cap, drain_s, (double)r.cap / drain_s, first_ms,
           (long long)atomic_load(&r.duplicates));
    put("n", (double)r.cap);
    put("enqueue_s", enq_s);
    put("enqueue_rate", (double)r.cap / enq_s);
    put("drain_s", drain_s);
    put("drain_rate", (double)r.cap / drain_s);
    put("drain_first_assign_ms", first_ms);
    put("drain_duplicates", (double)atomic_load(&r.duplicates));
    put("enqueue_writes_per_job", (double)(w1 - w0) / (double)r.cap);
    put("drain_writes_per_job", (double)(w2 - w1) / (double)r.cap);
    if (cpu0 >= 0 && cpu2 >= 0) {
        put("enqueue_cpu_ms_per_job", cpu_enq * 1000 / (double)r.cap);
        put("drain_cpu_ms_per_job", (cpu2 - cpu1) * 1000 / (double)r.cap);
    }
    jobs_teardown(&r);
    r.jobs = NULL;
    memset(&r, 0, sizeof r);
    if (vacuum(db) != 0) {
        snprintf(err, err_size, "database: %s", PQerrorMessage(db));
        goto out;
    }
    fprintf(stderr, "compare: %.0f jobs/s for %.0f s after the drain\n",
            o->latency_rate > 0 ? o->latency_rate : 500, o->duration_s);
    if (rate_step(o, "after", ws, n_ws, cs, n_cs, worker_prefix, client_prefix) != 0) {
        snprintf(err, err_size, "the step after the drain did not run");
        goto out;
    }
    rc = 0;
out:
    if (r.o)
        jobs_teardown(&r);
    PQfinish(db);
    return rc;
}
