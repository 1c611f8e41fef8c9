/*
 * checks.c - the checks every consumed message passes before anything of it
 * is applied (PROTOCOL.md section 5.2 gives the order), and the table of
 * the topics the ingest loop consumes with the types and roles each allows.
 * Checks that need the database (replays of heartbeats and job events,
 * fencing of attempts) run later, inside the transaction (apply_*.c).
 */
#include "ingest/checks.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "principals/scopes.h"
#include "jcproto/topics.h"

#define T(x) (1u << JC_MSG_##x)
#define R(x) (1u << JC_ROLE_##x)

/* The topics this loop consumes, the message types each carries, and the
 * roles that may send them (PROTOCOL.md, sections 2 and 10). */
static const struct {
    const char *name;
    unsigned types;
    unsigned roles;
} topic_table[JC_INGEST_TOPICS] = {
    {JC_TOPIC_HEARTBEATS, T(HEARTBEAT), R(WORKER)},
    {JC_TOPIC_JOB_REQUESTS, T(JOB_SUBMIT) | T(JOB_CANCEL), R(CLIENT) | R(ADMIN)},
    {JC_TOPIC_JOB_EVENTS, T(JOB_EVENT), R(WORKER)},
    {JC_TOPIC_COMMAND_ACKS, T(COMMAND_ACK), R(WORKER)},
    {JC_TOPIC_WORKER_EVENTS, T(WORKER_EVENT), R(WORKER)},
};

const char *jc_ingest_topic(int i)
{
    return i >= 0 && i < JC_INGEST_TOPICS ? topic_table[i].name : NULL;
}

void jc_inmsg_reject(jc_inmsg *m, const char *reason, const char *fmt, ...)
{
    va_list ap;
    m->reason = reason;
    va_start(ap, fmt);
    vsnprintf(m->detail, sizeof m->detail, fmt, ap);
    va_end(ap);
    for (char *p = m->detail; *p; p++)
        if ((unsigned char)*p < 0x20 || (unsigned char)*p > 0x7e)
            *p = '?';
}


// reason_of maps a codec error to its dead-letter reason (proto.h).
static const char *reason_of(jc_err_t e)
{
    const char *r = jc_err_reason(e);
    return r ? r : JC_R_MALFORMED;
}

// check_envelope runs the checks that need no key: topic, size, envelope.
void jc_check_envelope(const jc_config *cfg, jc_keycache *kc, jc_inmsg *m, int64_t now)
{
    rd_kafka_timestamp_type_t tstype;
    char err[200];
    jc_err_t e;

    /* A CreateTime is whatever the producer wrote: a holder of a rotated-out
     * key could back-date it, and a future one would push a worker's "last
     * heartbeat" out of reach. Only the broker's own stamp is trusted. */
    m->record_ts_ms = rd_kafka_message_timestamp(m->rkm, &tstype);
    m->ts_trusted = tstype == RD_KAFKA_TIMESTAMP_LOG_APPEND_TIME && m->record_ts_ms >= 0;
    m->at_ms = m->ts_trusted ? m->record_ts_ms : now;
    if (m->topic < 0) {
        jc_inmsg_reject(m, JC_R_WRONG_TOPIC, "not a topic this loop consumes");
        return;
    }
    if (m->rkm->len > (size_t)cfg->max_message_bytes) {
        jc_inmsg_reject(m, JC_R_TOO_LARGE, "%zu bytes, limit %d", m->rkm->len,
                        cfg->max_message_bytes);
        return;
    }
    e = jc_envelope_parse(m->rkm->payload, m->rkm->len, (size_t)cfg->max_message_bytes,
                          &m->env, err, sizeof err);
    if (e != JC_OK) {
        jc_inmsg_reject(m, reason_of(e), "envelope: %s", err);
        return;
    }
    jc_keycache_want(kc, m->env.principal, m->env.key_id, now);
}

// check_time bounds the signed timestamp. Every message: not further ahead
// of the time it is judged by (at_ms: the broker's stamp or the receive
// time, never a producer's CreateTime) than the configured bound, so a
// far-future timestamp can never become the "last applied" that real
// messages are then refused against. Heartbeats also: not older than
// heartbeat_max_age_s before the record; here an untrusted CreateTime may
// serve, but never one after the receive time (a heartbeat delayed by
// legitimate Kafka lag is still fresh relative to when it was produced).
static void check_time(const jc_config *cfg, jc_inmsg *m)
{
    int64_t ts = (int64_t)m->msg.ts_ms, ahead;
    int hb = m->msg.type == JC_MSG_HEARTBEAT;
    int64_t max_future = (int64_t)(hb ? cfg->heartbeat_max_future_s : cfg->max_future_s) * 1000;
    int64_t produced = m->at_ms;

    if (ts > m->at_ms + max_future) {
        ahead = ts - m->at_ms;
        jc_inmsg_reject(m, JC_R_FUTURE, "%s signed at %" PRId64 ", %" PRId64 " ms after %s",
                        jc_msg_type_name(m->msg.type), ts, ahead,
                        m->ts_trusted ? "its broker timestamp" : "it was received");
        return;
    }
    if (!hb)
        return;
    if (!m->ts_trusted && m->record_ts_ms >= 0 && m->record_ts_ms < m->at_ms)
        produced = m->record_ts_ms;
    if (ts < produced - (int64_t)cfg->heartbeat_max_age_s * 1000)
        jc_inmsg_reject(m, JC_R_STALE,
                        "heartbeat signed at %" PRId64 ", %" PRId64 " ms before its record", ts,
                        produced - ts);
}

// check_signed runs the checks that need the signer's key, then decodes.
void jc_check_signed(const jc_config *cfg, jc_keycache *kc, jc_inmsg *m, const char *topic)
{
    const jc_key_entry *k = jc_keycache_get(kc, m->env.principal, m->env.key_id);
    const char *reason = NULL;
    char err[200];
    jc_err_t e;

    if (!k || k->status == JC_KEY_UNKNOWN_PRINCIPAL) {
        jc_inmsg_reject(m, JC_R_UNKNOWN_PRINCIPAL, "principal '%.*s' does not exist",
                        (int)m->env.principal.n, (const char *)m->env.principal.p);
        return;
    }
    if (k->status != JC_KEY_FOUND) {
        jc_inmsg_reject(m, JC_R_UNKNOWN_KEY, "principal '%s' has no usable key '%s'",
                        k->principal, k->key_id);
        return;
    }
    if (k->disabled)
        jc_inmsg_reject(m, JC_R_DISABLED, "principal '%s' is disabled", k->principal);
    else if (k->valid_until_ms <= m->at_ms && k->by_age)
        jc_inmsg_reject(m, JC_R_KEY_EXPIRED,
                        "key '%s' of '%s' is older than auth.max_key_age_s; valid until %" PRId64
                        " ms, %s %" PRId64,
                        k->key_id, k->principal, k->valid_until_ms,
                        m->ts_trusted ? "broker time" : "received at", m->at_ms);
    else if (k->valid_until_ms <= m->at_ms)
        jc_inmsg_reject(m, JC_R_KEY_EXPIRED,
                        "key '%s' of '%s' was rotated out; valid until %" PRId64 " ms, %s %" PRId64,
                        k->key_id, k->principal, k->valid_until_ms,
                        m->ts_trusted ? "broker time" : "received at", m->at_ms);
    /* A disabled principal or a rotated-out key is refused whatever the
     * MAC says, but only a message whose MAC verifies is decoded: its
     * signer is authenticated and a request of it is answered (answers.c). */
    if (jc_envelope_verify(&m->env, k->key) != JC_OK) {
        if (!m->reason)
            jc_inmsg_reject(m, JC_R_BAD_SIGNATURE, "MAC does not verify with key '%s' of '%s'",
                            k->key_id, k->principal);
        return;
    }
    e = jc_msg_decode_reason(&m->env, &m->msg, &reason, err, sizeof err);
    if (e != JC_OK) {
        if (!m->reason)
            jc_inmsg_reject(m, reason ? reason : reason_of(e), "payload: %s", err);
        return;
    }
    m->decoded = 1;
    m->signer = k;
    m->authenticated = 1;
    if (m->reason)
        return;
    if (!(topic_table[m->topic].types & (1u << m->msg.type))) {
        jc_inmsg_reject(m, JC_R_WRONG_TOPIC, "a %s message on topic %s",
                        jc_msg_type_name(m->msg.type), topic);
        return;
    }
    if (!(topic_table[m->topic].roles & (1u << k->role))) {
        jc_inmsg_reject(m, JC_R_WRONG_ROLE, "%s messages may not come from '%s' (role %s)",
                        jc_msg_type_name(m->msg.type), k->principal, jc_role_name(k->role));
        return;
    }
    {
        int s = jc_scope_of_type(m->msg.type);
        if (s < 0 || !(k->scopes & (1u << s))) {
            jc_inmsg_reject(m, JC_R_FORBIDDEN_SCOPE, "%s messages need scope %s, which '%s' lacks",
                            jc_msg_type_name(m->msg.type), s < 0 ? "?" : jc_scope_get(s)->name,
                            k->principal);
            return;
        }
    }
    check_time(cfg, m);
}
