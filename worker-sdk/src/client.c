/*
 * client.c - the client handle: submits and cancels jobs on job-requests,
 * and follows their outcome on job-updates.
 *
 * Submitting: the client picks the job id (random), signs a job.submit with
 * its key, produces it (idempotent producer, key = its principal id) and
 * waits for Kafka's delivery report. A report that comes after the caller
 * gave up must not touch the caller's stack, so each wait is a small heap
 * object shared by the caller and the report callback; the last of the two
 * frees it.
 *
 * Updates: the coordinator sends job.update records keyed by the client's
 * id and signed with the client's key to the partition the id hashes to,
 * and job.refusal records answering a submission or cancel it refused.
 * jc_client_new assigns that partition at its end offset before it
 * returns, and a background thread verifies every record there as a
 * worker verifies commands (inbox.c) and keeps the latest update per job
 * (updates.c, bounded). jc_client_wait sleeps on a condition variable that
 * the thread signals after each update.
 *
 * Threads: the update thread; any caller thread for the rest. c->mu guards
 * the update table and the delivery waits.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sodium.h>

#include "inbox.h"
#include "kafka.h"
#include "jcproto/proto.h"
#include "send.h"
#include "jcproto/topics.h"
#include "updates.h"

#define START_TIMEOUT_MS 10000 /* jc_client_new: metadata and end offset */
#define UPDATE_JOBS 65536
#define UPDATE_BYTES (64u * 1024u * 1024u)
#define POLL_MS 100
#define REFRESH_MS 30000
#define DESTROY_FLUSH_MS 5000

struct jc_client_s {
    jc_conf_t *conf;
    jc_identity id;
    rd_kafka_t *rk;
    jc_sender sender;
    char requests_topic[256];
    jc_inbox *inbox;
    jc_updates *updates; /* under mu */
    pthread_mutex_t mu;
    pthread_cond_t cv; /* an update came, or a delivery report */
    pthread_t thread;
    int thread_started;
    atomic_int stopping;
    atomic_uint_fast64_t dropped;
};

/* delivery is one wait for a delivery report, shared with the callback. */
typedef struct delivery {
    int refs; /* under the client's mu */
    int done;
    rd_kafka_resp_err_t err;
} delivery;

// on_delivery records the outcome of a produced request for its waiter.
static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    jc_client_t *c = opaque;
    delivery *d = m->_private;
    int last;

    (void)rk;
    if (!d)
        return;
    pthread_mutex_lock(&c->mu);
    d->done = 1;
    d->err = m->err;
    last = --d->refs == 0;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    if (last)
        free(d);
}

// mono_ms returns a monotonic clock in milliseconds.
static uint64_t mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

// abs_deadline turns a timeout into an absolute CLOCK_REALTIME time.
static struct timespec abs_deadline(int timeout_ms)
{
    struct timespec t;

    clock_gettime(CLOCK_REALTIME, &t);
    t.tv_sec += timeout_ms / 1000;
    t.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (t.tv_nsec >= 1000000000L) {
        t.tv_sec++;
        t.tv_nsec -= 1000000000L;
    }
    return t;
}

// handle_update verifies one record of the updates partition and records it.
static void handle_update(jc_client_t *c, const rd_kafka_message_t *rec)
{
    jc_msg m;
    char errstr[256];

    if (jc_inbox_open(&c->id, rec, JC_MSG_NONE, &m, errstr, sizeof errstr) != JC_OK) {
        atomic_fetch_add(&c->dropped, 1);
        return;
    }
    if (m.type != JC_MSG_JOB_UPDATE && m.type != JC_MSG_JOB_REFUSAL) {
        atomic_fetch_add(&c->dropped, 1);
        jc_msg_release(&m);
        return;
    }
    pthread_mutex_lock(&c->mu);
    if (m.type == JC_MSG_JOB_UPDATE)
        jc_updates_put(c->updates, &m.u.update);
    else
        jc_updates_refused(c->updates, &m.u.refusal);
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
    jc_msg_release(&m);
}

// update_main is the update thread; it also serves the producer's reports.
static void *update_main(void *arg)
{
    jc_client_t *c = arg;
    uint64_t next_lookup = mono_ms() + REFRESH_MS;
    char errstr[256];

    while (!atomic_load(&c->stopping)) {
        rd_kafka_message_t *rec;
        if (mono_ms() >= next_lookup) {
            jc_inbox_assign(c->inbox, 500, errstr, sizeof errstr); /* partitions added? */
            next_lookup = mono_ms() + REFRESH_MS;
        }
        rd_kafka_poll(c->rk, 0);
        jc_identity_poll(&c->id); /* a rotated key.file */
        rec = jc_inbox_poll(c->inbox, POLL_MS);
        if (!rec)
            continue;
        handle_update(c, rec);
        rd_kafka_message_destroy(rec);
    }
    return NULL;
}

jc_client_t *jc_client_new(jc_conf_t *conf, char *errstr, size_t errstr_size)
{
    jc_client_t *c;
    char updates_topic[256];

    if (!conf) {
        snprintf(errstr, errstr_size, "conf is NULL");
        return NULL;
    }
    c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    if (jc_sdk_identity(conf, &c->id, errstr, errstr_size) != JC_OK)
        goto fail;
    jc_sdk_topic(conf, JC_TOPIC_JOB_REQUESTS, c->requests_topic, sizeof c->requests_topic);
    jc_sdk_topic(conf, JC_TOPIC_JOB_UPDATES, updates_topic, sizeof updates_topic);
    c->updates = jc_updates_new(UPDATE_JOBS, UPDATE_BYTES);
    if (!c->updates) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    c->rk = jc_sdk_producer(conf, "1", c, on_delivery, errstr, errstr_size);
    if (!c->rk)
        goto fail;
    c->sender.rk = c->rk;
    c->sender.id = &c->id;
    c->sender.version = jc_sender_version(conf);
    c->inbox = jc_inbox_new(conf, &c->id, updates_topic, JC_INBOX_FROM_END, "jobcoord-client-",
                            errstr, errstr_size);
    if (!c->inbox || jc_inbox_assign(c->inbox, START_TIMEOUT_MS, errstr, errstr_size) != JC_OK)
        goto fail;
    if (pthread_create(&c->thread, NULL, update_main, c) != 0) {
        snprintf(errstr, errstr_size, "cannot start the update thread");
        goto fail;
    }
    c->thread_started = 1;
    c->conf = conf; /* ownership taken: nothing can fail any more */
    return c;
fail:
    jc_inbox_destroy(c->inbox);
    if (c->rk)
        jc_sdk_kafka_destroy(c->rk);
    jc_updates_destroy(c->updates);
    jc_identity_destroy(&c->id);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
    return NULL;
}

// send_and_wait produces m on job-requests and waits up to timeout_ms for
// its delivery report.
static jc_err_t send_and_wait(jc_client_t *c, jc_msg *m, int timeout_ms, char *errstr,
                              size_t errstr_size)
{
    delivery *d = calloc(1, sizeof *d);
    uint64_t deadline = mono_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
    jc_err_t err;
    int done = 0, last;

    if (!d) {
        snprintf(errstr, errstr_size, "out of memory");
        return JC_ERR_NOMEM;
    }
    d->refs = 2; /* this wait and the delivery report */
    err = jc_send(&c->sender, c->requests_topic, c->id.principal, strlen(c->id.principal), m, d,
                  errstr, errstr_size);
    if (err) {
        free(d); /* never produced: no report will come */
        return err;
    }
    for (;;) {
        pthread_mutex_lock(&c->mu);
        done = d->done;
        pthread_mutex_unlock(&c->mu);
        if (done || mono_ms() >= deadline)
            break;
        rd_kafka_poll(c->rk, 10); /* serve reports here, without waiting for the thread */
    }
    pthread_mutex_lock(&c->mu);
    if (!done) {
        snprintf(errstr, errstr_size, "Kafka did not confirm the request within %d ms",
                 timeout_ms);
        err = JC_ERR_TIMED_OUT;
    } else if (d->err) {
        snprintf(errstr, errstr_size, "kafka: %s", rd_kafka_err2str(d->err));
        err = JC_ERR_KAFKA;
    }
    last = --d->refs == 0;
    pthread_mutex_unlock(&c->mu);
    if (last)
        free(d);
    return err;
}

/* ---- submission options ---- */

struct jc_submit_opts_s {
    int32_t priority;
    uint32_t max_attempts;
    int has_delay, has_run_at, has_timeout;
    uint64_t delay_ms, run_at_ms;
    uint32_t timeout_ms;
    char ikey[JC_MAX_IKEY_LEN + 1];
    int has_job_id;
    uint8_t job_id[JC_ID_LEN];
};

jc_submit_opts_t *jc_submit_opts_new(void)
{
    jc_submit_opts_t *o = calloc(1, sizeof *o);

    if (o)
        o->max_attempts = 3;
    return o;
}

void jc_submit_opts_destroy(jc_submit_opts_t *o) { free(o); }

// parse_int reads a decimal integer in [min, max].
static int parse_int(const char *s, long long min, long long max, long long *out)
{
    char *end;
    long long v;

    errno = 0;
    v = strtoll(s, &end, 10);
    if (errno || end == s || *end || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

jc_err_t jc_submit_opts_set(jc_submit_opts_t *o, const char *name, const char *value,
                            char *errstr, size_t errstr_size)
{
    static const long long max_ms = 1000LL * 3600 * 24 * 365 * 1000; /* a thousand years */
    long long v = 0;
    int bad = 0;

    if (!o || !name || !value) {
        snprintf(errstr, errstr_size, "jc_submit_opts_set: NULL argument");
        return JC_ERR_INVALID_ARG;
    }
    if (strcmp(name, "priority") == 0) {
        bad = parse_int(value, -1000, 1000, &v);
        o->priority = (int32_t)v;
    } else if (strcmp(name, "max_attempts") == 0) {
        bad = parse_int(value, 1, JC_MAX_ATTEMPTS, &v);
        o->max_attempts = (uint32_t)v;
    } else if (strcmp(name, "delay_ms") == 0) {
        bad = parse_int(value, 0, max_ms, &v);
        o->delay_ms = (uint64_t)v;
        o->has_delay = !bad;
        o->has_run_at = o->has_run_at && bad;
    } else if (strcmp(name, "run_at_ms") == 0) {
        bad = parse_int(value, 0, max_ms, &v);
        o->run_at_ms = (uint64_t)v;
        o->has_run_at = !bad;
        o->has_delay = o->has_delay && bad;
    } else if (strcmp(name, "timeout_ms") == 0) {
        bad = parse_int(value, 1, JC_MAX_TIMEOUT_MS, &v);
        o->timeout_ms = (uint32_t)v;
        o->has_timeout = !bad;
    } else if (strcmp(name, "job_id") == 0) {
        static const uint8_t zero[JC_ID_LEN];
        bad = jc_id_parse(value, o->job_id) != 0 || memcmp(o->job_id, zero, JC_ID_LEN) == 0;
        o->has_job_id = !bad;
    } else if (strcmp(name, "idempotency_key") == 0) {
        size_t n = strlen(value);
        bad = n == 0 || n > JC_MAX_IKEY_LEN || !jc_utf8_valid((const uint8_t *)value, n);
        if (!bad)
            memcpy(o->ikey, value, n + 1);
    } else {
        snprintf(errstr, errstr_size, "unknown submit option '%s'", name);
        return JC_ERR_UNKNOWN_CONF;
    }
    if (bad) {
        snprintf(errstr, errstr_size, "submit option %s: bad value '%.64s'", name, value);
        return JC_ERR_INVALID_CONF;
    }
    return JC_OK;
}

/* ---- requests ---- */

jc_err_t jc_client_submit(jc_client_t *c, const char *job_type, const void *payload,
                          size_t len, const jc_submit_opts_t *opts, char job_id_out[37],
                          int timeout_ms, char *errstr, size_t errstr_size)
{
    jc_msg m;
    jc_job_submit *s = &m.u.submit;
    jc_err_t err;

    if (!c || !job_type || !job_id_out || (len > 0 && !payload)) {
        snprintf(errstr, errstr_size, "jc_client_submit: NULL argument");
        return JC_ERR_INVALID_ARG;
    }
    if (!jc_name_valid((const uint8_t *)job_type, strlen(job_type), JC_MAX_NAME_LEN)) {
        snprintf(errstr, errstr_size, "'%.64s' is not a valid job type", job_type);
        return JC_ERR_INVALID_ARG;
    }
    if (len > JC_MAX_PAYLOAD_BYTES) {
        snprintf(errstr, errstr_size, "payload of %zu bytes is over %u", len,
                 JC_MAX_PAYLOAD_BYTES);
        return JC_ERR_TOO_LARGE;
    }
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_JOB_SUBMIT;
    jc_id_random(m.id); /* chosen here, so that a refusal can name it */
    if (opts && opts->has_job_id)
        memcpy(s->job, opts->job_id, JC_ID_LEN);
    else
        jc_id_v7(s->job); /* time-ordered: see jc_id_v7 */
    s->type = jc_slice_str(job_type);
    s->payload.p = payload;
    s->payload.n = (uint32_t)len;
    s->max_attempts = 3;
    if (opts) {
        s->priority = opts->priority;
        s->max_attempts = opts->max_attempts;
        s->has_run_after = opts->has_delay || opts->has_run_at;
        s->run_after_ms = opts->has_run_at ? opts->run_at_ms : jc_now_ms() + opts->delay_ms;
        s->has_timeout = opts->has_timeout;
        s->timeout_ms = opts->timeout_ms;
        s->ikey = jc_slice_str(opts->ikey);
    }
    /* noted before it is sent, so no update can come before the note */
    pthread_mutex_lock(&c->mu);
    err = jc_updates_submitted(c->updates, s->job, opts ? opts->ikey : NULL, m.id);
    pthread_mutex_unlock(&c->mu);
    if (err) {
        snprintf(errstr, errstr_size, "out of memory");
        return err;
    }
    jc_id_format(s->job, job_id_out);
    return send_and_wait(c, &m, timeout_ms, errstr, errstr_size);
}

jc_err_t jc_client_cancel(jc_client_t *c, const char *job_id, const char *reason,
                          int timeout_ms, char *errstr, size_t errstr_size)
{
    jc_msg m;
    jc_err_t err;

    if (!c || !job_id) {
        snprintf(errstr, errstr_size, "jc_client_cancel: NULL argument");
        return JC_ERR_INVALID_ARG;
    }
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_JOB_CANCEL;
    if (jc_id_parse(job_id, m.u.cancel.job) != 0) {
        snprintf(errstr, errstr_size, "'%.40s' is not a job id", job_id);
        return JC_ERR_INVALID_ARG;
    }
    m.u.cancel.reason = jc_slice_str(reason);
    jc_id_random(m.id); /* chosen here, so that a refusal can name it */
    pthread_mutex_lock(&c->mu);
    err = jc_updates_cancel_sent(c->updates, m.u.cancel.job, m.id);
    pthread_mutex_unlock(&c->mu);
    if (err) {
        snprintf(errstr, errstr_size, "out of memory");
        return err;
    }
    return send_and_wait(c, &m, timeout_ms, errstr, errstr_size);
}

jc_err_t jc_client_cancel_wait(jc_client_t *c, const char *job_id, int timeout_ms,
                               char state_out[16], char *reason_out, size_t reason_size)
{
    struct timespec until = abs_deadline(timeout_ms > 0 ? timeout_ms : 0);
    uint8_t job[JC_ID_LEN];
    const char *refusal = NULL;
    char state[16] = "";
    int answer = 0, rc = 0;
    jc_err_t err;

    if (reason_out && reason_size > 0)
        reason_out[0] = '\0';
    if (!c || !job_id || jc_id_parse(job_id, job) != 0)
        return JC_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        answer = jc_updates_cancel_answer(c->updates, job, state, &refusal);
        if (answer != 0 || rc == ETIMEDOUT)
            break;
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &until);
    }
    switch (answer) {
    case 1:
        err = JC_OK;
        if (state_out)
            snprintf(state_out, 16, "%s", state);
        break;
    case 2:
        err = JC_ERR_REFUSED;
        if (state_out)
            snprintf(state_out, 16, "refused");
        if (reason_out && reason_size > 0)
            snprintf(reason_out, reason_size, "%s", refusal);
        break;
    case -1: err = JC_ERR_STATE; break;
    default: err = JC_ERR_TIMED_OUT; break;
    }
    pthread_mutex_unlock(&c->mu);
    return err;
}

jc_err_t jc_client_cancel_reason(jc_client_t *c, const char *job_id, char *out,
                                 size_t out_size)
{
    uint8_t job[JC_ID_LEN];
    jc_update_view v;
    int found;

    if (out && out_size > 0)
        out[0] = '\0';
    if (!c || !job_id || !out || out_size == 0 || jc_id_parse(job_id, job) != 0)
        return JC_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    found = jc_updates_final(c->updates, job, &v) || jc_updates_latest(c->updates, job, &v);
    if (found)
        snprintf(out, out_size, "%s", v.reason);
    pthread_mutex_unlock(&c->mu);
    return found ? JC_OK : JC_ERR_STATE;
}

jc_err_t jc_client_job_of(jc_client_t *c, const char *job_id, char out[37])
{
    uint8_t job[JC_ID_LEN];
    jc_update_view v;
    int found;
    if (!c || !job_id || !out || jc_id_parse(job_id, job) != 0)
        return JC_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    found = jc_updates_final(c->updates, job, &v);
    if (found)
        jc_id_format(v.job, out);
    pthread_mutex_unlock(&c->mu);
    return found ? JC_OK : JC_ERR_STATE;
}

jc_err_t jc_client_wait(jc_client_t *c, const char *job_id, int timeout_ms, char state_out[16],
                        void **result_out, size_t *result_len, char *error_out,
                        size_t error_size)
{
    struct timespec until = abs_deadline(timeout_ms > 0 ? timeout_ms : 0);
    uint8_t job[JC_ID_LEN];
    jc_update_view v;
    jc_err_t err = JC_OK;
    int found = 0, rc = 0;

    if (result_out)
        *result_out = NULL;
    if (result_len)
        *result_len = 0;
    if (!c || jc_id_parse(job_id, job) != 0)
        return JC_ERR_INVALID_ARG;
    pthread_mutex_lock(&c->mu);
    for (;;) {
        found = jc_updates_final(c->updates, job, &v);
        if (found || rc == ETIMEDOUT)
            break;
        rc = pthread_cond_timedwait(&c->cv, &c->mu, &until);
    }
    if (!found) {
        err = JC_ERR_TIMED_OUT;
        goto out;
    }
    if (state_out)
        snprintf(state_out, 16, "%s", v.state);
    if (error_out && error_size > 0)
        snprintf(error_out, error_size, "%s", v.error);
    if (strcmp(v.state, "refused") == 0) {
        err = JC_ERR_REFUSED;
        goto out;
    }
    if (result_out && v.result) {
        *result_out = malloc(v.result_len);
        if (!*result_out) {
            err = JC_ERR_NOMEM;
            goto out;
        }
        memcpy(*result_out, v.result, v.result_len);
    }
    if (result_len)
        *result_len = v.result ? v.result_len : 0;
out:
    pthread_mutex_unlock(&c->mu);
    return err;
}

jc_err_t jc_client_reload_key(jc_client_t *c, char *errstr, size_t errstr_size)
{
    if (!c) {
        snprintf(errstr, errstr_size, "client is NULL");
        return JC_ERR_INVALID_ARG;
    }
    return jc_identity_reload(&c->id, errstr, errstr_size);
}

uint64_t jc_client_key_rotations(const jc_client_t *c) { return c ? jc_identity_reloads(&c->id) : 0; }

uint64_t jc_client_updates_dropped(const jc_client_t *c)
{
    return c ? atomic_load(&((jc_client_t *)c)->dropped) : 0;
}

void jc_free(void *p) { free(p); }

void jc_client_destroy(jc_client_t *c)
{
    if (!c)
        return;
    if (c->thread_started) {
        atomic_store(&c->stopping, 1);
        pthread_join(c->thread, NULL);
    }
    jc_inbox_destroy(c->inbox);
    rd_kafka_flush(c->rk, DESTROY_FLUSH_MS);
    /* what is left gets its delivery report now, so every wait is freed */
    rd_kafka_purge(c->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT);
    rd_kafka_flush(c->rk, 100);
    jc_sdk_kafka_destroy(c->rk);
    jc_updates_destroy(c->updates);
    jc_conf_destroy(c->conf);
    jc_identity_destroy(&c->id);
    pthread_mutex_destroy(&c->mu);
    pthread_cond_destroy(&c->cv);
    free(c);
}
