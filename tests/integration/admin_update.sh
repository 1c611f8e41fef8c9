#!/usr/bin/env bash
# admin_update.sh - `jobcoord-admin user update`: a principal changed in
# place. A description changes nothing it may do (same keys, sessions
# kept); a role or scope change keeps its keys and ends its sessions; a
# worker leaving its role keeps its worker record, offline, and a heartbeat
# it sends afterwards (accepted by a coordinator whose key cache still
# holds its old role) does not bring the record back online. A worker
# holding live jobs is refused without --force, which takes them back.
# Bad arguments are refused with the documented exit codes. Checked with
# psql against a real coordinator and mock Kafka.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup admin_update
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
add_principal w1 worker
add_principal w2 worker
add_principal c1 client
# a key cache that outlives the test: the coordinator keeps judging w1 by
# the role it fetched first
start_coordinator --set ingest.key_cache_ttl_ms=600000

gen() { sql "SELECT token_generation FROM principals WHERE id = '$1'"; }
keys() { sql "SELECT string_agg(key_id || encode(secret, 'hex'), ',' ORDER BY key_id) FROM principal_keys WHERE principal_id = '$1'"; }
snapshot() { sql "SELECT string_agg(id || role || array_to_string(scopes, ',') || description || token_generation, ',' ORDER BY id) FROM principals"; sql "SELECT string_agg(id || state || coalesce(worker_id, ''), ',' ORDER BY id) FROM jobs"; sql "SELECT string_agg(id || status, ',' ORDER BY id) FROM workers"; sql "SELECT string_agg(recipient || status, ',' ORDER BY seq) FROM commands"; }

produce_as w1 >/dev/null
produce_as w2 >/dev/null
wait_for 60 "w1 and w2 online" sql_is 2 "SELECT count(*) FROM workers WHERE status = 'online'" || exit 1

run user update --help
check "update --help documents --description" contains "$OUT" "--description TEXT"
check "update --help says the keys stay" contains "$OUT" "same keys"

# --- bad arguments -------------------------------------------------------------
BEFORE=$(snapshot)
run user update c1; rc_is "update without an option" 100
run user update c1 --scopes ''; rc_is "update with an empty --scopes" 100
run user update c1 --scopes jobs:read --clear-scopes; rc_is "update with --scopes and --clear-scopes" 100
run user update c1 --role; rc_is "update with --role missing its value" 100
run user update c1 --bogus x; rc_is "update with an unknown option" 100
run user update nobody --description x; rc_is "update of an unknown principal" 1
check "the refusal names the principal" contains "$ERR" "no principal 'nobody'"
run user update 'bad id' --description x; rc_is "update with an invalid id" 1
run user update c1 --role king; rc_is "update with an invalid role" 1
check "the refusal lists the roles" contains "$ERR" "invalid role 'king'"
run user update c1 --scopes jobs:run; rc_is "update with a scope the role cannot hold" 1
run user update c1 --scopes nosuch:scope; rc_is "update with an unknown scope" 1
run user update c1 --role reader; rc_is "update to a role its scopes do not fit" 0
run user update c1 --role client; rc_is "and back" 0
BEFORE=$(snapshot)
run user update c1 --description "$(head -c 257 /dev/zero | tr '\0' 'x')"
rc_is "a description of 257 bytes" 1
check "the refusal gives the limit" contains "$ERR" "at most 256 bytes"
run user update c1 --description "$(printf 'a\tb')"; rc_is "a description with a control character" 1
run user update c1 --description "$(printf 'a\377b')"; rc_is "a description that is not UTF-8" 1
check_eq "the refused updates changed nothing" "$BEFORE" "$(snapshot)"

# --- the description: nothing else changes ---------------------------------------
G=$(gen c1) K=$(keys c1)
run user update c1 --description "billing service — eu"
rc_is "update --description" 0
check "the output does not say the sessions ended" not contains "$OUT" "sessions ended"
check_eq "the description is stored" "billing service — eu" "$(sql "SELECT description FROM principals WHERE id = 'c1'")"
check_eq "sessions kept (token generation unchanged)" "$G" "$(gen c1)"
check_eq "keys unchanged" "$K" "$(keys c1)"
run user show c1
check_eq "user show prints it" "billing service — eu" "$(awk '$1 == "description" { sub(/^description +/, ""); print; exit }' <<<"$OUT")"
run --json user show c1
check_eq "user show --json has it" "billing service — eu" "$(js 'd["description"]')"
run user update c1 --description ''
check_eq "an empty description removes it" "" "$(sql "SELECT description FROM principals WHERE id = 'c1'")"

# --- scopes: sessions end, keys stay -----------------------------------------------
run --json user update c1 --scopes jobs:read
rc_is "update --scopes" 0
check_eq "json: role, scopes, sessions ended" "client ['jobs:read'] True" "$(js 'd["role"], d["scopes"], d["sessions_ended"]')"
check "sessions ended (token generation moved)" test "$(gen c1)" != "$G"
check_eq "keys unchanged" "$K" "$(keys c1)"
G=$(gen c1)
run user update c1 --scopes jobs:read
check_eq "the same scopes again end nothing" "$G" "$(gen c1)"

# --- a worker holding a live job leaves its role -------------------------------------
J=00000000-0000-4000-8000-000000000001
sql "INSERT INTO jobs (id, submitter, type, payload, max_attempts, attempt, state, timeout_ms, worker_id, lease_expires_at)
     VALUES ('$J', 'c1', 't', 'p', 3, 1, 'running', 60000, 'w1', now() + interval '1 h')"
sql "INSERT INTO commands (id, kind, recipient, job_id, attempt, status) VALUES (gen_random_uuid(), 'drain', 'w1', NULL, NULL, 'pending')"
BEFORE=$(snapshot)
K=$(keys w1)
run user update w1 --role client
rc_is "a worker holding a job leaving its role without --force" 1
check "the refusal counts the job and names --force" contains "$ERR" "holds 1 live job"
check "... and names --force" contains "$ERR" "--force"
check_eq "the refusal changed nothing" "$BEFORE" "$(snapshot)"
run user update w1 --role client --force
rc_is "update --role client --force" 0
check "output: the job taken back" contains "$OUT" "1 held job taken back: 1 pending again"
check "output: the record is kept" contains "$OUT" "worker record is kept, offline"
check_eq "the job is pending again with the reason" \
    "pending|its worker 'w1' left the worker role (jobcoord-admin user update --force)" \
    "$(sql "SELECT state || '|' || error FROM jobs WHERE id = '$J'")"
check_eq "the worker record is kept, offline" "offline" "$(sql "SELECT status FROM workers WHERE id = 'w1'")"
check_eq "its pending command failed" "failed" "$(sql "SELECT status FROM commands WHERE recipient = 'w1' AND kind = 'drain'")"
check_eq "the role changed, the keys did not" "client $K" "$(sql "SELECT role FROM principals WHERE id = 'w1'") $(keys w1)"

# a heartbeat after that: its key cache still says worker, the record stays offline
HB=$(sql "SELECT count(*) FROM heartbeats WHERE worker_id = 'w1'")
produce_as w1 >/dev/null
produce_as w2 >/dev/null
wait_for 60 "the heartbeats consumed" sql_is 4 "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE topic = 'jobcoord.heartbeats'" || exit 1
sleep 1
check "the heartbeat was accepted by the stale cache" test "$(sql "SELECT count(*) FROM heartbeats WHERE worker_id = 'w1'")" -gt "$HB"
check_eq "the ex-worker's record stays offline" "offline" "$(sql "SELECT status FROM workers WHERE id = 'w1'")"
check_eq "the worker w2 is still online" "online" "$(sql "SELECT status FROM workers WHERE id = 'w2'")"

# an idle worker leaves its role without --force
run --json user update w2 --role client --scopes jobs:read
rc_is "an idle worker leaves its role" 0
check_eq "json: left the role, no jobs" "True 0" "$(js 'd["left_worker_role"], d["held_jobs"]')"
check_eq "its record is kept" "1" "$(sql "SELECT count(*) FROM workers WHERE id = 'w2'")"

# --- the audit trail: one entry per update that reached the database ---------------
audit() { sql "SELECT string_agg(target || ' ' || outcome || ' ' || detail, ' | ' ORDER BY id) FROM (SELECT * FROM audit_log WHERE action = '$1' ORDER BY id DESC LIMIT ${2:-1}) e"; }
check_eq "audit: the idle worker's update" "w2 ok --role=client --scopes=jobs:read" "$(audit user.update)"
check_eq "audit: the refused update of w1 names the refusal" "w1 refused --role=client; exit 1: worker 'w1' holds 1 live job: drain it and wait for them to end, or give --force to take them back; nothing changed" \
    "$(sql "SELECT target || ' ' || outcome || ' ' || detail FROM audit_log WHERE action = 'user.update' AND target = 'w1' ORDER BY id LIMIT 1")"
check "audit: the operator is the actor (user@host)" contains "$(sql "SELECT actor FROM audit_log WHERE action = 'user.update' ORDER BY id DESC LIMIT 1")" "@"
check_eq "audit: a usage error leaves no entry" "0" "$(sql "SELECT count(*) FROM audit_log WHERE action = 'user.update' AND detail LIKE '%clear-scopes%' AND detail LIKE '%--scopes=jobs:read%'")"

jc_done
