/* kconf.h - librdkafka configuration built from the coordinator's config. */
#ifndef JC_KCONF_H
#define JC_KCONF_H

#include <stddef.h>

#include <librdkafka/rdkafka.h>

#include "core/config.h"

/* jc_kafka_conf returns a new rd_kafka_conf_t with bootstrap.servers set to
 * brokers and every kafka.properties entry applied; NULL with errstr naming
 * the bad property. */
/* jc_kafka_conf_set_oauth makes every later jc_kafka_conf answer
 * librdkafka's SASL/OAUTHBEARER token requests with mint (when
 * kafka.properties ask for sasl.mechanism=OAUTHBEARER). Call once, before
 * any Kafka client is made; opaque must outlive them all. */
#include "kafka/kafka_oauth.h"
void jc_kafka_conf_set_oauth(jc_kafka_oauth_mint_fn mint, void *opaque);
/* jc_kafka_conf_bind fills c, the FIRST member of a module's struct, with
 * what jc_kafka_conf_set_oauth set, and makes that struct the conf's opaque
 * (a pointer to a struct's first member is a pointer to the struct), where
 * the refresh callback and the module's own callbacks find it. */
void jc_kafka_conf_bind(rd_kafka_conf_t *conf, jc_kafka_client *c);

rd_kafka_conf_t *jc_kafka_conf(const jc_config *cfg, const char *brokers, char *errstr,
                               size_t errstr_size);

/* jc_kafka_auth_warning tells whether the configuration shows that the
 * Kafka cluster authenticates nobody: the embedded development cluster
 * (kafka.brokers empty), or security.protocol plaintext (librdkafka's
 * default when kafka.properties do not set it). Then it writes why into out
 * and returns 1. 0 for SASL and for TLS (which may carry client
 * certificates: the coordinator cannot tell). */
int jc_kafka_auth_warning(const jc_config *cfg, char *out, size_t out_size);

/* jc_kafka_log is a librdkafka log callback that writes to our log. */
void jc_kafka_log(const rd_kafka_t *rk, int level, const char *fac, const char *buf);

/* jc_kafka_set sets one property or fills errstr; returns 0 or -1. */
int jc_kafka_set(rd_kafka_conf_t *conf, const char *name, const char *value, char *errstr,
                 size_t errstr_size);

#endif
