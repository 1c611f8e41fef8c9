#!/usr/bin/env bash
# admin_jobs.sh - jobcoord-admin's job and worker-control commands against a
# private database. Jobs are inserted with SQL in every state; each command
# is then checked by its output, its exit code and the rows it leaves (jobs,
# job_events, the commands outbox, worker_settings, workers), refusals
# included: those must change nothing. A psql session LISTENing on
# jobcoord_outbox checks that changes wake the coordinator's relay.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup admin_jobs
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
for p in alice:client bob:client w1:worker w2:worker w3:worker; do
    "$ADMIN" user add "${p%:*}" --role "${p#*:}" >/dev/null 2>&1 || { echo "user add $p failed"; exit 1; }
done
sql "INSERT INTO workers (id, status, last_heartbeat_ts_ms) VALUES ('w1', 'online', 1), ('w2', 'offline', 1)"

# outbox: the commands rows, one per line, oldest first.
outbox() { sql "SELECT kind || '|' || recipient || '|' || coalesce(job_id::text, '-') || '|' || coalesce(attempt::text, '-') || '|' || coalesce(state, '-') || '|' || coalesce(reason, '-') || '|' || status FROM commands ORDER BY seq"; }
ncommands() { sql "SELECT count(*) FROM commands"; }
nevents() { sql "SELECT count(*) FROM job_events"; }
job_state() { sql "SELECT state FROM jobs WHERE id = '$1'"; }
# the operator the CLI names in the history of what it changes
OP="$(id -un)@$(hostname)"

# --- help ------------------------------------------------------------------
for c in "job" "job list" "job show" "job logs" "job cancel" "job retry" "worker drain" \
    "worker undrain" "worker config" "worker events"; do
    # shellcheck disable=SC2086
    run $c --help
    check_eq "'$c --help' exits 0" 0 "$RC"
    check "'$c --help' prints a usage line" contains "$OUT" "Usage: jobcoord-admin"
done
run --help
check "the overview lists job cancel" contains "$OUT" "job cancel"
run worker config --help
check "worker config --help documents --set" contains "$OUT" "--set KEY=VALUE"
run job show; rc_is "job show without id" 100
run job cancel a b; rc_is "job cancel with two ids" 100
run job list --bogus; rc_is "job list with an unknown option" 100

# --- jobs in every state ---------------------------------------------------
P=00000000-0000-4000-8000-00000000000
J_PEND=${P}1 J_ASSN=${P}2 J_RUN=${P}3 J_SUCC=${P}4 J_FAIL=${P}5 J_CING=${P}6 J_CAN=${P}7 J_OLD=${P}8
LONG_ERR="boom: $(printf 'e%.0s' $(seq 80))"
sql "INSERT INTO jobs (id, submitter, type, payload, priority, max_attempts, attempt, state, timeout_ms,
       worker_id, progress, result, error, created_at, updated_at, lease_expires_at, finished_at) VALUES
 ('$J_PEND', 'alice', 'thumb',     'hello payload',            5, 3, 0, 'pending',   60000, NULL, NULL, NULL, NULL,
   now() - interval '1 min', now(), NULL, NULL),
 ('$J_ASSN', 'alice', 'transcode', '\\x00ff10'::bytea,         0, 3, 1, 'assigned',  60000, 'w1', NULL, NULL, NULL,
   now() - interval '2 min', now(), now() + interval '1 h', NULL),
 ('$J_RUN',  'bob',   'transcode', convert_to(repeat('x', 100), 'UTF8'), 0, 3, 2, 'running', 60000, 'w1', 40, NULL, NULL,
   now() - interval '3 min', now(), now() + interval '1 h', NULL),
 ('$J_SUCC', 'alice', 'thumb',     'p',                        0, 3, 1, 'succeeded', 60000, 'w2', 100, 'done', NULL,
   now() - interval '4 min', now(), NULL, now()),
 ('$J_FAIL', 'bob',   'thumb',     'p',                        0, 3, 3, 'failed',    60000, 'w2', 70, 'partial',
   E'$LONG_ERR\\nsecond line', now() - interval '5 min', now(), NULL, now()),
 ('$J_CING', 'alice', 'thumb',     E'say \"hi\"\\n',                      0, 3, 1, 'canceling', 60000, 'w1', NULL, NULL, NULL,
   now() - interval '6 min', now(), now() + interval '20 s', NULL),
 ('$J_CAN',  'bob',   'thumb',     'p',                        0, 3, 1, 'canceled',  60000, NULL, NULL, NULL, NULL,
   now() - interval '7 min', now(), NULL, now()),
 ('$J_OLD',  'bob',   'report',    '',                         0, 3, 1, 'succeeded', 60000, 'w2', NULL, NULL, NULL,
   now() - interval '2 days', now(), NULL, now())"
sql "INSERT INTO job_events (job_id, attempt, kind, from_state, to_state, worker_id, stream, progress, text, at) VALUES
 ('$J_RUN', 2, 'state', 'pending', 'assigned', 'w1', NULL, NULL, NULL, now() - interval '3 s'),
 ('$J_RUN', 2, 'state', 'assigned', 'running', 'w1', NULL, NULL, NULL, now() - interval '2 s'),
 ('$J_RUN', 2, 'log', NULL, NULL, 'w1', 'stdout', NULL, 'hello from the job', now() - interval '1 s'),
 ('$J_RUN', 2, 'progress', NULL, NULL, 'w1', NULL, 40, NULL, now())"

# --- job list --------------------------------------------------------------
run job list
rc_is "job list" 0
check_eq "job list: a header and 8 jobs, newest first" "ID $J_PEND $J_ASSN $J_RUN $J_SUCC $J_FAIL $J_CING $J_CAN $J_OLD" \
    "$(awk '{print $1}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
check "job list row: type, state, attempt/max, worker, submitter, priority" \
    grep -q "^$J_RUN *transcode *running *2/3 *w1 *bob *0 " <<<"$OUT"
check "job list cuts long errors to one line" grep -q "^$J_FAIL .*boom: eeee*\.\.\.$" <<<"$OUT"
check "job list: the cut error is 60 characters" [ "$(grep "^$J_FAIL" <<<"$OUT" | grep -o 'boom: .*' | wc -c)" -eq 61 ]
run job list --state running
check_eq "job list --state" "$J_RUN" "$(awk 'NR > 1 {print $1}' <<<"$OUT")"
run job list --type transcode --worker w1
check_eq "job list --type --worker" "$J_ASSN $J_RUN" "$(awk 'NR > 1 {print $1}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
run job list --window 3600
check "job list --window leaves out old jobs" not contains "$OUT" "$J_OLD"
check_eq "job list --window keeps the recent ones" 8 "$(wc -l <<<"$OUT")"
run job list --limit 2
check_eq "job list --limit" "$J_PEND $J_ASSN" "$(awk 'NR > 1 {print $1}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
run job list --state nope; rc_is "job list unknown state" 1
run job list --limit 0; rc_is "job list --limit 0" 1
run job list --window x; rc_is "job list bad window" 1
run job list --type none
check_eq "job list with no match" "(none)" "$OUT"
run --json job list --state failed
rc_is "job list --json" 0
check_eq "job list --json: numbers apart, whole error" "1 3 3 $LONG_ERR|second line" \
    "$(js 'len(d), d[0]["attempt"], d[0]["max_attempts"], d[0]["error"].replace("\n", "|")')"

# --- job show --------------------------------------------------------------
run job show "$J_PEND"
rc_is "job show" 0
check_eq "job show state" pending "$(field state)"
check_eq "job show submitter" alice "$(field submitter)"
check "job show previews a text payload" grep -q '^payload *13 bytes: "hello payload"$' <<<"$OUT"
check "job show: no result" grep -q '^result *-$' <<<"$OUT"
check "job show: no commands yet" contains "$OUT" "(none)"
run job show "$J_ASSN"
check "job show previews a binary payload in hex" grep -q '^payload *3 bytes, hex: 00ff10$' <<<"$OUT"
run job show "$J_RUN"
check "job show cuts a long payload" grep -q "^payload *100 bytes: \"x\{64\}\"\.\.\.$" <<<"$OUT"
check_eq "job show progress" 40 "$(field progress)"
run job show "$J_SUCC"
check "job show previews the result" grep -q '^result *4 bytes: "done"$' <<<"$OUT"
run job show "$J_CING"
check_eq "job show escapes quotes and newlines" 'payload           9 bytes: "say \"hi\"\n"' "$(grep '^payload' <<<"$OUT")"
run --json job show "$J_ASSN"
rc_is "job show --json" 0
check_eq "job show --json: payload in base64, sizes, worker" "AP8Q 3 None None w1 1 []" \
    "$(js 'd["payload"], d["payload_size"], d["result"], d["result_size"], d["worker_id"], d["attempt"], d["commands"]')"
run job show 00000000-0000-4000-8000-999999999999; rc_is "job show unknown" 1
check "unknown job is named" contains "$ERR" "no job"
run job show 42; rc_is "job show invalid id" 1

# --- job logs --------------------------------------------------------------
run job logs "$J_RUN"
rc_is "job logs" 0
check_eq "job logs: header and 4 events" 5 "$(wc -l <<<"$OUT")"
check "job logs: transitions" grep -q " 2 *state *w1 *pending -> assigned$" <<<"$OUT"
check "job logs: in order" [ "$(grep -n 'pending -> assigned' <<<"$OUT" | cut -d: -f1)" -lt "$(grep -n 'assigned -> running' <<<"$OUT" | cut -d: -f1)" ]
check "job logs: log lines" grep -q "log *w1 *stdout: hello from the job$" <<<"$OUT"
check "job logs: progress" grep -q "progress *w1 *40%$" <<<"$OUT"
run --json job logs "$J_RUN"
check_eq "job logs --json" "4 state running log stdout 40" \
    "$(js 'len(d), d[1]["kind"], d[1]["to_state"], d[2]["kind"], d[2]["stream"], d[3]["progress"]')"
run job logs "$J_OLD"
check_eq "job logs without events" "(none)" "$OUT"
run job logs 00000000-0000-4000-8000-999999999999; rc_is "job logs unknown" 1

# --- job cancel ------------------------------------------------------------
# A session LISTENing on the relay's channel, to see the NOTIFYs.
psql -X -d "$JC_DB" >"$T/listen.out" 2>&1 <<'EOF' &
LISTEN jobcoord_outbox;
SELECT pg_sleep(4);
SELECT 'listener done';
EOF
LISTENER=$!
wait_for 10 "listener ready" sql_is t "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(4)%' AND pid <> pg_backend_pid())"

run job cancel "$J_PEND" --reason "no longer needed"
rc_is "cancel a pending job" 0
check "cancel reports the move" contains "$OUT" "job $J_PEND: pending -> canceled"
check_eq "pending -> canceled at once, with finish time and reason" "canceled|t|no longer needed|" \
    "$(sql "SELECT state, finished_at IS NOT NULL, cancel_reason, lease_expires_at FROM jobs WHERE id = '$J_PEND'")"
check_eq "its job_events row names the operator" "0|state|pending|canceled||canceled by operator $OP: no longer needed" \
    "$(sql "SELECT attempt, kind, from_state, to_state, worker_id, text FROM job_events WHERE job_id = '$J_PEND'")"
check_eq "a job.update for the submitter" "job.update|alice|$J_PEND|0|canceled|-|pending" "$(outbox)"
check "the command id is a fresh UUID" sql_is t "SELECT id <> '00000000-0000-0000-0000-000000000000' AND tries = 0 FROM commands"
wait "$LISTENER"
check "the relay was notified" grep -q 'notification "jobcoord_outbox" received' "$T/listen.out"

run --json job cancel "$J_RUN" --reason "operator says stop"
rc_is "cancel a running job" 0
check_eq "cancel --json" "running canceling 2 cancel w1" \
    "$(js 'd["from"], d["to"], d["attempt"], d["command"]["kind"], d["command"]["recipient"]')"
check_eq "running -> canceling with a 30 s lease and the reason" "canceling|t|operator says stop|w1|f" \
    "$(sql "SELECT state, lease_expires_at BETWEEN now() + interval '25 s' AND now() + interval '31 s', cancel_reason, worker_id, finished_at IS NOT NULL FROM jobs WHERE id = '$J_RUN'")"
check_eq "a cancel command for the worker" "cancel|w1|$J_RUN|2|-|operator says stop|pending" "$(outbox | tail -1)"
check_eq "the json names that command" "$(js 'd["command"]["id"]')" "$(sql "SELECT id FROM commands ORDER BY seq DESC LIMIT 1")"
check_eq "its job_events row names the worker, as the daemon's do, and the operator" \
    "2|running|canceling|w1|canceled by operator $OP: operator says stop" \
    "$(sql "SELECT attempt, from_state, to_state, worker_id, text FROM job_events WHERE job_id = '$J_RUN' ORDER BY id DESC LIMIT 1")"

run job cancel "$J_ASSN"
rc_is "cancel an assigned job" 0
check_eq "assigned -> canceling, no reason" "canceling|" "$(sql "SELECT state, cancel_reason FROM jobs WHERE id = '$J_ASSN'")"
check_eq "a cancel command without reason" "cancel|w1|$J_ASSN|1|-|-|pending" "$(outbox | tail -1)"
run job show "$J_RUN"
check "job show lists the job's commands" grep -q "^[0-9a-f-]\{36\} *cancel *w1 *2 *- *operator says stop *pending *0 " <<<"$OUT"

N_CMD=$(ncommands) N_EV=$(nevents)
run job cancel "$J_SUCC"; rc_is "cancel a succeeded job" 1
check "the refusal names the state" contains "$ERR" "is succeeded: only a pending, assigned or running job can be canceled"
run job cancel "$J_CING"; rc_is "cancel a canceling job" 1
check "the refusal says it is being canceled" contains "$ERR" "already being canceled"
run job cancel "$J_FAIL"; rc_is "cancel a failed job" 1
run job cancel "$J_CAN"; rc_is "cancel a canceled job" 1
run job cancel "$J_RUN"; rc_is "cancel twice" 1
run job cancel 00000000-0000-4000-8000-999999999999; rc_is "cancel an unknown job" 1
run job cancel not-a-uuid; rc_is "cancel an invalid id" 1
run job cancel "$J_CING" --reason ""; rc_is "cancel with an empty reason" 1
check_eq "refused cancels wrote nothing" "$N_CMD $N_EV succeeded canceling" \
    "$(ncommands) $(nevents) $(job_state "$J_SUCC") $(job_state "$J_CING")"

# --- job retry -------------------------------------------------------------
run job retry "$J_FAIL"
rc_is "retry a failed job" 0
check "retry reports the move" contains "$OUT" "job $J_FAIL: failed -> pending"
check_eq "failed -> pending, cleared, one more attempt" "pending|3|4||||||t" \
    "$(sql "SELECT state, attempt, max_attempts, error, result, worker_id, finished_at, progress, run_after <= now() FROM jobs WHERE id = '$J_FAIL'")"
check_eq "its job_events row names the operator and the last worker, as the daemon's requeues do" \
    "3|state|failed|pending|w2|retried by operator $OP" \
    "$(sql "SELECT attempt, kind, from_state, to_state, worker_id, text FROM job_events WHERE job_id = '$J_FAIL'")"
run --json job retry "$J_CAN"
rc_is "retry a canceled job" 0
check_eq "retry --json" "canceled pending 1" "$(js 'd["from"], d["to"], d["attempt"]')"
check_eq "attempts left are kept" "pending|1|3" "$(sql "SELECT state, attempt, max_attempts FROM jobs WHERE id = '$J_CAN'")"
run job retry "$J_PEND"
rc_is "retry the job canceled above" 0
check_eq "canceled -> pending clears the cancel" "pending||" "$(sql "SELECT state, cancel_reason, finished_at FROM jobs WHERE id = '$J_PEND'")"

N_CMD=$(ncommands) N_EV=$(nevents)
run job retry "$J_RUN"; rc_is "retry a canceling job" 1
check "the refusal names the state" contains "$ERR" "is canceling: only a failed or canceled job can be retried"
run job retry "$J_SUCC"; rc_is "retry a succeeded job" 1
run job retry "$J_FAIL"; rc_is "retry a pending job" 1
sql "UPDATE jobs SET state = 'running' WHERE id = '$J_CAN'"
run job retry "$J_CAN"; rc_is "retry a running job" 1
run job retry 00000000-0000-4000-8000-999999999999; rc_is "retry an unknown job" 1
check_eq "refused retries wrote nothing" "$N_CMD $N_EV running succeeded" \
    "$(ncommands) $(nevents) $(job_state "$J_CAN") $(job_state "$J_SUCC")"

# --- worker drain / undrain ------------------------------------------------
N_CMD=$(ncommands)
run worker drain w1
rc_is "drain" 0
check "drain reports the status change" contains "$OUT" "status online -> draining"
check_eq "drain sets the flag and the status" "t|draining" "$(sql "SELECT drain_requested, status FROM workers WHERE id = 'w1'")"
check_eq "a drain command" "drain|w1|-|-|-|-|pending" "$(outbox | tail -1)"
run --json worker drain w1
rc_is "drain again" 0
check_eq "drain again changes nothing" "False None draining $((N_CMD + 1))" \
    "$(js 'd["changed"], d["command_id"], d["status"]') $(ncommands)"
run --json worker undrain w1
rc_is "undrain" 0
check_eq "undrain --json" "True False online" "$(js 'd["changed"], d["drain_requested"], d["status"]')"
check_eq "undrain clears the flag, back online" "f|online" "$(sql "SELECT drain_requested, status FROM workers WHERE id = 'w1'")"
check_eq "an undrain command" "undrain|w1|-|-|-|-|pending" "$(outbox | tail -1)"
run worker undrain w1
check_eq "undrain again sends nothing" "0 $((N_CMD + 2))" "$RC $(ncommands)"
run worker drain w2
check_eq "draining an offline worker keeps it offline" "0 t|offline" "$RC $(sql "SELECT drain_requested, status FROM workers WHERE id = 'w2'")"
run worker drain w3; rc_is "drain a principal that is no worker yet" 1
run worker drain nobody; rc_is "drain an unknown worker" 1
check "unknown worker is named" contains "$ERR" "no worker 'nobody'"
run worker undrain nobody; rc_is "undrain an unknown worker" 1
check_eq "refused drains wrote nothing" "$((N_CMD + 3))" "$(ncommands)"

# --- worker config ---------------------------------------------------------
run worker config w1
rc_is "config show, nothing stored" 0
check_eq "versions start at 0 and none applied" "0 -" "$(field desired_config_version) $(field config_version)"
check "no settings" contains "$OUT" "(none)"
run worker config w1 --set log.level=debug --set 'x:y@z=hello world' --set cache=1
rc_is "config set" 0
check_eq "desired version bumped" 1 "$(sql "SELECT desired_config_version FROM workers WHERE id = 'w1'")"
check_eq "settings stored" "cache=1,log.level=debug,x:y@z=hello world" \
    "$(sql "SELECT string_agg(key || '=' || value, ',' ORDER BY key) FROM worker_settings WHERE worker_id = 'w1'")"
check_eq "a config command with the version and the whole set" 'config|w1|1|{cache,1,log.level,debug,x:y@z,"hello world"}|pending' \
    "$(sql "SELECT kind || '|' || recipient || '|' || config_version || '|' || settings::text || '|' || status FROM commands ORDER BY seq DESC LIMIT 1")"
check_eq "the output names the command" "$(sql "SELECT id FROM commands ORDER BY seq DESC LIMIT 1")" "$(field command)"
check "the output lists the settings" grep -q "^x:y@z *hello world " <<<"$OUT"
run --json worker config w1 --unset cache --set log.level=warn --set empty=
rc_is "config unset and set" 0
check_eq "config --json" "2 None warn  False" \
    "$(js 'd["desired_config_version"], d["config_version"], d["settings"]["log.level"], d["settings"]["empty"], "cache" in d["settings"]')"
check_eq "the second command carries the new set" '2|{empty,"",log.level,warn,x:y@z,"hello world"}' \
    "$(sql "SELECT config_version || '|' || settings::text FROM commands ORDER BY seq DESC LIMIT 1")"
run worker config w1 --set a=1 --unset a
check_eq "changes apply in order" "0 3 0" "$RC $(sql "SELECT desired_config_version FROM workers WHERE id = 'w1'") $(sql "SELECT count(*) FROM worker_settings WHERE key = 'a'")"
run --set log.level=info worker config w1 --set g=1
check_eq "a global --set before the command words is configuration" "0 1" \
    "$RC $(sql "SELECT count(*) FROM worker_settings WHERE worker_id = 'w1' AND key = 'g'")"
sql "UPDATE workers SET config_version = 4 WHERE id = 'w1'"
run --json worker config w1
check_eq "config show --json: desired and applied" "4 4 4" \
    "$(js 'd["desired_config_version"], d["config_version"], len(d["settings"])')"

N_CMD=$(ncommands)
run worker config w1 --set 'bad key=1'; rc_is "config with a bad key" 1
check "the bad key is named" contains "$ERR" "invalid setting name 'bad key'"
run worker config w1 --set "$(printf 'k%.0s' $(seq 65))=1"; rc_is "config with a key too long" 1
run worker config w1 --set "big=$(head -c 1025 /dev/zero | tr '\0' v)"; rc_is "config with a value too long" 1
run worker config w1 --set "ok=$(head -c 1024 /dev/zero | tr '\0' v)" --unset ok
rc_is "config with a 1024-byte value" 0
run worker config w1 --set "bad=$(printf '\xff')"; rc_is "config with invalid UTF-8" 1
run worker config w1 --unset 'no way'; rc_is "config unset of a bad key" 1
run worker config w1 --set novalue; rc_is "config --set without =" 100
run worker config nobody --set a=1; rc_is "config of an unknown worker" 1
run worker config nobody; rc_is "config show of an unknown worker" 1
check_eq "refused configs wrote nothing" "$((N_CMD + 1)) 5 ,empty,g,log.level,x:y@z" \
    "$(ncommands) $(sql "SELECT desired_config_version FROM workers WHERE id = 'w1'") $(sql "SELECT ',' || string_agg(key, ',' ORDER BY key) FROM worker_settings WHERE worker_id = 'w1'")"

# --- worker events ---------------------------------------------------------
sql "INSERT INTO worker_events (worker_id, level, kind, text, meta_keys, meta_values, sent_at, received_at) VALUES
 ('w1', 'debug', 'tick', 'old debug', '{}', '{}', now() - interval '2 h', now() - interval '2 h'),
 ('w1', 'warn', 'disk.low', 'disk almost full', '{path,free}', '{/var,5%}', now() - interval '30 s', now() - interval '30 s'),
 ('w1', 'info', 'config.applied', 'version 4', '{}', '{}', now() - interval '20 s', now() - interval '20 s'),
 ('w1', 'error', 'disk.full', E'disk full\\nnow', '{path}', '{/var}', now() - interval '10 s', now() - interval '10 s'),
 ('w2', 'error', 'other', 'not w1', '{}', '{}', now(), now())"
run worker events w1
rc_is "worker events" 0
check_eq "all of w1's events, newest last" "tick disk.low config.applied disk.full" \
    "$(awk 'NR > 1 {print $5}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
check "metadata as key=value" grep -q "disk.low *disk almost full *path=/var free=5%$" <<<"$OUT"
check "text on one line" grep -q "disk.full *disk full now *path=/var$" <<<"$OUT"
run worker events w1 --level warn
check_eq "--level warn" "disk.low disk.full" "$(awk 'NR > 1 {print $5}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
run worker events w1 --since 60
check_eq "--since seconds ago" "disk.low config.applied disk.full" "$(awk 'NR > 1 {print $5}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
# 5 s before the config.applied event (not "25 s ago": on a slow run the
# commands above took more than 5 s, and that moved past it)
SINCE=$(sql "SELECT to_char((received_at - interval '5 s') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM worker_events WHERE kind = 'config.applied'")
run worker events w1 --since "$SINCE"
check_eq "--since an ISO time" "config.applied disk.full" "$(awk 'NR > 1 {print $5}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
run worker events w1 --limit 2
check_eq "--limit keeps the newest, oldest first" "config.applied disk.full" "$(awk 'NR > 1 {print $5}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
run --json worker events w1 --level error
check_eq "events --json" "1 disk.full /var disk full|now" \
    "$(js 'len(d), d[0]["kind"], d[0]["meta"]["path"], d[0]["text"].replace("\n", "|")')"
run worker events w3
check_eq "a worker without events" "0 (none)" "$RC $OUT"
run worker events w1 --since yesterday-ish; rc_is "--since garbage" 1
run worker events w1 --level loud; rc_is "unknown level" 1
run worker events w1 --limit 0; rc_is "--limit 0" 1
run worker events nobody; rc_is "events of an unknown worker" 1

# --- status ----------------------------------------------------------------
run status
rc_is "status" 0
EXPECT_JOBS=$(sql "SELECT string_agg(s || ' ' || (SELECT count(*) FROM jobs WHERE state = s), ', ' ORDER BY n) FROM unnest(ARRAY['pending','assigned','running','succeeded','failed','canceling','canceled']) WITH ORDINALITY AS t(s, n)")
check "status: jobs by state, zeros included" grep -q "^jobs *$EXPECT_JOBS$" <<<"$OUT"
check "status: the jobs line has every state" contains "$OUT" "assigned 0"
check_eq "status: commands by status" "commands            pending $(ncommands), sent 0, acked 0, failed 0, done 0" \
    "$(grep '^commands' <<<"$OUT")"
sql "UPDATE commands SET status = 'acked' WHERE kind = 'drain'"
run --json status
check_eq "status --json: jobs and commands" "7 2 3 1 2 5" \
    "$(js 'len(d["jobs"]), d["jobs"]["pending"], d["jobs"]["canceling"], d["jobs"]["running"], d["commands"]["acked"], len(d["commands"])')"

jc_done
