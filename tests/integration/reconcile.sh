#!/usr/bin/env bash
# reconcile: heartbeat reconciliation when heartbeats and job events arrive
# in either order (they travel on different topics). A worker may list a
# job until its final event is delivered, or drop it as soon as it is sent:
# neither costs a needless cancel or takes a finished job back. A job
# missing from the heartbeats for longer than jobs.reconcile_grace_ms is
# taken back; a job still listed that long after its attempt ended gets one
# cancel, not one per heartbeat. Also the janitor's prune of outbox rows
# that no job takes along (job-less cancels, old config commands and
# answers), and that it finds them by index among a long history.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup reconcile

GRACE_MS=3000
start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal w1 worker
add_principal w2 worker
add_principal c1 client
COORD_ARGS=(--set janitor.interval_ms=200 --set jobs.reconcile_grace_ms=$GRACE_MS
            --set janitor.worker_offline_after_s=600 --set jobs.assign_timeout_ms=600000)
start_coordinator "${COORD_ARGS[@]}"

uuid() { cat /proc/sys/kernel/random/uuid; }
submit() { local j=$1; shift; produce_as c1 --topic job-requests --type job.submit --job-id "$j" --job-type t1 "$@" >/dev/null; }
event() { local j=$1 a=$2 k=$3; shift 3; produce_as w1 --topic job-events --type job.event --job-id "$j" --attempt "$a" --kind "$k" "$@" >/dev/null; }
state() { sql "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
wait_state() { wait_for "${3:-20}" "job $1 $2" sql_is "$2" "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
cancels() { sql "SELECT count(*) FROM commands WHERE kind = 'cancel' AND job_id = '$1'"; }
rej() { sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = '$1'"; }
# hb [--running J@A,...] [--job-type T]: one heartbeat of w1, waited for
# until applied (reconciliation runs in the same transaction)
hb() {
    local before
    before=$(sql "SELECT count(*) FROM heartbeats WHERE worker_id = 'w1'")
    produce_as w1 --job-type t1 "$@" >/dev/null
    wait_for 20 "heartbeat applied" sql_is $((before + 1)) "SELECT count(*) FROM heartbeats WHERE worker_id = 'w1'"
}
# start_job J: submitted, assigned to w1 and started, a second ago
start_job() {
    submit "$1"
    wait_state "$1" "assigned 1 w1" || exit 1
    event "$1" 1 started
    wait_state "$1" "running 1 w1" || exit 1
    sleep 1.2
}

hb
# --- the final event first, then a heartbeat that still lists the job
#     (the worker lists it until the event is delivered): no cancel
J1=$(uuid)
start_job "$J1"
event "$J1" 1 succeeded --result ok
wait_state "$J1" "succeeded 1 w1" || exit 1
hb --running "$J1@1"
check_eq "a job listed just after its final event gets no cancel" 0 "$(cancels "$J1")"
T1=$SECONDS

# --- a heartbeat that no longer lists the job first, then its final event
#     (the worker dropped it as soon as the event was sent): the job is
#     not taken back, and the final event ends it
J2=$(uuid)
start_job "$J2"
hb
check_eq "a job dropped from the heartbeat before its final event is not taken back" "running 1 w1" "$(state "$J2")"
event "$J2" 1 succeeded --result ok
wait_state "$J2" "succeeded 1 w1" || exit 1
check_eq "its final event ends it" "succeeded 1 w1" "$(state "$J2")"
check_eq "and is not refused as a zombie's" 0 "$(rej stale_attempt)"
check_eq "no cancel for it" 0 "$(cancels "$J2")"

# --- missing, then listed again: the mark is cleared, the grace starts over
J3=$(uuid)
start_job "$J3"
hb
hb --running "$J3@1"
sleep $((GRACE_MS / 1000 + 1))
hb
check_eq "a job listed again is not taken back by a later omission" "running 1 w1" "$(state "$J3")"

# --- missing for longer than the grace period: the job is lost, taken back
hb --job-type other        # so that it is not assigned to w1 again at once
sleep $((GRACE_MS / 1000 + 1))
hb --job-type other
wait_state "$J3" "pending 1 -" || exit 1
check_eq "a job missing for longer than the grace period is taken back" "pending 1 -" "$(state "$J3")"
check_eq "with the reason" "the worker no longer lists the job in its heartbeats" \
    "$(sql "SELECT error FROM jobs WHERE id = '$J3'")"

# --- a finished job still listed well after the grace period: one cancel,
#     not one per heartbeat
while [ $((SECONDS - T1)) -le $((GRACE_MS / 1000)) ]; do sleep 0.2; done
hb --running "$J1@1"
check_eq "a job still listed after the grace period gets a cancel" 1 "$(cancels "$J1")"
hb --running "$J1@1"
hb --running "$J1@1"
check_eq "only one while it is being sent" 1 "$(cancels "$J1")"
check_eq "addressed to the worker, for the attempt" "w1 1" \
    "$(sql "SELECT recipient || ' ' || attempt FROM commands WHERE kind = 'cancel' AND job_id = '$J1'")"

# --- amplification: one heartbeat listing 1024 jobs nobody has. Answers
#     are bounded (64 per heartbeat, each job attempt once per grace
#     period), carry the job id (so they can be sent), are pruned once done,
#     and the log lines are rate-limited
python3 -c 'import uuid; print(",".join(str(uuid.uuid4()) + "@1" for _ in range(1024)))' >"$T/bogus"
flood() {
    local before
    before=$(sql "SELECT count(*) FROM heartbeats WHERE worker_id = 'w2'")
    produce_as w2 --job-type t9 --running "$(cat "$T/bogus")" >/dev/null
    wait_for 20 "w2 heartbeat applied" sql_is $((before + 1)) "SELECT count(*) FROM heartbeats WHERE worker_id = 'w2'"
}
lines_before=$(grep -c -E 'lists job|cancel .* failed' "$T/coordinator.log")
flood
check_eq "1024 unknown jobs listed: at most 64 cancels" 64 "$(sql "SELECT count(*) FROM commands WHERE recipient = 'w2'")"
flood
check_eq "the next heartbeat answers the next 64, never the same twice" "128 128" \
    "$(sql "SELECT count(*) || ' ' || count(DISTINCT job_id) FROM commands WHERE recipient = 'w2'")"
check_eq "every answer names its job" 0 "$(sql "SELECT count(*) FROM commands WHERE recipient = 'w2' AND job_id IS NULL")"
wait_for 20 "answers sent" sql_is 0 "SELECT count(*) FROM commands WHERE recipient = 'w2' AND status = 'pending'"
check_eq "and they are sent, not failed" 0 "$(sql "SELECT count(*) FROM commands WHERE recipient = 'w2' AND status = 'failed'")"
sleep 1.1
lines=$(( $(grep -c -E 'lists job|cancel .* failed' "$T/coordinator.log") - lines_before ))
check "log lines rate-limited ($lines for 128 answers)" [ "$lines" -le 40 ]
# done an hour ago: the janitor prunes them (it prunes when it starts)
sql "UPDATE commands SET status = 'failed', created_at = now() - interval '2 hours' WHERE recipient = 'w2'" >/dev/null
# outbox rows no job takes along (a config command, an answer naming a job
# that never existed) go once older than jobs.retention_s (7 days), found
# through their partial index (021), not by reading every outbox row: 20,000
# job updates of other jobs stand for the outbox of a long history
sql "INSERT INTO commands (id, kind, recipient, config_version, status, created_at)
     VALUES (gen_random_uuid(), 'config', 'w1', 1, 'acked', now() - interval '8 days'),
            (gen_random_uuid(), 'config', 'w1', 2, 'acked', now() - interval '1 day');
     INSERT INTO commands (id, kind, recipient, job_id, state, status, answers_type, created_at)
     VALUES (gen_random_uuid(), 'job.update', 'c1', gen_random_uuid(), 'succeeded', 'done',
             'job.submit', now() - interval '8 days');
     INSERT INTO commands (id, kind, recipient, job_id, state, status, created_at)
     SELECT gen_random_uuid(), 'job.update', 'c-history', gen_random_uuid(), 'succeeded', 'done',
            now() - interval '30 days' * random() FROM generate_series(1, 20000);
     ANALYZE commands" >/dev/null
kill -TERM "$COORD_PID"; wait "$COORD_PID" 2>/dev/null
start_coordinator "${COORD_ARGS[@]}"
wait_for 20 "job-less cancels pruned" sql_is 0 "SELECT count(*) FROM commands WHERE recipient = 'w2'"
check_eq "outbox rows of no job past retention pruned, younger kept" "1 0 20000" \
    "$(sql "SELECT (SELECT count(*) FROM commands WHERE kind = 'config') || ' ' ||
                   (SELECT count(*) FROM commands WHERE answers_type IS NOT NULL) || ' ' ||
                   (SELECT count(*) FROM commands WHERE recipient = 'c-history')")"
UNOWNED_SCANS="SELECT coalesce((SELECT idx_scan > 0 FROM pg_stat_user_indexes
                                 WHERE indexrelname = 'commands_unowned_created'), false)"
wait_for 20 "index statistics reported" sql_is t "$UNOWNED_SCANS"
check_eq "the prune found them through commands_unowned_created" t "$(sql "$UNOWNED_SCANS")"
check_eq "finished cancels of unknown jobs are pruned" 0 "$(sql "SELECT count(*) FROM commands WHERE recipient = 'w2'")"
check_eq "cancels of known jobs are kept" 1 "$(cancels "$J1")"

check_eq "no transition applied twice" 0 "$(sql "SELECT count(*) FROM (SELECT job_id, attempt, from_state, to_state FROM job_events WHERE kind = 'state' GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d")"
check "coordinator still running" kill -0 "$COORD_PID"
jc_done
