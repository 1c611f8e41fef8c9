#!/usr/bin/env bash
# answers: a client's request the coordinator refuses is answered
# (PROTOCOL.md section 7.9), end to end with jobcoord-submit, a real
# coordinator, PostgreSQL and a mock Kafka. Checked: a disabled client, a
# rotated-out key and a reader's key each get a signed job.refusal with the
# reason and jobcoord-submit --wait exits 3 at once; a cancel of someone
# else's job and a cancel of a finished job are refused (exit 3), an
# accepted cancel is answered (exit 0); a known job id submitted again with
# the same content is answered with the job's state, with other content (or
# by another client) refused as job_exists; a flood of refused requests
# yields a bounded number of answers (once per job, at most
# answers.max_per_interval per principal); forged and unknown-principal
# messages get none.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup answers

WORKER=$BIN/worker-sdk/tools/jobcoord-worker
SUBMIT=$BIN/worker-sdk/tools/jobcoord-submit
MAX=8 # answers.max_per_interval

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
start_coordinator --set ingest.key_cache_ttl_ms=0 --set answers.interval_s=600 \
    --set answers.max_per_interval=$MAX
for p in alice bob dora rory flo rep; do add_principal $p client; done
add_principal rita reader
add_principal w1 worker

# conf ID: writes $T/ID.conf with ID's key as add_principal made it.
conf() {
    key_of "$1" >"$T/$1.key"
    printf 'principal = %s\nkey.id = %s\nkey.file = %s\nbootstrap.file = %s\n' "$1" \
        "$(keyid_of "$1")" "$T/$1.key" "$T/kafka.bootstrap" >"$T/$1.conf"
}
for p in alice bob dora rory rita w1; do conf $p; done
cat >>"$T/w1.conf" <<EOF
slots = 2
heartbeat.interval.ms = 300
job.echo.command = /bin/echo
EOF
jc_bg "$T/worker.log" "$WORKER" --config "$T/w1.conf" --grace-ms 1000
wait_for 30 "worker w1 online" sql_is online "SELECT status FROM workers WHERE id = 'w1'" || exit 1

# submit AS ARGS...: jobcoord-submit as AS; stdout in $OUT, status in $RC,
# seconds taken in $TOOK.
submit() {
    local as=$1 t0=$SECONDS
    shift
    OUT=$("$SUBMIT" --config "$T/$as.conf" "$@" 2>>"$T/submit.log")
    RC=$?
    TOOK=$((SECONDS - t0))
}
not_contains() { case "$1" in *"$2"*) return 1 ;; esac; return 0; }
js() { python3 -c "import json, sys; d = json.loads(sys.argv[1]); print($2)" "$1"; }
# answers_to ID [KIND]: outbox rows answering ID's requests.
answers_to() {
    sql "SELECT count(*) FROM commands WHERE answers_type IS NOT NULL AND recipient = '$1'${2:+ AND kind = '$2'}"
}
WAIT="--wait --wait-timeout-ms 60000 --json"

# --- refused submissions of authenticated signers -----------------------------------
sql "UPDATE principals SET disabled = true WHERE id = 'dora'" >/dev/null
submit dora --type echo --payload x $WAIT
check_eq "disabled client: submit --wait exits 3 (refused)" 3 "$RC"
check_eq "... in state refused" refused "$(js "$OUT" "d['state']")"
check "... with the reason" grep -q '^disabled_principal: ' <<<"$(js "$OUT" "d['error']")"
check "... answered at once, not after the wait timeout ($TOOK s)" [ "$TOOK" -lt 30 ]

"$ADMIN" user rotate-key rory --grace 0 >/dev/null || exit 1
sleep 0.2
submit rory --type echo --payload x $WAIT
check_eq "rotated-out key: submit --wait exits 3" 3 "$RC"
check "... reason key_expired" grep -q '^key_expired: ' <<<"$(js "$OUT" "d['error']")"
check_eq "... the refusal was signed with the old key the client holds" "$(keyid_of rory)" \
    "$(sql "SELECT answer_key_id FROM commands WHERE recipient = 'rory' AND kind = 'job.refusal'")"

submit rita --type echo --payload x $WAIT
check_eq "reader key: submit --wait exits 3" 3 "$RC"
check "... reason wrong_role" grep -q '^wrong_role: ' <<<"$(js "$OUT" "d['error']")"
submit rita --type echo --payload x --wait --wait-timeout-ms 60000
check "text output names the refusal" grep -q '^state   refused' <<<"$OUT"
check "... and its reason" grep -q '^error   wrong_role: ' <<<"$OUT"
check_eq "refused submissions created no job" 0 \
    "$(sql "SELECT count(*) FROM jobs WHERE submitter IN ('dora', 'rory', 'rita')")"
check_eq "refused submissions are still counted as rejections" "1|1|2" \
    "$(sql "SELECT string_agg(count::text, '|' ORDER BY reason) FROM rejections WHERE reason IN ('disabled_principal', 'key_expired', 'wrong_role')")"

# --- cancels -----------------------------------------------------------------------
submit bob --type nowork --payload waits
BOBJOB=$OUT
wait_for 20 "bob's job stored" sql_is pending "SELECT state FROM jobs WHERE id = '$BOBJOB'"
submit alice --cancel "$BOBJOB" --json
check_eq "cancel of someone else's job: exit 3" 3 "$RC"
check_eq "... refused" refused "$(js "$OUT" "d['cancel']")"
check "... reason not_owner" grep -q '^not_owner: ' <<<"$(js "$OUT" "d['reason']")"
check "... not naming the owner" not_contains "$(js "$OUT" "d['reason']")" bob
check_eq "... the job is untouched" pending "$(sql "SELECT state FROM jobs WHERE id = '$BOBJOB'")"
submit bob --cancel "$BOBJOB"
check_eq "cancel of one's own pending job: exit 0" 0 "$RC"
check "... accepted: canceled" grep -q "accepted: the job is canceled" <<<"$OUT"
submit bob --cancel "$BOBJOB" --json
check_eq "cancel of a canceled job: exit 3" 3 "$RC"
check "... reason invalid_transition" grep -q '^invalid_transition: ' <<<"$(js "$OUT" "d['reason']")"
submit bob --cancel "00000000-0000-4000-8000-00000000abcd" --json
check_eq "cancel of an unknown job: exit 3" 3 "$RC"
check "... reason unknown_job" grep -q '^unknown_job: ' <<<"$(js "$OUT" "d['reason']")"

# --- a known job id submitted again ------------------------------------------------
J=6f1a3c2e-8b4d-4e7f-9a01-0000000000a1
submit alice --type echo --payload hello --job-id "$J" $WAIT
check_eq "first submission with --job-id succeeds" "0 succeeded $J" "$RC $(js "$OUT" "d['state'], d['id']")"
submit alice --type echo --payload hello --job-id "$J" $WAIT
check_eq "same id, same content: answered with the job's state (exit 0)" "0 succeeded" \
    "$RC $(js "$OUT" "d['state']")"
check "... at once ($TOOK s)" [ "$TOOK" -lt 30 ]
submit alice --type echo --payload other --job-id "$J" $WAIT
check_eq "same id, other content: exit 3" 3 "$RC"
check "... reason job_exists" grep -q '^job_exists: ' <<<"$(js "$OUT" "d['error']")"
submit bob --type echo --payload hello --job-id "$J" $WAIT
check_eq "another client's job id: exit 3, job_exists" "3 job_exists" \
    "$RC $(js "$OUT" "d['error'].split(':')[0]")"
check_eq "one job, its payload untouched" "1|hello" \
    "$(sql "SELECT count(*) || '|' || min(convert_from(payload, 'UTF8')) FROM jobs WHERE id = '$J'")"
check_eq "the repeated submission is no rejection; the conflicting ones are" "0|2" \
    "$(sql "SELECT coalesce(sum(count) FILTER (WHERE reason = 'replay'), 0) || '|' || coalesce(sum(count) FILTER (WHERE reason = 'job_exists'), 0) FROM rejections")"

# --- flood: answers are bounded --------------------------------------------------------
sql "UPDATE principals SET disabled = true WHERE id IN ('flo', 'rep')" >/dev/null
before=$(consumed job-requests)
produce_as flo --topic job-requests --type job.submit --count 300 >/dev/null
produce_as rep --topic job-requests --type job.submit --job-id "$J" --count 50 >/dev/null
wait_consumed job-requests $((before + 350)) || exit 1
check_eq "300 refused submissions of distinct jobs: answers.max_per_interval answers" "$MAX" \
    "$(answers_to flo job.refusal)"
check_eq "50 refused submissions of one job: one answer" 1 "$(answers_to rep job.refusal)"
submit alice --type echo --payload other --job-id "$J" --wait --wait-timeout-ms 3000 --json
check_eq "the same refusal again within answers.interval_s: not answered (exit 2)" 2 "$RC"
wait_for 30 "answers sent" sql_is 0 \
    "SELECT count(*) FROM commands WHERE answers_type IS NOT NULL AND status = 'pending'"
check_eq "every answer queued was sent" 0 \
    "$(sql "SELECT count(*) FROM commands WHERE answers_type IS NOT NULL AND status <> 'done'")"
check "the drops are reported" grep -q "answers to clients' requests dropped" "$T/coordinator.log"

# --- garbage gets nothing ------------------------------------------------------------
before=$(consumed job-requests)
all_before=$(sql "SELECT count(*) FROM commands WHERE answers_type IS NOT NULL")
produce_as alice --topic job-requests --type job.submit --forge mac --count 5 >/dev/null
produce_as alice --topic job-requests --type job.cancel --job-id "$BOBJOB" --forge mac >/dev/null
"$BIN/tests/jctest-kafka" produce --brokers "$JOBCOORD_KAFKA_BROKERS" --principal ghost \
    --key-id k1 --key "$(key_of alice)" --topic job-requests --type job.submit >/dev/null 2>&1
"$BIN/tests/jctest-kafka" produce --brokers "$JOBCOORD_KAFKA_BROKERS" --principal alice \
    --key-id nokey --key "$(key_of alice)" --topic job-requests --type job.submit >/dev/null 2>&1
produce_as alice --topic job-requests --raw-hex 85a17601a170a5616c696365 >/dev/null
wait_consumed job-requests $((before + 9)) || exit 1
check_eq "forged, unknown and malformed requests are not answered" "$all_before" \
    "$(sql "SELECT count(*) FROM commands WHERE answers_type IS NOT NULL")"
check_eq "... but rejected" "6|1|1" \
    "$(sql "SELECT string_agg(count::text, '|' ORDER BY reason) FROM rejections WHERE topic = 'jobcoord.job-requests' AND reason IN ('bad_signature', 'unknown_key', 'unknown_principal')")"
check "coordinator still running" kill -0 "$COORD_PID"

jc_done
