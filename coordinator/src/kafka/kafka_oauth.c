/*
 * kafka_oauth.c - SASL/OAUTHBEARER tokens for the coordinator's Kafka
 * clients (see kafka_oauth.h).
 *
 * Where mint and its opaque live: librdkafka gives the refresh callback
 * only (rk, sasl.oauthbearer.config, conf opaque). The conf opaque is the
 * module's own (ingest, outbox, dead letters), and each of those structs
 * starts with a jc_kafka_client holding the mint function and its opaque,
 * so the callback reads them through the opaque it is given.
 */
#include "kafka/kafka_oauth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define TOKEN_MAX 8192
#define PRINCIPAL_MAX 256

// conf_get reads property name of conf into v; 0 when set.
static int conf_get(const rd_kafka_conf_t *conf, const char *name, char *v, size_t size)
{
    size_t n = size;
    if (rd_kafka_conf_get(conf, name, v, &n) != RD_KAFKA_CONF_OK || n > size)
        return -1;
    return 0;
}

int jc_kafka_oauth_refresh(rd_kafka_t *rk, const jc_kafka_client *c)
{
    char token[TOKEN_MAX + 1], principal[PRINCIPAL_MAX + 1] = "", err[512] = "";
    int64_t exp_ms = 0;
    int rc = -1;

    if (!c || !c->mint) {
        rd_kafka_oauthbearer_set_token_failure(
            rk, "the handle's opaque does not start with a jc_kafka_client");
        return -1;
    }
    if (c->mint(c->mint_opaque, token, sizeof token, &exp_ms, principal, sizeof principal, err,
                sizeof err) != 0) {
        rd_kafka_oauthbearer_set_token_failure(rk, err[0] ? err : "minting a token failed");
        goto out;
    }
    if (rd_kafka_oauthbearer_set_token(rk, token, exp_ms, principal, NULL, 0, err, sizeof err) !=
        RD_KAFKA_RESP_ERR_NO_ERROR) {
        rd_kafka_oauthbearer_set_token_failure(rk, err);
        goto out;
    }
    rc = 0;
out:
    memset(token, 0, sizeof token);
    return rc;
}

// refresh_cb is librdkafka's token refresh callback.
static void refresh_cb(rd_kafka_t *rk, const char *oauthbearer_config, void *conf_opaque)
{
    (void)oauthbearer_config;
    jc_kafka_oauth_refresh(rk, conf_opaque); /* the module's, which starts with ours */
}

int jc_kafka_oauth_setup(rd_kafka_conf_t *conf)
{
    char v[64];

    if (conf_get(conf, "sasl.mechanisms", v, sizeof v) < 0 || strcasecmp(v, "OAUTHBEARER") != 0)
        return 0;
    if (conf_get(conf, "sasl.oauthbearer.method", v, sizeof v) == 0 && strcasecmp(v, "oidc") == 0)
        return 0;
    if (conf_get(conf, "enable.sasl.oauthbearer.unsecure.jwt", v, sizeof v) == 0 &&
        strcmp(v, "true") == 0)
        return 0;
    rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, refresh_cb);
    return 1;
}
