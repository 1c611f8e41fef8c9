/*
 * send.c - signing and producing the SDK's messages, with the process-wide
 * message clock.
 *
 * The clock: the coordinator rejects a heartbeat that is not newer than the
 * worker's last one, and a job event that is not newer than the last event
 * it applied for that job attempt. Wall clocks step backwards and several
 * messages fall in one millisecond, so every message this process signs
 * takes ts = max(now, last + 1) from ONE clock under a mutex. It is a
 * process global on purpose: two handles of one principal in one process
 * (a worker and a client, or a restarted handle) still never sign two
 * messages with timestamps out of order.
 */
#include "send.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define QUEUE_FULL_WAIT_MS 1000 /* how long jc_send waits for room in librdkafka's queue */

static pthread_mutex_t clock_mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t clock_last_ms;

uint32_t jc_sender_version(const jc_conf_t *conf)
{
    const char *v = jc_conf_get(conf, "protocol.version"); /* checked 1..2 when set */
    return v ? (uint32_t)atoi(v) : JC_PROTO_VERSION_MAX;
}

uint64_t jc_clock_next_ms(void)
{
    uint64_t ts = jc_now_ms();

    pthread_mutex_lock(&clock_mu);
    if (ts <= clock_last_ms)
        ts = clock_last_ms + 1;
    clock_last_ms = ts;
    pthread_mutex_unlock(&clock_mu);
    return ts;
}

jc_err_t jc_send(const jc_sender *s, const char *topic, const char *key, size_t key_len,
                 jc_msg *m, void *msg_opaque, char *errstr, size_t errstr_size)
{
    msgpack_sbuffer out;
    char kid[JC_MAX_KEY_ID_LEN + 1];
    uint8_t secret[JC_KEY_LEN];
    jc_slice key_id;
    rd_kafka_resp_err_t kerr;
    jc_err_t err;
    int waited_ms = 0;

    msgpack_sbuffer_init(&out);
    {
        static const uint8_t zero[JC_ID_LEN];
        if (memcmp(m->id, zero, JC_ID_LEN) == 0) /* else chosen by the caller */
            jc_id_random(m->id);
    }
    m->principal = jc_slice_str(s->id->principal);
    m->version = s->version;
    m->ts_ms = jc_clock_next_ms();
    jc_identity_signer(s->id, kid, secret);
    key_id = jc_slice_str(kid);
    err = jc_msg_seal(m, &key_id, secret, &out, errstr, errstr_size);
    sodium_memzero(secret, sizeof secret);
    if (err)
        goto out;
    for (;;) {
        kerr = rd_kafka_producev(s->rk, RD_KAFKA_V_TOPIC(topic),
                                 RD_KAFKA_V_KEY(key, key_len),
                                 RD_KAFKA_V_VALUE(out.data, out.size),
                                 RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                                 RD_KAFKA_V_OPAQUE(msg_opaque), RD_KAFKA_V_END);
        if (kerr != RD_KAFKA_RESP_ERR__QUEUE_FULL || waited_ms >= QUEUE_FULL_WAIT_MS)
            break;
        rd_kafka_poll(s->rk, 10);
        waited_ms += 10;
    }
    if (kerr == RD_KAFKA_RESP_ERR__QUEUE_FULL) {
        snprintf(errstr, errstr_size, "kafka: local queue full");
        err = JC_ERR_QUEUE_FULL;
    } else if (kerr) {
        snprintf(errstr, errstr_size, "kafka: %s", rd_kafka_err2str(kerr));
        err = JC_ERR_KAFKA;
    }
out:
    msgpack_sbuffer_destroy(&out);
    return err;
}
