/*
 * outbox.c - the relay from the outbox table to Kafka.
 *
 * Commands and job updates are decided inside ingest (or janitor, or admin)
 * transactions, which insert rows into `commands` and NOTIFY
 * jobcoord_outbox. Nothing is produced before that commit, so nothing is
 * ever sent for a decision that was rolled back. The relay then, in rounds:
 *   1. locks due rows (FOR UPDATE SKIP LOCKED: several coordinators share
 *      the work, none sends a row another is sending),
 *   2. builds each message from the row and its job (payload, result) and
 *      signs it with the RECIPIENT's current key, so a worker or client can
 *      tell it from a forgery,
 *   3. produces them with the idempotent producer, keyed by recipient and
 *      partitioned by murmur2 (PROTOCOL.md: a worker reads one partition),
 *   4. waits for the delivery reports and marks exactly the delivered rows
 *      sent (job updates: done), with the next re-send time for commands
 *      (doubling from outbox.resend_ms, at most 60 s),
 *   5. commits.
 * A command re-sent keeps its command id, so workers drop the duplicate; a
 * command not acknowledged after outbox.max_tries sends is marked failed.
 * A crash between delivery and commit re-sends the rows: at least once.
 */
#include "outbox.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <sodium.h>

#include "buf.h"
#include "db.h"
#include "kconf.h"
#include "log.h"
#include "proto.h"
#include "topics.h"

#define KEYS_MAX 4096
#define KEY_TTL_MS 2000

typedef struct recipient_key {
    char principal[JC_MAX_PRINCIPAL_LEN + 1];
    char key_id[JC_MAX_KEY_ID_LEN + 1];
    uint8_t key[JC_KEY_LEN];
    int usable;
    int64_t fetched_at;
} recipient_key;

struct jc_outbox {
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

/* A message's opaque: its round in the high half, its row in the low. */
static void *tag(uint32_t round, int row)
{
    return (void *)(intptr_t)(((uint64_t)round << 32) | (uint32_t)row);
}

static void on_delivery(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    jc_outbox *o = opaque;
    uint64_t t = (uint64_t)(intptr_t)m->_private;
    (void)rk;
    if (!m->err && o->delivered && (uint32_t)(t >> 32) == o->round)
        o->delivered[(uint32_t)t] = 1;
    else if (m->err)
        LOG_WARN("outbox", "delivery failed: %s (will retry)", rd_kafka_err2str(m->err));
}

/* ---- recipients' keys ---- */

static recipient_key *key_find(jc_outbox *o, const char *principal)
{
    for (size_t i = 0; i < o->n_keys; i++)
        if (strcmp(o->keys[i].principal, principal) == 0)
            return &o->keys[i];
    return NULL;
}

// keys_fetch loads the current key of every recipient of r not cached.
static int keys_fetch(jc_outbox *o, PGresult *rows, int64_t now)
{
    static const char sql[] =
        "SELECT principal_id, key_id, secret, enc_key_id FROM principal_keys"
        " WHERE principal_id = ANY($1::text[]) AND valid_until IS NULL";
    jc_buf want;
    PGresult *r;
    const char *params[1];
    int n = 0, rc = -1;

    if (o->n_keys + (size_t)PQntuples(rows) > KEYS_MAX)
        o->n_keys = 0;
    jc_buf_init(&want, 16u << 20);
    jc_buf_addstr(&want, "{");
    for (int i = 0; i < PQntuples(rows); i++) {
        const char *p = PQgetvalue(rows, i, 2);
        recipient_key *k = key_find(o, p);
        if (k && now - k->fetched_at < KEY_TTL_MS)
            continue;
        if (!k) {
            k = &o->keys[o->n_keys++];
            memset(k, 0, sizeof *k);
            snprintf(k->principal, sizeof k->principal, "%s", p);
        }
        k->usable = 0;
        k->fetched_at = now;
        jc_buf_add_array_elem(&want, p, strlen(p));
        n++;
    }
    jc_buf_addstr(&want, "}");
    if (n == 0) {
        jc_buf_free(&want);
        return 0;
    }
    params[0] = jc_buf_str(&want);
    r = PQexecParams(o->db, sql, 1, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(o->db, r, o->err, sizeof o->err))
        goto out;
    for (int i = 0; i < PQntuples(r); i++) {
        recipient_key *k = key_find(o, PQgetvalue(r, i, 0));
        size_t len = 0;
        unsigned char *secret;
        if (!k)
            continue;
        snprintf(k->key_id, sizeof k->key_id, "%s", PQgetvalue(r, i, 1));
        secret = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, 2), &len);
        if (!secret)
            continue;
        if (PQgetisnull(r, i, 3)) {
            if (len == JC_KEY_LEN) {
                memcpy(k->key, secret, JC_KEY_LEN);
                k->usable = 1;
            }
        } else {
            uint8_t ad[256], plain[JC_KEY_LEN + 64];
            size_t ad_len = jc_keyring_principal_ad(k->principal, k->key_id, ad, sizeof ad);
            size_t plain_len = 0;
            if (len <= sizeof plain + JC_KEYRING_OVERHEAD && ad_len &&
                jc_keyring_open(o->kr, PQgetvalue(r, i, 3), ad, ad_len, secret, len, plain,
                                &plain_len) == 0 &&
                plain_len == JC_KEY_LEN) {
                memcpy(k->key, plain, JC_KEY_LEN);
                k->usable = 1;
            }
            sodium_memzero(plain, sizeof plain);
        }
        sodium_memzero(secret, len);
        PQfreemem(secret);
    }
    rc = 0;
out:
    PQclear(r);
    jc_buf_free(&want);
    return rc;
}

/* ---- one round ---- */

/* columns of the due-rows query */
enum { C_ID, C_KIND, C_RECIPIENT, C_JOB, C_ATTEMPT, C_STATE, C_REASON, C_CFGV, C_TRIES, C_TYPE,
       C_PAYLOAD, C_TIMEOUT, C_RESULT, C_ERROR, C_IKEY };

static const char due_sql[] =
    "SELECT c.id, c.kind, c.recipient, c.job_id, coalesce(c.attempt, 0), coalesce(c.state, ''),"
    "       coalesce(c.reason, ''), coalesce(c.config_version, 0), c.tries, j.type, j.payload,"
    "       j.timeout_ms, j.result,"
    "       CASE WHEN j.state IN ('canceling', 'canceled')"
    "            THEN coalesce(j.cancel_reason, j.error) ELSE j.error END, j.ikey"
    "  FROM commands c LEFT JOIN jobs j ON j.id = c.job_id"
    " WHERE c.status IN ('pending', 'sent') AND c.next_send_at <= now()"
    " ORDER BY c.seq LIMIT $1::int FOR UPDATE OF c SKIP LOCKED";

static jc_command_kind kind_of(const char *k)
{
    return (jc_command_kind)jc_command_kind_parse((const uint8_t *)k, strlen(k));
}

// settings_of loads the settings of a config command as kv pairs.
static int settings_of(jc_outbox *o, const char *cmd_id, jc_kv **kv, uint32_t *n, PGresult **keep)
{
    static const char sql[] =
        "SELECT s FROM commands c, unnest(c.settings) WITH ORDINALITY AS u(s, i)"
        " WHERE c.id = $1::uuid ORDER BY i";
    const char *params[1] = {cmd_id};
    PGresult *r = PQexecParams(o->db, sql, 1, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(o->db, r, o->err, sizeof o->err)) {
        PQclear(r);
        return -1;
    }
    *n = (uint32_t)(PQntuples(r) / 2);
    *kv = calloc(*n + 1, sizeof **kv);
    for (uint32_t i = 0; *kv && i < *n; i++) {
        (*kv)[i].key = jc_slice_str(PQgetvalue(r, (int)(2 * i), 0));
        (*kv)[i].value = jc_slice_str(PQgetvalue(r, (int)(2 * i + 1), 0));
    }
    *keep = r;
    return 0;
}

// build fills m from row i of r. Bytes it points to are in r or in
// *payload / *result (PQunescapeBytea; caller frees).
static int build(jc_outbox *o, PGresult *r, int i, jc_msg *m, unsigned char **payload,
                 unsigned char **result, jc_kv **kv, PGresult **settings)
{
    const char *kind = PQgetvalue(r, i, C_KIND);
    size_t len = 0;

    memset(m, 0, sizeof *m);
    jc_id_random(m->id);
    m->ts_ms = jc_now_ms();
    m->principal = jc_slice_str(PQgetvalue(r, i, C_RECIPIENT));
    if (strcmp(kind, "job.update") == 0) {
        jc_job_update *u = &m->u.update;
        m->type = JC_MSG_JOB_UPDATE;
        if (jc_id_parse(PQgetvalue(r, i, C_JOB), u->job) != 0)
            return -1;
        u->state = jc_slice_str(PQgetvalue(r, i, C_STATE));
        u->attempt = (uint32_t)atoi(PQgetvalue(r, i, C_ATTEMPT));
        if (!PQgetisnull(r, i, C_RESULT) && strcmp(PQgetvalue(r, i, C_STATE), "succeeded") == 0) {
            *result = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, C_RESULT), &len);
            if (*result && len)
                u->result = (jc_slice){*result, (uint32_t)len};
        }
        if (!PQgetisnull(r, i, C_ERROR) && PQgetlength(r, i, C_ERROR) > 0 &&
            strcmp(PQgetvalue(r, i, C_STATE), "succeeded") != 0)
            u->error = jc_slice_str(PQgetvalue(r, i, C_ERROR));
        if (!PQgetisnull(r, i, C_IKEY))
            u->ikey = jc_slice_str(PQgetvalue(r, i, C_IKEY));
        return 0;
    }
    m->type = JC_MSG_COMMAND;
    if (jc_id_parse(PQgetvalue(r, i, C_ID), m->u.cmd.command) != 0)
        return -1;
    m->u.cmd.kind = kind_of(kind);
    m->u.cmd.worker = m->principal;
    switch (m->u.cmd.kind) {
    case JC_CMD_ASSIGN:
        if (PQgetisnull(r, i, C_TYPE))
            return -1; /* the job is gone (pruned) */
        *payload = PQunescapeBytea((const unsigned char *)PQgetvalue(r, i, C_PAYLOAD), &len);
        if (!*payload)
            return -1;
        m->u.cmd.payload = (jc_slice){*payload, (uint32_t)len};
        m->u.cmd.type = jc_slice_str(PQgetvalue(r, i, C_TYPE));
        m->u.cmd.timeout_ms = (uint32_t)atoi(PQgetvalue(r, i, C_TIMEOUT));
        __attribute__((fallthrough)); /* job and attempt, as for cancel */
    case JC_CMD_CANCEL:
        if (jc_id_parse(PQgetvalue(r, i, C_JOB), m->u.cmd.job) != 0)
            return -1;
        m->u.cmd.attempt = (uint32_t)atoi(PQgetvalue(r, i, C_ATTEMPT));
        if (m->u.cmd.kind == JC_CMD_CANCEL && PQgetlength(r, i, C_REASON) > 0)
            m->u.cmd.reason = jc_slice_str(PQgetvalue(r, i, C_REASON));
        return 0;
    case JC_CMD_CONFIG:
        m->u.cmd.config_version = strtoull(PQgetvalue(r, i, C_CFGV), NULL, 10);
        return settings_of(o, PQgetvalue(r, i, C_ID), kv, &m->u.cmd.n_settings, settings) == 0 &&
                       *kv
                   ? (m->u.cmd.settings = *kv, 0)
                   : -1;
    case JC_CMD_DRAIN:
    case JC_CMD_UNDRAIN: return 0;
    default: return -1;
    }
}

// mark writes the outcome of a round: delivered rows sent (or done), rows
// out of tries or unbuildable failed.
static int mark(jc_outbox *o, jc_buf *sent, jc_buf *failed, jc_buf *failed_why)
{
    static const char sent_sql[] =
        "UPDATE commands SET status = CASE WHEN kind = 'job.update' THEN 'done' ELSE 'sent' END,"
        "  tries = tries + 1, sent_at = now(),"
        "  next_send_at = now() + least($2::bigint * power(2, tries), 60000) * interval '1 ms'"
        " WHERE id = ANY($1::uuid[])";
    static const char failed_sql[] =
        "UPDATE commands c SET status = 'failed', error = u.why"
        "  FROM unnest($1::uuid[], $2::text[]) AS u(id, why) WHERE c.id = u.id";
    const char *params[2];
    char resend[24];
    PGresult *r;
    int ok = 1;

    jc_buf_addstr(sent, "}");
    jc_buf_addstr(failed, "}");
    jc_buf_addstr(failed_why, "}");
    snprintf(resend, sizeof resend, "%d", o->cfg->outbox_resend_ms);
    if (sent->len > 2) {
        params[0] = jc_buf_str(sent);
        params[1] = resend;
        r = PQexecParams(o->db, sent_sql, 2, NULL, params, NULL, NULL, 0);
        ok = jc_db_ok(o->db, r, o->err, sizeof o->err);
        PQclear(r);
    }
    if (ok && failed->len > 2) {
        params[0] = jc_buf_str(failed);
        params[1] = jc_buf_str(failed_why);
        r = PQexecParams(o->db, failed_sql, 2, NULL, params, NULL, NULL, 0);
        ok = jc_db_ok(o->db, r, o->err, sizeof o->err);
        PQclear(r);
    }
    return ok ? 0 : -1;
}

// round sends one batch of due rows. Returns the number of rows it took,
// or -1 on database trouble.
static int round_once(jc_outbox *o)
{
    char limit[16];
    const char *params[1];
    PGresult *r = NULL;
    jc_buf sent, failed, why;
    int n = 0, rc = -1, produced = 0;
    int64_t now = (int64_t)jc_now_ms();

    jc_buf_init(&sent, 64u << 20);
    jc_buf_init(&failed, 64u << 20);
    jc_buf_init(&why, 64u << 20);
    jc_buf_addstr(&sent, "{");
    jc_buf_addstr(&failed, "{");
    jc_buf_addstr(&why, "{");
    if (jc_db_exec(o->db, "BEGIN", o->err, sizeof o->err) != 0)
        goto out;
    snprintf(limit, sizeof limit, "%d", o->cfg->outbox_batch);
    params[0] = limit;
    r = PQexecParams(o->db, due_sql, 1, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(o->db, r, o->err, sizeof o->err))
        goto rollback;
    n = PQntuples(r);
    if (n == 0) {
        rc = 0;
        goto rollback;
    }
    if (keys_fetch(o, r, now) != 0)
        goto rollback;
    o->delivered = calloc((size_t)n, 1);
    if (!o->delivered)
        goto rollback;
    o->round++;
    for (int i = 0; i < n; i++) {
        const char *kind = PQgetvalue(r, i, C_KIND), *to = PQgetvalue(r, i, C_RECIPIENT);
        recipient_key *k = key_find(o, to);
        unsigned char *payload = NULL, *result = NULL;
        jc_kv *kv = NULL;
        PGresult *settings = NULL;
        msgpack_sbuffer sb;
        jc_msg m;
        char err[256];
        const char *topic = strcmp(kind, "job.update") == 0 ? o->topic_updates : o->topic_commands;
        const char *problem = NULL;

        msgpack_sbuffer_init(&sb);
        if (strcmp(kind, "job.update") != 0 && atoi(PQgetvalue(r, i, C_TRIES)) >= o->cfg->outbox_max_tries)
            problem = "not acknowledged after outbox.max_tries sends";
        else if (!k || !k->usable)
            problem = "the recipient has no usable current key";
        else if (build(o, r, i, &m, &payload, &result, &kv, &settings) != 0)
            problem = "cannot build the message (job gone?)";
        else {
            jc_slice key_id = jc_slice_str(k->key_id);
            if (jc_msg_seal(&m, &key_id, k->key, &sb, err, sizeof err) != JC_OK) {
                LOG_ERROR("outbox", "command %s: %s", PQgetvalue(r, i, C_ID), err);
                problem = "cannot encode the message";
            }
        }
        if (problem) {
            jc_buf_add_array_elem(&failed, PQgetvalue(r, i, C_ID), 36);
            jc_buf_add_array_elem(&why, problem, strlen(problem));
            if (jc_log_allow(&o->failed_log, 10, "outbox", "failed commands"))
                LOG_WARN("outbox", "%s %s to %s failed: %s", kind, PQgetvalue(r, i, C_ID), to,
                         problem);
        } else {
            rd_kafka_resp_err_t e = rd_kafka_producev(
                o->rk, RD_KAFKA_V_TOPIC(topic), RD_KAFKA_V_KEY(to, strlen(to)),
                RD_KAFKA_V_VALUE(sb.data, sb.size), RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
                RD_KAFKA_V_OPAQUE(tag(o->round, i)), RD_KAFKA_V_END);
            if (e)
                LOG_WARN("outbox", "cannot produce to %s: %s", topic, rd_kafka_err2str(e));
            else
                produced++;
        }
        msgpack_sbuffer_destroy(&sb);
        if (payload)
            PQfreemem(payload);
        if (result)
            PQfreemem(result);
        free(kv);
        PQclear(settings);
    }
    if (produced)
        rd_kafka_flush(o->rk, 10000);
    for (int i = 0; i < n; i++)
        if (o->delivered[i])
            jc_buf_add_array_elem(&sent, PQgetvalue(r, i, C_ID), 36);
    if (mark(o, &sent, &failed, &why) != 0 ||
        jc_db_exec(o->db, "COMMIT", o->err, sizeof o->err) != 0)
        goto rollback;
    rc = n;
    LOG_DEBUG("outbox", "round: %d rows, %d produced in %lld ms", n, produced,
              (long long)((int64_t)jc_now_ms() - now));
    goto out;
rollback:
    if (PQstatus(o->db) == CONNECTION_OK) {
        char ignored[64];
        jc_db_exec(o->db, "ROLLBACK", ignored, sizeof ignored);
    }
out:
    free(o->delivered);
    o->delivered = NULL;
    PQclear(r);
    jc_buf_free(&sent);
    jc_buf_free(&failed);
    jc_buf_free(&why);
    return rc;
}

// wait_notify sleeps until a NOTIFY arrives or timeout_ms passes.
static void wait_notify(jc_outbox *o, int timeout_ms)
{
    struct pollfd p = {PQsocket(o->db), POLLIN, 0};
    PGnotify *n;
    if (p.fd >= 0 && poll(&p, 1, timeout_ms) > 0)
        PQconsumeInput(o->db);
    while ((n = PQnotifies(o->db)) != NULL)
        PQfreemem(n);
}

// warm_topics asks for the metadata of the relay's two topics before the
// first round and keeps their handles for the relay's life. Without it the
// first message to each topic waited for librdkafka to learn the topic:
// the first round of assigns and the first of job updates after a start
// each took 0.85-0.95 s to flush (bench/run), and the rows they locked held
// up the ingest transactions acknowledging them. Failure only costs that
// delay again, so it is logged and the relay goes on.
static void warm_topics(jc_outbox *o)
{
    const char *names[2] = {o->topic_commands, o->topic_updates};
    for (int i = 0; i < 2; i++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e;
        o->topics[i] = rd_kafka_topic_new(o->rk, names[i], NULL);
        if (!o->topics[i])
            continue;
        e = rd_kafka_metadata(o->rk, 0, o->topics[i], &md, 5000);
        if (e)
            LOG_WARN("outbox", "metadata of %s: %s", names[i], rd_kafka_err2str(e));
        else
            rd_kafka_metadata_destroy(md);
    }
}

static void *run(void *arg)
{
    jc_outbox *o = arg;
    warm_topics(o);
    while (!*o->rt->stop) {
        int n;
        if (!o->db || PQstatus(o->db) != CONNECTION_OK) {
            if (o->db)
                PQfinish(o->db);
            o->db = jc_db_connect(o->cfg->db_conninfo, o->err, sizeof o->err);
            /* The relay's own writes (a row is "sent") need no fsync: if a
             * crash loses one, the row is sent again and the recipient drops
             * the duplicate by its id. What must be durable, the decision
             * and the row itself, was committed by the deciding transaction.
             * Bitmap scans off: the due query's bitmap scan of commands_due
             * visited every dead entry the index had gathered since the last
             * vacuum (each command leaves one or two: pending -> sent ->
             * acked), 3,000-10,000 entries and 200-280 heap pages a round
             * after a few seconds at 2,000 jobs/s, 1-3 ms. A plain index scan
             * marks the dead entries it meets (kill_prior_tuple), so the next
             * round skips them: 6 pages, 0.1 ms. The relay's other queries
             * look rows up by key and need no bitmap scans. */
            if (!o->db || jc_db_exec(o->db, "LISTEN jobcoord_outbox", o->err, sizeof o->err) ||
                jc_db_exec(o->db, "SET synchronous_commit TO off", o->err, sizeof o->err) ||
                jc_db_exec(o->db, "SET enable_bitmapscan TO off", o->err, sizeof o->err)) {
                LOG_ERROR("outbox", "%s", o->err);
                if (o->db)
                    PQfinish(o->db);
                o->db = NULL;
                usleep(500000);
                continue;
            }
        }
        n = round_once(o);
        if (n < 0) {
            LOG_ERROR("outbox", "%s", o->err);
            usleep(200000);
        } else if (n < o->cfg->outbox_batch) {
            rd_kafka_poll(o->rk, 0);
            wait_notify(o, 100);
        }
    }
    return NULL;
}

jc_outbox *jc_outbox_start(const jc_config *cfg, const char *brokers, const jc_keyring *kr,
                           jc_runtime *rt, char *errstr, size_t errstr_size)
{
    jc_outbox *o = calloc(1, sizeof *o);
    rd_kafka_conf_t *conf = NULL;
    char kerr[256];

    if (!o || !(o->keys = calloc(KEYS_MAX, sizeof *o->keys))) {
        snprintf(errstr, errstr_size, "out of memory");
        free(o);
        return NULL;
    }
    o->cfg = cfg;
    o->kr = kr;
    o->rt = rt;
    jc_config_topic(cfg, JC_TOPIC_COMMANDS, o->topic_commands, sizeof o->topic_commands);
    jc_config_topic(cfg, JC_TOPIC_JOB_UPDATES, o->topic_updates, sizeof o->topic_updates);
    conf = jc_kafka_conf(cfg, brokers, errstr, errstr_size);
    if (!conf)
        goto fail;
    if (jc_kafka_set(conf, "enable.idempotence", "true", errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "partitioner", "murmur2_random", errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "linger.ms", "1", errstr, errstr_size) != 0 ||
        /* One produce request in flight per broker connection. With the
         * default (5) every round's flush took 40-45 ms whatever its size
         * against librdkafka's mock cluster (bench/run): a pipelined response
         * waiting for the TCP ACK of the one before it (Nagle on the broker's
         * side against the client's delayed ACK; socket.nagle.disable on our
         * side did not help). With one, a round of a few hundred rows
         * flushes in 1-2 ms. Ordering and idempotence are unchanged. */
        jc_kafka_set(conf, "max.in.flight.requests.per.connection", "1", errstr, errstr_size) != 0 ||
        jc_kafka_set(conf, "client.id", "jobcoord-outbox", errstr, errstr_size) != 0)
        goto fail;
    rd_kafka_conf_set_opaque(conf, o);
    rd_kafka_conf_set_dr_msg_cb(conf, on_delivery);
    o->rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, kerr, sizeof kerr);
    if (!o->rk) {
        snprintf(errstr, errstr_size, "outbox producer: %s", kerr);
        goto fail;
    }
    conf = NULL;
    if (pthread_create(&o->thread, NULL, run, o) != 0) {
        snprintf(errstr, errstr_size, "cannot start the outbox thread");
        goto fail;
    }
    return o;
fail:
    if (conf)
        rd_kafka_conf_destroy(conf);
    if (o->rk)
        rd_kafka_destroy(o->rk);
    free(o->keys);
    free(o);
    return NULL;
}

void jc_outbox_stop(jc_outbox *o)
{
    if (!o)
        return;
    pthread_join(o->thread, NULL);
    rd_kafka_flush(o->rk, 5000);
    for (int i = 0; i < 2; i++)
        if (o->topics[i])
            rd_kafka_topic_destroy(o->topics[i]);
    rd_kafka_destroy(o->rk);
    if (o->db)
        PQfinish(o->db);
    sodium_memzero(o->keys, KEYS_MAX * sizeof *o->keys);
    free(o->keys);
    free(o);
}
