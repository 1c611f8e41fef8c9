/*
 * test_sdk_jobs: the test plays the coordinator against a worker handle over
 * librdkafka's mock cluster. It produces signed commands to the worker's
 * partition of a 4-partition commands topic, and reads back what the
 * worker says: job events, command acks, heartbeats, worker events.
 *
 * Checked: handlers run with their payload; `started` carries the assign's
 * command id (its ack) and no command.ack is sent for it; succeeded and
 * failed carry their fields; job events land on the partition murmur2 of
 * the job id gives; forged, foreign, malformed, wrongly typed and duplicate
 * commands are never acted on; cancel reaches the handler (flag and
 * callback) and yields `canceled`; drain, undrain and config are acked and
 * show in heartbeats; an unknown type and a full worker are refused;
 * heartbeats list running jobs; shutdown refuses assigns and hands back
 * what still runs; every message the SDK signs has a distinct timestamp,
 * increasing per record key.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobcoord/jobcoord.h>

#include "check.h"
#include "inbox.h"
#include "sdk_mock.h"

#define WORKER "worker-7"
#define MAX_SEEN 512

/* ---- the handlers and what they saw ---- */

static pthread_mutex_t seen_mu = PTHREAD_MUTEX_INITIALIZER;
static int echo_runs;
static char echo_payload[64];
static atomic_int cancel_callbacks;
static int config_calls;
static uint64_t config_version;
static char config_seen[256];

static void on_job_cancel(jc_job_t *job, void *opaque)
{
    (void)job;
    (void)opaque;
    atomic_fetch_add(&cancel_callbacks, 1);
}

static void handle_echo(jc_job_t *job, void *opaque)
{
    size_t n;
    const char *p = jc_job_payload(job, &n);

    (void)opaque;
    pthread_mutex_lock(&seen_mu);
    echo_runs++;
    snprintf(echo_payload, sizeof echo_payload, "%s", p); /* NUL-terminated by the SDK */
    pthread_mutex_unlock(&seen_mu);
    jc_job_succeed(job, p, n);
}

// handle_block reports, then waits until it is canceled and returns
// without a result.
static void handle_block(jc_job_t *job, void *opaque)
{
    (void)opaque;
    jc_job_on_cancel(job, on_job_cancel, NULL);
    jc_job_progress(job, 10);
    jc_job_log(job, "stdout", "blocking");
    while (!jc_job_canceled(job))
        usleep(2000);
}

static void handle_fail(jc_job_t *job, void *opaque)
{
    size_t n;
    const char *p = jc_job_payload(job, &n);

    (void)opaque;
    jc_job_fail(job, strcmp(p, "retry") == 0, "asked to fail");
}

static void handle_noresult(jc_job_t *job, void *opaque)
{
    (void)job;
    (void)opaque;
}

static void on_config(uint64_t version, const char *const *keys, const char *const *values,
                      size_t n, void *opaque)
{
    (void)opaque;
    pthread_mutex_lock(&seen_mu);
    config_calls++;
    config_version = version;
    config_seen[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen(config_seen);
        snprintf(config_seen + used, sizeof config_seen - used, "%s=%s;", keys[i], values[i]);
    }
    pthread_mutex_unlock(&seen_mu);
}

/* ---- the coordinator's view ---- */

typedef struct event {
    uint8_t job[JC_ID_LEN];
    uint32_t att;
    jc_job_event_kind kind;
    uint32_t pct;
    char text[128], stream[8], result[64];
    int retry, has_cmd;
    uint8_t cmd[JC_ID_LEN];
    uint64_t ts;
    int32_t partition;
} event;

typedef struct ack {
    uint8_t cmd[JC_ID_LEN];
    int ok;
    char err[128];
} ack;

typedef struct coord {
    rd_kafka_t *prod, *cons;
    uint8_t key[JC_KEY_LEN];
    event events[MAX_SEEN];
    int n_events;
    ack acks[MAX_SEEN];
    int n_acks;
    int n_hb, hb_drain, hb_has_cfgv, n_caps;
    uint64_t hb_cfgv, hb_ts;
    jc_running_job hb_running[8];
    uint32_t n_running;
    int n_wevents;
    char wevent[128];
    uint64_t ts[4 * MAX_SEEN];
    int n_ts;
    int bad;          /* records that did not verify with the worker's key */
    int hb_unordered; /* heartbeats not newer than the one before */
} coord;

// record decodes one record the worker produced into the coordinator's view.
static void record(coord *co, const rd_kafka_message_t *rec)
{
    jc_envelope env;
    jc_msg m;
    char err[256];

    memset(&m, 0, sizeof m);
    if (jc_envelope_parse(rec->payload, rec->len, 0, &env, err, sizeof err) != JC_OK ||
        jc_envelope_verify(&env, co->key) != JC_OK ||
        jc_msg_decode(&env, &m, err, sizeof err) != JC_OK) {
        co->bad++;
        return;
    }
    if (co->n_ts < (int)(sizeof co->ts / sizeof co->ts[0]))
        co->ts[co->n_ts++] = m.ts_ms;
    if (m.type == JC_MSG_JOB_EVENT && co->n_events < MAX_SEEN) {
        event *e = &co->events[co->n_events++];
        const jc_job_event *je = &m.u.event;
        memset(e, 0, sizeof *e);
        memcpy(e->job, je->job, JC_ID_LEN);
        e->att = je->attempt;
        e->kind = je->kind;
        e->pct = je->progress;
        snprintf(e->text, sizeof e->text, "%.*s", (int)je->text.n, (const char *)je->text.p);
        snprintf(e->stream, sizeof e->stream, "%.*s", (int)je->stream.n,
                 (const char *)je->stream.p);
        snprintf(e->result, sizeof e->result, "%.*s", (int)je->result.n,
                 (const char *)je->result.p);
        e->retry = je->retryable;
        e->has_cmd = je->has_command;
        memcpy(e->cmd, je->command, JC_ID_LEN);
        e->ts = m.ts_ms;
        e->partition = rec->partition;
    } else if (m.type == JC_MSG_COMMAND_ACK && co->n_acks < MAX_SEEN) {
        ack *a = &co->acks[co->n_acks++];
        memcpy(a->cmd, m.u.ack.command, JC_ID_LEN);
        a->ok = m.u.ack.ok;
        snprintf(a->err, sizeof a->err, "%.*s", (int)m.u.ack.error.n,
                 (const char *)m.u.ack.error.p);
    } else if (m.type == JC_MSG_HEARTBEAT) {
        co->hb_unordered += m.ts_ms <= co->hb_ts;
        co->hb_ts = m.ts_ms;
        co->n_hb++;
        co->hb_drain = m.u.hb.draining;
        co->hb_has_cfgv = m.u.hb.has_config_version;
        co->hb_cfgv = m.u.hb.config_version;
        co->n_caps = (int)m.u.hb.n_caps;
        co->n_running = m.u.hb.n_running < 8 ? m.u.hb.n_running : 8;
        if (co->n_running)
            memcpy(co->hb_running, m.u.hb.running, co->n_running * sizeof *co->hb_running);
    } else if (m.type == JC_MSG_WORKER_EVENT) {
        co->n_wevents++;
        snprintf(co->wevent, sizeof co->wevent, "%.*s/%.*s/%.*s/%u", (int)m.u.wevent.level.n,
                 (const char *)m.u.wevent.level.p, (int)m.u.wevent.kind.n,
                 (const char *)m.u.wevent.kind.p, (int)m.u.wevent.text.n,
                 (const char *)m.u.wevent.text.p, m.u.wevent.n_meta);
    }
    jc_msg_release(&m);
}

// pump reads what the worker produced for up to ms milliseconds.
static void pump(coord *co, int ms)
{
    rd_kafka_message_t *rec = rd_kafka_consumer_poll(co->cons, ms);

    while (rec) {
        if (!rec->err)
            record(co, rec);
        rd_kafka_message_destroy(rec);
        rec = rd_kafka_consumer_poll(co->cons, 0);
    }
}

/* WAIT_FOR pumps until cond holds or about ms milliseconds passed. */
#define WAIT_FOR(co, cond, ms)                                  \
    do {                                                        \
        for (int w_ = 0; w_ < (ms) / 20 && !(cond); w_++)       \
            pump((co), 20);                                     \
    } while (0)

// find_event returns the index of the first event of job with kind, or -1.
static int find_event(const coord *co, const uint8_t job[JC_ID_LEN], jc_job_event_kind kind)
{
    for (int i = 0; i < co->n_events; i++)
        if (memcmp(co->events[i].job, job, JC_ID_LEN) == 0 && co->events[i].kind == kind)
            return i;
    return -1;
}

// count_events counts the events of job.
static int count_events(const coord *co, const uint8_t job[JC_ID_LEN])
{
    int n = 0;

    for (int i = 0; i < co->n_events; i++)
        n += memcmp(co->events[i].job, job, JC_ID_LEN) == 0;
    return n;
}

// find_ack returns the index of the ack of cmd, or -1.
static int find_ack(const coord *co, const uint8_t cmd[JC_ID_LEN])
{
    for (int i = 0; i < co->n_acks; i++)
        if (memcmp(co->acks[i].cmd, cmd, JC_ID_LEN) == 0)
            return i;
    return -1;
}

// hb_lists says whether the last heartbeat lists job attempt att.
static int hb_lists(const coord *co, const uint8_t job[JC_ID_LEN], uint32_t att)
{
    for (uint32_t i = 0; i < co->n_running; i++)
        if (memcmp(co->hb_running[i].job, job, JC_ID_LEN) == 0 && co->hb_running[i].attempt == att)
            return 1;
    return 0;
}

/* ---- commands ---- */

// command prepares a command message of kind for worker w.
static void command(jc_msg *m, jc_command_kind kind, const char *w)
{
    memset(m, 0, sizeof *m);
    m->type = JC_MSG_COMMAND;
    jc_id_random(m->u.cmd.command);
    m->u.cmd.kind = kind;
    m->u.cmd.worker = jc_slice_str(w);
}

// assign prepares an assign of a new job (id written to job).
static void assign(jc_msg *m, uint8_t job[JC_ID_LEN], uint32_t att, const char *type,
                   const char *payload)
{
    command(m, JC_CMD_ASSIGN, WORKER);
    jc_id_random(job);
    memcpy(m->u.cmd.job, job, JC_ID_LEN);
    m->u.cmd.attempt = att;
    m->u.cmd.type = jc_slice_str(type);
    m->u.cmd.payload = jc_slice_str(payload);
    m->u.cmd.timeout_ms = 60000;
}

// send_cmd sends a command for the test worker, signed with its key.
static void send_cmd(coord *co, jc_msg *m)
{
    CHECK_EQ_INT(mock_send(co->prod, "t.commands", WORKER, -1, m, co->key), 0);
}

// events_ordered checks that each job's events have increasing timestamps
// and sit on the partition murmur2 of the job id names.
static void events_ordered(const coord *co)
{
    for (int i = 0; i < co->n_events; i++) {
        char id[37];
        jc_id_format(co->events[i].job, id);
        CHECK_EQ_INT(co->events[i].partition, jc_murmur2_partition(id, strlen(id), 2));
        for (int j = i + 1; j < co->n_events; j++)
            if (memcmp(co->events[i].job, co->events[j].job, JC_ID_LEN) == 0)
                CHECK(co->events[j].ts > co->events[i].ts);
    }
}

// ts_distinct checks that no two signed messages share a timestamp.
static void ts_distinct(const coord *co)
{
    int dup = 0;

    for (int i = 0; i < co->n_ts; i++)
        for (int j = i + 1; j < co->n_ts; j++)
            dup += co->ts[i] == co->ts[j];
    CHECK_EQ_INT(dup, 0);
}

typedef struct shutdown_arg {
    jc_worker_t *w;
    int grace_ms;
    jc_err_t rc;
} shutdown_arg;

static void *shutdown_thread(void *arg)
{
    shutdown_arg *s = arg;
    s->rc = jc_worker_shutdown(s->w, s->grace_ms);
    return NULL;
}

int main(void)
{
    static coord co;
    const char *topics[] = {"t.job-events", "t.command-acks", "t.heartbeats", "t.worker-events"};
    const int partitions[] = {2, 1, 1, 1};
    char err[512], key_b64[64], other_b64[64];
    uint8_t other_key[JC_KEY_LEN], job_a[JC_ID_LEN], job_b[JC_ID_LEN], job_f[JC_ID_LEN],
        job_x[JC_ID_LEN], job_b2[JC_ID_LEN], job_b3[JC_ID_LEN];
    uint8_t cmd_a[JC_ID_LEN], cmd_b[JC_ID_LEN], cmd[JC_ID_LEN];
    rd_kafka_conf_t *hc = rd_kafka_conf_new();
    rd_kafka_t *host;
    rd_kafka_mock_cluster_t *mc;
    jc_conf_t *conf = jc_conf_new();
    jc_worker_t *w;
    jc_msg m, m_a;
    jc_kv settings[2];
    shutdown_arg sa;
    pthread_t st;
    int i, k, probed = 0;
    const char *meta_k[] = {"disk"}, *meta_v[] = {"sda"};

    CHECK(sodium_init() >= 0);
    rd_kafka_conf_set(hc, "log_level", "3", err, sizeof err);
    host = rd_kafka_new(RD_KAFKA_PRODUCER, hc, err, sizeof err);
    mc = rd_kafka_mock_cluster_new(host, 1);
    CHECK(mc != NULL);
    rd_kafka_mock_topic_create(mc, "t.commands", 4, 1);
    rd_kafka_mock_topic_create(mc, "t.job-events", 2, 1);
    rd_kafka_mock_topic_create(mc, "t.command-acks", 1, 1);
    rd_kafka_mock_topic_create(mc, "t.heartbeats", 1, 1);
    rd_kafka_mock_topic_create(mc, "t.worker-events", 1, 1);
    co.prod = mock_producer(mc);
    co.cons = mock_consumer(mc, topics, partitions, 4);

    mock_key(co.key, key_b64);
    mock_key(other_key, other_b64);
    jc_conf_set(conf, "principal", WORKER, err, sizeof err);
    jc_conf_set(conf, "key.id", "k1", err, sizeof err);
    jc_conf_set(conf, "key", key_b64, err, sizeof err);
    jc_conf_set(conf, "kafka.bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                sizeof err);
    jc_conf_set(conf, "kafka.fetch.wait.max.ms", "10", err, sizeof err); /* see sdk_mock.h */
    jc_conf_set(conf, "topic.prefix", "t.", err, sizeof err);
    jc_conf_set(conf, "capabilities", "echo", err, sizeof err);
    jc_conf_set(conf, "slots", "2", err, sizeof err);
    jc_conf_set(conf, "heartbeat.interval.ms", "100", err, sizeof err);
    w = jc_worker_new(conf, err, sizeof err);
    CHECK_MSG(w != NULL, "jc_worker_new: %s", err);
    if (!w)
        return check_done("test_sdk_jobs");
    CHECK_EQ_INT(jc_worker_handle(w, "echo", handle_echo, NULL), JC_OK);
    CHECK_EQ_INT(jc_worker_handle(w, "block", handle_block, NULL), JC_OK);
    CHECK_EQ_INT(jc_worker_handle(w, "fail", handle_fail, NULL), JC_OK);
    CHECK_EQ_INT(jc_worker_handle(w, "noresult", handle_noresult, NULL), JC_OK);
    CHECK_EQ_INT(jc_worker_handle(w, "no spaces", handle_echo, NULL), JC_ERR_INVALID_ARG);
    CHECK_EQ_INT(jc_worker_on_config(w, on_config, NULL), JC_OK);
    CHECK_EQ_INT(jc_worker_start(w, err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_worker_handle(w, "late", handle_echo, NULL), JC_ERR_STATE);

    /* The worker starts at the end of its partition once it found it:
     * re-send a harmless command until one is acked, as the coordinator
     * re-sends unacked commands. */
    for (i = 0; i < 40 && !probed; i++) {
        command(&m, JC_CMD_UNDRAIN, WORKER);
        mock_send(co.prod, "t.commands", WORKER, -1, &m, co.key);
        WAIT_FOR(&co, find_ack(&co, m.u.cmd.command) >= 0, 500);
        probed = find_ack(&co, m.u.cmd.command) >= 0;
    }
    CHECK(probed);
    WAIT_FOR(&co, co.n_hb > 0, 2000);
    CHECK_EQ_INT(co.n_caps, 4); /* echo (configured and handled), block, fail, noresult */

    /* assign echo: runs with the payload, started carries the command id */
    assign(&m_a, job_a, 1, "echo", "hello");
    memcpy(cmd_a, m_a.u.cmd.command, JC_ID_LEN);
    send_cmd(&co, &m_a);
    WAIT_FOR(&co, find_event(&co, job_a, JC_EV_SUCCEEDED) >= 0, 5000);
    i = find_event(&co, job_a, JC_EV_STARTED);
    k = find_event(&co, job_a, JC_EV_SUCCEEDED);
    CHECK(i >= 0 && k > i);
    if (i >= 0 && k >= 0) {
        CHECK(co.events[i].has_cmd && memcmp(co.events[i].cmd, cmd_a, JC_ID_LEN) == 0);
        CHECK_EQ_INT(co.events[i].att, 1);
        CHECK(!co.events[k].has_cmd);
        CHECK_EQ_STR(co.events[k].result, "hello");
        CHECK(co.events[k].ts > co.events[i].ts);
    }
    pthread_mutex_lock(&seen_mu); /* the handler ran on a pool thread */
    CHECK_EQ_INT(echo_runs, 1);
    CHECK_EQ_STR(echo_payload, "hello");
    pthread_mutex_unlock(&seen_mu);
    CHECK_EQ_INT(find_ack(&co, cmd_a), -1); /* the event was the ack */

    /* never acted on: forged MAC, another worker's command in our partition,
     * bytes that are no message, a job.update on the commands topic, and a
     * re-sent command id */
    assign(&m, job_f, 1, "echo", "forged");
    CHECK_EQ_INT(mock_send(co.prod, "t.commands", WORKER, -1, &m, other_key), 0);
    assign(&m, job_x, 1, "echo", "other");
    m.u.cmd.worker = jc_slice_str("worker-8");
    CHECK_EQ_INT(mock_send(co.prod, "t.commands", "worker-8",
                           jc_murmur2_partition(WORKER, strlen(WORKER), 4), &m, other_key), 0);
    CHECK_EQ_INT(mock_send_raw(co.prod, "t.commands", WORKER, "\xc1garbage", 8), 0);
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_JOB_UPDATE;
    jc_id_random(m.u.update.job);
    m.u.update.state = jc_slice_str("running");
    m.u.update.attempt = 1;
    CHECK_EQ_INT(mock_send(co.prod, "t.commands", WORKER, -1, &m, co.key), 0);
    send_cmd(&co, &m_a); /* same command id as before */
    command(&m, JC_CMD_DRAIN, WORKER); /* and a real one behind them */
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_ack(&co, m.u.cmd.command) >= 0 && co.hb_drain, 5000);
    CHECK_EQ_INT(jc_worker_commands_dropped(w), 5);
    pthread_mutex_lock(&seen_mu);
    CHECK_EQ_INT(echo_runs, 1);
    pthread_mutex_unlock(&seen_mu);
    CHECK_EQ_INT(count_events(&co, job_a), 2);
    CHECK_EQ_INT(count_events(&co, job_f), 0);
    CHECK_EQ_INT(count_events(&co, job_x), 0);

    /* drain was acked and shows in heartbeats; undrain clears it */
    k = find_ack(&co, m.u.cmd.command);
    CHECK(k >= 0 && co.acks[k].ok);
    CHECK(co.hb_drain);
    command(&m, JC_CMD_UNDRAIN, WORKER);
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_ack(&co, m.u.cmd.command) >= 0 && !co.hb_drain, 5000);
    k = find_ack(&co, m.u.cmd.command);
    CHECK(k >= 0 && co.acks[k].ok);
    CHECK(!co.hb_drain);

    /* config: callback, ack, cfgv in heartbeats */
    command(&m, JC_CMD_CONFIG, WORKER);
    m.u.cmd.config_version = 7;
    settings[0].key = jc_slice_str("log.level");
    settings[0].value = jc_slice_str("debug");
    settings[1].key = jc_slice_str("empty");
    settings[1].value = jc_slice_str("");
    m.u.cmd.settings = settings;
    m.u.cmd.n_settings = 2;
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_ack(&co, m.u.cmd.command) >= 0 && co.hb_has_cfgv, 5000);
    k = find_ack(&co, m.u.cmd.command);
    CHECK(k >= 0 && co.acks[k].ok);
    CHECK(co.hb_has_cfgv && co.hb_cfgv == 7);
    pthread_mutex_lock(&seen_mu);
    CHECK_EQ_INT(config_calls, 1);
    CHECK_EQ_INT(config_version, 7);
    CHECK_EQ_STR(config_seen, "log.level=debug;empty=;");
    pthread_mutex_unlock(&seen_mu);

    /* unknown job type: refused with a reason */
    assign(&m, job_x, 1, "transcode", "");
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_ack(&co, m.u.cmd.command) >= 0, 5000);
    k = find_ack(&co, m.u.cmd.command);
    CHECK(k >= 0 && !co.acks[k].ok && strstr(co.acks[k].err, "transcode") != NULL);
    CHECK_EQ_INT(count_events(&co, job_x), 0);

    /* a job that runs until canceled: listed in heartbeats, then canceled */
    assign(&m, job_b, 2, "block", "");
    memcpy(cmd_b, m.u.cmd.command, JC_ID_LEN);
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_event(&co, job_b, JC_EV_LOG) >= 0 && hb_lists(&co, job_b, 2), 5000);
    CHECK(hb_lists(&co, job_b, 2));
    CHECK_EQ_INT(jc_worker_jobs_running(w), 1);
    k = find_event(&co, job_b, JC_EV_PROGRESS);
    CHECK(k >= 0 && co.events[k].pct == 10 && co.events[k].att == 2);
    k = find_event(&co, job_b, JC_EV_LOG);
    CHECK(k >= 0 && strcmp(co.events[k].stream, "stdout") == 0 &&
          strcmp(co.events[k].text, "blocking") == 0);
    /* the same attempt assigned again under another command id: acked, not run twice */
    m.type = JC_MSG_COMMAND;
    jc_id_random(m.u.cmd.command);
    memcpy(cmd, m.u.cmd.command, JC_ID_LEN);
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_ack(&co, cmd) >= 0, 5000);
    k = find_ack(&co, cmd);
    CHECK(k >= 0 && co.acks[k].ok);
    command(&m, JC_CMD_CANCEL, WORKER);
    memcpy(m.u.cmd.job, job_b, JC_ID_LEN);
    m.u.cmd.attempt = 2;
    m.u.cmd.reason = jc_slice_str("test");
    send_cmd(&co, &m);
    /* the ack and the event travel on different topics: either may come first */
    WAIT_FOR(&co, find_event(&co, job_b, JC_EV_CANCELED) >= 0 &&
                      find_ack(&co, m.u.cmd.command) >= 0, 5000);
    k = find_ack(&co, m.u.cmd.command);
    CHECK(k >= 0 && co.acks[k].ok);
    CHECK(find_event(&co, job_b, JC_EV_CANCELED) >= 0);
    CHECK_EQ_INT(atomic_load(&cancel_callbacks), 1);
    CHECK_EQ_INT(count_events(&co, job_b), 4); /* started, progress, log, canceled */
    WAIT_FOR(&co, !hb_lists(&co, job_b, 2), 2000);
    CHECK(!hb_lists(&co, job_b, 2));
    CHECK_EQ_INT(jc_worker_jobs_running(w), 0);

    /* cancel of a job that does not run here: acked ok, nothing else */
    command(&m, JC_CMD_CANCEL, WORKER);
    jc_id_random(m.u.cmd.job);
    m.u.cmd.attempt = 1;
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_ack(&co, m.u.cmd.command) >= 0, 5000);
    k = find_ack(&co, m.u.cmd.command);
    CHECK(k >= 0 && co.acks[k].ok);

    /* failures: retryable on request, and a handler that ends nothing */
    assign(&m, job_x, 1, "fail", "retry");
    send_cmd(&co, &m);
    assign(&m, job_f, 3, "fail", "no");
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_event(&co, job_x, JC_EV_FAILED) >= 0 &&
                      find_event(&co, job_f, JC_EV_FAILED) >= 0 &&
                      jc_worker_jobs_running(w) == 0, 5000);
    assign(&m, job_a, 1, "noresult", ""); /* two slots: after the others left */
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_event(&co, job_a, JC_EV_FAILED) >= 0, 5000);
    k = find_event(&co, job_x, JC_EV_FAILED);
    CHECK(k >= 0 && co.events[k].retry && strcmp(co.events[k].text, "asked to fail") == 0);
    k = find_event(&co, job_f, JC_EV_FAILED);
    CHECK(k >= 0 && !co.events[k].retry && co.events[k].att == 3);
    k = find_event(&co, job_a, JC_EV_FAILED);
    CHECK(k >= 0 && co.events[k].retry &&
          strcmp(co.events[k].text, "handler returned without a result") == 0);

    /* worker events */
    CHECK_EQ_INT(jc_worker_event(w, "warn", "disk.low", "5% left", meta_k, meta_v, 1), JC_OK);
    CHECK_EQ_INT(jc_worker_event(w, "loud", "disk.low", "x", NULL, NULL, 0), JC_ERR_SCHEMA);
    WAIT_FOR(&co, co.n_wevents > 0, 5000);
    CHECK_EQ_INT(co.n_wevents, 1);
    CHECK_EQ_STR(co.wevent, "warn/disk.low/5% left/1");

    /* both slots busy: a third job is refused */
    WAIT_FOR(&co, jc_worker_jobs_running(w) == 0, 5000);
    assign(&m, job_b2, 1, "block", "");
    send_cmd(&co, &m);
    assign(&m, job_b3, 1, "block", "");
    send_cmd(&co, &m);
    assign(&m, job_x, 1, "echo", "full");
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_ack(&co, m.u.cmd.command) >= 0 && hb_lists(&co, job_b2, 1) &&
                      hb_lists(&co, job_b3, 1), 5000);
    k = find_ack(&co, m.u.cmd.command);
    CHECK(k >= 0 && !co.acks[k].ok && strstr(co.acks[k].err, "slot") != NULL);
    CHECK(hb_lists(&co, job_b2, 1) && hb_lists(&co, job_b3, 1));

    /* graceful shutdown: drain, refuse assigns, then hand back what runs */
    sa.w = w;
    sa.grace_ms = 1000;
    pthread_create(&st, NULL, shutdown_thread, &sa);
    WAIT_FOR(&co, co.hb_drain, 1000);
    CHECK(co.hb_drain);
    assign(&m, job_x, 2, "echo", "late");
    send_cmd(&co, &m);
    WAIT_FOR(&co, find_ack(&co, m.u.cmd.command) >= 0, 1000);
    k = find_ack(&co, m.u.cmd.command);
    CHECK(k >= 0 && !co.acks[k].ok && strcmp(co.acks[k].err, "shutting down") == 0);
    pthread_join(st, NULL);
    CHECK_EQ_INT(sa.rc, JC_OK);
    CHECK_EQ_INT(jc_worker_jobs_running(w), 0);
    WAIT_FOR(&co, find_event(&co, job_b2, JC_EV_FAILED) >= 0 &&
                      find_event(&co, job_b3, JC_EV_FAILED) >= 0 && co.n_running == 0, 5000);
    pump(&co, 300);
    k = find_event(&co, job_b2, JC_EV_FAILED);
    CHECK(k >= 0 && co.events[k].retry && strcmp(co.events[k].text, "worker shutting down") == 0);
    k = find_event(&co, job_b3, JC_EV_FAILED);
    CHECK(k >= 0 && co.events[k].retry && strcmp(co.events[k].text, "worker shutting down") == 0);
    CHECK_EQ_INT(find_event(&co, job_b2, JC_EV_CANCELED), -1); /* handed back, not canceled */
    CHECK_EQ_INT(find_event(&co, job_b3, JC_EV_CANCELED), -1);
    CHECK_EQ_INT(atomic_load(&cancel_callbacks), 3);
    CHECK_EQ_INT(co.n_running, 0); /* the last heartbeat */
    CHECK(co.hb_drain);

    CHECK_EQ_INT(co.bad, 0);
    CHECK(co.n_hb > 10);
    CHECK_EQ_INT(co.hb_unordered, 0);
    events_ordered(&co);
    ts_distinct(&co);
    CHECK_EQ_INT(jc_worker_start(w, err, sizeof err), JC_ERR_STATE);

    jc_worker_destroy(w);
    rd_kafka_consumer_close(co.cons);
    rd_kafka_destroy(co.cons);
    rd_kafka_destroy(co.prod);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    return check_done("test_sdk_jobs");
}
