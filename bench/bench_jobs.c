/*
 * bench_jobs.c - the jobs scenario: clients submit no-op jobs at a fixed
 * rate (open loop), simulated workers finish each one as soon as it is
 * assigned (bench_fleet.c), and the clients measure, from the job updates
 * they receive, how many jobs complete per second and how long a job takes
 * from submission to assignment (assign command received by the worker)
 * and to completion (job.update "succeeded" received by the client).
 *
 * Only jobs submitted after the warm-up (the first quarter of the run, at
 * least 2 s) count toward the figures. After the submission window the run
 * waits, bounded, for the jobs still out, then reports those as incomplete
 * and what PostgreSQL says about them.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sodium.h>

#include "bench_jobs.h"

#define DRAIN_MAX_S 15.0
#define OUTSTANDING_MAX_S 3.0 /* stop a step this many seconds of load behind */
#define OUTSTANDING_MIN 5000

// submit_one signs and produces the submission of slot idx.
static int submit_one(jobs_run *r, size_t idx, msgpack_sbuffer *sb)
{
    job_slot *j = &r->jobs[idx];
    const principal *c = &r->cs[idx % (size_t)r->n_cs];
    jc_slice key_id = jc_slice_str(c->key_id);
    uint32_t tag = (uint32_t)idx ^ r->idx_mask;
    char err[256];
    jc_msg m;

    randombytes_buf(j->id, 12);
    j->id[12] = (uint8_t)(tag >> 24);
    j->id[13] = (uint8_t)(tag >> 16);
    j->id[14] = (uint8_t)(tag >> 8);
    j->id[15] = (uint8_t)tag;
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_JOB_SUBMIT;
    jc_id_random(m.id);
    m.ts_ms = jc_now_ms();
    m.principal = jc_slice_str(c->id);
    memcpy(m.u.submit.job, j->id, JC_ID_LEN);
    m.u.submit.type = jc_slice_str(BENCH_JOB_TYPE);
    m.u.submit.max_attempts = 3;
    if (jc_msg_seal(&m, &key_id, c->key, sb, err, sizeof err) != JC_OK) {
        fprintf(stderr, "jobcoord-bench: job.submit: %s\n", err);
        return -1;
    }
    j->submit_us = jobs_us(r);
    atomic_store_explicit(&r->n_submitted, idx + 1, memory_order_release);
    return bk_produce(r->prod, r->t_submit, c->id, sb->data, sb->size, 1000);
}

// submitter paces submissions at r->rate until stop_submit or the table is
// full.
void *jobs_submitter(void *arg)
{
    jobs_run *r = arg;
    msgpack_sbuffer sb;
    double start = bench_now();
    size_t sent = 0;

    msgpack_sbuffer_init(&sb);
    while (!atomic_load(&r->stop_submit) && sent < r->cap) {
        size_t due = (size_t)((bench_now() - start) * r->rate);
        int burst = 0;
        while (sent < due && sent < r->cap && burst++ < 1000) {
            if (submit_one(r, sent, &sb) != 0)
                atomic_fetch_add(&r->produce_failures, 1);
            sent++;
        }
        rd_kafka_poll(r->prod, 0);
        if (sent >= due)
            usleep(500);
    }
    msgpack_sbuffer_destroy(&sb);
    return NULL;
}

// wait_online waits (bounded) until every simulated worker is online.
static int wait_online(jobs_run *r, PGconn *db, const char *prefix, double max_s)
{
    const char *params[1] = {prefix};
    double until = bench_now() + max_s;
    while (bench_now() < until) {
        PGresult *q = PQexecParams(db,
                                   "SELECT count(*) FROM workers WHERE status = 'online'"
                                   " AND starts_with(id, $1)",
                                   1, NULL, params, NULL, NULL, 0);
        int n = PQresultStatus(q) == PGRES_TUPLES_OK ? atoi(PQgetvalue(q, 0, 0)) : -1;
        PQclear(q);
        if (n >= r->n_ws)
            return 0;
        rd_kafka_poll(r->prod, 100);
        usleep(100000);
    }
    return -1;
}

// db_states summarizes, from PostgreSQL, the states of this run's jobs.
static void db_states(PGconn *db, const char *client_prefix, char *out, size_t out_size)
{
    const char *params[1] = {client_prefix};
    PGresult *q = PQexecParams(db,
                               "SELECT string_agg(state || '=' || n, ' ' ORDER BY state) FROM"
                               " (SELECT state, count(*) AS n FROM jobs WHERE"
                               "  starts_with(submitter, $1) GROUP BY state) s",
                               1, NULL, params, NULL, NULL, 0);
    snprintf(out, out_size, "%s",
             PQresultStatus(q) == PGRES_TUPLES_OK ? PQgetvalue(q, 0, 0) : PQerrorMessage(db));
    PQclear(q);
}

int jobs_setup(jobs_run *r, char *err, size_t err_size)
{
    const bench_opts *o = r->o;
    char topic[256];
    int parts, *want;

    r->prod = bk_producer(o, err, err_size);
    r->c_commands = bk_consumer(o, err, err_size);
    r->c_updates = bk_consumer(o, err, err_size);
    if (!r->prod || !r->c_commands || !r->c_updates)
        return -1;
    snprintf(topic, sizeof topic, "%sjob-requests", o->prefix);
    r->t_submit = rd_kafka_topic_new(r->prod, topic, NULL);
    snprintf(topic, sizeof topic, "%sjob-events", o->prefix);
    r->t_events = rd_kafka_topic_new(r->prod, topic, NULL);
    snprintf(topic, sizeof topic, "%sheartbeats", o->prefix);
    r->t_hb = rd_kafka_topic_new(r->prod, topic, NULL);
    snprintf(r->topic_commands, sizeof r->topic_commands, "%scommands", o->prefix);
    snprintf(r->topic_updates, sizeof r->topic_updates, "%sjob-updates", o->prefix);

    /* each worker reads the one partition its id hashes to; so do clients */
    parts = bk_partitions(r->c_commands, r->topic_commands);
    if (parts <= 0 || !(want = calloc((size_t)parts, sizeof *want))) {
        snprintf(err, err_size, "topic %s: no metadata", r->topic_commands);
        return -1;
    }
    for (int i = 0; i < r->n_ws; i++)
        want[jc_murmur2_partition(r->ws[i].id, strlen(r->ws[i].id), parts)] = 1;
    if (bk_assign_from_end(r->c_commands, r->topic_commands, parts, want) != 0) {
        free(want);
        snprintf(err, err_size, "cannot assign %s", r->topic_commands);
        return -1;
    }
    free(want);
    parts = bk_partitions(r->c_updates, r->topic_updates);
    if (parts <= 0 || !(want = calloc((size_t)parts, sizeof *want))) {
        snprintf(err, err_size, "topic %s: no metadata", r->topic_updates);
        return -1;
    }
    for (int i = 0; i < r->n_cs; i++)
        want[jc_murmur2_partition(r->cs[i].id, strlen(r->cs[i].id), parts)] = 1;
    if (bk_assign_from_end(r->c_updates, r->topic_updates, parts, want) != 0) {
        free(want);
        snprintf(err, err_size, "cannot assign %s", r->topic_updates);
        return -1;
    }
    free(want);
    return 0;
}

void jobs_teardown(jobs_run *r)
{
    if (r->t_submit)
        rd_kafka_topic_destroy(r->t_submit);
    if (r->t_events)
        rd_kafka_topic_destroy(r->t_events);
    if (r->t_hb)
        rd_kafka_topic_destroy(r->t_hb);
    if (r->prod) {
        rd_kafka_flush(r->prod, 5000);
        rd_kafka_destroy(r->prod);
    }
    if (r->c_commands) {
        rd_kafka_consumer_close(r->c_commands);
        rd_kafka_destroy(r->c_commands);
    }
    if (r->c_updates) {
        rd_kafka_consumer_close(r->c_updates);
        rd_kafka_destroy(r->c_updates);
    }
    free(r->jobs);
}

// summarize turns the job table into figures.
static void summarize(jobs_run *r, double warm_s, double stop_s, jobs_result *res)
{
    lat_hist ha = {0}, hd = {0};
    size_t n = atomic_load(&r->n_submitted), counted = 0;
    int64_t warm = (int64_t)(warm_s * 1e6), stop = (int64_t)(stop_s * 1e6), done_in_window = 0;

    for (size_t i = 0; i < n; i++) {
        job_slot *j = &r->jobs[i];
        int64_t a = atomic_load(&j->assigned_us), d = atomic_load(&j->done_us);
        if (d > 0 && d >= warm && d <= stop)
            done_in_window++;
        if (d == 0)
            res->incomplete++;
        if (j->submit_us < warm)
            continue;
        counted++;
        if (a > 0)
            lat_add(&ha, a - j->submit_us);
        if (d > 0)
            lat_add(&hd, d - j->submit_us);
    }
    res->submitted = (int64_t)n;
    res->submitted_rate = (double)n / stop_s;
    res->completed_rate = (double)done_in_window / (stop_s - warm_s);
    res->assign_p50 = lat_pct(&ha, 0.50);
    res->assign_p99 = lat_pct(&ha, 0.99);
    res->done_p50 = lat_pct(&hd, 0.50);
    res->done_p99 = lat_pct(&hd, 0.99);
    (void)counted;
    lat_free(&ha);
    lat_free(&hd);
}

int bench_jobs(const bench_opts *o, principal *ws, int n_ws, principal *cs, int n_cs,
               const char *worker_prefix, const char *client_prefix, double rate,
               jobs_result *res)
{
    jobs_run r;
    pthread_t th_hb, th_cmd, th_upd, th_sub;
    int started = 0, rc = -1;
    char err[512];
    PGconn *db = PQconnectdb(o->db);
    double warm, stop_s, until;
    int64_t outstanding_at_stop;
    msgpack_sbuffer sb;

    memset(res, 0, sizeof *res);
    memset(&r, 0, sizeof r);
    res->offered_rate = rate;
    r.o = o;
    r.ws = ws;
    r.n_ws = n_ws;
    r.cs = cs;
    r.n_cs = n_cs;
    r.rate = rate;
    r.cap = (size_t)(rate * o->duration_s * 1.05) + 1000;
    r.jobs = calloc(r.cap, sizeof *r.jobs);
    randombytes_buf(&r.idx_mask, sizeof r.idx_mask);
    r.t0 = bench_now();
    msgpack_sbuffer_init(&sb);
    if (PQstatus(db) != CONNECTION_OK) {
        snprintf(res->note, sizeof res->note, "database: %s", PQerrorMessage(db));
        goto out;
    }
    if (!r.jobs || jobs_setup(&r, err, sizeof err) != 0) {
        snprintf(res->note, sizeof res->note, "set-up: %.200s", r.jobs ? err : "out of memory");
        goto out;
    }
    fleet_send_heartbeats(&r, &sb, 0);
    if (wait_online(&r, db, worker_prefix, 20) != 0) {
        snprintf(res->note, sizeof res->note, "the simulated workers did not come online");
        goto out;
    }
    r.t0 = bench_now();
    if (pthread_create(&th_hb, NULL, fleet_heartbeats, &r) != 0)
        goto out;
    started++;
    if (pthread_create(&th_cmd, NULL, fleet_commands, &r) != 0)
        goto stop;
    started++;
    if (pthread_create(&th_upd, NULL, fleet_updates, &r) != 0)
        goto stop;
    started++;
    if (pthread_create(&th_sub, NULL, jobs_submitter, &r) != 0)
        goto stop;
    started++;
    while (bench_now() - r.t0 < o->duration_s) {
        long long out_now;
        usleep(1000000);
        out_now = (long long)atomic_load(&r.n_submitted) - atomic_load(&r.completed);
        if (out_now > OUTSTANDING_MAX_S * rate && out_now > OUTSTANDING_MIN) {
            /* open loop past capacity only fills Kafka and the jobs table */
            snprintf(res->note, sizeof res->note, "submissions stopped after %.0f s: %lld jobs "
                     "outstanding; ", bench_now() - r.t0, out_now);
            break;
        }
        if (!o->quiet)
            fprintf(stderr, "  jobs t=%4.1fs submitted=%zu assigned=%lld completed=%lld\n",
                    bench_now() - r.t0, atomic_load(&r.n_submitted),
                    (long long)atomic_load(&r.assigned), (long long)atomic_load(&r.completed));
    }
    atomic_store(&r.stop_submit, 1);
    pthread_join(th_sub, NULL);
    started--;
    stop_s = bench_now() - r.t0;
    outstanding_at_stop = (int64_t)atomic_load(&r.n_submitted) - atomic_load(&r.completed);
    until = bench_now() + DRAIN_MAX_S;
    while (bench_now() < until &&
           atomic_load(&r.completed) < (long long)atomic_load(&r.n_submitted))
        usleep(100000);
    warm = o->warmup_s >= 0 ? o->warmup_s : o->duration_s / 4 < 2 ? 2 : o->duration_s / 4;
    if (warm > stop_s / 2)
        warm = stop_s / 2; /* a step stopped early */
    summarize(&r, warm, stop_s, res);
    res->seconds = stop_s;
    res->assigned = atomic_load(&r.assigned);
    res->completed = atomic_load(&r.completed);
    res->duplicates = atomic_load(&r.duplicates);
    res->bad_commands = atomic_load(&r.bad_commands);
    res->kept_up = res->completed_rate >= 0.95 * rate &&
                   (double)outstanding_at_stop <= 2 * rate && stop_s >= o->duration_s;
    {
        int len = (int)strlen(res->note);
        if (atomic_load(&r.other_jobs) > 0)
            len += snprintf(res->note + len, sizeof res->note - (size_t)len,
                            "%lld jobs of earlier steps run; ",
                            (long long)atomic_load(&r.other_jobs));
        if (atomic_load(&r.other_updates) > 0 && len < (int)sizeof res->note)
            len += snprintf(res->note + len, sizeof res->note - (size_t)len,
                            "%lld updates other than succeeded (first: %s); ",
                            (long long)atomic_load(&r.other_updates), r.other_update_state);
        if (atomic_load(&r.produce_failures) > 0 && len < (int)sizeof res->note)
            len += snprintf(res->note + len, sizeof res->note - (size_t)len,
                            "%lld messages not produced; ",
                            (long long)atomic_load(&r.produce_failures));
        if (res->incomplete > 0 && len < (int)sizeof res->note)
            snprintf(res->note + len, sizeof res->note - (size_t)len,
                     "%" PRId64 " jobs not completed %.0f s after the last submission",
                     res->incomplete, DRAIN_MAX_S);
    }
    rc = 0;
stop:
    atomic_store(&r.stop_submit, 1);
    atomic_store(&r.stop_all, 1);
    if (started == 4)
        pthread_join(th_sub, NULL);
    if (started >= 3)
        pthread_join(th_upd, NULL);
    if (started >= 2)
        pthread_join(th_cmd, NULL);
    if (started >= 1)
        pthread_join(th_hb, NULL);
    if (r.prod)
        fleet_send_heartbeats(&r, &sb, 1);
    if (PQstatus(db) == CONNECTION_OK)
        db_states(db, client_prefix, res->db_states, sizeof res->db_states);
out:
    msgpack_sbuffer_destroy(&sb);
    jobs_teardown(&r);
    PQfinish(db);
    return rc;
}
