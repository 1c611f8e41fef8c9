/*
 * bench_hb.c - the heartbeats scenario: N simulated workers send signed
 * heartbeats at an aggregate rate (open loop: the rate does not slow down
 * when the coordinator falls behind), and the coordinator's progress is read
 * from consumer_offsets in PostgreSQL, the positions it commits with each
 * batch. Lag is the topic's end offsets minus those positions.
 *
 * The mock cluster keeps a few MiB per partition, so a step stops early,
 * and counts as not sustained, once the lag nears what the topic can hold.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench.h"

#define RETAINED_BYTES_PER_PARTITION (5u << 20)
#define MAX_SAMPLES 4096

typedef struct hb_sender {
    const bench_opts *o;
    principal *ws;
    int n;
    double rate;
    rd_kafka_t *rk;
    rd_kafka_topic_t *topic;
    atomic_int stop;
    atomic_llong sent, failed;
    atomic_llong msg_bytes;
    double t0;
} hb_sender;

// send_one signs and produces the next heartbeat of worker w.
static int send_one(hb_sender *s, principal *w, msgpack_sbuffer *sb, double t)
{
    static const char cap[] = "bench.hb";
    jc_slice caps[1] = {{(const uint8_t *)cap, sizeof cap - 1}};
    jc_slice key_id = jc_slice_str(w->key_id);
    jc_msg m;
    char err[256];
    uint64_t now = jc_now_ms();

    memset(&m, 0, sizeof m);
    m.type = JC_MSG_HEARTBEAT;
    jc_id_random(m.id);
    m.ts_ms = now > w->last_ts ? now : w->last_ts + 1;
    w->last_ts = m.ts_ms;
    m.principal = jc_slice_str(w->id);
    m.u.hb.caps = caps;
    m.u.hb.n_caps = 1;
    m.u.hb.slots = 0; /* never scheduled: this scenario measures heartbeats only */
    m.u.hb.version = jc_slice_str("jobcoord-bench");
    m.u.hb.host = jc_slice_str("bench");
    m.u.hb.uptime_s = (uint64_t)(t - s->t0);
    m.u.hb.seq = ++w->seq;
    if (jc_msg_seal(&m, &key_id, w->key, sb, err, sizeof err) != JC_OK) {
        fprintf(stderr, "jobcoord-bench: heartbeat: %s\n", err);
        return -1;
    }
    atomic_store(&s->msg_bytes, (long long)sb->size);
    return bk_produce(s->rk, s->topic, w->id, sb->data, sb->size, 1000);
}

// sender_main paces heartbeats: at each wake-up it sends what is due by now.
static void *sender_main(void *arg)
{
    hb_sender *s = arg;
    msgpack_sbuffer sb;
    long long sent = 0;
    int next = 0;

    msgpack_sbuffer_init(&sb);
    while (!atomic_load(&s->stop)) {
        double t = bench_now();
        long long due = (long long)((t - s->t0) * s->rate);
        int burst = 0;
        while (sent < due && burst++ < 2000) {
            if (send_one(s, &s->ws[next], &sb, t) != 0)
                atomic_fetch_add(&s->failed, 1);
            next = (next + 1) % s->n;
            sent++;
        }
        atomic_store(&s->sent, sent);
        rd_kafka_poll(s->rk, 0);
        if (sent >= due)
            usleep(1000);
    }
    msgpack_sbuffer_destroy(&sb);
    return NULL;
}

typedef struct sample {
    double t;
    int64_t end, applied;
} sample;

static int take(rd_kafka_t *rk, PGconn *db, const bench_opts *o, const char *topic, int parts,
                double t0, sample *s)
{
    s->t = bench_now() - t0;
    s->end = bk_end_offsets(rk, topic, parts);
    s->applied = applied_offsets(db, o->group, topic);
    return s->end < 0 || s->applied < 0 ? -1 : 0;
}

// drain waits (bounded) for the coordinator to catch up with the topic.
static void drain(rd_kafka_t *rk, PGconn *db, const bench_opts *o, const char *topic, int parts,
                  double max_s)
{
    double until = bench_now() + max_s;
    sample s;
    while (bench_now() < until) {
        if (take(rk, db, o, topic, parts, 0, &s) == 0 && s.end - s.applied < 100)
            return;
        usleep(250000);
    }
}

int bench_heartbeats(const bench_opts *o, principal *ws, int n, double rate, hb_result *r)
{
    char topic[256], err[512];
    hb_sender s;
    sample *smp = calloc(MAX_SAMPLES, sizeof *smp);
    int n_smp = 0, parts, rc = -1, stopped_early = 0;
    PGconn *db = PQconnectdb(o->db);
    pthread_t th;
    double warm, t_stop;
    int64_t lag_cap = 0;

    memset(r, 0, sizeof *r);
    memset(&s, 0, sizeof s);
    r->offered_rate = rate;
    snprintf(topic, sizeof topic, "%sheartbeats", o->prefix);
    if (!smp || PQstatus(db) != CONNECTION_OK) {
        snprintf(r->note, sizeof r->note, "database: %s", PQerrorMessage(db));
        goto out;
    }
    s.o = o;
    s.ws = ws;
    s.n = n;
    s.rate = rate;
    s.rk = bk_producer(o, err, sizeof err);
    if (!s.rk) {
        snprintf(r->note, sizeof r->note, "%.200s", err);
        goto out;
    }
    s.topic = rd_kafka_topic_new(s.rk, topic, NULL);
    parts = bk_partitions(s.rk, topic);
    if (parts <= 0) {
        snprintf(r->note, sizeof r->note, "topic %.200s: no metadata", topic);
        goto out;
    }
    drain(s.rk, db, o, topic, parts, 30);
    s.t0 = bench_now();
    if (take(s.rk, db, o, topic, parts, s.t0, &smp[n_smp++]) != 0) {
        snprintf(r->note, sizeof r->note, "cannot read offsets");
        goto out;
    }
    if (pthread_create(&th, NULL, sender_main, &s) != 0)
        goto out;
    while (bench_now() - s.t0 < o->duration_s && n_smp < MAX_SAMPLES) {
        sample *c;
        usleep(1000000);
        c = &smp[n_smp];
        if (take(s.rk, db, o, topic, parts, s.t0, c) != 0)
            continue;
        n_smp++;
        if (!lag_cap && atomic_load(&s.msg_bytes) > 0)
            lag_cap = (int64_t)parts * RETAINED_BYTES_PER_PARTITION / 2 / atomic_load(&s.msg_bytes);
        if (c->end - c->applied > r->lag_max)
            r->lag_max = c->end - c->applied;
        if (!o->quiet)
            fprintf(stderr, "  hb t=%4.1fs sent=%lld applied=%+" PRId64 " lag=%" PRId64 "\n", c->t,
                    (long long)atomic_load(&s.sent), c->applied - smp[0].applied,
                    c->end - c->applied);
        if (lag_cap && c->end - c->applied > lag_cap) {
            stopped_early = 1;
            break;
        }
    }
    atomic_store(&s.stop, 1);
    pthread_join(th, NULL);
    t_stop = bench_now() - s.t0;
    rd_kafka_flush(s.rk, 10000);
    if (n_smp < 3) {
        snprintf(r->note, sizeof r->note, "too few samples");
        goto out;
    }
    {
        /* the steady window: after the first quarter (at least 2 s) */
        const sample *a = &smp[0], *z = &smp[n_smp - 1];
        warm = o->duration_s / 4 < 2 ? 2 : o->duration_s / 4;
        for (int i = 0; i < n_smp - 2 && smp[i].t < warm; i++)
            a = &smp[i + 1];
        r->seconds = t_stop;
        r->produced_rate = (double)(z->end - a->end) / (z->t - a->t);
        r->applied_rate = (double)(z->applied - a->applied) / (z->t - a->t);
        r->lag_end = z->end - z->applied;
        {
            double slope = (double)(r->lag_end - (a->end - a->applied)) / (z->t - a->t);
            r->bounded = !stopped_early && ((double)r->lag_end <= rate || slope <= 0.02 * rate);
        }
        if (stopped_early)
            snprintf(r->note, sizeof r->note,
                     "stopped after %.0f s: lag over %" PRId64 " messages (half of what the"
                     " mock topic retains)", t_stop, lag_cap);
        if (atomic_load(&s.failed) > 0) {
            size_t len = strlen(r->note);
            snprintf(r->note + len, sizeof r->note - len, "%s%lld heartbeats not produced",
                     len ? "; " : "", (long long)atomic_load(&s.failed));
        }
    }
    drain(s.rk, db, o, topic, parts, 60);
    rc = 0;
out:
    if (s.topic)
        rd_kafka_topic_destroy(s.topic);
    if (s.rk)
        rd_kafka_destroy(s.rk);
    PQfinish(db);
    free(smp);
    return rc;
}
