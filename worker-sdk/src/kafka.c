/*
 * kafka.c - Kafka configuration of SDK handles.
 *
 * Every librdkafka handle the SDK makes goes through jc_sdk_kafka_new, which
 * owns the handle's opaque: a small record with the caller's opaque and
 * delivery callback (called through a trampoline) and, for SASL/OAUTHBEARER,
 * the token source behind librdkafka's refresh callback. librdkafka calls
 * that callback when the handle starts and at 80% of each token's lifetime;
 * it runs on librdkafka's background thread (rd_kafka_sasl_background_
 * callbacks_enable), because the SDK's consumers are served with
 * rd_kafka_consumer_poll, which does not serve the main queue the callback
 * would otherwise wait in. A failed fetch is reported to librdkafka
 * (rd_kafka_oauthbearer_set_token_failure), which retries every 10 s.
 */
#include "kafka.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "conf_int.h"
#include "token.h"

/* What kafka.c attaches to a handle, as its opaque. */
typedef struct sdk_rk {
    void *opaque;
    void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *);
    jc_token_source_t *ts; /* SASL/OAUTHBEARER only */
    atomic_uint_fast64_t tokens_set, token_failures;
} sdk_rk;

// read_first_line reads the first line of path, without its newline.
static jc_err_t read_first_line(const char *path, char *out, size_t out_size, char *errstr,
                                size_t errstr_size)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        snprintf(errstr, errstr_size, "cannot open %s: %s", path, strerror(errno));
        return JC_ERR_IO;
    }
    if (!fgets(out, (int)out_size, f)) {
        fclose(f);
        snprintf(errstr, errstr_size, "%s is empty", path);
        return JC_ERR_IO;
    }
    fclose(f);
    out[strcspn(out, "\r\n")] = '\0';
    return JC_OK;
}

typedef struct kset {
    rd_kafka_conf_t *rconf;
    char *errstr;
    size_t errstr_size;
} kset;

static int set_one(const char *name, const char *value, void *arg)
{
    kset *k = arg;
    char kerr[256];
    if (rd_kafka_conf_set(k->rconf, name, value, kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
        snprintf(k->errstr, k->errstr_size, "kafka.%s: %s", name, kerr);
        return 1;
    }
    return 0;
}

jc_err_t jc_sdk_kafka_conf(const jc_conf_t *conf, rd_kafka_conf_t **out, char *errstr,
                           size_t errstr_size)
{
    rd_kafka_conf_t *rconf = rd_kafka_conf_new();
    kset k = {rconf, errstr, errstr_size};
    const char *bootstrap_file = jc_conf_get(conf, "bootstrap.file");
    jc_err_t err;

    if (jc_conf_each(conf, "kafka.", set_one, &k) != 0) {
        rd_kafka_conf_destroy(rconf);
        return JC_ERR_INVALID_CONF;
    }
    if (!jc_conf_get(conf, "kafka.bootstrap.servers")) {
        char servers[1024];
        if (!bootstrap_file) {
            snprintf(errstr, errstr_size, "kafka.bootstrap.servers or bootstrap.file is required");
            rd_kafka_conf_destroy(rconf);
            return JC_ERR_INVALID_CONF;
        }
        err = read_first_line(bootstrap_file, servers, sizeof servers, errstr, errstr_size);
        if (err || set_one("bootstrap.servers", servers, &k) != 0) {
            rd_kafka_conf_destroy(rconf);
            return err ? err : JC_ERR_INVALID_CONF;
        }
    }
    *out = rconf;
    return JC_OK;
}

// dr_trampoline hands a delivery report to the handle's own callback.
static void dr_trampoline(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    sdk_rk *x = opaque;
    x->dr_cb(rk, m, x->opaque);
}

// oauth_refresh is librdkafka's SASL/OAUTHBEARER token refresh callback.
static void oauth_refresh(rd_kafka_t *rk, const char *oauthbearer_config, void *opaque)
{
    sdk_rk *x = opaque;
    char token[JC_TOKEN_MAX_LEN + 1], err[512];
    int64_t expires_at_ms = 0;

    (void)oauthbearer_config;
    if (jc_token_refresh(x->ts, token, sizeof token, &expires_at_ms, err, sizeof err) != JC_OK) {
        atomic_fetch_add(&x->token_failures, 1);
        rd_kafka_oauthbearer_set_token_failure(rk, err);
        return;
    }
    if (rd_kafka_oauthbearer_set_token(rk, token, expires_at_ms, jc_token_source_principal(x->ts),
                                       NULL, 0, err, sizeof err) != RD_KAFKA_RESP_ERR_NO_ERROR) {
        atomic_fetch_add(&x->token_failures, 1);
        rd_kafka_oauthbearer_set_token_failure(rk, err);
    } else {
        atomic_fetch_add(&x->tokens_set, 1);
    }
    sodium_memzero(token, sizeof token);
}

// wants_oauthbearer: rconf asks for SASL/OAUTHBEARER tokens from us (not
// librdkafka's own OIDC client, nor its unsecured test tokens).
static int wants_oauthbearer(const rd_kafka_conf_t *rconf)
{
    char v[64];
    size_t n = sizeof v;

    if (rd_kafka_conf_get(rconf, "sasl.mechanisms", v, &n) != RD_KAFKA_CONF_OK ||
        strcasecmp(v, "OAUTHBEARER") != 0)
        return 0;
    n = sizeof v;
    if (rd_kafka_conf_get(rconf, "sasl.oauthbearer.method", v, &n) == RD_KAFKA_CONF_OK &&
        strcasecmp(v, "oidc") == 0)
        return 0;
    n = sizeof v;
    if (rd_kafka_conf_get(rconf, "enable.sasl.oauthbearer.unsecure.jwt", v, &n) ==
            RD_KAFKA_CONF_OK &&
        strcmp(v, "true") == 0)
        return 0;
    return 1;
}

rd_kafka_t *jc_sdk_kafka_new(rd_kafka_type_t type, const jc_conf_t *conf, rd_kafka_conf_t *rconf,
                             void *opaque,
                             void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                             char *errstr, size_t errstr_size)
{
    sdk_rk *x = calloc(1, sizeof *x);
    rd_kafka_t *rk = NULL;
    rd_kafka_error_t *kerror;
    char kerr[512], why[512];

    if (!x) {
        snprintf(errstr, errstr_size, "out of memory");
        goto fail;
    }
    x->opaque = opaque;
    x->dr_cb = dr_cb;
    if (wants_oauthbearer(rconf)) {
        if (jc_token_source_new(conf, &x->ts, why, sizeof why) != JC_OK) {
            snprintf(errstr, errstr_size, "kafka.sasl.mechanism OAUTHBEARER: %s", why);
            goto fail;
        }
        rd_kafka_conf_set_oauthbearer_token_refresh_cb(rconf, oauth_refresh);
        rd_kafka_conf_enable_sasl_queue(rconf, 1); /* forwarded to the background below */
    }
    rd_kafka_conf_set_opaque(rconf, x);
    if (dr_cb)
        rd_kafka_conf_set_dr_msg_cb(rconf, dr_trampoline);
    rk = rd_kafka_new(type, rconf, kerr, sizeof kerr);
    if (!rk) {
        snprintf(errstr, errstr_size, "kafka: %s", kerr);
        goto fail;
    }
    rconf = NULL; /* the handle's now */
    if (x->ts) {
        kerror = rd_kafka_sasl_background_callbacks_enable(rk);
        if (kerror) {
            snprintf(errstr, errstr_size, "kafka: %s", rd_kafka_error_string(kerror));
            rd_kafka_error_destroy(kerror);
            rd_kafka_destroy(rk);
            goto fail;
        }
    }
    return rk;
fail:
    if (rconf)
        rd_kafka_conf_destroy(rconf);
    if (x)
        jc_token_source_destroy(x->ts);
    free(x);
    return NULL;
}

void jc_sdk_kafka_destroy(rd_kafka_t *rk)
{
    sdk_rk *x;

    if (!rk)
        return;
    x = rd_kafka_opaque(rk);
    rd_kafka_destroy(rk); /* joins librdkafka's threads: no callback runs after */
    if (x)
        jc_token_source_destroy(x->ts);
    free(x);
}

void jc_sdk_kafka_oauth_counts(rd_kafka_t *rk, uint64_t *set, uint64_t *failed)
{
    sdk_rk *x = rd_kafka_opaque(rk);
    *set = x ? atomic_load(&x->tokens_set) : 0;
    *failed = x ? atomic_load(&x->token_failures) : 0;
}

rd_kafka_t *jc_sdk_producer(const jc_conf_t *conf, const char *linger_ms, void *opaque,
                            void (*dr_cb)(rd_kafka_t *, const rd_kafka_message_t *, void *),
                            char *errstr, size_t errstr_size)
{
    rd_kafka_conf_t *rconf = NULL;
    char kerr[256];

    if (jc_sdk_kafka_conf(conf, &rconf, errstr, errstr_size) != JC_OK)
        return NULL;
    if (rd_kafka_conf_set(rconf, "enable.idempotence", "true", kerr, sizeof kerr) ||
        rd_kafka_conf_set(rconf, "linger.ms", linger_ms, kerr, sizeof kerr) ||
        (!jc_conf_get(conf, "kafka.partitioner") &&
         rd_kafka_conf_set(rconf, "partitioner", "murmur2_random", kerr, sizeof kerr))) {
        snprintf(errstr, errstr_size, "kafka: %s", kerr);
        rd_kafka_conf_destroy(rconf);
        return NULL;
    }
    return jc_sdk_kafka_new(RD_KAFKA_PRODUCER, conf, rconf, opaque, dr_cb, errstr, errstr_size);
}

void jc_sdk_topic(const jc_conf_t *conf, const char *name, char *out, size_t out_size)
{
    const char *prefix = jc_conf_get(conf, "topic.prefix");
    snprintf(out, out_size, "%s%s", prefix ? prefix : "jobcoord.", name);
}
