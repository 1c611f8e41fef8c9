/*
 * deadletter.c - the dead-letter producer (see deadletter.h).
 *
 * Size: ingest accepts records up to ingest.max_message_bytes (1 MiB), and
 * every rejected one must be copied (PROTOCOL.md section 9). librdkafka's
 * producer refuses messages over its message.max.bytes (1,000,000 by
 * default), so that limit is raised to what ingest accepts plus room for
 * the key and headers. A broker whose topic takes less refuses the copy
 * (MSG_SIZE_TOO_LARGE): the copy is then sent again with the value cut to
 * CUT_BYTES, which jc-detail says, as section 9 allows.
 */
#include "kafka/deadletter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kafka/kconf.h"
#include "core/log.h"
#include "jcproto/topics.h"

#define ROOM_BYTES (64 * 1024)  /* key and headers over the largest value */
#define CUT_BYTES (64 * 1024)   /* value kept of a copy the broker refused */

struct jc_deadletter {
    jc_kafka_client kafka; /* first: the conf opaque's (kafka_oauth.h) */
    rd_kafka_t *rk;
    char topic[256];
    int failed; /* delivery failures since the last flush */
};

// produce_cut queues the copy again with its value cut to CUT_BYTES and
// jc-detail saying so; headers is the copy's (consumed). 0 or an error.
static rd_kafka_resp_err_t produce_cut(jc_deadletter *dl, const void *key, size_t key_len,
                                       const void *value, size_t len, rd_kafka_headers_t *h)
{
    char detail[512];
    const void *old = NULL;
    size_t old_len = 0;
    rd_kafka_resp_err_t err;

    if (rd_kafka_header_get_last(h, "jc-detail", &old, &old_len) != RD_KAFKA_RESP_ERR_NO_ERROR)
        old_len = 0;
    snprintf(detail, sizeof detail, "%.*s (value cut to %d of %zu bytes: too large for %s)",
             (int)(old_len < 300 ? old_len : 300), old ? (const char *)old : "", CUT_BYTES, len,
             dl->topic);
    rd_kafka_header_remove(h, "jc-detail");
    rd_kafka_header_add(h, "jc-detail", -1, detail, -1);
    err = rd_kafka_producev(dl->rk, RD_KAFKA_V_TOPIC(dl->topic),
                            RD_KAFKA_V_KEY(key, key_len > CUT_BYTES ? CUT_BYTES : key_len),
                            RD_KAFKA_V_VALUE((void *)value, len > CUT_BYTES ? CUT_BYTES : len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                            RD_KAFKA_V_OPAQUE(dl), RD_KAFKA_V_END);
    if (err)
        rd_kafka_headers_destroy(h);
    return err;
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    jc_deadletter *dl = opaque;
    rd_kafka_headers_t *h = NULL;
    (void)rk;
    if (!m->err)
        return;
    /* refused for its size, and not already cut (its opaque is set) */
    if (m->err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE && !m->_private &&
        rd_kafka_message_headers(m, &h) == RD_KAFKA_RESP_ERR_NO_ERROR &&
        produce_cut(dl, m->key, m->key_len, m->payload, m->len, rd_kafka_headers_copy(h)) == 0) {
        LOG_WARN("deadletter", "a %zu-byte copy was refused by the broker: sent again cut to %d bytes",
                 m->len, CUT_BYTES);
        return;
    }
    dl->failed++;
    LOG_ERROR("deadletter", "copy to %s failed: %s", dl->topic, rd_kafka_err2str(m->err));
}

jc_deadletter *jc_deadletter_new(const jc_config *cfg, const char *brokers, char *errstr,
                                 size_t errstr_size)
{
    jc_deadletter *dl = calloc(1, sizeof *dl);
    rd_kafka_conf_t *conf = NULL;
    char kerr[256], max_bytes[24];

    snprintf(max_bytes, sizeof max_bytes, "%d", cfg->max_message_bytes + ROOM_BYTES);
    if (!dl) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    jc_config_topic(cfg, JC_TOPIC_REJECTED, dl->topic, sizeof dl->topic);
    conf = jc_kafka_conf(cfg, brokers, errstr, errstr_size);
    if (!conf)
        goto fail;
    if (jc_kafka_set(conf, "enable.idempotence", "true", errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "linger.ms", "5", errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "message.max.bytes", max_bytes, errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "client.id", "jobcoord-deadletter", errstr, errstr_size) != 0)
        goto fail;
    jc_kafka_conf_bind(conf, &dl->kafka); /* opaque: dl itself */
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    dl->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
    if (!dl->rk) {
        snprintf(errstr, errstr_size, "dead-letter producer: %s", kerr);
        goto fail;
    }
    return dl;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    free(dl);
    return NULL;
}

int jc_deadletter_send(jc_deadletter *dl, const rd_kafka_message_t *m, const char *reason,
                       const char *detail)
{
    char part[16], off[24];
    rd_kafka_headers_t *h = rd_kafka_headers_new(5);
    const char *src = rd_kafka_topic_name(m->rkt);
    rd_kafka_resp_err_t err;

    snprintf(part, sizeof part, "%" PRId32, m->partition);
    snprintf(off, sizeof off, "%" PRId64, m->offset);
    rd_kafka_header_add(h, "jc-reason", -1, reason, -1);
    rd_kafka_header_add(h, "jc-detail", -1, detail, -1);
    rd_kafka_header_add(h, "jc-topic", -1, src, -1);
    rd_kafka_header_add(h, "jc-partition", -1, part, -1);
    rd_kafka_header_add(h, "jc-offset", -1, off, -1);
    err = rd_kafka_producev(dl->rk, RD_KAFKA_V_TOPIC(dl->topic),
                            RD_KAFKA_V_KEY(m->key, m->key_len),
                            RD_KAFKA_V_VALUE(m->payload, m->len),
                            RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY), RD_KAFKA_V_HEADERS(h),
                            RD_KAFKA_V_END);
    if (err == RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE) /* a huge key */
        err = produce_cut(dl, m->key, m->key_len, m->payload, m->len, h);
    else if (err)
        rd_kafka_headers_destroy(h);
    if (err) {
        LOG_ERROR("deadletter", "cannot queue copy to %s: %s", dl->topic, rd_kafka_err2str(err));
        return -1;
    }
    rd_kafka_poll(dl->rk, 0);
    return 0;
}

int jc_deadletter_flush(jc_deadletter *dl, int timeout_ms)
{
    int failed;
    rd_kafka_flush(dl->rk, timeout_ms);
    failed = dl->failed + rd_kafka_outq_len(dl->rk);
    dl->failed = 0;
    return failed;
}

void jc_deadletter_free(jc_deadletter *dl)
{
    if (!dl)
        return;
    rd_kafka_flush(dl->rk, 5000);
    rd_kafka_destroy(dl->rk);
    free(dl);
}
