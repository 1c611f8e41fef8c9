#!/usr/bin/env bash
# key_rotation: a key rotation with a grace period works in both directions.
# A worker and a client keep running on their old keys after
# `user rotate-key --grace`: the coordinator signs what it sends them with
# the key each last proved it holds, so the worker acknowledges its assign
# and the job succeeds on its first attempt, and the client's --wait sees
# the result. Then both take the new key from their key.file without a
# restart; the coordinator switches to the new key after their first
# message under it, and a late message under the old key does not switch
# it back.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup key_rotation

SUBMIT=$BIN/worker-sdk/tools/jobcoord-submit
start_mock_kafka
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
add_principal w1 worker
# hold-backs off: this test is about signatures, not about the scheduler
start_coordinator --set janitor.interval_ms=200 --set jobs.assign_timeout_ms=2000 \
    --set outbox.resend_ms=300 --set jobs.retry_backoff_ms=100 --set jobs.unacked_assign_limit=0

key_of w1 >"$T/w1.key"
key_of c1 >"$T/c1.key"
jc_bg "$T/w1.log" "$BIN/tests/jctest-worker" principal=w1 key.id="$(keyid_of w1)" \
    key.file="$T/w1.key" bootstrap.file="$T/kafka.bootstrap" slots=2 heartbeat.interval.ms=300
WPID=$JC_LAST_PID
printf 'principal = c1\nkey.id = %s\nkey.file = %s\nbootstrap.file = %s\n' \
    "$(keyid_of c1)" "$T/c1.key" "$T/kafka.bootstrap" >"$T/c1.conf"
wait_for 30 "w1 online" sql_is online "SELECT status FROM workers WHERE id = 'w1'" || exit 1
reply_key() { sql "SELECT coalesce(reply_key_id, '') FROM principals WHERE id = '$1'"; }
wait_for 10 "w1's key recorded" sql_is "$(keyid_of w1)" \
    "SELECT reply_key_id FROM principals WHERE id = 'w1'"
check_eq "ingest records the key w1 signs with" "$(keyid_of w1)" "$(reply_key w1)"

rotate() {
    "$ADMIN" --json user rotate-key "$1" --grace 600 >"$T/rot-$1.json" || exit 1
    python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["key_id"], d["key"])' \
        "$T/rot-$1.json"
}
read -r W_NEWKID W_NEWKEY < <(rotate w1)
read -r C_NEWKID C_NEWKEY < <(rotate c1)

# --- phase 1: both still hold only their old keys -----------------------------
last_job() { sql "SELECT id FROM jobs ORDER BY created_at DESC LIMIT 1"; }
OUT=$(timeout 60 "$SUBMIT" --config "$T/c1.conf" --type ok --payload hello --max-attempts 2 \
    --wait --wait-timeout-ms 20000 2>>"$T/submit.log")
check_eq "the client on its old key: --wait sees the job succeed (exit 0)" 0 $?
J1=$(last_job)
check_eq "the job succeeded on its first attempt" "succeeded 1" \
    "$(sql "SELECT state || ' ' || attempt FROM jobs WHERE id = '$J1'")"
check_eq "its one assign was acknowledged by the worker on its old key" "acked 1" \
    "$(sql "SELECT string_agg(status, ',') || ' ' || count(*) FROM commands WHERE job_id = '$J1' AND kind = 'assign'")"
check_eq "no attempt was taken back" 0 \
    "$(sql "SELECT count(*) FROM job_events WHERE job_id = '$J1' AND to_state = 'pending' AND from_state IS NOT NULL")"
check "the client printed the result" grep -q succeeded <<<"$OUT"
check_eq "replies to w1 still use its old key" "$(keyid_of w1)" "$(reply_key w1)"
check_eq "replies to c1 still use its old key" "$(keyid_of c1)" "$(reply_key c1)"

# --- phase 2: the new keys reach the running processes through key.file -------
printf '%s %s\n' "$W_NEWKID" "$W_NEWKEY" >"$T/w1.key.new" && mv "$T/w1.key.new" "$T/w1.key"
wait_for 20 "w1 proves its new key" sql_is "$W_NEWKID" \
    "SELECT reply_key_id FROM principals WHERE id = 'w1'"
check_eq "after its first message under the new key, replies to w1 use it" "$W_NEWKID" "$(reply_key w1)"
check "the worker took the new key without a restart" kill -0 "$WPID"
check "the coordinator logs the switch" grep -q "w1 now signs with key $W_NEWKID" "$T/coordinator.log"
# one more job under c1's old key right before its switch: the outbox has
# just signed for c1 with the old key, so the replies to the first message
# under the new key are signed while that cache entry is fresh (they must
# follow the switch at once, not after the cache's lifetime)
timeout 60 "$SUBMIT" --config "$T/c1.conf" --type ok --payload warm --max-attempts 2 \
    --wait --wait-timeout-ms 20000 >/dev/null 2>>"$T/submit.log"
check_eq "one more job on c1's old key" 0 $?
printf '%s %s\n' "$C_NEWKID" "$C_NEWKEY" >"$T/c1.key"
OUT=$(timeout 60 "$SUBMIT" --config "$T/c1.conf" --type ok --payload again --max-attempts 2 \
    --wait --wait-timeout-ms 20000 2>>"$T/submit.log")
check_eq "the client on its new key (key.id from the file): --wait sees success" 0 $?
J2=$(last_job)
check_eq "the second job succeeded on its first attempt" "succeeded 1" \
    "$(sql "SELECT state || ' ' || attempt FROM jobs WHERE id = '$J2'")"
check_eq "replies to c1 now use its new key" "$C_NEWKID" "$(reply_key c1)"

# a late message under the old key (still in its grace) is accepted, and
# does not move the reply key back
produce_as w1 --topic worker-events --type worker.event >/dev/null
check "a message under the old key is still accepted in its grace" wait_for 10 \
    "the late worker event applied" sql_is 1 \
    "SELECT count(*) FROM worker_events WHERE worker_id = 'w1' AND kind = 'test.event'"
check_eq "a late message under the old key does not switch back" "$W_NEWKID" "$(reply_key w1)"
OUT=$(timeout 60 "$SUBMIT" --config "$T/c1.conf" --type ok --payload third --max-attempts 1 \
    --wait --wait-timeout-ms 20000 2>>"$T/submit.log")
check_eq "and the worker, on its new key, still gets its work" 0 $?

jc_done
