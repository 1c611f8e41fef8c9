/*
 * bench_fleet.c - the simulated no-op workers and the clients' reader of
 * job updates, for the jobs scenario.
 *
 * A worker heartbeats every second and reads the partition of commands its
 * id hashes to (one consumer reads the partitions of all simulated workers
 * and hands each record to the worker it names). It checks each command as
 * PROTOCOL.md section 5.2 asks of a worker: envelope, own principal and
 * key id, MAC, schema, body worker equal to its id. On an assign it
 * reports the job finished at once: ONE job.event "succeeded" carrying the
 * command id, which is also the command's acknowledgement. A re-sent
 * command (same job already answered) is dropped.
 *
 * The clients' reader checks job updates the same way with the client's
 * key and records when each job's "succeeded" arrives.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_jobs.h"

int64_t jobs_us(const jobs_run *r) { return (int64_t)((bench_now() - r->t0) * 1e6); }

job_slot *jobs_find(jobs_run *r, const uint8_t id[JC_ID_LEN])
{
    uint32_t idx = ((uint32_t)id[12] << 24 | (uint32_t)id[13] << 16 | (uint32_t)id[14] << 8 |
                    (uint32_t)id[15]) ^
                   r->idx_mask;
    size_t n = atomic_load_explicit(&r->n_submitted, memory_order_acquire);
    if (idx >= n || memcmp(r->jobs[idx].id, id, JC_ID_LEN) != 0)
        return NULL;
    return &r->jobs[idx];
}

int fleet_send_heartbeats(jobs_run *r, msgpack_sbuffer *sb, int draining)
{
    static const char cap[] = BENCH_JOB_TYPE;
    jc_slice caps[1] = {{(const uint8_t *)cap, sizeof cap - 1}};
    char err[256];
    int failed = 0;

    for (int i = 0; i < r->n_ws; i++) {
        principal *w = &r->ws[i];
        jc_slice key_id = jc_slice_str(w->key_id);
        uint64_t now = jc_now_ms();
        jc_msg m;
        memset(&m, 0, sizeof m);
        m.type = JC_MSG_HEARTBEAT;
        jc_id_random(m.id);
        m.ts_ms = now > w->last_ts ? now : w->last_ts + 1;
        w->last_ts = m.ts_ms;
        m.principal = jc_slice_str(w->id);
        m.u.hb.caps = caps;
        m.u.hb.n_caps = 1;
        m.u.hb.slots = (uint32_t)r->o->job_slots;
        /* running stays empty: a no-op job is reported finished in the same
         * step that receives it, so a worker never holds one across a beat */
        m.u.hb.version = jc_slice_str("jobcoord-bench");
        m.u.hb.host = jc_slice_str("bench");
        m.u.hb.uptime_s = (uint64_t)(bench_now() - r->t0);
        m.u.hb.seq = ++w->seq;
        m.u.hb.draining = draining;
        if (jc_msg_seal(&m, &key_id, w->key, sb, err, sizeof err) != JC_OK ||
            bk_produce(r->prod, r->t_hb, w->id, sb->data, sb->size, 1000) != 0)
            failed++;
    }
    if (failed)
        atomic_fetch_add(&r->produce_failures, failed);
    return failed ? -1 : 0;
}

void *fleet_heartbeats(void *arg)
{
    jobs_run *r = arg;
    msgpack_sbuffer sb;
    double next = bench_now() + 1.0;
    msgpack_sbuffer_init(&sb);
    while (!atomic_load(&r->stop_all)) {
        if (bench_now() >= next) {
            fleet_send_heartbeats(r, &sb, 0);
            next += 1.0;
        }
        rd_kafka_poll(r->prod, 0);
        usleep(20000);
    }
    msgpack_sbuffer_destroy(&sb);
    return NULL;
}

// open_record runs the receiver checks common to commands and job updates:
// envelope, a principal of ours with its own key id, MAC, schema and type.
// Returns the principal, or NULL (the record is not acted upon).
static const principal *open_record(const principal *ps, int n, const rd_kafka_message_t *km,
                                    jc_msg_type want, jc_msg *m, int *foreign)
{
    jc_envelope env;
    const principal *p;
    char err[256];

    *foreign = 0;
    if (jc_envelope_parse(km->payload, km->len, 0, &env, err, sizeof err) != JC_OK)
        return NULL;
    p = principal_find(ps, n, env.principal.p, env.principal.n);
    if (!p || !jc_slice_eq(env.key_id, p->key_id)) {
        *foreign = 1; /* another principal's record in a shared partition */
        return NULL;
    }
    if (jc_envelope_verify(&env, p->key) != JC_OK ||
        jc_msg_decode(&env, m, err, sizeof err) != JC_OK)
        return NULL;
    if (m->type != want) {
        jc_msg_release(m);
        return NULL;
    }
    return p;
}

// answer_assign reports an assigned no-op job succeeded, with the command
// id (its acknowledgement).
static void answer_assign(jobs_run *r, const principal *w, const jc_command *c,
                          msgpack_sbuffer *sb)
{
    job_slot *j = jobs_find(r, c->job);
    jc_slice key_id = jc_slice_str(w->key_id);
    char err[256], key[37];
    jc_msg m;
    int64_t t = jobs_us(r), zero = 0;

    if (!j) {
        /* a job of an earlier step, requeued or assigned late: a no-op
         * worker runs it all the same (else it holds a slot until the
         * coordinator's assign timeout), but it is not measured */
        atomic_fetch_add(&r->other_jobs, 1);
    } else {
        atomic_compare_exchange_strong(&j->assigned_us, &zero, t);
        if (atomic_exchange(&j->answered, 1)) {
            atomic_fetch_add(&r->duplicates, 1);
            return;
        }
        atomic_fetch_add(&r->assigned, 1);
    }
    memset(&m, 0, sizeof m);
    m.type = JC_MSG_JOB_EVENT;
    jc_id_random(m.id);
    m.ts_ms = jc_now_ms(); /* the attempt's first event: any ts is newer */
    m.principal = jc_slice_str(w->id);
    memcpy(m.u.event.job, c->job, JC_ID_LEN);
    m.u.event.attempt = c->attempt;
    m.u.event.kind = JC_EV_SUCCEEDED;
    m.u.event.has_command = 1;
    memcpy(m.u.event.command, c->command, JC_ID_LEN);
    jc_id_format(c->job, key);
    if (jc_msg_seal(&m, &key_id, w->key, sb, err, sizeof err) != JC_OK ||
        bk_produce(r->prod, r->t_events, key, sb->data, sb->size, 5000) != 0) {
        atomic_fetch_add(&r->produce_failures, 1);
        if (!r->o->quiet)
            fprintf(stderr, "jobcoord-bench: job event not produced: %s\n", err);
    }
}

void *fleet_commands(void *arg)
{
    jobs_run *r = arg;
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    while (!atomic_load(&r->stop_all)) {
        rd_kafka_message_t *km = rd_kafka_consumer_poll(r->c_commands, 50);
        jc_msg m;
        const principal *w;
        int foreign;
        if (!km)
            continue;
        if (km->err) {
            if (km->err != RD_KAFKA_RESP_ERR__PARTITION_EOF)
                fprintf(stderr, "jobcoord-bench: commands: %s\n", rd_kafka_message_errstr(km));
            rd_kafka_message_destroy(km);
            continue;
        }
        w = open_record(r->ws, r->n_ws, km, JC_MSG_COMMAND, &m, &foreign);
        if (!w) {
            if (!foreign)
                atomic_fetch_add(&r->bad_commands, 1);
        } else {
            if (!jc_slice_eq(m.u.cmd.worker, w->id))
                atomic_fetch_add(&r->bad_commands, 1);
            else if (m.u.cmd.kind == JC_CMD_ASSIGN)
                answer_assign(r, w, &m.u.cmd, &sb);
            else
                atomic_fetch_add(&r->other_commands, 1);
            jc_msg_release(&m);
        }
        rd_kafka_message_destroy(km);
    }
    msgpack_sbuffer_destroy(&sb);
    return NULL;
}

static void note_update(jobs_run *r, const jc_job_update *u)
{
    job_slot *j = jobs_find(r, u->job);
    int64_t zero = 0;
    if (j && jc_slice_eq(u->state, "succeeded")) {
        if (atomic_compare_exchange_strong(&j->done_us, &zero, jobs_us(r)))
            atomic_fetch_add(&r->completed, 1);
        else
            atomic_fetch_add(&r->duplicates, 1);
        return;
    }
    if (atomic_fetch_add(&r->other_updates, 1) == 0) {
        size_t n = u->state.n < sizeof r->other_update_state - 1 ? u->state.n
                                                                 : sizeof r->other_update_state - 1;
        memcpy(r->other_update_state, u->state.p, n);
        r->other_update_state[n] = '\0';
    }
}

void *fleet_updates(void *arg)
{
    jobs_run *r = arg;
    while (!atomic_load(&r->stop_all)) {
        rd_kafka_message_t *km = rd_kafka_consumer_poll(r->c_updates, 50);
        jc_msg m;
        int foreign;
        if (!km)
            continue;
        if (!km->err && open_record(r->cs, r->n_cs, km, JC_MSG_JOB_UPDATE, &m, &foreign)) {
            note_update(r, &m.u.update);
            jc_msg_release(&m);
        }
        rd_kafka_message_destroy(km);
    }
    return NULL;
}
