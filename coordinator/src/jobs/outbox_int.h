/*
 * outbox_int.h - what the outbox relay's two files share (outbox.c, the
 * rounds; outbox_keys.c, the keys it signs with). Private to them.
 */
#ifndef JC_JOBS_OUTBOX_INT_H
#define JC_JOBS_OUTBOX_INT_H

#include <pthread.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <librdkafka/rdkafka.h>

#include "core/log.h"
#include "kafka/kafka_oauth.h"
#include "jcproto/proto.h"
#include "jobs/outbox.h"

#define KEYS_MAX 4096
#define KEY_TTL_MS 2000

typedef struct recipient_key {
    char principal[JC_MAX_PRINCIPAL_LEN + 1];
    char key_id[JC_MAX_KEY_ID_LEN + 1];
    uint8_t key[JC_KEY_LEN];
    int usable;
    int64_t fetched_at;
    /* principals.reply_key_id when fetched: a row naming another one means
     * the recipient switched keys since, and the entry is fetched again */
    char reply_key_id[JC_MAX_KEY_ID_LEN + 1];
} recipient_key;

struct jc_outbox {
    jc_kafka_client kafka; /* first: the conf opaque's (kafka_oauth.h) */
    const jc_config *cfg;
    const jc_keyring *kr;
    jc_runtime *rt;
    pthread_t thread;
    PGconn *db;
    rd_kafka_t *rk;
    char topic_commands[256], topic_updates[256];
    char err[512];
    recipient_key *keys;
    size_t n_keys;
    rd_kafka_topic_t *topics[2]; /* commands, job updates (warm_topics) */
    char *delivered; /* per row of the round: delivery confirmed */
    uint32_t round;  /* tags each message, so a late report of an earlier
                      * round never marks a row of this one */
    jc_log_limit failed_log; /* one line per failed row, rate-limited */
};

/* columns of the due-rows query */
// clang-format off
enum { C_ID, C_KIND, C_RECIPIENT, C_JOB, C_ATTEMPT, C_STATE, C_REASON, C_CFGV, C_TRIES, C_TYPE,
       C_PAYLOAD, C_TIMEOUT, C_RESULT, C_ERROR, C_IKEY, C_ANSWER_KEY, C_ANSWERS_MSG,
       C_ANSWERS_TYPE, C_DETAIL, C_ASSIGN, C_PROTO, C_LAST_ERROR, C_CANCEL_REASON, C_REPLY_KEY };
// clang-format on

recipient_key *jc_outbox_key_find(jc_outbox *o, const char *principal);
/* jc_outbox_answer_keys_fetch loads, for the round's rows that answer a request, the
 * key that request was signed with, valid or not (answers.c): one array
 * entry per row (NULL-free; usable == 0 for rows that are no answers or
 * whose key is gone). Caller frees *out. */
int jc_outbox_answer_keys_fetch(jc_outbox *o, PGresult *rows, recipient_key **out);
/* jc_outbox_keys_fetch loads the signing key of every recipient of r not cached: the
 * key the recipient last proved it holds (principals.reply_key_id, recorded
 * by ingest: reply_key.c) while it is valid, else its current key. A key
 * rotated with a grace period thus keeps reaching a worker or client that
 * still holds only the old key, and the switch follows the recipient's own
 * first message under the new key: a cached entry is fetched again after
 * KEY_TTL_MS, and at once when a row's recorded reply key (C_REPLY_KEY) is
 * not the one it was fetched under. */
int jc_outbox_keys_fetch(jc_outbox *o, PGresult *rows, int64_t now);

#endif
