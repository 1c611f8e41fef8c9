#!/usr/bin/env bash
# jobs_flow: the job lifecycle through the real coordinator, driven by
# scripted workers and clients that speak the wire protocol (signed
# messages through a real Kafka protocol implementation), checked in
# PostgreSQL: every state, retries with backoff, timeouts, cancellation,
# idempotent submission, the attempt as fencing token against a zombie
# worker, forged and replayed job messages, heartbeat reconciliation, and
# that no transition is ever applied twice.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup jobs_flow

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
# the tables every job writes to are vacuumed early (020_hot_tables.sql)
for t in jobs commands; do
    check_eq "$t: autovacuum after 1% dead rows, no cost delay" \
        "autovacuum_vacuum_cost_delay=0 autovacuum_vacuum_scale_factor=0.01" \
        "$(sql "SELECT string_agg(o, ' ' ORDER BY o) FROM pg_class, unnest(reloptions) o
                 WHERE relname = '$t' AND (o LIKE 'autovacuum_vacuum_scale%' OR o LIKE '%cost_delay%')")"
done
for p in w1 w2; do add_principal "$p" worker; done
for p in c1 c2; do add_principal "$p" client; done
# the scripted workers leave assigns unanswered on purpose: no hold-back
start_coordinator --set janitor.interval_ms=200 --set jobs.assign_timeout_ms=10000 \
    --set jobs.retry_backoff_ms=200 --set janitor.worker_offline_after_s=600 \
    --set jobs.max_refusals=1 --set jobs.unacked_assign_limit=0 \
    --set jobs.reconcile_grace_ms=1000

uuid() { cat /proc/sys/kernel/random/uuid; }
submit() { local j=$1; shift; produce_as c1 --topic job-requests --type job.submit --job-id "$j" "$@" >/dev/null; }
event() { local w=$1 j=$2 a=$3 k=$4; shift 4; produce_as "$w" --topic job-events --type job.event --job-id "$j" --attempt "$a" --kind "$k" "$@" >/dev/null; }
hb() { local w=$1; shift; produce_as "$w" "$@" >/dev/null; }
state() { sql "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
wait_state() { wait_for "${3:-20}" "job $1 $2" sql_is "$2" "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
assign_cmd() { sql "SELECT id FROM commands WHERE kind = 'assign' AND job_id = '$1' AND attempt = $2"; }
rej() { sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = '$1'"; }

# --- success, with progress, a log line and a result; the event carrying
#     the assign command id acknowledges it
J1=$(uuid)
submit "$J1" --job-type t1 --ikey key-1
wait_for 10 "J1 pending" sql_is pending "SELECT state FROM jobs WHERE id = '$J1'"
check_eq "a job with no capable worker waits" "pending 0 -" "$(state "$J1")"
hb w1 --job-type t1
wait_state "$J1" "assigned 1 w1" || exit 1
check_eq "assigned to the capable worker" "assigned 1 w1" "$(state "$J1")"
CMD=$(assign_cmd "$J1" 1)
wait_for 10 "assign command sent" sql_is sent "SELECT status FROM commands WHERE id = '$CMD'"
check_eq "assign command relayed to Kafka" sent "$(sql "SELECT status FROM commands WHERE id = '$CMD'")"
event w1 "$J1" 1 started --cmd "$CMD"
event w1 "$J1" 1 progress --progress 50
event w1 "$J1" 1 log --text "hello from w1"
event w1 "$J1" 1 succeeded --result "the result"
wait_state "$J1" "succeeded 1 w1" || exit 1
check_eq "job succeeded" "succeeded 1 w1" "$(state "$J1")"
check_eq "result stored" "the result" "$(sql "SELECT convert_from(result, 'UTF8') FROM jobs WHERE id = '$J1'")"
check_eq "the started event acknowledged the assign command" acked "$(sql "SELECT status FROM commands WHERE id = '$CMD'")"
check_eq "history: every transition once" "pending>assigned,assigned>running,running>succeeded" \
    "$(sql "SELECT string_agg(from_state || '>' || to_state, ',' ORDER BY id) FROM job_events WHERE job_id = '$J1' AND kind = 'state'")"
check_eq "log line and progress kept" "log:hello from w1,progress:50" \
    "$(sql "SELECT string_agg(kind || ':' || coalesce(text, progress::text), ',' ORDER BY kind) FROM job_events WHERE job_id = '$J1' AND kind IN ('log','progress')")"
wait_for 10 "job update sent" sql_is done "SELECT status FROM commands WHERE job_id = '$J1' AND kind = 'job.update'"
check_eq "job update to the submitter sent" "c1 succeeded done" \
    "$(sql "SELECT recipient || ' ' || state || ' ' || status FROM commands WHERE job_id = '$J1' AND kind = 'job.update'")"

# --- replays and forgeries of job messages change nothing
before=$(sql "SELECT count(*) FROM job_events")
event w1 "$J1" 1 succeeded --result "again"
event w1 "$J1" 1 succeeded --result "forged" --forge mac
produce_as w1 --topic job-events --raw-hex 81a17601 >/dev/null
event w1 "$(uuid)" 1 started
submit "$J1" --job-type t1
produce_as c1 --topic job-requests --raw-hex dc0003a1 >/dev/null
produce_as c1 --topic job-requests --type job.submit --job-type t1 --forge mac >/dev/null
produce_as w1 --topic job-requests --type job.submit --job-type t1 >/dev/null
sleep 1.5
check_eq "replayed/forged/unknown job messages applied nothing" "$before" "$(sql "SELECT count(*) FROM job_events")"
check_eq "result unchanged" "the result" "$(sql "SELECT convert_from(result, 'UTF8') FROM jobs WHERE id = '$J1'")"
check "event for a finished job rejected" [ "$(rej invalid_transition)" -ge 1 ]
check_eq "forged event rejected" 1 "$(sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE topic = 'jobcoord.job-events' AND reason = 'bad_signature'")"
check_eq "event for an unknown job rejected" 1 "$(rej unknown_job)"
check "a known job id submitted again with other content refused (job_exists)" [ "$(rej job_exists)" -ge 1 ]
check_eq "malformed job request rejected" 1 "$(sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE topic = 'jobcoord.job-requests' AND reason IN ('malformed', 'limit')")"
check_eq "forged job request rejected" 1 "$(sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE topic = 'jobcoord.job-requests' AND reason = 'bad_signature'")"
check_eq "a worker may not submit jobs" 1 "$(sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE topic = 'jobcoord.job-requests' AND reason = 'wrong_role'")"
check_eq "no job created by them" 1 "$(sql "SELECT count(*) FROM jobs")"

# --- worker events are stored and listed
produce_as w1 --topic worker-events --type worker.event >/dev/null
wait_for 10 "worker event stored" sql_is 1 "SELECT count(*) FROM worker_events WHERE worker_id = 'w1'"
check_eq "worker event stored" "info test.event hello" "$(sql "SELECT level || ' ' || kind || ' ' || text FROM worker_events WHERE worker_id = 'w1'")"
check "and listed by the admin CLI" sh -c "'$ADMIN' worker events w1 | grep -q test.event"

# --- same idempotency key, new job id: one job, and the client is told
J1B=$(uuid)
submit "$J1B" --job-type t1 --ikey key-1
sleep 1
check_eq "duplicate submission creates no job" 0 "$(sql "SELECT count(*) FROM jobs WHERE id = '$J1B'")"
check_eq "one job for the idempotency key" 1 "$(sql "SELECT count(*) FROM jobs WHERE submitter = 'c1' AND ikey = 'key-1'")"
check "the client got a job update for the existing job" \
    [ "$(sql "SELECT count(*) FROM commands WHERE job_id = '$J1' AND kind = 'job.update'")" -ge 2 ]

# --- retryable failure, then success on the next attempt (after backoff)
J2=$(uuid)
submit "$J2" --job-type t1
wait_state "$J2" "assigned 1 w1" || exit 1
event w1 "$J2" 1 started
event w1 "$J2" 1 failed --retry --text "transient"
wait_state "$J2" "assigned 2 w1" || exit 1
check_eq "retryable failure retried as attempt 2" "assigned 2 w1" "$(state "$J2")"
check_eq "retry waited for the backoff" t "$(sql "SELECT run_after > created_at FROM jobs WHERE id = '$J2'")"
check_eq "the new attempt starts without the last one's error" "-" \
    "$(sql "SELECT coalesce(error, '-') FROM jobs WHERE id = '$J2'")"
check_eq "which the history keeps" 1 \
    "$(sql "SELECT count(*) FROM job_events WHERE job_id = '$J2' AND attempt = 1 AND text = 'transient'")"
event w1 "$J2" 2 started
event w1 "$J2" 2 succeeded
wait_state "$J2" "succeeded 2 w1" || exit 1
check_eq "then succeeded" "succeeded 2 w1" "$(state "$J2")"

# --- permanent failure keeps its error
J3=$(uuid)
submit "$J3" --job-type t1
wait_state "$J3" "assigned 1 w1" || exit 1
event w1 "$J3" 1 failed --text "bad input"
wait_state "$J3" "failed 1 w1" || exit 1
check_eq "non-retryable failure is final" "failed|bad input" "$(sql "SELECT state || '|' || error FROM jobs WHERE id = '$J3'")"

# --- retryable failure out of attempts fails for good
J4=$(uuid)
submit "$J4" --job-type t1 --max-attempts 1
wait_state "$J4" "assigned 1 w1" || exit 1
event w1 "$J4" 1 failed --retry --text "still broken"
wait_state "$J4" "failed 1 w1" || exit 1
check_eq "no attempts left: failed with the last error" "failed|still broken" "$(sql "SELECT state || '|' || error FROM jobs WHERE id = '$J4'")"

# --- cancel while pending (and only by its submitter)
J5=$(uuid)
submit "$J5" --job-type nobody-runs-this
wait_for 10 "J5 pending" sql_is pending "SELECT state FROM jobs WHERE id = '$J5'"
produce_as c2 --topic job-requests --type job.cancel --job-id "$J5" >/dev/null
produce_as c1 --topic job-requests --type job.cancel --job-id "$J5" --reason "no longer needed" >/dev/null
wait_state "$J5" "canceled 0 -" || exit 1
check_eq "pending job canceled at once" "canceled 0 -" "$(state "$J5")"
check_eq "another client may not cancel it" 1 "$(rej not_owner)"

# --- cancel while running: canceling, cancel command, worker confirms
J6=$(uuid)
submit "$J6" --job-type t1
wait_state "$J6" "assigned 1 w1" || exit 1
event w1 "$J6" 1 started
wait_state "$J6" "running 1 w1" || exit 1
produce_as c1 --topic job-requests --type job.cancel --job-id "$J6" >/dev/null
wait_state "$J6" "canceling 1 w1" || exit 1
check_eq "running job goes to canceling" "canceling 1 w1" "$(state "$J6")"
check_eq "the worker is told" "cancel w1" "$(sql "SELECT kind || ' ' || recipient FROM commands WHERE job_id = '$J6' AND kind = 'cancel'")"
event w1 "$J6" 1 canceled
wait_state "$J6" "canceled 1 w1" || exit 1
check_eq "canceled when the worker confirms" "canceled 1 w1" "$(state "$J6")"

# --- an operator's cancel and retry go through the daemon's writer: the same
#     rows as a client's cancel (history, outbox row, lease, reason), the
#     history naming the operator; the relay is woken and sends the cancel
OP="$(id -un)@$(hostname)"
JC=$(uuid) JA=$(uuid)
for j in "$JC" "$JA"; do
    submit "$j" --job-type t1
    wait_state "$j" "assigned 1 w1" || exit 1
    event w1 "$j" 1 started
    wait_state "$j" "running 1 w1" || exit 1
done
produce_as c1 --topic job-requests --type job.cancel --job-id "$JC" --reason "stop it" >/dev/null
wait_state "$JC" "canceling 1 w1" || exit 1
"$ADMIN" job cancel "$JA" --reason "stop it" >/dev/null || { echo "admin cancel failed"; exit 1; }
ev() { sql "SELECT attempt || '|' || kind || '|' || from_state || '|' || to_state || '|' || coalesce(worker_id, '-') || '|' || coalesce(stream, '-') || '|' || coalesce(progress::text, '-') FROM job_events WHERE job_id = '$1' AND to_state = '$2'"; }
cmd() { sql "SELECT kind || '|' || recipient || '|' || attempt || '|' || coalesce(state, '-') || '|' || coalesce(reason, '-') FROM commands WHERE job_id = '$1' AND kind = '$2'"; }
row() { sql "SELECT state || '|' || coalesce(worker_id, '-') || '|' || coalesce(cancel_reason, '-') || '|' || coalesce(error, '-') || '|' || (finished_at IS NULL) || '|' || round(extract(epoch FROM lease_expires_at - updated_at)) FROM jobs WHERE id = '$1'"; }
check_eq "admin cancel: the same job_events row as a client's" "$(ev "$JC" canceling)" "$(ev "$JA" canceling)"
check_eq "admin cancel: the same cancel command" "$(cmd "$JC" cancel)" "$(cmd "$JA" cancel)"
check_eq "admin cancel: the same job row, lease cut to jobs.cancel_timeout_ms" "$(row "$JC")" "$(row "$JA")"
check_eq "the client's history says why" "stop it" "$(sql "SELECT text FROM job_events WHERE job_id = '$JC' AND to_state = 'canceling'")"
check_eq "the operator's history names the operator" "canceled by operator $OP: stop it" \
    "$(sql "SELECT text FROM job_events WHERE job_id = '$JA' AND to_state = 'canceling'")"
wait_for 20 "the relay sends the admin's cancel" sql_is sent "SELECT status FROM commands WHERE job_id = '$JA' AND kind = 'cancel'" || exit 1
for j in "$JC" "$JA"; do event w1 "$j" 1 canceled; done
wait_state "$JA" "canceled 1 w1" || exit 1
wait_state "$JC" "canceled 1 w1" || exit 1
check_eq "admin cancel: the same final job.update" "$(cmd "$JC" job.update | grep '|canceled|')" "$(cmd "$JA" job.update)"
"$ADMIN" job retry "$JA" >/dev/null || { echo "admin retry failed"; exit 1; }
check_eq "admin retry: a history row like a requeue's, naming the operator" \
    "1|state|canceled|pending|w1|retried by operator $OP" \
    "$(sql "SELECT attempt || '|' || kind || '|' || from_state || '|' || to_state || '|' || coalesce(worker_id, '-') || '|' || text FROM job_events WHERE job_id = '$JA' AND from_state = 'canceled'")"
check_eq "admin retry: the job starts over: no cancel reason, error, finish time or result" "-|-|true|true|3" \
    "$(sql "SELECT coalesce(cancel_reason, '-') || '|' || coalesce(error, '-') || '|' || (finished_at IS NULL) || '|' || (result IS NULL) || '|' || max_attempts FROM jobs WHERE id = '$JA'")"
wait_state "$JA" "assigned 2 w1" || exit 1
check_eq "the retried job is assigned again as attempt 2" "assigned 2 w1" "$(state "$JA")"
event w1 "$JA" 2 succeeded --result ok
wait_state "$JA" "succeeded 2 w1" || exit 1

# --- timeout: a running job without progress is taken back
J7=$(uuid)
submit "$J7" --job-type t1 --timeout-ms 1000 --max-attempts 1
wait_state "$J7" "assigned 1 w1" || exit 1
event w1 "$J7" 1 started
wait_state "$J7" "failed 1 w1" 20 || exit 1
check_eq "timed-out job failed (no attempts left)" "failed" "$(sql "SELECT state FROM jobs WHERE id = '$J7'")"
check_eq "and its worker told to stop it" 1 "$(sql "SELECT count(*) FROM commands WHERE job_id = '$J7' AND kind = 'cancel'")"

# --- zombie: w1 loses the job (never starts it), w2 gets attempt 2; w1's
#     late events for attempt 1 are rejected and w2's result stands
J8=$(uuid)
hb w1 --job-type zz
wait_for 10 "w1 takes zz" sql_is '{zz}' "SELECT capabilities FROM workers WHERE id = 'w1'"
submit "$J8" --job-type zz
wait_state "$J8" "assigned 1 w1" || exit 1
hb w1 --job-type t1
hb w2 --job-type zz
wait_state "$J8" "assigned 2 w2" 40 || exit 1
check_eq "requeued after the assign timeout, reassigned as attempt 2" "assigned 2 w2" "$(state "$J8")"
event w1 "$J8" 1 started
event w1 "$J8" 1 succeeded --result "zombie result"
event w2 "$J8" 2 started
event w2 "$J8" 2 succeeded --result "real result"
wait_state "$J8" "succeeded 2 w2" || exit 1
check_eq "zombie events rejected" 2 "$(rej stale_attempt)"
check_eq "the new attempt's result stands" "real result" "$(sql "SELECT convert_from(result, 'UTF8') FROM jobs WHERE id = '$J8'")"

# --- reconciliation: a job the worker runs but does not hold gets a cancel
hb w2 --job-type zz --running "$J1@1"
wait_for 10 "reconcile cancel" sql_is 1 "SELECT count(*) FROM commands WHERE job_id = '$J1' AND kind = 'cancel' AND recipient = 'w2'"
check_eq "cancel command for a job the worker does not hold" 1 "$(sql "SELECT count(*) FROM commands WHERE job_id = '$J1' AND kind = 'cancel' AND recipient = 'w2'")"
# ... and a running job it no longer lists (for longer than the grace
# period) is requeued
J9=$(uuid)
submit "$J9" --job-type zz
wait_state "$J9" "assigned 1 w2" || exit 1
event w2 "$J9" 1 started
wait_state "$J9" "running 1 w2" || exit 1
sleep 1.2
hb w2 --job-type t2
sleep 1.2   # missing from two heartbeats more than jobs.reconcile_grace_ms apart
hb w2 --job-type t2
wait_state "$J9" "pending 1 -" || exit 1
check_eq "a running job its worker no longer reports is requeued" "pending 1 -" "$(state "$J9")"

# --- refused assignment goes back to pending
J10=$(uuid)
hb w1 --job-type rr
submit "$J10" --job-type rr
wait_state "$J10" "assigned 1 w1" || exit 1
hb w1 --job-type t1   # so that no worker can take it again
wait_for 10 "w1 no longer runs rr" sql_is '{t1}' "SELECT capabilities FROM workers WHERE id = 'w1'"
produce_as w1 --topic command-acks --type command.ack --cmd "$(assign_cmd "$J10" 1)" --ack-ok 0 >/dev/null
wait_state "$J10" "pending 1 -" || exit 1
check_eq "refused assignment requeued" "pending 1 -" "$(state "$J10")"
check_eq "and its command marked failed" failed "$(sql "SELECT status FROM commands WHERE id = '$(assign_cmd "$J10" 1)'")"

# --- a refusal uses no attempt, keeps the worker's reason, and the job goes
#     to another worker (the refusing one is skipped for jobs.refusal_skip_s)
refuse() { produce_as "$1" --topic command-acks --type command.ack --cmd "$(assign_cmd "$2" "$3")" --ack-ok 0 >/dev/null; }
J11=$(uuid)
submit "$J11" --job-type t1 --max-attempts 1
wait_state "$J11" "assigned 1 w1" || exit 1
refuse w1 "$J11" 1
wait_for 10 "J11 refused" sql_is 1 "SELECT refusals FROM jobs WHERE id = '$J11'"
check_eq "a refusal of the only attempt leaves the job pending" "pending 1 -" "$(state "$J11")"
check_eq "the worker's reason kept in the job's events" 1 \
    "$(sql "SELECT count(*) FROM job_events WHERE job_id = '$J11' AND to_state = 'pending' AND text = 'worker w1 refused the assignment: refused by test'")"
check_eq "and in its error" "worker w1 refused the assignment: refused by test" "$(sql "SELECT error FROM jobs WHERE id = '$J11'")"
sleep 1 # janitor passes: w1 (free, capable) is not offered the job again
check_eq "the refusing worker is skipped" "pending 1 -" "$(state "$J11")"
hb w2 --job-type t1
wait_state "$J11" "assigned 2 w2" || exit 1
check_eq "another worker gets it" "assigned 2 w2" "$(state "$J11")"
event w2 "$J11" 2 started --cmd "$(assign_cmd "$J11" 2)"
event w2 "$J11" 2 succeeded
wait_state "$J11" "succeeded 2 w2" || exit 1
check_eq "and runs it: its one attempt was not used by the refusal" "succeeded 2 w2" "$(state "$J11")"
# past jobs.max_refusals (1 here) the job fails, saying why
J12=$(uuid)
submit "$J12" --job-type t1 --max-attempts 3
wait_for 20 "J12 assigned" sql_is assigned "SELECT state FROM jobs WHERE id = '$J12'" || exit 1
first=$(sql "SELECT worker_id FROM jobs WHERE id = '$J12'")
refuse "$first" "$J12" 1
wait_for 20 "J12 assigned again" sql_is "assigned 2" "SELECT state || ' ' || attempt FROM jobs WHERE id = '$J12'" || exit 1
second=$(sql "SELECT worker_id FROM jobs WHERE id = '$J12'")
check "to the other worker" [ "$second" != "$first" ]
refuse "$second" "$J12" 2
wait_state "$J12" "failed 2 $second" || exit 1
check_eq "refused too often: failed" "failed 2 $second" "$(state "$J12")"
check_eq "the failure says why" \
    "refused 2 times (jobs.max_refusals is 1); the last refusal, by worker $second: refused by test" \
    "$(sql "SELECT error FROM jobs WHERE id = '$J12'")"

# --- exactly once: no (job, attempt, transition) recorded twice
check_eq "no transition applied twice" 0 "$(sql "SELECT count(*) FROM (SELECT job_id, attempt, from_state, to_state FROM job_events WHERE kind = 'state' GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d")"
check "coordinator still running" kill -0 "$COORD_PID"
jc_done
