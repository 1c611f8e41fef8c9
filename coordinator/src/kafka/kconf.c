/* kconf.c - librdkafka configuration from the coordinator's config. */
#include "kafka/kconf.h"

#include "kafka/kafka_oauth.h"
#include "core/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

int jc_kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                 size_t errstr_size)
{
    char kerr[256];
    if (rd_kafka_conf_set(conf, name, value, kerr, sizeof kerr) != RD_KAFKA_CONF_OK) {
        snprintf(errstr, errstr_size, "kafka property %s: %s", name, kerr);
        return -1;
    }
    return 0;
}

void jc_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
    const char *name = rk ? rd_kafka_name(rk) : "kafka";
    if (level <= 3)
        LOG_ERROR("kafka", "%s %s: %s", name, fac, buf);
    else if (level == 4)
        LOG_WARN("kafka", "%s %s: %s", name, fac, buf);
    else if (level <= 6)
        LOG_INFO("kafka", "%s %s: %s", name, fac, buf);
    else
        LOG_DEBUG("kafka", "%s %s: %s", name, fac, buf);
}

/* Set once by main before any Kafka client exists, read-only after. */
static jc_kafka_oauth_mint_fn oauth_mint;
static void *oauth_opaque;

void jc_kafka_conf_set_oauth(jc_kafka_oauth_mint_fn mint, void *opaque)
{
    oauth_mint = mint;
    oauth_opaque = opaque;
}

void jc_kafka_conf_bind(rd_kafka_conf_t *conf, jc_kafka_client *c)
{
    c->mint = oauth_mint;
    c->mint_opaque = oauth_opaque;
    rd_kafka_conf_set_opaque(conf, c);
}

rd_kafka_conf_t *jc_kafka_conf(const jc_config *cfg, const char *brokers, char *errstr,
                               size_t errstr_size)
{
    rd_kafka_conf_t *conf = rd_kafka_conf_new();
    char *props = NULL, *save = NULL, *item;

    rd_kafka_conf_set_log_cb(conf, jc_kafka_log);
    if (jc_kafka_set(conf, "bootstrap.servers", brokers, errstr, errstr_size) != 0)
        goto fail;
    if (cfg->kafka_properties && *cfg->kafka_properties) {
        props = strdup(cfg->kafka_properties);
        if (!props) {
            snprintf(errstr, errstr_size, "out of memory");
            goto fail;
        }
        for (item = strtok_r(props, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
            char *eq = strchr(item, '=');
            if (!eq) {
                snprintf(errstr, errstr_size,
                         "kafka.properties: '%s' is not of the form name=value", item);
                goto fail;
            }
            *eq = '\0';
            if (jc_kafka_set(conf, item, eq + 1, errstr, errstr_size) != 0)
                goto fail;
        }
    }
    free(props);
    props = NULL;
    if (oauth_mint) {
        int rc = jc_kafka_oauth_setup(conf);
        if (rc < 0) {
            snprintf(errstr, errstr_size, "kafka: cannot set up SASL/OAUTHBEARER");
            goto fail;
        }
        if (rc > 0)
            LOG_DEBUG("kafka", "SASL/OAUTHBEARER with tokens signed by this coordinator");
    }
    return conf;
fail:
    free(props);
    rd_kafka_conf_destroy(conf);
    return NULL;
}

int jc_kafka_auth_warning(const jc_config *cfg, char *out, size_t out_size)
{
    const char *p = cfg->kafka_properties ? cfg->kafka_properties : "";
    static const char key[] = "security.protocol=";
    char proto[32] = "plaintext";

    if (!cfg->kafka_brokers || !*cfg->kafka_brokers) {
        snprintf(out, out_size,
                 "Kafka: the embedded development cluster authenticates nobody: whoever reaches"
                 " its listener may read and write every topic (commands and job updates carry"
                 " payloads and results)");
        return 1;
    }
    while (*p) { /* the last security.protocol given wins, as in jc_kafka_conf */
        size_t n = strcspn(p, ",");
        if (n > sizeof key - 1 && strncasecmp(p, key, sizeof key - 1) == 0)
            snprintf(proto, sizeof proto, "%.*s", (int)(n - (sizeof key - 1)),
                     p + sizeof key - 1);
        p += n;
        if (*p == ',')
            p++;
    }
    if (strcasecmp(proto, "plaintext") != 0)
        return 0;
    snprintf(out, out_size,
             "Kafka: security.protocol is plaintext: the cluster authenticates no client, so no"
             " ACL can tell the roles apart and any client that reaches it may read commands and"
             " job updates (payloads and results); use SASL (docs/operations.md, Kafka ACLs)");
    return 1;
}
