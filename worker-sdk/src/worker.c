/*
 * worker.c - the worker handle: identity, an idempotent Kafka producer, a
 * background thread that sends a signed heartbeat every interval and on
 * changes, and the lifecycle of the parts that run jobs (jobs.c, the pool
 * threads; commands.c, the command thread).
 *
 * Heartbeat timestamps strictly increase (send.c's process clock) because
 * the coordinator rejects a heartbeat that is not newer than the last one
 * it applied for the worker: that is what makes a replayed heartbeat
 * harmless. A heartbeat lists the running jobs, the configuration version
 * last applied, and whether the worker drains (a drain command, or a
 * shutdown in progress).
 *
 * Threads: the creator calls new/handle/on_config/start/shutdown/stop/
 * destroy; the heartbeat thread sends heartbeats and polls the producer
 * (delivery reports); the command thread reads commands; `slots` pool
 * threads run handlers. jc_worker_heartbeat_now, jc_worker_event and the
 * counters may be used from any thread.
 *
 * Stopping: no new jobs; running ones are handed back (reported failed,
 * retryable, and marked canceled so their handlers return); the command
 * consumer is closed (committing its offset); the pool threads are joined; a
 * last heartbeat says nothing runs; the producer is flushed.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "commands.h"
#include "jobs.h"
#include "kafka.h"
#include "jcproto/proto.h"
#include "send.h"
#include "jcproto/topics.h"

#define SHUTDOWN_FLUSH_MS 5000

typedef enum worker_state { WORKER_NEW, WORKER_RUNNING, WORKER_STOPPED } worker_state;

struct jc_worker_s {
    jc_conf_t *conf;
    jc_identity id;
    rd_kafka_t *rk;
    jc_sender sender;
    char topic[256];         /* heartbeats */
    char events_topic[256];  /* worker events */
    /* heartbeat contents */
    char *caps_buf;
    char handled[JC_MAX_CAPS][JC_MAX_NAME_LEN + 1]; /* job types with a handler */
    jc_slice caps[JC_MAX_CAPS];
    uint32_t n_caps;
    uint32_t slots;
    char version[JC_MAX_VERSION_LEN + 1];
    char host[JC_MAX_HOST_LEN + 1];
    int interval_ms;
    uint64_t seq;
    struct timespec started;
    jc_running_job *running; /* slots entries: the heartbeat's list */
    /* jobs and commands */
    jc_jobs *jobs;
    jc_cmdloop *cmds;
    jc_config_fn config_cb;
    void *config_opaque;
    atomic_int draining;
    int has_cfgv; /* under mu */
    uint64_t cfgv;
    /* threads */
    worker_state state; /* creator thread only */
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping, kick;
    atomic_uint_fast64_t delivered;
    atomic_uint_fast64_t failed;
    uint64_t dropped_at_stop; /* jc_cmdloop_dropped when the command thread went */
};

// on_delivery counts delivered heartbeats (their msg_opaque is the worker).
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    jc_worker_t *w = opaque;
    (void)rk;
    if (m->_private != w)
        return;
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
    const char *v;
    char job_events[256];

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
    jc_sdk_topic(conf, JC_TOPIC_WORKER_EVENTS, w->events_topic, sizeof w->events_topic);

    w->rk = jc_sdk_producer(conf, "5", w, on_delivery, errstr, errstr_size);
    if (!w->rk)
        goto fail;
    w->sender.rk = w->rk;
    w->sender.id = &w->id;
    w->sender.version = jc_sender_version(conf);
    jc_sdk_topic(conf, JC_TOPIC_JOB_EVENTS, job_events, sizeof job_events);
    w->jobs = jc_jobs_new(w->slots, &w->sender, job_events);
    w->running = calloc(w->slots ? w->slots : 1, sizeof *w->running);
    if (!w->jobs || !w->running) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    clock_gettime(CLOCK_MONOTONIC, &w->started);
    w->conf = conf; /* ownership taken: nothing can fail any more */
    return w;
fail:
    jc_jobs_destroy(w->jobs);
    free(w->running);
    if (w->rk)
        jc_sdk_kafka_destroy(w->rk);
    jc_identity_destroy(&w->id);
    free(w->caps_buf);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
    return NULL;
}

// send_heartbeat signs and queues one heartbeat. The heartbeat thread (or
// the stopping creator, after joining it) only.
static jc_err_t send_heartbeat(jc_worker_t *w)
{
    struct timespec now;
    jc_msg m;
    char err[256];

    clock_gettime(CLOCK_MONOTONIC, &now);
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_HEARTBEAT;
    m.u.hb.caps = w->caps;
    m.u.hb.n_caps = w->n_caps;
    m.u.hb.slots = w->slots;
    m.u.hb.running = w->running;
    m.u.hb.n_running = jc_jobs_snapshot(w->jobs, w->running, w->slots);
    m.u.hb.version = jc_slice_str(w->version);
    m.u.hb.host = jc_slice_str(w->host);
    m.u.hb.uptime_s = (uint64_t)(now.tv_sec - w->started.tv_sec);
    m.u.hb.seq = ++w->seq;
    m.u.hb.draining = atomic_load(&w->draining) || jc_jobs_closed(w->jobs);
    pthread_mutex_lock(&w->mu);
    m.u.hb.has_config_version = w->has_cfgv;
    m.u.hb.config_version = w->cfgv;
    pthread_mutex_unlock(&w->mu);
    return jc_send(&w->sender, w->topic, w->id.principal, strlen(w->id.principal), &m, w, err,
                   sizeof err);
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

// on_drain is the command thread's drain/undrain hook.
static void on_drain(void *opaque, int draining)
{
    jc_worker_t *w = opaque;

    atomic_store(&w->draining, draining);
    jc_worker_heartbeat_now(w);
}

// on_config is the command thread's config hook: the application's
// callback first, then heartbeats report the version.
static void on_config(void *opaque, uint64_t version, const char *const *keys,
                      const char *const *values, size_t n)
{
    jc_worker_t *w = opaque;

    if (w->config_cb)
        w->config_cb(version, keys, values, n, w->config_opaque);
    pthread_mutex_lock(&w->mu);
    w->has_cfgv = 1;
    w->cfgv = version;
    pthread_mutex_unlock(&w->mu);
    jc_worker_heartbeat_now(w);
}

jc_err_t jc_worker_start(jc_worker_t *w, char *errstr, size_t errstr_size)
{
    jc_cmd_hooks hooks = {on_drain, on_config, w};
    jc_err_t err;

    if (!w || w->state != WORKER_NEW) {
        snprintf(errstr, errstr_size, "worker already started or stopped");
        return JC_ERR_STATE;
    }
    w->cmds = jc_cmdloop_new(w->conf, &w->sender, w->jobs, &hooks, errstr, errstr_size);
    if (!w->cmds)
        return JC_ERR_KAFKA;
    err = jc_jobs_start(w->jobs);
    if (err) {
        snprintf(errstr, errstr_size, "cannot start the job threads");
        goto fail;
    }
    err = jc_cmdloop_start(w->cmds, errstr, errstr_size);
    if (err)
        goto fail;
    if (pthread_create(&w->thread, NULL, heartbeat_loop, w) != 0) {
        snprintf(errstr, errstr_size, "cannot start the heartbeat thread");
        err = JC_ERR_IO;
        goto fail;
    }
    w->state = WORKER_RUNNING;
    return JC_OK;
fail:
    jc_cmdloop_destroy(w->cmds);
    w->cmds = NULL;
    jc_jobs_stop(w->jobs);
    w->state = WORKER_STOPPED;
    return err;
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

jc_err_t jc_worker_reload_key(jc_worker_t *w, char *errstr, size_t errstr_size)
{
    if (!w) {
        snprintf(errstr, errstr_size, "worker is NULL");
        return JC_ERR_INVALID_ARG;
    }
    return jc_identity_reload(&w->id, errstr, errstr_size);
}

uint64_t jc_worker_key_rotations(const jc_worker_t *w) { return w ? jc_identity_reloads(&w->id) : 0; }

uint64_t jc_worker_commands_dropped(const jc_worker_t *w)
{
    if (!w)
        return 0;
    return w->cmds ? jc_cmdloop_dropped(w->cmds) : w->dropped_at_stop;
}

jc_err_t jc_worker_stop(jc_worker_t *w, int timeout_ms)
{
    if (!w)
        return JC_ERR_INVALID_ARG;
    if (w->state == WORKER_RUNNING) {
        jc_jobs_close(w->jobs);
        jc_jobs_hand_back(w->jobs, "worker shutting down");
        w->dropped_at_stop = jc_cmdloop_dropped(w->cmds);
        jc_cmdloop_destroy(w->cmds); /* commits the commands offset */
        w->cmds = NULL;
        jc_jobs_stop(w->jobs); /* handlers were told to stop: wait for them */
        pthread_mutex_lock(&w->mu);
        w->stopping = 1;
        pthread_cond_signal(&w->cv);
        pthread_mutex_unlock(&w->mu);
        pthread_join(w->thread, NULL);
        send_heartbeat(w); /* the last word: nothing runs here any more */
        w->state = WORKER_STOPPED;
    }
    return rd_kafka_flush(w->rk, timeout_ms) == RD_KAFKA_RESP_ERR_NO_ERROR ? JC_OK
                                                                         : JC_ERR_TIMED_OUT;
}

jc_err_t jc_worker_shutdown(jc_worker_t *w, int grace_ms)
{
    if (!w || grace_ms < 0)
        return JC_ERR_INVALID_ARG;
    if (w->state == WORKER_RUNNING) {
        jc_jobs_close(w->jobs); /* assigns are refused from now on */
        jc_worker_heartbeat_now(w); /* and heartbeats say drain */
        jc_jobs_wait_idle(w->jobs, grace_ms);
        jc_jobs_hand_back(w->jobs, "worker shutting down");
    }
    return jc_worker_stop(w, SHUTDOWN_FLUSH_MS);
}

jc_err_t jc_worker_handle(jc_worker_t *w, const char *job_type, jc_job_handler_fn handler,
                          void *opaque)
{
    char errstr[128];
    uint32_t i;
    jc_err_t err;

    if (!w || !job_type || !handler ||
        !jc_name_valid((const uint8_t *)job_type, strlen(job_type), JC_MAX_NAME_LEN))
        return JC_ERR_INVALID_ARG;
    if (w->state != WORKER_NEW)
        return JC_ERR_STATE;
    for (i = 0; i < w->n_caps; i++)
        if (jc_slice_eq(w->caps[i], job_type))
            break;
    if (i == JC_MAX_CAPS)
        return JC_ERR_LIMIT;
    err = jc_jobs_register(w->jobs, job_type, handler, opaque, errstr, sizeof errstr);
    if (err || i < w->n_caps)
        return err;
    snprintf(w->handled[i], sizeof w->handled[i], "%s", job_type);
    w->caps[w->n_caps++] = jc_slice_str(w->handled[i]);
    return JC_OK;
}

jc_err_t jc_worker_on_config(jc_worker_t *w, jc_config_fn cb, void *opaque)
{
    if (!w)
        return JC_ERR_INVALID_ARG;
    if (w->state != WORKER_NEW)
        return JC_ERR_STATE;
    w->config_cb = cb;
    w->config_opaque = opaque;
    return JC_OK;
}

jc_err_t jc_worker_event(jc_worker_t *w, const char *level, const char *kind, const char *text,
                         const char *const *meta_keys, const char *const *meta_values,
                         size_t n_meta)
{
    jc_kv meta[JC_MAX_SETTINGS];
    jc_msg m;
    char errstr[256];

    if (!w || !level || !kind || (n_meta > 0 && (!meta_keys || !meta_values)))
        return JC_ERR_INVALID_ARG;
    if (n_meta > JC_MAX_SETTINGS)
        return JC_ERR_TOO_LARGE;
    for (size_t i = 0; i < n_meta; i++) {
        if (!meta_keys[i] || !meta_values[i])
            return JC_ERR_INVALID_ARG;
        meta[i].key = jc_slice_str(meta_keys[i]);
        meta[i].value = jc_slice_str(meta_values[i]);
    }
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_WORKER_EVENT;
    m.u.wevent.level = jc_slice_str(level);
    m.u.wevent.kind = jc_slice_str(kind);
    m.u.wevent.text = jc_slice_str(text);
    m.u.wevent.meta = n_meta ? meta : NULL;
    m.u.wevent.n_meta = (uint32_t)n_meta;
    return jc_send(&w->sender, w->events_topic, w->id.principal, strlen(w->id.principal), &m,
                   NULL, errstr, sizeof errstr);
}

int jc_worker_jobs_running(const jc_worker_t *w) { return w ? jc_jobs_running(w->jobs) : 0; }

void jc_worker_destroy(jc_worker_t *w)
{
    if (!w)
        return;
    jc_worker_stop(w, 5000);
    jc_cmdloop_destroy(w->cmds);
    jc_jobs_destroy(w->jobs);
    jc_sdk_kafka_destroy(w->rk);
    jc_conf_destroy(w->conf);
    jc_identity_destroy(&w->id);
    free(w->running);
    free(w->caps_buf);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
