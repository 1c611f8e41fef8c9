/*
 * worker.c - the worker handle: identity, an idempotent Kafka producer, and
 * a background thread that sends a signed heartbeat every interval.
 *
 * Heartbeat timestamps strictly increase (max(now, last + 1)) because the
 * coordinator rejects a heartbeat that is not newer than the last one it
 * applied for the worker: that is what makes a replayed heartbeat harmless.
 *
 * Threads: the creator calls new/start/stop/destroy; the heartbeat thread
 * owns the producer's poll loop; jc_worker_heartbeat_now and the counters
 * may be used from any thread (mutex + condition variable, atomics).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "kafka.h"
#include "proto.h"
#include "topics.h"

struct jc_worker_s {
    jc_conf_t *conf;
    jc_identity id;
    rd_kafka_t *rk;
    char topic[256];
    /* heartbeat contents */
    char *caps_buf;
    jc_slice caps[JC_MAX_CAPS];
    uint32_t n_caps;
    uint32_t slots;
    char version[JC_MAX_VERSION_LEN + 1];
    char host[JC_MAX_HOST_LEN + 1];
    int interval_ms;
    uint64_t seq;
    uint64_t last_ts;
    struct timespec started;
    /* thread */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int started_thread, stopping, kick;
    atomic_uint_fast64_t delivered;
    atomic_uint_fast64_t failed;
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    jc_worker_t *w = opaque;
    (void)rk;
    if (m->err)
        atomic_fetch_add(&w->failed, 1);
    else
        atomic_fetch_add(&w->delivered, 1);
}

// parse_caps splits the comma-separated capabilities into w->caps.
static jc_err_t parse_caps(jc_worker_t *w, const char *caps, char *errstr, size_t errstr_size)
{
    char *save = NULL, *tok;
    w->caps_buf = strdup(caps ? caps : "");
    if (!w->caps_buf)
        return JC_ERR_NOMEM;
    for (tok = strtok_r(w->caps_buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
        if (w->n_caps == JC_MAX_CAPS) {
            snprintf(errstr, errstr_size, "capabilities: more than %d", JC_MAX_CAPS);
            return JC_ERR_INVALID_CONF;
        }
        if (!jc_name_valid((const uint8_t *)tok, strlen(tok), JC_MAX_NAME_LEN)) {
            snprintf(errstr, errstr_size, "capabilities: '%s' is not a valid job type", tok);
            return JC_ERR_INVALID_CONF;
        }
        w->caps[w->n_caps++] = jc_slice_str(tok);
    }
    return JC_OK;
}

jc_worker_t *jc_worker_new(jc_conf_t *conf, char *errstr, size_t errstr_size)
{
    jc_worker_t *w;
    rd_kafka_conf_t *rconf = NULL;
    const char *v;
    char kerr[256];

    if (!conf) {
        snprintf(errstr, errstr_size, "conf is NULL");
        return NULL;
    }
    w = calloc(1, sizeof *w);
    if (!w) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (jc_sdk_identity(conf, &w->id, errstr, errstr_size) != JC_OK ||
        parse_caps(w, jc_conf_get(conf, "capabilities"), errstr, errstr_size) != JC_OK)
        goto fail;
    v = jc_conf_get(conf, "slots");
    w->slots = v ? (uint32_t)atoi(v) : 1;
    v = jc_conf_get(conf, "heartbeat.interval.ms");
    w->interval_ms = v ? atoi(v) : 5000;
    v = jc_conf_get(conf, "version");
    snprintf(w->version, sizeof w->version, "%s", v ? v : JC_VERSION_STR);
    v = jc_conf_get(conf, "host");
    if (v)
        snprintf(w->host, sizeof w->host, "%s", v);
    else
        gethostname(w->host, sizeof w->host - 1);
    jc_sdk_topic(conf, JC_TOPIC_HEARTBEATS, w->topic, sizeof w->topic);

    if (jc_sdk_kafka_conf(conf, &rconf, errstr, errstr_size) != JC_OK)
        goto fail;
    if (rd_kafka_conf_set(rconf, "enable.idempotence", "true", kerr, sizeof kerr) ||
        rd_kafka_conf_set(rconf, "linger.ms", "5", kerr, sizeof kerr)) {
        snprintf(errstr, errstr_size, "kafka: %s", kerr);
        goto fail;
    }
    rd_kafka_conf_set_opaque(rconf, w);
    rd_kafka_conf_set_dr_msg_cb(rconf, on_delivery);
    w->rk = rd_kafka_new(RD_KAFKA_PRODUCER, rconf, kerr, sizeof kerr);
    if (!w->rk) {
        snprintf(errstr, errstr_size, "kafka: %s", kerr);
        goto fail;
    }
    rconf = NULL;
    clock_gettime(CLOCK_MONOTONIC, &w->started);
    w->conf = conf; /* ownership taken: nothing can fail any more */
    return w;
fail:
    if (rconf)
        rd_kafka_conf_destroy(rconf);
    sodium_memzero(&w->id, sizeof w->id);
    free(w->caps_buf);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return NULL;
}

// send_heartbeat signs and queues one heartbeat.
static jc_err_t send_heartbeat(jc_worker_t *w)
{
    struct timespec now;
    msgpack_sbuffer out;
    jc_msg m;
    jc_slice key_id = jc_slice_str(w->id.key_id);
    char err[256];
    jc_err_t rc;
    uint64_t ts = jc_now_ms();

    if (ts <= w->last_ts)
        ts = w->last_ts + 1;
    w->last_ts = ts;
    clock_gettime(CLOCK_MONOTONIC, &now);
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_HEARTBEAT;
    jc_id_random(m.id);
    m.ts_ms = ts;
    m.principal = jc_slice_str(w->id.principal);
    m.u.hb.caps = w->caps;
    m.u.hb.n_caps = w->n_caps;
    m.u.hb.slots = w->slots;
    m.u.hb.version = jc_slice_str(w->version);
    m.u.hb.host = jc_slice_str(w->host);
    m.u.hb.uptime_s = (uint64_t)(now.tv_sec - w->started.tv_sec);
    m.u.hb.seq = ++w->seq;

    msgpack_sbuffer_init(&out);
    rc = jc_msg_seal(&m, &key_id, w->id.key, &out, err, sizeof err);
    if (rc == JC_OK) {
        rd_kafka_resp_err_t kerr = rd_kafka_producev(
            w->rk, RD_KAFKA_V_TOPIC(w->topic),
            RD_KAFKA_V_KEY(w->id.principal, strlen(w->id.principal)),
            RD_KAFKA_V_VALUE(out.data, out.size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
            RD_KAFKA_V_END);
        if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL)
            rc = JC_ERR_QUEUE_FULL;
        else if (kerr)
            rc = JC_ERR_KAFKA;
    }
    msgpack_sbuffer_destroy(&out);
    return rc;
}

static void *heartbeat_loop(void *arg)
{
    jc_worker_t *w = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&w->mu);
    while (!w->stopping) {
        struct timespec now, wake;
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (w->kick || now.tv_sec > next.tv_sec ||
            (now.tv_sec == next.tv_sec && now.tv_nsec >= next.tv_nsec)) {
            w->kick = 0;
            pthread_mutex_unlock(&w->mu);
            send_heartbeat(w);
            pthread_mutex_lock(&w->mu);
            next = now;
            next.tv_sec += w->interval_ms / 1000;
            next.tv_nsec += (long)(w->interval_ms % 1000) * 1000000L;
            if (next.tv_nsec >= 1000000000L) {
                next.tv_sec++;
                next.tv_nsec -= 1000000000L;
            }
        }
        pthread_mutex_unlock(&w->mu);
        rd_kafka_poll(w->rk, 0); /* delivery reports */
        pthread_mutex_lock(&w->mu);
        /* wake at the next beat, but at least every 100 ms for delivery reports */
        clock_gettime(CLOCK_REALTIME, &wake);
        wake.tv_nsec += 100000000L;
        if (wake.tv_nsec >= 1000000000L) {
            wake.tv_sec++;
            wake.tv_nsec -= 1000000000L;
        }
        if (!w->stopping && !w->kick)
            pthread_cond_timedwait(&w->cv, &w->mu, &wake);
    }
    pthread_mutex_unlock(&w->mu);
    return NULL;
}

jc_err_t jc_worker_start(jc_worker_t *w, char *errstr, size_t errstr_size)
{
    if (!w || w->started_thread) {
        snprintf(errstr, errstr_size, "worker already started");
        return JC_ERR_STATE;
    }
    if (pthread_create(&w->thread, NULL, heartbeat_loop, w) != 0) {
        snprintf(errstr, errstr_size, "cannot start the heartbeat thread");
        return JC_ERR_IO;
    }
    w->started_thread = 1;
    return JC_OK;
}

jc_err_t jc_worker_heartbeat_now(jc_worker_t *w)
{
    if (!w)
        return JC_ERR_INVALID_ARG;
    pthread_mutex_lock(&w->mu);
    w->kick = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    return JC_OK;
}

uint64_t jc_worker_heartbeats_sent(const jc_worker_t *w)
{
    return w ? atomic_load(&((jc_worker_t *)w)->delivered) : 0;
}

jc_err_t jc_worker_stop(jc_worker_t *w, int timeout_ms)
{
    if (!w)
        return JC_ERR_INVALID_ARG;
    if (w->started_thread) {
        pthread_mutex_lock(&w->mu);
        w->stopping = 1;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        w->started_thread = 0;
    }
    return rd_kafka_flush(w->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? JC_OK
                                                                         : JC_ERR_TIMED_OUT;
}

void jc_worker_destroy(jc_worker_t *w)
{
    if (!w)
        return;
    jc_worker_stop(w, 5000);
    rd_kafka_destroy(w->rk);
    jc_conf_destroy(w->conf);
    sodium_memzero(&w->id, sizeof w->id);
    free(w->caps_buf);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
