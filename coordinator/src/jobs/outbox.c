/*
 * outbox.c - the relay from the outbox table to Kafka.
 *
 * Commands and job updates are decided inside ingest (or janitor, or admin)
 * transactions, which insert rows into `commands` and NOTIFY
 * jobcoord_outbox. Nothing is produced before that commit, so nothing is
 * ever sent for a decision that was rolled back. The relay then, in rounds:
 *   1. locks due rows (FOR UPDATE SKIP LOCKED: several coordinators share
 *      the work, none sends a row another is sending),
 *   2. builds each message from the row and its job (payload, result), in
 *      the protocol version the recipient last used (principals.
 *      proto_version, recorded by ingest: principals/reply_key.c), and signs it with
 *      the RECIPIENT's key, so a worker or client can tell it
 *      from a forgery: the key it last proved it holds while that is valid
 *      (a rotation with a grace period), else its current key (keys_fetch);
 *      an answer to a client's request (a row with answer_key_id, see
 *      answers.c) is signed with the key that request was signed with,
 *   3. produces them with the idempotent producer, keyed by recipient and
 *      partitioned by murmur2 (PROTOCOL.md: a worker reads one partition),
 *   4. waits for the delivery reports and marks exactly the delivered rows
 *      sent (job updates: done), with the next re-send time for commands
 *      (doubling from outbox.resend_ms, at most 60 s),
 *   5. commits.
 * A command re-sent keeps its command id, so workers drop the duplicate; a
 * command not acknowledged after outbox.max_tries sends is marked failed.
 * An assign is sent only while its job is still assigned by it (state
 * assigned, same attempt and worker, no job event yet): once a job event of
 * that attempt was applied, the assign is marked acknowledged (the event
 * answered it, with or without "cmd"); once the job was taken back, it is
 * marked failed. Either way it is never sent again (PROTOCOL.md 12).
 * A crash between delivery and commit re-sends the rows: at least once.
 */
#include "jobs/outbox.h"

#include <inttypes.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <sodium.h>

#include "core/buf.h"
#include "core/db.h"
#include "kafka/kconf.h"
#include "core/log.h"
#include "jcproto/proto.h"
#include "jcproto/topics.h"
#include "jobs/jobwrite.h"
#include "jobs/outbox_int.h"
#include "jobs/cmdstate.h"

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

/* ---- one round ---- */


static const char due_sql[] =
    "SELECT c.id, c.kind, c.recipient, c.job_id, coalesce(c.attempt, 0), coalesce(c.state, ''),"
    "       coalesce(c.reason, ''), coalesce(c.config_version, 0), c.tries, j.type, j.payload,"
    "       j.timeout_ms, j.result,"
    "       CASE WHEN j.state IN ('canceling', 'canceled')"
    "            THEN coalesce(j.cancel_reason, j.error) ELSE j.error END, j.ikey,"
    "       c.answer_key_id, c.answers_msg, c.answers_type, c.detail,"
    /* an assign: 'moved' once a job event of its attempt was applied (the
     * worker answered it; an assignment's events start at ts 0), 'current'
     * while its job is still assigned by it, 'gone' once the job was taken
     * back, canceled or reassigned */
    "       CASE WHEN c.kind <> 'assign' OR j.id IS NULL THEN ''"
    "            WHEN j.attempt <> c.attempt OR j.worker_id IS DISTINCT FROM c.recipient THEN 'gone'"
    "            WHEN j.last_event_ts_ms > 0 THEN 'moved'"
    "            WHEN j.state = 'assigned' THEN 'current' ELSE 'gone' END,"
    /* the version the recipient last used (PROTOCOL.md 14), and for a
     * version 2 job.update the job's last error and cancel reason apart */
    "       coalesce(pr.proto_version, 1), j.error, j.cancel_reason,"
    /* the key the recipient last proved it holds: a change refreshes the
     * cached signing key at once (outbox_keys.c) */
    "       coalesce(pr.reply_key_id, '')"
    "  FROM commands c LEFT JOIN jobs j ON j.id = c.job_id"
    "  LEFT JOIN principals pr ON pr.id = c.recipient"
    " WHERE c.status IN " JC_SQL_CMD_OPEN
    "   AND c.next_send_at <= now()"
    "   AND (c.status = " JC_SQL_CMD_PENDING
    " OR NOT $2::bool)" /* re-sends wait out a backlog */
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
    m->version = (uint32_t)atoi(PQgetvalue(r, i, C_PROTO));
    if (m->version < JC_PROTO_VERSION_MIN || m->version > JC_PROTO_VERSION_MAX)
        m->version = JC_PROTO_VERSION_MIN;
    jc_id_random(m->id);
    m->ts_ms = jc_now_ms();
    m->principal = jc_slice_str(PQgetvalue(r, i, C_RECIPIENT));
    if (strcmp(kind, "job.refusal") == 0) {
        jc_job_refusal *f = &m->u.refusal;
        m->type = JC_MSG_JOB_REFUSAL;
        if (jc_id_parse(PQgetvalue(r, i, C_JOB), f->job) != 0 ||
            jc_id_parse(PQgetvalue(r, i, C_ANSWERS_MSG), f->request) != 0)
            return -1;
        f->of = jc_slice_str(PQgetvalue(r, i, C_ANSWERS_TYPE));
        f->reason = jc_slice_str(PQgetvalue(r, i, C_REASON));
        f->text = jc_slice_str(PQgetvalue(r, i, C_DETAIL)); /* "" when NULL: none */
        return 0;
    }
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
        if (m->version >= 2) {
            /* err: the job's last error only; reason: the cancel reason,
             * on a canceling or canceled update only (PROTOCOL.md 15.5) */
            const char *st = PQgetvalue(r, i, C_STATE);
            if (PQgetlength(r, i, C_LAST_ERROR) > 0 && strcmp(st, "succeeded") != 0)
                u->error = jc_slice_str(PQgetvalue(r, i, C_LAST_ERROR));
            if (PQgetlength(r, i, C_CANCEL_REASON) > 0 &&
                (strcmp(st, "canceling") == 0 || strcmp(st, "canceled") == 0))
                u->reason = jc_slice_str(PQgetvalue(r, i, C_CANCEL_REASON));
        } else if (!PQgetisnull(r, i, C_ERROR) && PQgetlength(r, i, C_ERROR) > 0 &&
                   strcmp(PQgetvalue(r, i, C_STATE), "succeeded") != 0) {
            /* version 1: a canceling or canceled job's cancel reason, when
             * it has one, takes the place of its last error */
            u->error = jc_slice_str(PQgetvalue(r, i, C_ERROR));
        }
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
// out of tries or unbuildable failed, assigns answered by a job event acked.
static int mark(jc_outbox *o, jc_buf *sent, jc_buf *failed, jc_buf *failed_why, jc_buf *answered)
{
    static const char answered_sql[] = "UPDATE commands SET status = " JC_SQL_CMD_ACKED
                                       ", acked_at = now() WHERE id = ANY($1::uuid[])";
    static const char sent_sql[] =
        "UPDATE commands SET status = CASE WHEN kind LIKE 'job.%' THEN " JC_SQL_CMD_DONE
        "                                  ELSE " JC_SQL_CMD_SENT
        " END,"
        "  tries = tries + 1, sent_at = now(),"
        "  next_send_at = now() + least($2::bigint * power(2, tries), 60000) * interval '1 ms'"
        " WHERE id = ANY($1::uuid[])";
    static const char failed_sql[] =
        "UPDATE commands c SET status = " JC_SQL_CMD_FAILED
        ", error = u.why"
        "  FROM unnest($1::uuid[], $2::text[]) AS u(id, why) WHERE c.id = u.id";
    const char *params[2];
    char resend[24];
    PGresult *r;
    int ok = 1;

    jc_buf_addstr(sent, "}");
    jc_buf_addstr(failed, "}");
    jc_buf_addstr(failed_why, "}");
    jc_buf_addstr(answered, "}");
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
    if (ok && answered->len > 2) {
        params[0] = jc_buf_str(answered);
        r = PQexecParams(o->db, answered_sql, 1, NULL, params, NULL, NULL, 0);
        ok = jc_db_ok(o->db, r, o->err, sizeof o->err);
        PQclear(r);
    }
    return ok ? 0 : -1;
}

// ingest_behind tells whether this instance's ingest is further behind the
// log than outbox.resend_ms: the oldest record of its last batch was older
// than that. A command is re-sent because its answer has not been seen;
// while the answer may still be waiting unread, re-sending only adds work
// to a coordinator that is already behind (each re-send is signed,
// produced and marked again, and the backlog grows: at 5,000 jobs/s offered
// on the shared benchmark machine the workers received 11,000 duplicate
// assigns for 12,400 jobs). So re-sends wait until ingest has caught up to
// within outbox.resend_ms; first sends never wait.
static int ingest_behind(const jc_outbox *o)
{
    return atomic_load(&o->rt->behind_ms) > o->cfg->outbox_resend_ms;
}

// round sends one batch of due rows. Returns the number of rows it took,
// or -1 on database trouble.
static int round_once(jc_outbox *o)
{
    char limit[16];
    const char *params[2];
    PGresult *r = NULL;
    jc_buf sent, failed, why, answered;
    int n = 0, rc = -1, produced = 0;
    int64_t now = (int64_t)jc_now_ms();
    recipient_key *akeys = NULL;

    jc_buf_init(&sent, 64u << 20);
    jc_buf_init(&failed, 64u << 20);
    jc_buf_init(&why, 64u << 20);
    jc_buf_init(&answered, 64u << 20);
    jc_buf_addstr(&answered, "{");
    jc_buf_addstr(&sent, "{");
    jc_buf_addstr(&failed, "{");
    jc_buf_addstr(&why, "{");
    if (jc_db_exec(o->db, "BEGIN", o->err, sizeof o->err) != 0)
        goto out;
    snprintf(limit, sizeof limit, "%d", o->cfg->outbox_batch);
    params[0] = limit;
    params[1] = ingest_behind(o) ? "t" : "f";
    r = PQexecParams(o->db, due_sql, 2, NULL, params, NULL, NULL, 0);
    if (!jc_db_ok(o->db, r, o->err, sizeof o->err))
        goto rollback;
    n = PQntuples(r);
    if (n == 0) {
        rc = 0;
        goto rollback;
    }
    if (jc_outbox_keys_fetch(o, r, now) != 0 || jc_outbox_answer_keys_fetch(o, r, &akeys) != 0)
        goto rollback;
    o->delivered = calloc((size_t)n, 1);
    if (!o->delivered)
        goto rollback;
    o->round++;
    for (int i = 0; i < n; i++) {
        const char *kind = PQgetvalue(r, i, C_KIND), *to = PQgetvalue(r, i, C_RECIPIENT);
        int answer = !PQgetisnull(r, i, C_ANSWER_KEY), to_client = strncmp(kind, "job.", 4) == 0;
        recipient_key *k = answer ? &akeys[i] : jc_outbox_key_find(o, to);
        unsigned char *payload = NULL, *result = NULL;
        jc_kv *kv = NULL;
        PGresult *settings = NULL;
        msgpack_sbuffer sb;
        jc_msg m;
        char err[256];
        const char *topic = to_client ? o->topic_updates : o->topic_commands;
        const char *problem = NULL;

        msgpack_sbuffer_init(&sb);
        if (strcmp(PQgetvalue(r, i, C_ASSIGN), "moved") == 0) {
            /* a job event of this attempt answered the assign */
            jc_buf_add_array_elem(&answered, PQgetvalue(r, i, C_ID), 36);
            msgpack_sbuffer_destroy(&sb);
            continue;
        }
        if (strcmp(PQgetvalue(r, i, C_ASSIGN), "gone") == 0)
            problem = "the assignment ended before it was acknowledged";
        else if (!to_client && atoi(PQgetvalue(r, i, C_TRIES)) >= o->cfg->outbox_max_tries)
            problem = "not acknowledged after outbox.max_tries sends";
        else if (!k || !k->usable)
            problem = answer ? "the key the request was signed with is gone"
                             : "the recipient has no usable key";
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
    if (mark(o, &sent, &failed, &why, &answered) != 0 ||
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
    if (akeys) {
        sodium_memzero(akeys, (size_t)n * sizeof *akeys);
        free(akeys);
    }
    free(o->delivered);
    o->delivered = NULL;
    PQclear(r);
    jc_buf_free(&sent);
    jc_buf_free(&failed);
    jc_buf_free(&why);
    jc_buf_free(&answered);
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
// delay again, so it is logged and the relay goes on. It asks in slices of
// half a second for up to 5 s a topic, so that a stop while the cluster is
// unreachable is not held up (it was, 10 s, by two 5-second requests).
static void warm_topics(jc_outbox *o)
{
    const char *names[2] = {o->topic_commands, o->topic_updates};
    for (int i = 0; i < 2 && !*o->rt->stop; i++) {
        const struct rd_kafka_metadata *md = NULL;
        rd_kafka_resp_err_t e = RD_KAFKA_RESP_ERR__TIMED_OUT;
        o->topics[i] = rd_kafka_topic_new(o->rk, names[i], NULL);
        if (!o->topics[i])
            continue;
        for (int slice = 0; slice < 10 && !*o->rt->stop && e != RD_KAFKA_RESP_ERR_NO_ERROR; slice++)
            e = rd_kafka_metadata(o->rk, 0, o->topics[i], &md, 500);
        if (e && !*o->rt->stop)
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
            if (!o->db || jc_db_exec(o->db, "LISTEN " JC_OUTBOX_CHANNEL, o->err, sizeof o->err) ||
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
    jc_kafka_conf_bind(conf, &o->kafka); /* opaque: o itself */
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
