#!/usr/bin/env bash
# ingest_checks: every check the ingest loop makes on a heartbeat, end to end
# through a real (mock) Kafka and PostgreSQL. Forged, malformed, oversized,
# replayed, stale, misrouted and wrongly-keyed messages must be rejected,
# counted, dead-lettered with their reason, and never applied; the good ones
# around them must be applied; the coordinator must stay up.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup ingest_checks

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
add_principal w1 worker
add_principal w2 worker
add_principal w3 worker
add_principal c1 client
start_coordinator --set ingest.key_cache_ttl_ms=0 --set ingest.max_message_bytes=4096 \
    --set log.rejection_interval_s=5

sent=0
expect_applied=0
send() { produce_as "$@" >/dev/null; sent=$((sent + 1)); }

# good heartbeats
send w1
send w2
expect_applied=2
# forged MAC, unknown principal, wrong role
send w1 --forge mac
"$BIN/tests/jctest-kafka" produce --brokers "$JOBCOORD_KAFKA_BROKERS" --principal ghost \
    --key-id k1 --key "$(key_of w1)" >/dev/null 2>&1
sent=$((sent + 1))
send c1
# malformed: reserved byte, a 4-billion-element array header, deep nesting,
# an envelope that is a bare integer, and random junk
for hex in c1 ddffffffff dfffffffff $(printf '91%.0s' $(seq 1 200))01 2a 0123456789abcdef; do
    produce_as w1 --raw-hex "$hex" >/dev/null
    sent=$((sent + 1))
done
# oversized (limit set to 4096 bytes above)
send w1 --oversize 5000
# replay: the same bytes twice; the first is applied, the copy is not
send w1 --repeat 2
sent=$((sent + 1))
expect_applied=$((expect_applied + 1))
# stale and future timestamps
send w2 --ts-offset-ms -600000
send w2 --ts-offset-ms 600000
# a payload that claims to come from w2, in an envelope correctly signed by w1
send w1 --forge principal-mismatch --other w2
# a job submission on the heartbeats topic
send c1 --type job.submit
# a worker event on the heartbeats topic
send w1 --type worker.event

wait_consumed heartbeats $sent || exit 1
check_eq "good heartbeats applied, nothing else" "$expect_applied" "$(sql 'SELECT count(*) FROM heartbeats')"
check_eq "w1 and w2 online" "w1 online|w2 online" "$(sql "SELECT string_agg(id || ' ' || status, '|' ORDER BY id) FROM workers")"
rej() { sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = '$1'"; }
check_eq "bad_signature counted" 1 "$(rej bad_signature)"
check_eq "unknown_principal counted" 1 "$(rej unknown_principal)"
check_eq "wrong_role counted (client heartbeat)" 1 "$(rej wrong_role)"
check_eq "too_large counted" 1 "$(rej too_large)"
check_eq "replay counted" 1 "$(rej replay)"
check_eq "stale counted" 1 "$(rej stale)"
check_eq "future counted" 1 "$(rej future)"
check_eq "wrong_topic counted (job.submit and worker.event)" 2 "$(rej wrong_topic)"
check_eq "malformed input counted (5 kinds)" 5 "$(sql "SELECT coalesce(sum(count),0) FROM rejections WHERE reason IN ('malformed','limit')")"
check_eq "a bare integer envelope counted as schema" 1 "$(rej schema)"
check_eq "principal mismatch counted" 1 "$(rej principal_mismatch)"
check "principal mismatch explained" grep -q "reason=principal_mismatch: payload: signed 'p' differs" "$T/coordinator.log"
check "coordinator still running" kill -0 "$COORD_PID"

# key rotation: inside the grace period the old key still works ...
"$ADMIN" user rotate-key w1 --grace 3600 >/dev/null
before=$(sql 'SELECT count(*) FROM heartbeats')
send w1
wait_consumed heartbeats $sent || exit 1
check_eq "old key accepted within its grace period" $((before + 1)) "$(sql 'SELECT count(*) FROM heartbeats')"
# ... after it, it does not
"$ADMIN" user rotate-key w3 --grace 0 >/dev/null
sleep 0.2
send w3
wait_consumed heartbeats $sent || exit 1
check_eq "rotated-out key rejected after its grace period" 1 "$(rej key_expired)"
check_eq "nothing from the rotated-out key applied" 0 "$(sql "SELECT count(*) FROM heartbeats WHERE worker_id = 'w3'")"

# dead letters carry the reason
total_rejected=$(sql 'SELECT sum(count) FROM rejections')
"$BIN/tests/jctest-kafka" consume --brokers "$JOBCOORD_KAFKA_BROKERS" --topic rejected \
    --timeout-ms 30000 --max "$total_rejected" >"$T/dead-letters" 2>/dev/null
check_eq "every rejection dead-lettered" "$total_rejected" "$(grep -c 'jc-reason=' "$T/dead-letters")"
check "dead letter names the reason" grep -q 'jc-reason=bad_signature' "$T/dead-letters"
check "dead letter names its source" grep -q 'jc-topic=jobcoord.heartbeats' "$T/dead-letters"
check "rejections logged with reason" grep -q 'reason=unknown_principal' "$T/coordinator.log"

# rejection log lines: one per reason and principal per interval (5 s
# here), then the number of lines left out
lines() { grep -c "rejected .* from=$1 reason=$2:" "$T/coordinator.log"; }
produce_as w2 --forge mac --count 30 >/dev/null
sent=$((sent + 30))
send c1 --forge mac
wait_consumed heartbeats $sent || exit 1
check_eq "a flood of one reason and principal: one line" 1 "$(lines w2 bad_signature)"
check_eq "the same reason from another principal still logged" 1 "$(lines c1 bad_signature)"
check "a message naming no principal is logged as from=-" grep -q "from=- reason=malformed:" "$T/coordinator.log"
sleep 5.5
send w1 # a batch after the interval ended
wait_consumed heartbeats $sent || exit 1
wait_for 10 "the count of lines left out" grep -q \
    "29 more rejections reason=bad_signature from=w2 not logged in the last 5 s" "$T/coordinator.log"
check "the lines left out are counted" grep -q \
    "29 more rejections reason=bad_signature from=w2 not logged in the last 5 s" "$T/coordinator.log"
check_eq "and c1's single line had nothing to add" 0 \
    "$(grep -c "more rejections reason=bad_signature from=c1" "$T/coordinator.log")"

jc_done
