/*
 * janitor.c - the timer thread.
 *
 * Offline detection must not confuse an outage of the coordinator with an
 * outage of the fleet: after a restart, or a database outage, the backlog
 * of heartbeats in Kafka has not been applied yet and every worker looks
 * silent. So each live instance records in coordinator_instances when its
 * ingest caught up with all its partitions (caught_up_at, cleared whenever
 * it falls behind: reassignment, database trouble), and a worker is marked
 * offline only when it has been silent for the threshold AND every live
 * instance has been caught up for at least the threshold. A worker that is
 * alive has then certainly had a heartbeat applied.
 */
#include "jobs/janitor.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/audit.h"
#include "ingest/apply.h"
#include "core/db.h"
#include "jobs/holdback.h"
#include "jobcoord/jobcoord.h"
#include "jobs/jobwrite.h"
#include "core/log.h"
#include "principals/principals.h"
#include "jobs/workerstate.h"
#include "jobs/cmdstate.h"

#define PRUNE_EVERY_MS 60000
#define PRUNE_BATCH 10000

struct jc_janitor {
    const jc_config *cfg;
    jc_runtime *rt;
    pthread_t thread;
    PGconn *db;
    jc_jobwrite jw;
    char err[512];
    int64_t last_prune_ms;
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

// register_instance upserts this instance's liveness and caught-up time.
static int register_instance(jc_janitor *j)
{
    static const char sql[] =
        "INSERT INTO coordinator_instances AS i"
        "   (id, host, pid, version, started_at, last_seen_at, caught_up_at)"
        " VALUES ($1, $2, $3::int, $4, to_timestamp($5::bigint / 1000.0), now(),"
        "         CASE WHEN $6::bigint = 0 THEN NULL ELSE to_timestamp($6::bigint / 1000.0) END)"
        " ON CONFLICT (id) DO UPDATE SET last_seen_at = now(), pid = excluded.pid,"
        "   started_at = excluded.started_at, caught_up_at = excluded.caught_up_at";
    char host[256] = "", pid[16], started[32], caught[32];
    const char *params[6];
    PGresult *r;
    int ok;

    gethostname(host, sizeof host - 1);
    snprintf(pid, sizeof pid, "%d", (int)getpid());
    snprintf(started, sizeof started, "%lld", (long long)j->rt->started_at_ms);
    snprintf(caught, sizeof caught, "%lld", (long long)atomic_load(&j->rt->caught_up_at_ms));
    params[0] = j->rt->instance_id;
    params[1] = host;
    params[2] = pid;
    params[3] = JC_VERSION_STR;
    params[4] = started;
    params[5] = caught;
    r = PQexecParams(j->db, sql, 6, NULL, params, NULL, NULL, 0);
    ok = jc_db_ok(j->db, r, j->err, sizeof j->err);
    PQclear(r);
    return ok ? 0 : -1;
}

// ALL_CAUGHT_UP is the condition that every live coordinator instance
// (seen within $1 seconds) has read all its partitions: only then are a
// lease's expiry and the hard run-time limit judged. A lease is extended by
// the job's events as ingest applies them; after a coordinator outage, or
// while ingest reads a backlog, the events that extend it may still be
// unread in Kafka, and judging by the clock would take running jobs back
// from healthy workers (an attempt used, a cancel sent). Once every
// instance has caught up, whatever a worker sent before the lease ended
// has been applied. An instance registers its own state first in each
// pass (register_instance), so a freshly started one waits for itself.
#define ALL_CAUGHT_UP                                                                   \
    "   AND NOT EXISTS (SELECT 1 FROM coordinator_instances i"                          \
    "                    WHERE i.last_seen_at > now() - make_interval(secs => $1::int)" \
    "                      AND i.caught_up_at IS NULL)"

// live_s writes the seconds within which an instance that checked in is
// live: 3 janitor periods, at least 10 s.
static void live_s(const jc_janitor *j, char *out, size_t out_size)
{
    snprintf(out, out_size, "%d",
             j->cfg->janitor_interval_ms * 3 / 1000 > 10 ? j->cfg->janitor_interval_ms * 3 / 1000
                                                         : 10);
}

// mark_offline marks silent workers offline (see the comment at the top)
// and adds their ids to gone (an array literal being built). An offline
// worker runs nothing: its last reported running count is zeroed (its jobs
// are taken back by requeue_jobs in the same transaction).
static int mark_offline(jc_janitor *j, jc_buf *gone)
{
    static const char sql[] =
        "UPDATE workers SET status = " JC_SQL_WORKER_OFFLINE
        ", status_changed_at = now(), running_jobs = 0"
        " WHERE status <> " JC_SQL_WORKER_OFFLINE
        "   AND last_seen_at < now() - make_interval(secs => $1::int)"
        "   AND NOT EXISTS (SELECT 1 FROM coordinator_instances i"
        "                    WHERE i.last_seen_at > now() - make_interval(secs => $2::int)"
        "                      AND (i.caught_up_at IS NULL"
        "                           OR i.caught_up_at > now() - make_interval(secs => $1::int)))"
        " RETURNING id, (extract(epoch FROM now() - last_seen_at))::bigint";
    char threshold[16], live[16];
    const char *params[2];
    PGresult *r;
    int ok;

    snprintf(threshold, sizeof threshold, "%d", j->cfg->worker_offline_after_s);
    live_s(j, live, sizeof live);
    params[0] = threshold;
    params[1] = live;
    r = PQexecParams(j->db, sql, 2, NULL, params, NULL, NULL, 0);
    ok = jc_db_ok(j->db, r, j->err, sizeof j->err);
    if (ok)
        for (int i = 0; i < PQntuples(r); i++) {
            LOG_INFO("janitor", "worker %s is offline (silent for %s s)", PQgetvalue(r, i, 0),
                     PQgetvalue(r, i, 1));
            jc_buf_add_array_elem(gone, PQgetvalue(r, i, 0), strlen(PQgetvalue(r, i, 0)));
        }
    PQclear(r);
    return ok ? 0 : -1;
}

// prune deletes heartbeats past retention, in bounded batches, and HMAC
// keys whose grace period ended janitor.expired_key_retention_s ago (kept
// that long so that a message signed with one is still refused as
// key_expired, which says what happened, rather than unknown_key).
static int prune(jc_janitor *j)
{
    static const char sql[] =
        "DELETE FROM heartbeats WHERE ctid = ANY (ARRAY(SELECT ctid FROM heartbeats"
        "   WHERE received_at < now() - make_interval(secs => $1::int) LIMIT $2::int))";
    /* also what the token service keeps only until it expires: assertion
     * ids, revoked access tokens, the access tokens of refresh-token
     * families, and refresh tokens a day past expiry (kept that long so a
     * late reuse is still recognised and logged) */
    static const char instances_sql[] =
        "DELETE FROM coordinator_instances WHERE last_seen_at < now() - interval '1 day';"
        "DELETE FROM token_assertions WHERE expires_at < now();"
        "DELETE FROM revoked_tokens WHERE expires_at < now();"
        "DELETE FROM family_access_tokens WHERE expires_at < now();"
        "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day';"
        "DELETE FROM job_refusals WHERE skip_until < now()";
    char retention[16], limit[16];
    const char *params[2];
    long total = 0;

    snprintf(retention, sizeof retention, "%d", j->cfg->heartbeat_retention_s);
    snprintf(limit, sizeof limit, "%d", PRUNE_BATCH);
    params[0] = retention;
    params[1] = limit;
    for (;;) {
        PGresult *r = PQexecParams(j->db, sql, 2, NULL, params, NULL, NULL, 0);
        long n;
        if (!jc_db_ok(j->db, r, j->err, sizeof j->err)) {
            PQclear(r);
            return -1;
        }
        n = atol(PQcmdTuples(r));
        PQclear(r);
        total += n;
        if (n < PRUNE_BATCH || *j->rt->stop)
            break;
    }
    if (total)
        LOG_INFO("janitor", "pruned %ld heartbeats older than %d s", total,
                 j->cfg->heartbeat_retention_s);
    if (jc_principal_prune_keys(j->db, j->cfg->expired_key_retention_s, &total, j->err,
                                sizeof j->err) != JC_PR_OK)
        return -1;
    return jc_db_exec(j->db, instances_sql, j->err, sizeof j->err);
}

// requeue_jobs takes back the jobs of workers that went offline, the jobs
// assigned longer ago than jobs.max_run_time_ms (when set) and the jobs
// whose lease expired: requeued while attempts remain, else failed;
// canceling jobs end canceled. A running job that timed out also gets a
// cancel command, so its worker stops it. Limits and leases are judged
// only while every live instance is caught up (ALL_CAUGHT_UP).
static int requeue_jobs(jc_janitor *j, jc_buf *gone)
{
    static const char offline_tail[] =
        "WHERE worker_id = ANY($1::text[]) AND state IN ('assigned', 'running', 'canceling')"
        " ORDER BY id FOR UPDATE";
    /* the hard limit jobs.max_run_time_ms, counted from the assignment
     * whatever the progress (loaded first, to name it as the reason) */
    static const char overrun_tail[] =
        "WHERE state IN ('assigned', 'running') AND $2::int > 0"
        "   AND assigned_at < now() - $2::int * interval '1 millisecond'" ALL_CAUGHT_UP
        " ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED";
    static const char expired_tail[] =
        "WHERE state IN ('assigned', 'running', 'canceling') AND lease_expires_at < now()" ALL_CAUGHT_UP
        " ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED";
    const char *params[2];
    char max_run[16], live[16];
    size_t n_offline, n_overrun;
    jc_buf unacked[3]; /* assigns that timed out with no word from the worker (holdback.h) */
    int rc;

    jw_reset(&j->jw);
    jc_buf_addstr(gone, "}");
    params[0] = jc_buf_str(gone);
    if (gone->len > 2 && jw_load(&j->jw, j->db, offline_tail, 1, params, j->err, sizeof j->err) < 0)
        return -1;
    n_offline = j->jw.n;
    snprintf(max_run, sizeof max_run, "%d", j->cfg->max_run_time_ms);
    live_s(j, live, sizeof live);
    params[0] = live;
    params[1] = max_run;
    if (j->cfg->max_run_time_ms > 0 &&
        jw_load(&j->jw, j->db, overrun_tail, 2, params, j->err, sizeof j->err) < 0)
        return -1;
    n_overrun = j->jw.n;
    if (jw_load(&j->jw, j->db, expired_tail, 1, params, j->err, sizeof j->err) < 0)
        return -1;
    for (int k = 0; k < 3; k++) {
        jc_buf_init(&unacked[k], 16u << 20);
        jc_buf_addstr(&unacked[k], "{");
    }
    for (size_t i = 0; i < j->jw.n; i++) {
        jc_jobrow *row = &j->jw.rows[i];
        jc_job_input_args args;
        char worker[JC_MAX_PRINCIPAL_LEN + 1];
        jc_job_state was = row->state;
        int over = i >= n_offline && i < n_overrun;
        memset(&args, 0, sizeof args);
        snprintf(worker, sizeof worker, "%s", row->worker);
        args.text = jc_slice_str(i < n_offline            ? "the worker went offline"
                                 : over                    ? "ran longer than jobs.max_run_time_ms"
                                 : was == JS_ASSIGNED      ? "not started within jobs.assign_timeout_ms"
                                 : was == JS_RUNNING       ? "no progress within the job's timeout"
                                                           : "the worker did not confirm the cancel");
        if (jw_apply(&j->jw, row, JI_REQUEUE, &args) == JS_INVALID)
            continue;
        if (was == JS_ASSIGNED && i >= n_offline && row->last_event_ts == 0 && worker[0]) {
            jc_buf_add_array_elem(&unacked[0], row->idtext, 36);
            jc_buf_add_array_num(&unacked[1], row->attempt);
            jc_buf_add_array_elem(&unacked[2], worker, strlen(worker));
        }
        LOG_INFO("janitor", "job %s (attempt %d, %s on %s): %s -> %s", row->idtext, row->attempt,
                 jc_job_state_name(was), worker, (const char *)args.text.p,
                 jc_job_state_name(row->state));
        if (was == JS_RUNNING && i >= n_offline)
            jw_command(&j->jw, "cancel", worker, row->idtext, row->attempt, NULL,
                       over ? "timed out: ran longer than jobs.max_run_time_ms"
                            : "timed out: no progress within the job's timeout");
    }
    rc = jw_flush(&j->jw, j->db, j->err, sizeof j->err);
    if (rc == 0)
        rc = jc_holdback_note(j->db, &unacked[0], &unacked[1], &unacked[2],
                              j->cfg->unacked_assign_limit, j->rt, j->err, sizeof j->err);
    for (int k = 0; k < 3; k++)
        jc_buf_free(&unacked[k]);
    return rc;
}

// note_advertised records that the types online (or draining) workers
// advertise are advertised now (job_types_seen, read by
// fail_unschedulable). Rows already fresh are not rewritten.
static int note_advertised(jc_janitor *j)
{
    static const char sql[] =
        "INSERT INTO job_types_seen AS t (type, last_advertised_at)"
        " SELECT DISTINCT unnest(capabilities), now() FROM workers"
        "  WHERE status <> " JC_SQL_WORKER_OFFLINE
        " ON CONFLICT (type) DO UPDATE SET last_advertised_at = excluded.last_advertised_at"
        "  WHERE t.last_advertised_at < now() - interval '1 second'";
    return jc_db_exec(j->db, sql, j->err, sizeof j->err);
}

// fail_unschedulable fails the pending jobs whose type no online worker
// has advertised for jobs.unschedulable_after_s, counted from the later of
// the type's last advertisement and the time the job became pending (or
// may run). Like offline detection, only when every live instance has
// been caught up for that long: an instance still reading a backlog of
// heartbeats cannot know which types are advertised.
static int fail_unschedulable(jc_janitor *j)
{
    static const char tail[] =
        "WHERE state = 'pending' AND updated_at < now() - make_interval(secs => $1::int)"
        "   AND run_after < now() - make_interval(secs => $1::int)"
        "   AND NOT EXISTS (SELECT 1 FROM workers w WHERE w.status <> " JC_SQL_WORKER_OFFLINE
        "                    AND jobs.type = ANY(w.capabilities))"
        "   AND NOT EXISTS (SELECT 1 FROM job_types_seen t WHERE t.type = jobs.type"
        "                    AND t.last_advertised_at >= now() - make_interval(secs => $1::int))"
        "   AND NOT EXISTS (SELECT 1 FROM coordinator_instances i"
        "                    WHERE i.last_seen_at > now() - make_interval(secs => $2::int)"
        "                      AND (i.caught_up_at IS NULL"
        "                           OR i.caught_up_at > now() - make_interval(secs => $1::int)))"
        " ORDER BY id LIMIT 1000 FOR UPDATE SKIP LOCKED";
    char after[16], live[16];
    const char *params[2] = {after, live};

    if (j->cfg->unschedulable_after_s <= 0)
        return 0;
    snprintf(after, sizeof after, "%d", j->cfg->unschedulable_after_s);
    live_s(j, live, sizeof live);
    jw_reset(&j->jw);
    if (jw_load(&j->jw, j->db, tail, 2, params, j->err, sizeof j->err) < 0)
        return -1;
    for (size_t i = 0; i < j->jw.n; i++) {
        jc_jobrow *row = &j->jw.rows[i];
        jc_job_input_args args;
        char text[JC_MAX_NAME_LEN + 160];
        snprintf(text, sizeof text,
                 "unschedulable: no online worker has advertised type '%s' for %d s"
                 " (jobs.unschedulable_after_s)",
                 row->type, j->cfg->unschedulable_after_s);
        memset(&args, 0, sizeof args);
        args.text = jc_slice_str(text);
        if (jw_apply(&j->jw, row, JI_UNSCHEDULABLE, &args) != JS_INVALID)
            LOG_INFO("janitor", "job %s failed: %s", row->idtext, text);
    }
    return jw_flush(&j->jw, j->db, j->err, sizeof j->err);
}

// prune_jobs deletes finished jobs past retention with their history and
// outbox rows, in bounded batches, and sent outbox rows that belong to no
// job (answers may name a job that never existed) past the same retention.
static int prune_jobs(jc_janitor *j)
{
    static const char sql[] =
        "WITH d AS (DELETE FROM jobs WHERE id = ANY (ARRAY("
        "             SELECT id FROM jobs WHERE state IN ('succeeded', 'failed', 'canceled')"
        "                AND finished_at < now() - make_interval(secs => $1::int) LIMIT 5000))"
        "           RETURNING id),"
        "     e AS (DELETE FROM job_events WHERE job_id IN (SELECT id FROM d))"
        "    , x AS (DELETE FROM job_refusals WHERE job_id IN (SELECT id FROM d))"
        " DELETE FROM commands WHERE job_id IN (SELECT id FROM d)";
    /* outbox rows no job takes along: a statement of its own, so that the
     * partial index commands_unowned_created (021), whose predicate its
     * condition repeats, finds them (joined with the jobs' rows by OR, the
     * pass read every outbox row) */
    static const char unowned_sql[] =
        "DELETE FROM commands WHERE (job_id IS NULL OR answers_type IS NOT NULL)"
        "   AND status IN " JC_SQL_CMD_FINAL
        "   AND created_at < now() - make_interval(secs => $1::int)";
    /* cancels answering heartbeats that listed jobs the coordinator does
     * not have: no job row takes them along, so they go an hour after they
     * were acknowledged or given up (commands_cancel_created, 016) */
    static const char jobless_sql[] =
        "DELETE FROM commands WHERE id = ANY (ARRAY("
        "  SELECT c.id FROM commands c WHERE c.kind = 'cancel'"
        "     AND c.created_at < now() - interval '1 hour' AND c.status IN (" JC_SQL_CMD_ACKED
        ", " JC_SQL_CMD_FAILED
        ")"
        "     AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = c.job_id) LIMIT 10000))";
    char retention[16];
    const char *params[1] = {retention};
    PGresult *r;
    int ok;
    snprintf(retention, sizeof retention, "%d", j->cfg->job_retention_s);
    r = PQexecParams(j->db, sql, 1, NULL, params, NULL, NULL, 0);
    ok = jc_db_ok(j->db, r, j->err, sizeof j->err);
    PQclear(r);
    if (!ok)
        return -1;
    r = PQexecParams(j->db, unowned_sql, 1, NULL, params, NULL, NULL, 0);
    ok = jc_db_ok(j->db, r, j->err, sizeof j->err);
    PQclear(r);
    if (!ok)
        return -1;
    r = PQexecParams(j->db, jobless_sql, 0, NULL, NULL, NULL, NULL, 0);
    ok = jc_db_ok(j->db, r, j->err, sizeof j->err);
    if (ok && atol(PQcmdTuples(r)) > 0)
        LOG_INFO("janitor", "pruned %s cancels of jobs the coordinator does not have",
                 PQcmdTuples(r));
    PQclear(r);
    return ok ? 0 : -1;
}

// fold_counts folds the deltas of state_counts into one row per state
// (migration 027: the triggers on jobs and commands add a row or a few per
// statement), once there are more than a handful, so that the readers of
// the counts (/v1/status, /metrics, `jobcoord-admin status`) sum a few
// dozen rows. Its own statement, outside the pass's transaction: it waits
// for nothing (the deltas of uncommitted writers are not visible to it and
// stay).
static int fold_counts(jc_janitor *j)
{
    static const char sql[] =
        "WITH d AS (DELETE FROM state_counts"
        "            WHERE (SELECT count(*) FROM state_counts) > 64 RETURNING tbl, state, n)"
        " INSERT INTO state_counts (tbl, state, n)"
        " SELECT tbl, state, sum(n) FROM d GROUP BY tbl, state HAVING sum(n) <> 0";
    return jc_db_exec(j->db, sql, j->err, sizeof j->err);
}

// prune_audit deletes audit trail entries older than
// janitor.audit_retention_s, the one delete the table's trigger lets
// through (jc_audit_prune, migration 022).
static int prune_audit(jc_janitor *j)
{
    long n = 0;
    if (jc_audit_prune(j->db, j->cfg->audit_retention_s, &n, j->err, sizeof j->err) != 0)
        return -1;
    if (n)
        LOG_INFO("janitor", "pruned %ld audit entries older than %d s", n,
                 j->cfg->audit_retention_s);
    return 0;
}

// pass is one janitor round, in one transaction.
static int pass(jc_janitor *j)
{
    jc_buf gone;
    int assigned = 0, rc = -1;
    jc_buf_init(&gone, 16u << 20);
    jc_buf_addstr(&gone, "{");
    if (jc_db_exec(j->db, "BEGIN", j->err, sizeof j->err) != 0)
        goto out;
    if (register_instance(j) != 0 || note_advertised(j) != 0 || mark_offline(j, &gone) != 0 ||
        requeue_jobs(j, &gone) != 0 || fail_unschedulable(j) != 0 ||
        jc_schedule(j->db, &j->jw, j->cfg->schedule_batch, &assigned, j->err, sizeof j->err) != 0 ||
        jc_db_exec(j->db, "COMMIT", j->err, sizeof j->err) != 0) {
        char ignored[64];
        jc_db_exec(j->db, "ROLLBACK", ignored, sizeof ignored);
        goto out;
    }
    if (assigned)
        LOG_DEBUG("janitor", "scheduled %d jobs", assigned);
    rc = 0;
out:
    jc_buf_free(&gone);
    return rc;
}

static void sleep_ms(jc_janitor *j, int ms)
{
    while (ms > 0 && !*j->rt->stop) {
        int step = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)step * 1000000L};
        nanosleep(&ts, NULL);
        ms -= step;
    }
}

static void *run(void *arg)
{
    jc_janitor *j = arg;
    while (!*j->rt->stop) {
        if (!j->db || PQstatus(j->db) != CONNECTION_OK) {
            if (j->db)
                PQfinish(j->db);
            j->db = jc_db_connect(j->cfg->db_conninfo, j->err, sizeof j->err);
            if (!j->db) {
                LOG_ERROR("janitor", "%s", j->err);
                sleep_ms(j, 1000);
                continue;
            }
        }
        if (pass(j) != 0 || fold_counts(j) != 0) {
            LOG_ERROR("janitor", "%s", j->err);
        } else if (now_ms() - j->last_prune_ms >= PRUNE_EVERY_MS) {
            j->last_prune_ms = now_ms();
            if (prune(j) != 0 || prune_jobs(j) != 0 || prune_audit(j) != 0)
                LOG_ERROR("janitor", "prune: %s", j->err);
        }
        sleep_ms(j, j->cfg->janitor_interval_ms);
    }
    /* leave the fleet's judgement to the other instances */
    if (j->db && PQstatus(j->db) == CONNECTION_OK) {
        const char *params[1] = {j->rt->instance_id};
        PGresult *r = PQexecParams(j->db, "DELETE FROM coordinator_instances WHERE id = $1", 1,
                                   NULL, params, NULL, NULL, 0);
        PQclear(r);
    }
    return NULL;
}

jc_janitor *jc_janitor_start(const jc_config *cfg, jc_runtime *rt, char *errstr,
                             size_t errstr_size)
{
    jc_janitor *j = calloc(1, sizeof *j);
    if (!j) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    j->cfg = cfg;
    j->rt = rt;
    jw_init(&j->jw, cfg);
    if (pthread_create(&j->thread, NULL, run, j) != 0) {
        snprintf(errstr, errstr_size, "cannot start the janitor thread");
        jw_free(&j->jw);
        free(j);
        return NULL;
    }
    return j;
}

void jc_janitor_stop(jc_janitor *j)
{
    if (!j)
        return;
    pthread_join(j->thread, NULL);
    if (j->db)
        PQfinish(j->db);
    jw_free(&j->jw);
    free(j);
}
