#!/usr/bin/env bash
# time_trust: a record's CreateTime is chosen by its producer and is never
# trusted. A key rotated out with --grace 0 stays refused when the record is
# back-dated; a heartbeat (or any message) signed far in the future is
# refused and never becomes the worker's "last heartbeat", so its real
# heartbeats keep being applied.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup time_trust

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
add_principal w1 worker
start_coordinator
rej() { sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = '$1'"; }
HOUR=3600000
DAY=$((24 * HOUR))

# --- a rotated-out key with a back-dated record
OLD_KEY=$(key_of c1)
OLD_KID=$(keyid_of c1)
out=$("$ADMIN" --json user rotate-key c1 --grace 0) || exit 1
KEY_c1=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')
KEYID_c1=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key_id"])')
sleep 2.5 # past the key cache's lifetime (ingest.key_cache_ttl_ms)
old_submit() {
    "$BIN/tests/jctest-kafka" produce --brokers "$JOBCOORD_KAFKA_BROKERS" --principal c1 \
        --key-id "$OLD_KID" --key "$OLD_KEY" --topic job-requests --type job.submit \
        --job-type t1 "$@" >/dev/null 2>>"$T/produce.log"
}
old_submit --record-ts-offset-ms -$HOUR
old_submit --record-ts-offset-ms -$HOUR --ts-offset-ms -$HOUR
old_submit
wait_for 20 "three key_expired rejections" sql_is 3 "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = 'key_expired'"
check_eq "a rotated-out key gets no job, even with a back-dated record" 0 "$(sql "SELECT count(*) FROM jobs")"
check_eq "each attempt rejected as key_expired" 3 "$(rej key_expired)"

# --- a heartbeat dated ten days ahead, record and signature alike
produce_as w1 --type heartbeat --ts-offset-ms $((10 * DAY)) --record-ts-offset-ms $((10 * DAY)) >/dev/null
wait_for 20 "future heartbeat rejected" sql_is 1 "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = 'future'"
check_eq "the future heartbeat is rejected (future)" 1 "$(rej future)"
check "it did not become the worker's last heartbeat" \
    [ "$(sql "SELECT count(*) FROM workers WHERE id = 'w1' AND last_heartbeat_ts_ms > (extract(epoch FROM now()) * 1000 + 600000)")" = 0 ]
produce_as w1 --type heartbeat >/dev/null
wait_for 20 "real heartbeat applied" sql_is 1 "SELECT count(*) FROM heartbeats WHERE worker_id = 'w1'"
check_eq "the worker's real heartbeat is applied afterwards" 1 "$(sql "SELECT count(*) FROM heartbeats WHERE worker_id = 'w1'")"
check_eq "and not refused as a replay" 0 "$(rej replay)"
check_eq "the worker is online" online "$(sql "SELECT status FROM workers WHERE id = 'w1'")"

# --- a back-dated record of a fresh heartbeat is fine (lag is legitimate)
produce_as w1 --type heartbeat --record-ts-offset-ms -60000 >/dev/null
wait_for 20 "second heartbeat applied" sql_is 2 "SELECT count(*) FROM heartbeats WHERE worker_id = 'w1'"
check_eq "a heartbeat in a back-dated record is applied" 2 "$(sql "SELECT count(*) FROM heartbeats WHERE worker_id = 'w1'")"

# --- other messages: a submission signed an hour ahead is refused
produce_as c1 --topic job-requests --type job.submit --job-type t1 --ts-offset-ms $HOUR >/dev/null
wait_for 20 "future submission rejected" sql_is 2 "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = 'future'"
check_eq "a submission signed an hour ahead is rejected (future)" 2 "$(rej future)"
produce_as c1 --topic job-requests --type job.submit --job-type t1 >/dev/null
wait_for 20 "a job from the new key" sql_is 1 "SELECT count(*) FROM jobs"
check_eq "the new key's submission makes a job" 1 "$(sql "SELECT count(*) FROM jobs")"
jc_done
