/*
 * kafka_oauth.h - SASL/OAUTHBEARER for the coordinator's own Kafka clients:
 * librdkafka's token refresh callback, answered with tokens the coordinator
 * mints itself with its signing key (no HTTP round trip to itself).
 */
#ifndef JC_KAFKA_OAUTH_H
#define JC_KAFKA_OAUTH_H

#include <stddef.h>
#include <stdint.h>

#include <librdkafka/rdkafka.h>

/* jc_kafka_oauth_mint_fn mints an access token for the coordinator's Kafka
 * identity: the token into token (size bytes, NUL-terminated), its expiry
 * in ms since the epoch into *exp_ms, the principal name the broker should
 * see into principal (psize bytes). Returns 0, or non-zero with a reason
 * in err. Called on whichever thread polls the handle (see below); it must
 * be thread-safe and quick (it runs inside the poll). */
typedef int (*jc_kafka_oauth_mint_fn)(void *opaque, char *token, size_t size, int64_t *exp_ms,
                                      char *principal, size_t psize, char *err, size_t errsz);

/* jc_kafka_client is the first member of the struct a Kafka handle's conf
 * opaque points to (the ingest, the relay, the dead-letter producer): the
 * refresh callback finds the mint function there. */
typedef struct jc_kafka_client {
    jc_kafka_oauth_mint_fn mint; /* NULL: no tokens (the refresh fails) */
    void *mint_opaque;
} jc_kafka_client;

/* jc_kafka_oauth_setup registers the token refresh callback on conf when
 * conf asks for SASL/OAUTHBEARER (sasl.mechanism OAUTHBEARER, without
 * sasl.oauthbearer.method=oidc or enable.sasl.oauthbearer.unsecure.jwt=true):
 * call it after the sasl.* properties are set. Returns 1 when registered, 0
 * when conf does not ask for it (nothing changed). The conf's opaque
 * (rd_kafka_conf_set_opaque, set by the caller before rd_kafka_new) must
 * point to a struct whose first member is a jc_kafka_client, and outlive
 * every handle made from conf.
 *
 * The callback runs where the handle's main queue is served: in
 * rd_kafka_poll() and rd_kafka_flush(), or in rd_kafka_consumer_poll()
 * once rd_kafka_poll_set_consumer() was called. librdkafka asks at
 * rd_kafka_new (and connects only once it has a token) and at 80% of each
 * token's lifetime, so a handle must be polled for it to connect and to
 * keep a fresh token: the ingest consumer, the relay's producer and the
 * dead-letter producer (polled when it produces and flushes) all are. */
int jc_kafka_oauth_setup(rd_kafka_conf_t *conf);

/* jc_kafka_oauth_refresh is the body of the refresh callback: c->mint, then
 * rd_kafka_oauthbearer_set_token (or _set_token_failure). Returns 0 when
 * librdkafka accepted the token, -1 otherwise. For tests; librdkafka calls
 * it through the callback. */
int jc_kafka_oauth_refresh(rd_kafka_t *rk, const jc_kafka_client *c);

#endif
