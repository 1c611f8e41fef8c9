#!/usr/bin/env bash
# ingest_replays: exact copies of signed messages are applied once, whether
# the copy arrives in the same ingest batch or a later one: a replayed
# worker.event and a repeated job.submit are rejected as `replay`, counted
# and dead-lettered. And a rejected record just under ingest's 1 MiB limit
# still reaches the dead-letter topic (the producer's default limit is
# 1,000,000 bytes).
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup ingest_replays

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal w1 worker
add_principal c1 client
uuid() { cat /proc/sys/kernel/random/uuid; }
rej() { sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = '$1' AND topic = 'jobcoord.$2'"; }

# --- one message per batch: every copy arrives in a later batch
start_coordinator --set ingest.batch_max_messages=1
produce_as w1 --topic worker-events --type worker.event --repeat 3 >/dev/null
J1=$(uuid)
produce_as c1 --topic job-requests --type job.submit --job-id "$J1" --job-type t1 --repeat 2 >/dev/null
wait_consumed worker-events 3 || exit 1
wait_consumed job-requests 2 || exit 1
check_eq "a worker.event replayed in later batches is stored once" 1 "$(sql "SELECT count(*) FROM worker_events")"
check_eq "its copies rejected as replay" 2 "$(rej replay worker-events)"
check_eq "a job.submit repeated in a later batch makes one job" 1 "$(sql "SELECT count(*) FROM jobs WHERE id = '$J1'")"
check_eq "its copy rejected as replay" 1 "$(rej replay job-requests)"
kill -TERM "$COORD_PID"; wait "$COORD_PID" 2>/dev/null

# --- large batches: the copies arrive in the same batch as the original
start_coordinator --set ingest.batch_max_ms=1000
produce_as w1 --topic worker-events --type worker.event --repeat 2 >/dev/null
J2=$(uuid)
produce_as c1 --topic job-requests --type job.submit --job-id "$J2" --job-type t1 --repeat 2 >/dev/null
wait_consumed worker-events 5 || exit 1
wait_consumed job-requests 4 || exit 1
check_eq "a worker.event repeated in one batch is stored once" 2 "$(sql "SELECT count(*) FROM worker_events")"
check_eq "the copy rejected as replay" 3 "$(rej replay worker-events)"
check_eq "a job.submit repeated in one batch makes one job" 1 "$(sql "SELECT count(*) FROM jobs WHERE id = '$J2'")"
check_eq "and the copy is rejected as replay, not counted as applied" 2 "$(rej replay job-requests)"
check_eq "two different worker events are both stored" 2 "$(sql "SELECT count(DISTINCT msg_id) FROM worker_events")"

# --- a 1,040,000-byte rejected record is dead-lettered whole
produce_as w1 --oversize 1040000 >/dev/null
wait_consumed heartbeats 1 || exit 1
check_eq "the big record is rejected (trailing bytes)" 1 "$(rej malformed heartbeats)"
total=$(sql "SELECT sum(count) FROM rejections")
"$BIN/tests/jctest-kafka" consume --brokers "$JOBCOORD_KAFKA_BROKERS" --topic rejected \
    --timeout-ms 30000 --max "$total" >"$T/dead-letters" 2>/dev/null
check_eq "every rejection dead-lettered" "$total" "$(grep -c 'jc-reason=' "$T/dead-letters")"
check_eq "replays dead-lettered as such" 5 "$(grep -c 'jc-reason=replay' "$T/dead-letters")"
big=$(grep 'jc-reason=malformed' "$T/dead-letters" | grep -o 'len=[0-9]*' | cut -d= -f2)
check "the 1,040,000-byte record is dead-lettered whole (${big:-none} bytes)" [ "${big:-0}" -gt 1040000 ]
check "no dead-letter copy lost" sh -c "! grep -q 'dead-letter copies were not delivered\|cannot queue copy' '$T/coordinator.log'"
check "coordinator still running" kill -0 "$COORD_PID"
jc_done
