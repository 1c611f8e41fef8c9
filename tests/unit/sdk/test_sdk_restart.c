/*
 * test_sdk_restart: a worker id reused by a new process never runs the
 * assigns sent before that process started (PROTOCOL.md 15.3). The test
 * plays the coordinator over librdkafka's mock cluster: a first worker
 * process runs one job and stops; an assign is sent while no process runs;
 * a second process with the same id starts and must not run it. The same
 * assign re-sent after the start (the coordinator re-sends an assign while
 * it is still current, with the same command id) is run, once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobcoord/jobcoord.h>

#include "check.h"
#include "sdk_mock.h"

#define WORKER "worker-r"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static char ran[16][37];
static int n_ran;

static void handle_echo(jc_job_t *job, void *opaque)
{
    size_t n;
    const char *p = jc_job_payload(job, &n);

    (void)opaque;
    pthread_mutex_lock(&mu);
    if (n_ran < 16)
        snprintf(ran[n_ran++], sizeof ran[0], "%s", jc_job_id(job));
    pthread_mutex_unlock(&mu);
    jc_job_succeed(job, p, n);
}

// runs_of counts the runs of job id.
static int runs_of(const uint8_t job[JC_ID_LEN])
{
    char id[37];
    int n = 0;

    jc_id_format(job, id);
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n_ran; i++)
        n += strcmp(ran[i], id) == 0;
    pthread_mutex_unlock(&mu);
    return n;
}

// acked reads command acks until one for cmd arrives or ms pass.
static int acked(rd_kafka_t *acks, const uint8_t cmd[JC_ID_LEN], const uint8_t key[JC_KEY_LEN],
                 int ms)
{
    for (int t = 0; t < ms; t += 50) {
        rd_kafka_message_t *rec = rd_kafka_consumer_poll(acks, 50);
        jc_envelope env;
        jc_msg m;
        char err[128];
        int hit = 0;

        if (!rec)
            continue;
        if (!rec->err &&
            jc_envelope_parse(rec->payload, rec->len, 0, &env, err, sizeof err) == JC_OK &&
            jc_envelope_verify(&env, key) == JC_OK &&
            jc_msg_decode(&env, &m, err, sizeof err) == JC_OK) {
            hit = m.type == JC_MSG_COMMAND_ACK && memcmp(m.u.ack.command, cmd, JC_ID_LEN) == 0;
            jc_msg_release(&m);
        }
        rd_kafka_message_destroy(rec);
        if (hit)
            return 1;
    }
    return 0;
}

// probe re-sends an undrain until the worker acknowledges one: then it
// reads its partition.
static int probe(rd_kafka_t *prod, rd_kafka_t *acks, const uint8_t key[JC_KEY_LEN])
{
    for (int i = 0; i < 40; i++) {
        jc_msg m;
        memset(&m, 0, sizeof m);
        m.type = JC_MSG_COMMAND;
        jc_id_random(m.u.cmd.command);
        m.u.cmd.kind = JC_CMD_UNDRAIN;
        m.u.cmd.worker = jc_slice_str(WORKER);
        mock_send(prod, "t.commands", WORKER, -1, &m, key);
        if (acked(acks, m.u.cmd.command, key, 500))
            return 1;
    }
    return 0;
}

// start_worker starts a worker process's handle with the test's id.
static jc_worker_t *start_worker(rd_kafka_mock_cluster_t *mc, const char *key_b64)
{
    jc_conf_t *conf = jc_conf_new();
    jc_worker_t *w;
    char err[512];

    jc_conf_set(conf, "principal", WORKER, err, sizeof err);
    jc_conf_set(conf, "key.id", "k1", err, sizeof err);
    jc_conf_set(conf, "key", key_b64, err, sizeof err);
    jc_conf_set(conf, "kafka.bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                sizeof err);
    jc_conf_set(conf, "kafka.fetch.wait.max.ms", "10", err, sizeof err);
    jc_conf_set(conf, "topic.prefix", "t.", err, sizeof err);
    jc_conf_set(conf, "capabilities", "echo", err, sizeof err);
    jc_conf_set(conf, "slots", "2", err, sizeof err);
    jc_conf_set(conf, "heartbeat.interval.ms", "100", err, sizeof err);
    w = jc_worker_new(conf, err, sizeof err); /* takes conf */
    CHECK_MSG(w != NULL, "jc_worker_new: %s", err);
    if (!w) {
        jc_conf_destroy(conf);
        return NULL;
    }
    CHECK_EQ_INT(jc_worker_handle(w, "echo", handle_echo, NULL), JC_OK);
    CHECK_EQ_INT(jc_worker_start(w, err, sizeof err), JC_OK);
    return w;
}

// assign prepares an assign of a new job (its id written to job).
static void assign(jc_msg *m, uint8_t job[JC_ID_LEN])
{
    memset(m, 0, sizeof *m);
    m->type = JC_MSG_COMMAND;
    jc_id_random(m->u.cmd.command);
    m->u.cmd.kind = JC_CMD_ASSIGN;
    m->u.cmd.worker = jc_slice_str(WORKER);
    jc_id_random(job);
    memcpy(m->u.cmd.job, job, JC_ID_LEN);
    m->u.cmd.attempt = 1;
    m->u.cmd.type = jc_slice_str("echo");
    m->u.cmd.payload = jc_slice_str("x");
    m->u.cmd.timeout_ms = 60000;
}

int main(void)
{
    const char *topics[] = {"t.command-acks"};
    const int partitions[] = {1};
    char err[256], key_b64[64];
    uint8_t key[JC_KEY_LEN], job1[JC_ID_LEN], job2[JC_ID_LEN];
    rd_kafka_conf_t *hc = rd_kafka_conf_new();
    rd_kafka_t *host, *prod, *acks;
    rd_kafka_mock_cluster_t *mc;
    jc_worker_t *w;
    jc_msg a1, a2;

    CHECK(sodium_init() >= 0);
    rd_kafka_conf_set(hc, "log_level", "3", err, sizeof err);
    host = rd_kafka_new(RD_KAFKA_PRODUCER, hc, err, sizeof err);
    mc = rd_kafka_mock_cluster_new(host, 1);
    CHECK(mc != NULL);
    rd_kafka_mock_topic_create(mc, "t.commands", 2, 1);
    rd_kafka_mock_topic_create(mc, "t.job-events", 1, 1);
    rd_kafka_mock_topic_create(mc, "t.command-acks", 1, 1);
    rd_kafka_mock_topic_create(mc, "t.heartbeats", 1, 1);
    rd_kafka_mock_topic_create(mc, "t.worker-events", 1, 1);
    prod = mock_producer(mc);
    acks = mock_consumer(mc, topics, partitions, 1);
    mock_key(key, key_b64);

    /* the first process runs one job, then stops */
    w = start_worker(mc, key_b64);
    CHECK(probe(prod, acks, key));
    assign(&a1, job1);
    CHECK_EQ_INT(mock_send(prod, "t.commands", WORKER, -1, &a1, key), 0);
    for (int i = 0; i < 100 && runs_of(job1) == 0; i++)
        usleep(50000);
    CHECK_EQ_INT(runs_of(job1), 1);
    if (w) {
        jc_worker_stop(w, 5000);
        jc_worker_destroy(w);
    }

    /* an assign sent while no process of this worker runs */
    assign(&a2, job2);
    CHECK_EQ_INT(mock_send(prod, "t.commands", WORKER, -1, &a2, key), 0);

    /* a new process with the same id: it reads from where it started */
    w = start_worker(mc, key_b64);
    CHECK(probe(prod, acks, key));
    usleep(1000000);
    CHECK_MSG(runs_of(job2) == 0, "the new process ran an assign sent before it started");
    CHECK_EQ_INT(runs_of(job1), 1);

    /* the coordinator re-sends an assign that is still current (same
     * command id): that one runs, once */
    CHECK_EQ_INT(mock_send(prod, "t.commands", WORKER, -1, &a2, key), 0);
    for (int i = 0; i < 100 && runs_of(job2) == 0; i++)
        usleep(50000);
    CHECK_EQ_INT(runs_of(job2), 1);
    CHECK_EQ_INT(mock_send(prod, "t.commands", WORKER, -1, &a2, key), 0);
    CHECK(acked(acks, a2.u.cmd.command, key, 3000)); /* a duplicate is acked again */
    CHECK_EQ_INT(runs_of(job2), 1);

    if (w) {
        jc_worker_stop(w, 5000);
        jc_worker_destroy(w);
    }
    rd_kafka_destroy(acks);
    rd_kafka_destroy(prod);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    return check_done("test_sdk_restart");
}
