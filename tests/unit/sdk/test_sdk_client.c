/*
 * test_sdk_client: a client handle against librdkafka's mock cluster, with
 * the test playing the coordinator. Submissions and cancels arrive on
 * job-requests keyed and signed by the client, with the options as given;
 * jc_client_wait returns the final state of a signed job update on the
 * client's partition of job-updates (also when the update names another
 * job that carries the submission's idempotency key), ignores forged and
 * foreign updates, and times out when nothing final came. A job.refusal of
 * the submission (matched by the message id it names) ends the wait with
 * JC_ERR_REFUSED and its reason; one naming another message is ignored;
 * jc_client_cancel_wait reports a refused and an accepted cancel; the
 * job_id option sets the job id.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <jobcoord/jobcoord.h>

#include "check.h"
#include "inbox.h"
#include "sdk_mock.h"

#define CLIENT "client-1"

// next_request reads the next record of job-requests, verifies it with key
// and decodes it into m (the record is kept in *rec for m's slices).
static int next_request(rd_kafka_t *cons, const uint8_t key[JC_KEY_LEN], rd_kafka_message_t **rec,
                        jc_msg *m)
{
    jc_envelope env;
    char err[256];

    *rec = NULL;
    for (int i = 0; i < 100 && !*rec; i++) {
        *rec = rd_kafka_consumer_poll(cons, 50);
        if (*rec && (*rec)->err) {
            rd_kafka_message_destroy(*rec);
            *rec = NULL;
        }
    }
    memset(m, 0, sizeof *m);
    if (!*rec)
        return -1;
    if (jc_envelope_parse((*rec)->payload, (*rec)->len, 0, &env, err, sizeof err) != JC_OK ||
        jc_envelope_verify(&env, key) != JC_OK || jc_msg_decode(&env, m, err, sizeof err) != JC_OK)
        return -1;
    CHECK((*rec)->key_len == strlen(CLIENT) && memcmp((*rec)->key, CLIENT, strlen(CLIENT)) == 0);
    CHECK_EQ_INT((*rec)->partition, jc_murmur2_partition(CLIENT, strlen(CLIENT), 2));
    return 0;
}

// send_refusal sends a job.refusal of message req (of: its type) about job
// (UUID text) to CLIENT, signed with key.
static void send_refusal(rd_kafka_t *prod, const uint8_t key[JC_KEY_LEN], const char *job,
                         const uint8_t req[JC_ID_LEN], const char *of, const char *reason,
                         const char *text)
{
    jc_msg m;

    memset(&m, 0, sizeof m);
    m.type = JC_MSG_JOB_REFUSAL;
    CHECK_EQ_INT(jc_id_parse(job, m.u.refusal.job), 0);
    memcpy(m.u.refusal.request, req, JC_ID_LEN);
    m.u.refusal.of = jc_slice_str(of);
    m.u.refusal.reason = jc_slice_str(reason);
    m.u.refusal.text = jc_slice_str(text);
    CHECK_EQ_INT(mock_send(prod, "t.job-updates", CLIENT, -1, &m, key), 0);
}

// send_update_v sends a job.update for job (UUID text) as the coordinator
// would: to principal p, signed with key, in partition (-1: murmur2 of p),
// in protocol version `version` (reason: version 2 only).
static void send_update_v(rd_kafka_t *prod, uint32_t version, const char *p, int32_t partition,
                          const uint8_t key[JC_KEY_LEN], const char *job, const char *state,
                          const char *error, const char *reason)
{
    jc_msg m;

    memset(&m, 0, sizeof m);
    m.version = version;
    m.type = JC_MSG_JOB_UPDATE;
    CHECK_EQ_INT(jc_id_parse(job, m.u.update.job), 0);
    m.u.update.state = jc_slice_str(state);
    m.u.update.attempt = 1;
    m.u.update.error = jc_slice_str(error);
    m.u.update.reason = jc_slice_str(reason);
    CHECK_EQ_INT(mock_send(prod, "t.job-updates", p, partition, &m, key), 0);
}

// send_update sends a version 1 job.update (see send_update_v).
static void send_update(rd_kafka_t *prod, const char *p, int32_t partition,
                        const uint8_t key[JC_KEY_LEN], const char *job, const char *state,
                        const char *result, const char *error, const char *ikey)
{
    jc_msg m;

    memset(&m, 0, sizeof m);
    m.type = JC_MSG_JOB_UPDATE;
    CHECK_EQ_INT(jc_id_parse(job, m.u.update.job), 0);
    m.u.update.state = jc_slice_str(state);
    m.u.update.attempt = 1;
    m.u.update.result = jc_slice_str(result);
    m.u.update.error = jc_slice_str(error);
    m.u.update.ikey = jc_slice_str(ikey);
    CHECK_EQ_INT(mock_send(prod, "t.job-updates", p, partition, &m, key), 0);
}

int main(void)
{
    const char *topics[] = {"t.job-requests"};
    const int partitions[] = {2};
    char err[512], key_b64[64], other_b64[64], id1[37], id2[37], id3[37], other_id[37];
    char state[16], error[64];
    uint8_t key[JC_KEY_LEN], other_key[JC_KEY_LEN], raw[JC_ID_LEN];
    rd_kafka_conf_t *hc = rd_kafka_conf_new();
    rd_kafka_t *host, *prod, *cons;
    rd_kafka_mock_cluster_t *mc;
    rd_kafka_message_t *rec;
    jc_conf_t *conf = jc_conf_new();
    jc_client_t *c;
    jc_submit_opts_t *o = jc_submit_opts_new();
    jc_msg m;
    void *result = NULL;
    size_t result_len = 99;
    uint64_t before, after;
    static char big[JC_MAX_PAYLOAD_BYTES + 1];

    CHECK(sodium_init() >= 0);
    rd_kafka_conf_set(hc, "log_level", "3", err, sizeof err);
    host = rd_kafka_new(RD_KAFKA_PRODUCER, hc, err, sizeof err);
    mc = rd_kafka_mock_cluster_new(host, 1);
    CHECK(mc != NULL);
    rd_kafka_mock_topic_create(mc, "t.job-requests", 2, 1);
    rd_kafka_mock_topic_create(mc, "t.job-updates", 4, 1);
    prod = mock_producer(mc);
    cons = mock_consumer(mc, topics, partitions, 1);

    mock_key(key, key_b64);
    mock_key(other_key, other_b64);
    jc_conf_set(conf, "principal", CLIENT, err, sizeof err);
    jc_conf_set(conf, "key.id", "k1", err, sizeof err);
    jc_conf_set(conf, "key", key_b64, err, sizeof err);
    jc_conf_set(conf, "kafka.bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                sizeof err);
    jc_conf_set(conf, "kafka.fetch.wait.max.ms", "10", err, sizeof err); /* see sdk_mock.h */
    jc_conf_set(conf, "topic.prefix", "t.", err, sizeof err);
    c = jc_client_new(conf, err, sizeof err);
    CHECK_MSG(c != NULL, "jc_client_new: %s", err);
    if (!c)
        return check_done("test_sdk_client");

    /* options are checked when set */
    CHECK_EQ_INT(jc_submit_opts_set(o, "priority", "1001", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_submit_opts_set(o, "priority", "-1000", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_submit_opts_set(o, "max_attempts", "0", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_submit_opts_set(o, "timeout_ms", "86400001", err, sizeof err),
                 JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_submit_opts_set(o, "delay_ms", "soon", err, sizeof err), JC_ERR_INVALID_CONF);
    memset(big, 'k', 129);
    CHECK_EQ_INT(jc_submit_opts_set(o, "idempotency_key", big, err, sizeof err),
                 JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_submit_opts_set(o, "idempotency_key", "", err, sizeof err),
                 JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_submit_opts_set(o, "colour", "red", err, sizeof err), JC_ERR_UNKNOWN_CONF);
    memset(big, 0, sizeof big);

    /* a submission with every option */
    CHECK_EQ_INT(jc_submit_opts_set(o, "priority", "5", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_submit_opts_set(o, "max_attempts", "7", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_submit_opts_set(o, "run_at_ms", "1234", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_submit_opts_set(o, "delay_ms", "60000", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_submit_opts_set(o, "timeout_ms", "1000", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_submit_opts_set(o, "idempotency_key", "k-1", err, sizeof err), JC_OK);
    before = jc_now_ms();
    CHECK_EQ_INT(jc_client_submit(c, "echo", "abc", 3, o, id1, 5000, err, sizeof err), JC_OK);
    after = jc_now_ms();
    CHECK_EQ_INT(next_request(cons, key, &rec, &m), 0);
    CHECK_EQ_INT(m.type, JC_MSG_JOB_SUBMIT);
    CHECK_EQ_INT(m.version, 2); /* protocol version 2 by default */
    CHECK(jc_slice_eq(m.principal, CLIENT));
    CHECK_EQ_INT(jc_id_parse(id1, raw), 0);
    CHECK(memcmp(m.u.submit.job, raw, JC_ID_LEN) == 0);
    CHECK(jc_slice_eq(m.u.submit.type, "echo"));
    CHECK(jc_slice_eq(m.u.submit.payload, "abc"));
    CHECK_EQ_INT(m.u.submit.priority, 5);
    CHECK_EQ_INT(m.u.submit.max_attempts, 7);
    CHECK(m.u.submit.has_run_after);
    CHECK(m.u.submit.run_after_ms >= before + 60000 && m.u.submit.run_after_ms <= after + 60000);
    CHECK(m.u.submit.has_timeout && m.u.submit.timeout_ms == 1000);
    CHECK(jc_slice_eq(m.u.submit.ikey, "k-1"));
    jc_msg_release(&m);
    rd_kafka_message_destroy(rec);

    /* defaults, and an absolute start time */
    CHECK_EQ_INT(jc_client_submit(c, "echo", NULL, 0, NULL, id3, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_request(cons, key, &rec, &m), 0);
    CHECK_EQ_INT(m.u.submit.priority, 0);
    CHECK_EQ_INT(m.u.submit.max_attempts, 3);
    CHECK(!m.u.submit.has_run_after && !m.u.submit.has_timeout && m.u.submit.ikey.n == 0);
    CHECK_EQ_INT(m.u.submit.payload.n, 0);
    jc_msg_release(&m);
    rd_kafka_message_destroy(rec);

    /* job ids are UUIDv7 (RFC 9562): version 7, variant 10, the creation
     * time in their first 48 bits, later ids sort after earlier ones */
    {
        uint8_t raw3[JC_ID_LEN];
        uint64_t ms = 0;
        CHECK_EQ_INT(jc_id_parse(id3, raw3), 0);
        CHECK_EQ_INT(raw[6] >> 4, 7);
        CHECK_EQ_INT(raw3[6] >> 4, 7);
        CHECK_EQ_INT(raw[8] >> 6, 2);
        CHECK_EQ_INT(raw3[8] >> 6, 2);
        CHECK_EQ_INT(id1[14], '7');
        for (int i = 0; i < 6; i++)
            ms = ms << 8 | raw[i];
        CHECK_MSG(ms >= before && ms <= after, "id time %llu not in [%llu, %llu]",
                  (unsigned long long)ms, (unsigned long long)before, (unsigned long long)after);
        CHECK(memcmp(raw, raw3, JC_ID_LEN) < 0);
        CHECK(strcmp(id1, id3) < 0);
    }
    jc_submit_opts_destroy(o);
    o = jc_submit_opts_new();
    CHECK_EQ_INT(jc_submit_opts_set(o, "run_at_ms", "1795000000000", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_client_submit(c, "echo", "x", 1, o, other_id, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_request(cons, key, &rec, &m), 0);
    CHECK(m.u.submit.has_run_after && m.u.submit.run_after_ms == 1795000000000ull);
    jc_msg_release(&m);
    rd_kafka_message_destroy(rec);

    /* refused before anything is sent */
    CHECK_EQ_INT(jc_client_submit(c, "bad type", "", 0, NULL, id2, 5000, err, sizeof err),
                 JC_ERR_INVALID_ARG);
    CHECK_EQ_INT(jc_client_submit(c, "echo", big, sizeof big, NULL, id2, 5000, err, sizeof err),
                 JC_ERR_TOO_LARGE);
    CHECK_EQ_INT(jc_client_cancel(c, "not-a-job-id", NULL, 5000, err, sizeof err),
                 JC_ERR_INVALID_ARG);

    /* cancel */
    CHECK_EQ_INT(jc_client_cancel(c, id1, "no longer needed", 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_request(cons, key, &rec, &m), 0);
    CHECK_EQ_INT(m.type, JC_MSG_JOB_CANCEL);
    CHECK(memcmp(m.u.cancel.job, raw, JC_ID_LEN) == 0);
    CHECK(jc_slice_eq(m.u.cancel.reason, "no longer needed"));
    jc_msg_release(&m);
    rd_kafka_message_destroy(rec);

    /* nothing final yet: time out; forged and foreign updates change nothing */
    CHECK_EQ_INT(jc_client_wait(c, id1, 200, state, &result, &result_len, error, sizeof error),
                 JC_ERR_TIMED_OUT);
    CHECK(result == NULL && result_len == 0);
    send_update(prod, CLIENT, -1, other_key, id1, "succeeded", "forged", NULL, NULL);
    send_update(prod, "client-2", jc_murmur2_partition(CLIENT, strlen(CLIENT), 4), other_key, id1,
                "succeeded", "foreign", NULL, NULL);
    CHECK_EQ_INT(jc_client_wait(c, id1, 500, state, &result, &result_len, error, sizeof error),
                 JC_ERR_TIMED_OUT);
    CHECK_EQ_INT(jc_client_updates_dropped(c), 2);

    /* running is not final; succeeded is */
    send_update(prod, CLIENT, -1, key, id1, "running", NULL, NULL, NULL);
    CHECK_EQ_INT(jc_client_wait(c, id1, 300, state, NULL, NULL, NULL, 0), JC_ERR_TIMED_OUT);
    send_update(prod, CLIENT, -1, key, id1, "succeeded", "out", NULL, "k-1");
    CHECK_EQ_INT(jc_client_wait(c, id1, 5000, state, &result, &result_len, error, sizeof error),
                 JC_OK);
    CHECK_EQ_STR(state, "succeeded");
    CHECK(result != NULL && result_len == 3 && memcmp(result, "out", 3) == 0);
    CHECK_EQ_STR(error, "");
    jc_free(result);
    result = NULL;

    /* a duplicate submission: the coordinator reports the job the key first
     * made, under that job's id, carrying the key */
    o = o ? o : jc_submit_opts_new();
    CHECK_EQ_INT(jc_submit_opts_set(o, "idempotency_key", "dup-key", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_client_submit(c, "echo", "again", 5, o, id2, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_INT(next_request(cons, key, &rec, &m), 0);
    jc_msg_release(&m);
    rd_kafka_message_destroy(rec);
    jc_id_random(raw);
    jc_id_format(raw, other_id);
    send_update(prod, CLIENT, -1, key, other_id, "failed", NULL, "boom", "dup-key");
    CHECK_EQ_INT(jc_client_wait(c, id2, 5000, state, &result, &result_len, error, sizeof error),
                 JC_OK);
    CHECK_EQ_STR(state, "failed");
    CHECK_EQ_STR(error, "boom");
    {
        char actual[37];
        CHECK_EQ_INT(jc_client_job_of(c, id2, actual), JC_OK);
        CHECK_EQ_STR(actual, other_id); /* the job the key first made */
        CHECK_EQ_INT(jc_client_job_of(c, id1, actual), JC_OK);
        CHECK_EQ_STR(actual, id1);
        CHECK_EQ_INT(jc_client_job_of(c, "not-an-id", actual), JC_ERR_INVALID_ARG);
    }
    CHECK(result == NULL && result_len == 0);
    /* the other key's job is not an answer for this one */
    CHECK_EQ_INT(jc_client_wait(c, id3, 200, state, NULL, NULL, NULL, 0), JC_ERR_TIMED_OUT);

    /* an update that came before the wait */
    send_update(prod, CLIENT, -1, key, id3, "canceled", NULL, "canceled by the submitter", NULL);
    CHECK_EQ_INT(jc_client_wait(c, id3, 5000, state, NULL, NULL, error, 8), JC_OK);
    CHECK_EQ_INT(jc_client_wait(c, id3, 0, state, NULL, NULL, error, 8), JC_OK);
    CHECK_EQ_STR(state, "canceled");
    CHECK_EQ_STR(error, "cancele"); /* cut to the buffer */
    CHECK_EQ_INT(jc_client_updates_dropped(c), 2);

    /* refusals: a submission with a chosen job id, refused */
    jc_submit_opts_destroy(o);
    o = jc_submit_opts_new();
    CHECK_EQ_INT(jc_submit_opts_set(o, "job_id", "not-a-uuid", err, sizeof err),
                 JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_submit_opts_set(o, "job_id", "00000000-0000-0000-0000-000000000000", err,
                                    sizeof err),
                 JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_submit_opts_set(o, "job_id", "6f1a3c2e-8b4d-4e7f-9a01-0000000000aa", err,
                                    sizeof err),
                 JC_OK);
    CHECK_EQ_INT(jc_client_submit(c, "echo", "r", 1, o, id2, 5000, err, sizeof err), JC_OK);
    CHECK_EQ_STR(id2, "6f1a3c2e-8b4d-4e7f-9a01-0000000000aa");
    CHECK_EQ_INT(next_request(cons, key, &rec, &m), 0);
    CHECK(jc_slice_eq(m.u.submit.type, "echo"));
    {
        uint8_t req[JC_ID_LEN], stale[JC_ID_LEN];
        char reason[128];
        memcpy(req, m.id, JC_ID_LEN);
        jc_msg_release(&m);
        rd_kafka_message_destroy(rec);
        /* a refusal of another message, and a forged one, end nothing */
        jc_id_random(stale);
        send_refusal(prod, key, id2, stale, "job.submit", "job_exists", NULL);
        send_refusal(prod, other_key, id2, req, "job.submit", "job_exists", NULL);
        CHECK_EQ_INT(jc_client_wait(c, id2, 500, state, NULL, NULL, error, sizeof error),
                     JC_ERR_TIMED_OUT);
        CHECK_EQ_INT(jc_client_updates_dropped(c), 3);
        send_refusal(prod, key, id2, req, "job.submit", "disabled_principal",
                     "principal 'client-1' is disabled");
        CHECK_EQ_INT(jc_client_wait(c, id2, 5000, state, &result, &result_len, error,
                                    sizeof error),
                     JC_ERR_REFUSED);
        CHECK_EQ_STR(state, "refused");
        CHECK_EQ_STR(error, "disabled_principal: principal 'client-1' is disabled");
        CHECK(result == NULL && result_len == 0);

        /* cancel: no cancel sent, refused, accepted */
        CHECK_EQ_INT(jc_client_cancel_wait(c, id3, 100, state, reason, sizeof reason),
                     JC_ERR_STATE);
        CHECK_EQ_INT(jc_client_cancel(c, id2, NULL, 5000, err, sizeof err), JC_OK);
        CHECK_EQ_INT(next_request(cons, key, &rec, &m), 0);
        CHECK_EQ_INT(m.type, JC_MSG_JOB_CANCEL);
        memcpy(req, m.id, JC_ID_LEN);
        jc_msg_release(&m);
        rd_kafka_message_destroy(rec);
        CHECK_EQ_INT(jc_client_cancel_wait(c, id2, 200, state, reason, sizeof reason),
                     JC_ERR_TIMED_OUT);
        send_refusal(prod, key, id2, req, "job.submit", "not_owner", NULL); /* wrong "of" */
        CHECK_EQ_INT(jc_client_cancel_wait(c, id2, 300, state, reason, sizeof reason),
                     JC_ERR_TIMED_OUT);
        send_refusal(prod, key, id2, req, "job.cancel", "not_owner", NULL);
        CHECK_EQ_INT(jc_client_cancel_wait(c, id2, 5000, state, reason, sizeof reason),
                     JC_ERR_REFUSED);
        CHECK_EQ_STR(reason, "not_owner");
        CHECK_EQ_INT(jc_client_cancel(c, id1, NULL, 5000, err, sizeof err), JC_OK);
        CHECK_EQ_INT(next_request(cons, key, &rec, &m), 0);
        jc_msg_release(&m);
        rd_kafka_message_destroy(rec);
        send_update(prod, CLIENT, -1, key, id1, "canceling", NULL, NULL, NULL);
        CHECK_EQ_INT(jc_client_cancel_wait(c, id1, 5000, state, reason, sizeof reason), JC_OK);
        CHECK_EQ_STR(state, "canceling");

        /* the cancel reason (protocol version 2): apart from the error; a
         * version 1 update has none (its err is the cancel reason) */
        CHECK_EQ_INT(jc_client_cancel_reason(c, id1, reason, sizeof reason), JC_OK);
        CHECK_EQ_STR(reason, "");
        send_update_v(prod, 2, CLIENT, -1, key, id1, "canceling", NULL, "no longer needed");
        for (int i = 0; i < 100 && reason[0] == '\0'; i++) {
            usleep(50000);
            jc_client_cancel_reason(c, id1, reason, sizeof reason);
        }
        CHECK_EQ_STR(reason, "no longer needed"); /* the latest update, not final yet */
        send_update_v(prod, 2, CLIENT, -1, key, id1, "canceled", "ffmpeg: killed", "no longer needed");
        CHECK_EQ_INT(jc_client_wait(c, id1, 5000, state, NULL, NULL, error, sizeof error), JC_OK);
        CHECK_EQ_STR(state, "canceled");
        CHECK_EQ_STR(error, "ffmpeg: killed");
        CHECK_EQ_INT(jc_client_cancel_reason(c, id1, reason, sizeof reason), JC_OK);
        CHECK_EQ_STR(reason, "no longer needed");
        CHECK_EQ_INT(jc_client_cancel_reason(c, id1, reason, 3), JC_OK);
        CHECK_EQ_STR(reason, "no"); /* cut to the buffer */
        CHECK_EQ_INT(jc_client_cancel_reason(c, id3, reason, sizeof reason), JC_OK);
        CHECK_EQ_STR(reason, ""); /* version 1: the reason is in the error */
        CHECK_EQ_INT(jc_client_cancel_reason(c, "6f1a3c2e-8b4d-4e7f-9a01-0000000000ff", reason,
                                             sizeof reason),
                     JC_ERR_STATE);
        CHECK_EQ_INT(jc_client_cancel_reason(c, "nope", reason, sizeof reason),
                     JC_ERR_INVALID_ARG);
        /* a version 1 update carrying "reason" is not an update: dropped */
        {
            uint64_t dropped = jc_client_updates_dropped(c);
            jc_msg bad;
            msgpack_sbuffer sig, env;
            jc_slice p = jc_slice_str(CLIENT), kid = jc_slice_str("k1");
            memset(&bad, 0, sizeof bad);
            bad.version = 2;
            bad.type = JC_MSG_JOB_UPDATE;
            jc_id_random(bad.id);
            bad.ts_ms = jc_now_ms();
            bad.principal = p;
            CHECK_EQ_INT(jc_id_parse(id1, bad.u.update.job), 0);
            bad.u.update.state = jc_slice_str("canceled");
            bad.u.update.reason = jc_slice_str("forged into version 1");
            msgpack_sbuffer_init(&sig);
            msgpack_sbuffer_init(&env);
            CHECK_EQ_INT(jc_msg_encode_signed(&bad, &sig, err, sizeof err), JC_OK);
            CHECK_EQ_INT(jc_envelope_seal_v(1, &p, &kid, key, (const uint8_t *)sig.data, sig.size,
                                            &env),
                         JC_OK);
            CHECK_EQ_INT(mock_send_raw(prod, "t.job-updates", CLIENT, env.data, env.size), 0);
            for (int i = 0; i < 100 && jc_client_updates_dropped(c) == dropped; i++)
                usleep(50000);
            CHECK_EQ_INT(jc_client_updates_dropped(c), dropped + 1);
            CHECK_EQ_INT(jc_client_cancel_reason(c, id1, reason, sizeof reason), JC_OK);
            CHECK_EQ_STR(reason, "no longer needed");
            msgpack_sbuffer_destroy(&sig);
            msgpack_sbuffer_destroy(&env);
        }
    }

    jc_submit_opts_destroy(o);
    jc_client_destroy(c);
    rd_kafka_consumer_close(cons);
    rd_kafka_destroy(cons);
    rd_kafka_destroy(prod);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
    return check_done("test_sdk_client");
}
