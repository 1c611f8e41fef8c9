/* deadletter.c - the dead-letter producer (see deadletter.h). */
#include "deadletter.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kconf.h"
#include "log.h"
#include "topics.h"

struct jc_deadletter {
    rd_kafka_t *rk;
    char topic[256];
    int failed; /* delivery failures since the last flush */
};

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    jc_deadletter *dl = opaque;
    (void)rk;
    if (m->err) {
        dl->failed++;
        LOG_ERROR("deadletter", "copy to %s failed: %s", dl->topic, rd_kafka_err2str(m->err));
    }
}

jc_deadletter *jc_deadletter_new(const jc_config *cfg, const char *brokers, char *errstr,
                                 size_t errstr_size)
{
    jc_deadletter *dl = calloc(1, sizeof *dl);
    rd_kafka_conf_t *conf = NULL;
    char kerr[256];

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
        jc_kafka_set(conf, "client.id", "jobcoord-deadletter", errstr, errstr_size) != 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, dl);
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
    if (err) {
        rd_kafka_headers_destroy(h);
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
