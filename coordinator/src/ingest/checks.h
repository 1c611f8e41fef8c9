/*
 * checks.h - the checks of a consumed message that need no database, and
 * the topics the ingest loop consumes (see checks.c).
 */
#ifndef JC_CHECKS_H
#define JC_CHECKS_H

#include <stdint.h>

#include "ingest/batch.h"
#include "core/config.h"
#include "principals/hmac_keycache.h"

#define JC_INGEST_TOPICS 5

/* jc_ingest_topic returns the suffix of consumed topic i (0..4). */
const char *jc_ingest_topic(int i);

/* jc_check_envelope checks topic (m->topic, -1 if not consumed), size and
 * envelope, and notes the signer's key as wanted in kc. */
void jc_check_envelope(const jc_config *cfg, jc_keycache *kc, jc_inmsg *m, int64_t now);

/* jc_check_signed checks the signer (after jc_keycache_fetch), the MAC,
 * decodes, and checks type, role and heartbeat timestamps. topic is the
 * full name of m's topic, for messages. */
void jc_check_signed(const jc_config *cfg, jc_keycache *kc, jc_inmsg *m, const char *topic);

#endif
