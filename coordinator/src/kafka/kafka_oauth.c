/*
 * kafka_oauth.c - SASL/OAUTHBEARER tokens for the coordinator's Kafka
 * clients (see kafka_oauth.h).
 *
 * Where mint and its opaque live: librdkafka gives the refresh callback
 * (rk, sasl.oauthbearer.config, conf opaque). The conf opaque is taken (the
 * ingest, outbox and dead-letter modules set their own after kconf.c built
 * the conf), and a process-wide table would be a global; the config string
 * is ours as soon as a refresh callback replaces librdkafka's unsecured-JWT
 * builder, the only reader of that string. So it carries the two pointers,
 * as the hex of their bytes ("jobcoord-mint:<fn>:<opaque>"): no allocation,
 * nothing to free, copied with the conf. Reading back a pointer's bytes in
 * the same process gives the same pointer (C11 6.2.6.1).
 */
#include "kafka/kafka_oauth.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define CONFIG_PREFIX "jobcoord-mint:"
#define TOKEN_MAX 8192
#define PRINCIPAL_MAX 256

static void hex_encode(const void *p, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[b[i] >> 4];
        out[2 * i + 1] = hex[b[i] & 15];
    }
    out[2 * n] = '\0';
}

static int hex_decode(const char *s, void *p, size_t n)
{
    unsigned char *b = p;
    for (size_t i = 0; i < 2 * n; i++) {
        int v;
        if (s[i] >= '0' && s[i] <= '9')
            v = s[i] - '0';
        else if (s[i] >= 'a' && s[i] <= 'f')
            v = s[i] - 'a' + 10;
        else
            return -1;
        if (i % 2 == 0)
            b[i / 2] = (unsigned char)(v << 4);
        else
            b[i / 2] |= (unsigned char)v;
    }
    return 0;
}

// decode_config reads mint and opaque back from the config string.
static int decode_config(const char *config, jc_kafka_oauth_mint_fn *mint, void **opaque)
{
    size_t pl = strlen(CONFIG_PREFIX), fl = 2 * sizeof *mint, ol = 2 * sizeof *opaque;
    unsigned char fb[sizeof *mint], ob[sizeof *opaque];
    if (!config || strlen(config) != pl + fl + 1 + ol ||
        strncmp(config, CONFIG_PREFIX, pl) != 0 || config[pl + fl] != ':' ||
        hex_decode(config + pl, fb, sizeof fb) < 0 ||
        hex_decode(config + pl + fl + 1, ob, sizeof ob) < 0)
        return -1;
    memcpy(mint, fb, sizeof fb);
    memcpy(opaque, ob, sizeof ob);
    return *mint ? 0 : -1;
}

// conf_get reads property name of conf into v; 0 when set.
static int conf_get(const rd_kafka_conf_t *conf, const char *name, char *v, size_t size)
{
    size_t n = size;
    if (rd_kafka_conf_get(conf, name, v, &n) != RD_KAFKA_CONF_OK || n > size)
        return -1;
    return 0;
}

int jc_kafka_oauth_refresh(rd_kafka_t *rk, const char *config)
{
    jc_kafka_oauth_mint_fn mint;
    void *opaque;
    char token[TOKEN_MAX + 1], principal[PRINCIPAL_MAX + 1] = "", err[512] = "";
    int64_t exp_ms = 0;
    int rc = -1;

    if (decode_config(config, &mint, &opaque) < 0) {
        rd_kafka_oauthbearer_set_token_failure(
            rk, "sasl.oauthbearer.config was changed after jc_kafka_oauth_setup");
        return -1;
    }
    if (mint(opaque, token, sizeof token, &exp_ms, principal, sizeof principal, err,
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
    (void)conf_opaque; /* the module's, not ours */
    jc_kafka_oauth_refresh(rk, oauthbearer_config);
}

int jc_kafka_oauth_setup(rd_kafka_conf_t *conf, jc_kafka_oauth_mint_fn mint, void *opaque)
{
    char v[64], config[sizeof CONFIG_PREFIX + 2 * (sizeof mint + sizeof opaque) + 2];
    char kerr[256];
    unsigned char bytes[sizeof mint > sizeof opaque ? sizeof mint : sizeof opaque];
    size_t at = sizeof CONFIG_PREFIX - 1;

    if (conf_get(conf, "sasl.mechanisms", v, sizeof v) < 0 || strcasecmp(v, "OAUTHBEARER") != 0)
        return 0;
    if (conf_get(conf, "sasl.oauthbearer.method", v, sizeof v) == 0 && strcasecmp(v, "oidc") == 0)
        return 0;
    if (conf_get(conf, "enable.sasl.oauthbearer.unsecure.jwt", v, sizeof v) == 0 &&
        strcmp(v, "true") == 0)
        return 0;
    memcpy(config, CONFIG_PREFIX, at);
    memcpy(bytes, &mint, sizeof mint); /* the pointers' object representations */
    hex_encode(bytes, sizeof mint, config + at);
    at += 2 * sizeof mint;
    config[at++] = ':';
    memcpy(bytes, &opaque, sizeof opaque);
    hex_encode(bytes, sizeof opaque, config + at);
    if (rd_kafka_conf_set(conf, "sasl.oauthbearer.config", config, kerr, sizeof kerr) !=
        RD_KAFKA_CONF_OK)
        return -1;
    rd_kafka_conf_set_oauthbearer_token_refresh_cb(conf, refresh_cb);
    return 1;
}
