#!/usr/bin/env bash
# admin_delete.sh - `jobcoord-admin user delete` of a principal that still
# has work: a worker holding jobs in every live state and a client whose
# jobs have not ended. Without --force the delete is refused and changes
# nothing; with --force the held jobs go back through the state machine
# (pending while attempts remain, failed otherwise, canceling ends
# canceled), the submitted ones are canceled, the principal's pending
# commands are marked failed, all in the transaction that deletes it, and
# the output (text and --json) says what happened. Checked with psql.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup admin_delete
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
for p in alice:client bob:client w1:worker w2:worker idle:worker; do
    "$ADMIN" user add "${p%:*}" --role "${p#*:}" >/dev/null 2>&1 || { echo "user add $p failed"; exit 1; }
done
sql "INSERT INTO workers (id, status, last_heartbeat_ts_ms) VALUES ('w1', 'online', 1), ('w2', 'online', 1), ('idle', 'online', 1)"

P=00000000-0000-4000-8000-00000000000
J_RUN=${P}1 J_LAST=${P}2 J_CING=${P}3 J_DONE=${P}4 J_APEND=${P}5 J_ARUN=${P}6 J_ACING=${P}7
sql "INSERT INTO jobs (id, submitter, type, payload, max_attempts, attempt, state, timeout_ms, worker_id,
       lease_expires_at, finished_at) VALUES
 ('$J_RUN',   'bob',   't', 'p', 3, 1, 'running',   60000, 'w1', now() + interval '1 h', NULL),
 ('$J_LAST',  'bob',   't', 'p', 3, 3, 'assigned',  60000, 'w1', now() + interval '1 h', NULL),
 ('$J_CING',  'bob',   't', 'p', 3, 1, 'canceling', 60000, 'w1', now() + interval '1 h', NULL),
 ('$J_DONE',  'bob',   't', 'p', 3, 1, 'succeeded', 60000, 'w1', NULL, now()),
 ('$J_APEND', 'alice', 't', 'p', 3, 0, 'pending',   60000, NULL, NULL, NULL),
 ('$J_ARUN',  'alice', 't', 'p', 3, 1, 'running',   60000, 'w2', now() + interval '1 h', NULL),
 ('$J_ACING', 'alice', 't', 'p', 3, 1, 'canceling', 60000, 'w2', now() + interval '1 h', NULL)"
sql "INSERT INTO commands (id, kind, recipient, job_id, attempt, status) VALUES
 (gen_random_uuid(), 'drain',  'w1', NULL, NULL, 'pending'),
 (gen_random_uuid(), 'assign', 'w1', '$J_RUN', 1, 'sent'),
 (gen_random_uuid(), 'assign', 'w1', '$J_DONE', 1, 'acked'),
 (gen_random_uuid(), 'assign', 'w2', '$J_ARUN', 1, 'sent')"

jobs() { sql "SELECT state || '|' || attempt || '|' || coalesce(worker_id, '-') || '|' || coalesce(error, '-') || '|' || coalesce(cancel_reason, '-') FROM jobs WHERE id = '$1'"; }
snapshot() { sql "SELECT string_agg(id || state || coalesce(worker_id, '') || coalesce(error, ''), ',' ORDER BY id) FROM jobs"; sql "SELECT string_agg(recipient || kind || status, ',' ORDER BY seq) FROM commands"; sql "SELECT count(*) FROM job_events"; }

run user delete --help
check "delete --help documents --force" contains "$OUT" "--force"
check "delete --help says what a refusal exits with" contains "$OUT" "exit 1, nothing"

# --- refused without --force -------------------------------------------------
BEFORE=$(snapshot)
run user delete w1
rc_is "delete of a worker holding jobs without --force" 1
check "the refusal counts the held jobs" contains "$ERR" "holds 3 live jobs"
check "the refusal names --force" contains "$ERR" "--force"
check_eq "the refused delete changed nothing" "$BEFORE" "$(snapshot)"
check_eq "w1 still exists" "1 1" "$(sql "SELECT count(*) FROM principals WHERE id = 'w1'") $(sql "SELECT count(*) FROM workers WHERE id = 'w1'")"
run user delete alice
rc_is "delete of a client with live jobs without --force" 1
check "the refusal counts the submitted jobs" contains "$ERR" "submitted 3"
run user delete idle
rc_is "a worker without jobs is deleted without --force" 0
check_eq "idle is gone" "0" "$(sql "SELECT count(*) FROM principals WHERE id = 'idle'")"
run user delete nobody; rc_is "delete of an unknown principal" 1
run user delete 'bad id'; rc_is "delete with an invalid id" 1

# --- --force on the worker -----------------------------------------------------
run user delete w1 --force
rc_is "delete --force of w1" 0
check "output: the running job is taken back" contains "$OUT" "job $J_RUN: running -> pending (held by it: taken back)"
check "output: the job without attempts failed" contains "$OUT" "job $J_LAST: assigned -> failed"
check "output: the canceling job is canceled" contains "$OUT" "job $J_CING: canceling -> canceled"
check "output: the summary" contains "$OUT" "3 held jobs taken back: 1 pending again, 1 failed (no attempts left), 1 canceled"
check "output: the commands" contains "$OUT" "2 pending commands to w1 canceled"
check "output: deleted" contains "$OUT" "deleted w1"
OP="$(id -un)@$(hostname)"
WHY="its worker 'w1' was deleted by operator $OP (jobcoord-admin user delete --force)"
check_eq "running job: pending again, no worker, the reason as its error" "pending|1|-|$WHY|-" "$(jobs "$J_RUN")"
check_eq "last attempt: failed with the reason" "failed|3|w1|$WHY|-" "$(jobs "$J_LAST")"
check_eq "canceling job: canceled" "canceled|1|w1|$WHY|-" "$(jobs "$J_CING")"
check_eq "finished job untouched" "succeeded|1|w1|-|-" "$(jobs "$J_DONE")"
check_eq "the transitions are in the history with the reason" \
    "running>pending|$WHY assigned>failed|$WHY canceling>canceled|$WHY" \
    "$(sql "SELECT string_agg(from_state || '>' || to_state || '|' || text, ' ' ORDER BY job_id) FROM job_events WHERE kind = 'state'")"
check_eq "w1's commands not acknowledged are failed, the acked one stays" \
    "drain:failed:not sent: the recipient was deleted by an operator assign:failed:not sent: the recipient was deleted by an operator assign:acked:" \
    "$(sql "SELECT string_agg(kind || ':' || status || ':' || coalesce(error, ''), ' ' ORDER BY seq) FROM commands WHERE recipient = 'w1'")"
check_eq "the submitter is told how the ended jobs ended" "$J_LAST:failed $J_CING:canceled" \
    "$(sql "SELECT string_agg(job_id || ':' || state, ' ' ORDER BY job_id) FROM commands WHERE kind = 'job.update' AND recipient = 'bob' AND status = 'pending'")"
check_eq "w1, its worker row and keys are gone" "0 0 0" \
    "$(sql "SELECT count(*) FROM principals WHERE id = 'w1'") $(sql "SELECT count(*) FROM workers WHERE id = 'w1'") $(sql "SELECT count(*) FROM principal_keys WHERE principal_id = 'w1'")"
check_eq "the requeued job is runnable now" "t" "$(sql "SELECT run_after <= now() AND lease_expires_at IS NULL FROM jobs WHERE id = '$J_RUN'")"

# --- --force on the client, --json --------------------------------------------
run --json user delete alice --force
rc_is "delete --force --json of alice" 0
check_eq "json: role and counts" "client True 0 3 1 1 1" \
    "$(js 'd["role"], d["deleted"], d["held_jobs"], d["submitted_jobs"], d["canceled"], d["canceling"], d["commands_canceled"]')"
check_eq "json: the jobs it changed" "$J_APEND:submitter:pending>canceled $J_ARUN:submitter:running>canceling" \
    "$(js '" ".join(j["id"] + ":" + j["as"] + ":" + j["from"] + ">" + j["to"] for j in d["jobs"])')"
AWHY="its submitter 'alice' was deleted by operator $OP (jobcoord-admin user delete --force)"
check_eq "pending job of alice: canceled" "canceled|0|-|-|$AWHY" "$(jobs "$J_APEND")"
check_eq "running job of alice: canceling on w2" "canceling|1|w2|-|$AWHY" "$(jobs "$J_ARUN")"
check_eq "an already canceling job of alice is left to end" "canceling|1|w2|-|-" "$(jobs "$J_ACING")"
check_eq "w2 is sent a cancel naming the action" "cancel|$AWHY|pending" \
    "$(sql "SELECT kind || '|' || reason || '|' || status FROM commands WHERE recipient = 'w2' AND kind = 'cancel'")"
check_eq "no job update is left to send to alice" "0" \
    "$(sql "SELECT count(*) FROM commands WHERE recipient = 'alice' AND status IN ('pending', 'sent')")"

jc_done
