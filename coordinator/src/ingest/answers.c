/*
 * answers.c - answering clients' requests (PROTOCOL.md section 7.9).
 *
 * A client that sends a job.submit or job.cancel otherwise hears only of a
 * job's final state: a refused request, a repeated submission or a cancel
 * would leave it waiting. So, in the ingest transaction that consumed it:
 *   - a job.submit or job.cancel that was rejected, whose signer is
 *     authenticated (the MAC verified with a key of the signer the
 *     coordinator knows, even a rotated-out one or that of a disabled
 *     principal, and the payload decoded), is answered with a job.refusal
 *     carrying the reason code and a short text;
 *   - an accepted request marked by jc_answer_set (a repeated submission, a
 *     cancel) is answered with a job.update carrying the job's state.
 * Unauthenticated messages are never answered: nobody can make the
 * coordinator send anything by writing garbage.
 *
 * Answers go to the signer's partition of job-updates, signed with the key
 * the request was signed with (commands.answer_key_id): the one key the
 * signer has shown it holds.
 *
 * Rate bound: the same answer (refusal reason, or state reported) to the
 * same principal about the same job and request type at most once, and at
 * most answers.max_per_interval answers per principal, within
 * answers.interval_s, counted from the outbox itself (index
 * commands_answers), so a client flooding refused requests makes a bounded
 * number of rows and messages however fast it sends; the rest are dropped,
 * counted and still dead-lettered like any rejection.
 */
#include "ingest/answers.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "core/buf.h"
#include "core/db.h"

#define ARRAY_MAX (256u << 20)
#define COLS 10

static void digest_u64(crypto_generichash_state *st, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (56 - 8 * i));
    crypto_generichash_update(st, b, sizeof b);
}

static void digest_bytes(crypto_generichash_state *st, jc_slice s)
{
    digest_u64(st, s.n);
    if (s.n)
        crypto_generichash_update(st, s.p, s.n);
}

void jc_submit_digest(const jc_job_submit *s, uint8_t out[JC_SUBMIT_DIGEST_LEN])
{
    crypto_generichash_state st;
    /* every field length-prefixed, absent options distinct from present ones;
     * "att" absent counts as its default */
    crypto_generichash_init(&st, NULL, 0, JC_SUBMIT_DIGEST_LEN);
    digest_bytes(&st, s->type);
    digest_bytes(&st, s->payload);
    digest_u64(&st, (uint64_t)(int64_t)s->priority);
    digest_u64(&st, s->max_attempts ? s->max_attempts : 3);
    digest_u64(&st, (uint64_t)s->has_run_after);
    digest_u64(&st, s->has_run_after ? s->run_after_ms : 0);
    digest_u64(&st, (uint64_t)s->has_timeout);
    digest_u64(&st, s->has_timeout ? s->timeout_ms : 0);
    digest_bytes(&st, s->ikey);
    crypto_generichash_final(&st, out, JC_SUBMIT_DIGEST_LEN);
}

void jc_answer_set(jc_inmsg *m, const char *job, const char *state, int attempt)
{
    m->answer = 1;
    snprintf(m->answer_job, sizeof m->answer_job, "%s", job);
    snprintf(m->answer_state, sizeof m->answer_state, "%s", state);
    m->answer_attempt = attempt;
}

// refusal_text is what a refusal tells the client beyond its reason code:
// the rejection's detail, except where it would name another principal or
// show the coordinator's internals.
static const char *refusal_text(const jc_inmsg *m)
{
    if (strcmp(m->reason, JC_R_NOT_OWNER) == 0)
        return "the job was submitted by another principal";
    if (strcmp(m->reason, JC_R_APPLY_ERROR) == 0)
        return "the coordinator could not apply the request";
    return m->detail;
}

// requested_job returns the job a request names.
static const uint8_t *requested_job(const jc_inmsg *m)
{
    return m->msg.type == JC_MSG_JOB_SUBMIT ? m->msg.u.submit.job : m->msg.u.cancel.job;
}

static void add_id(jc_buf *b, const uint8_t id[JC_ID_LEN])
{
    char t[37];
    jc_id_format(id, t);
    jc_buf_add_array_elem(b, t, 36);
}

static void add_str(jc_buf *b, const char *s)
{
    if (s)
        jc_buf_add_array_elem(b, s, strlen(s));
    else
        jc_buf_add_array_null(b);
}

int jc_answers_queue(PGconn *db, const jc_config *cfg, const jc_batch *b, size_t from, size_t to,
                     size_t *queued, size_t *dropped, char *errstr, size_t errstr_size)
{
    /* u: the candidates in batch order; fresh: those whose (principal, job,
     * request type, answer) was not sent within the interval, once each (the
     * answer: the refusal's reason or the state reported);
     * ranked: numbered per principal, so that what the principal's recent
     * answers leave of its budget is taken in batch order. */
    static const char sql[] =
        "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::uuid[],"
        "                  $5::uuid[], $6::text[], $7::text[], $8::int[], $9::text[], $10::text[])"
        "           WITH ORDINALITY AS u(k, r, kid, j, q, o, s, a, reason, d, n)),"
        " fresh AS (SELECT DISTINCT ON (u.r, u.j, u.o, coalesce(u.reason, u.s)) u.* FROM u"
        "            WHERE NOT EXISTS (SELECT 1 FROM commands c"
        "                   WHERE c.answers_type IS NOT NULL AND c.recipient = u.r"
        "                     AND c.created_at > now() - make_interval(secs => $11::int)"
        "                     AND c.job_id = u.j AND c.answers_type = u.o"
        "                     AND coalesce(c.reason, c.state) = coalesce(u.reason, u.s))"
        "            ORDER BY u.r, u.j, u.o, coalesce(u.reason, u.s), u.n),"
        " ranked AS (SELECT f.*, row_number() OVER (PARTITION BY f.r ORDER BY f.n) AS rn"
        "              FROM fresh f)"
        " INSERT INTO commands (id, kind, recipient, job_id, attempt, state, reason, detail,"
        "                       answers_type, answers_msg, answer_key_id)"
        " SELECT gen_random_uuid(), x.k, x.r, x.j, x.a, x.s, x.reason, x.d, x.o, x.q, x.kid"
        "   FROM ranked x"
        "  WHERE x.rn <= $12::int - (SELECT count(*) FROM commands c"
        "                   WHERE c.answers_type IS NOT NULL AND c.recipient = x.r"
        "                     AND c.created_at > now() - make_interval(secs => $11::int))";
    jc_buf a[COLS];
    const char *params[COLS + 2];
    char interval[16], budget[16];
    size_t n = 0;
    int rc = -1;

    *queued = *dropped = 0;
    for (int i = 0; i < COLS; i++) {
        jc_buf_init(&a[i], ARRAY_MAX);
        jc_buf_addstr(&a[i], "{");
    }
    for (size_t i = from; i < to; i++) {
        const jc_inmsg *m = &b->msgs[i];
        char att[16];
        if (!m->decoded ||
            (m->msg.type != JC_MSG_JOB_SUBMIT && m->msg.type != JC_MSG_JOB_CANCEL))
            continue;
        if (m->reason ? !m->authenticated : !m->answer)
            continue;
        add_str(&a[0], m->reason ? "job.refusal" : "job.update");
        jc_buf_add_array_elem(&a[1], (const char *)m->msg.principal.p, m->msg.principal.n);
        jc_buf_add_array_elem(&a[2], (const char *)m->env.key_id.p, m->env.key_id.n);
        if (m->reason)
            add_id(&a[3], requested_job(m));
        else
            add_str(&a[3], m->answer_job);
        add_id(&a[4], m->msg.id);
        add_str(&a[5], jc_msg_type_name(m->msg.type));
        add_str(&a[6], m->reason ? NULL : m->answer_state);
        snprintf(att, sizeof att, "%d", m->answer_attempt);
        add_str(&a[7], m->reason ? NULL : att);
        add_str(&a[8], m->reason);
        add_str(&a[9], m->reason ? refusal_text(m) : NULL);
        n++;
    }
    for (int i = 0; i < COLS; i++) {
        jc_buf_addstr(&a[i], "}");
        params[i] = jc_buf_str(&a[i]);
    }
    if (n == 0) {
        rc = 0;
        goto out;
    }
    snprintf(interval, sizeof interval, "%d", cfg->answers_interval_s);
    snprintf(budget, sizeof budget, "%d", cfg->answers_max);
    params[COLS] = interval;
    params[COLS + 1] = budget;
    {
        PGresult *r = PQexecParams(db, sql, COLS + 2, NULL, params, NULL, NULL, 0);
        if (jc_db_ok(db, r, errstr, errstr_size)) {
            *queued = (size_t)atoi(PQcmdTuples(r));
            *dropped = n - *queued;
            rc = 0;
        }
        PQclear(r);
    }
out:
    for (int i = 0; i < COLS; i++)
        jc_buf_free(&a[i]);
    return rc;
}
