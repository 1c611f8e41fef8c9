/*
 * outbox.h - the relay: produces the outbox rows (table commands) that
 * committed transactions inserted, and re-sends unacknowledged commands.
 * Its own thread, PostgreSQL connection (LISTEN jobcoord_outbox) and
 * idempotent producer.
 */
#ifndef JC_OUTBOX_H
#define JC_OUTBOX_H

#include "core/config.h"
#include "secrets/keyring.h"
#include "core/runtime.h"

typedef struct jc_outbox jc_outbox;

jc_outbox *jc_outbox_start(const jc_config *cfg, const char *brokers, const jc_keyring *kr,
                           jc_runtime *rt, char *errstr, size_t errstr_size);
/* jc_outbox_stop waits for the thread (it watches *rt->stop) and frees. */
void jc_outbox_stop(jc_outbox *o);

#endif
