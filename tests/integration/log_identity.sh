#!/usr/bin/env bash
# log_identity: stored consumer positions belong to one Kafka log. A new
# cluster (the standalone mock restarted, or the embedded cluster restarted
# with the coordinator) starts again at offset 0; ingest must read it from
# its beginning rather than seek to the old position and skip what the new
# cluster holds. Records removed from the log before ingest read them (the
# mock's ~5 MiB cap under a flood) are reported: log, status, counters.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup log_identity

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
start_coordinator
check "the mock cluster listens on loopback only" grep -q '^127\.0\.0\.1:' "$T/kafka.bootstrap"

submit_n() { produce_as c1 --topic job-requests --type job.submit --job-type t1 --count "$1" >/dev/null; }
stop_coordinator() { kill -TERM "$COORD_PID"; wait "$COORD_PID" 2>/dev/null; }

# --- a new cluster behind the same address file: 40 jobs, then 60 in the new one
submit_n 40
wait_for 30 "40 jobs stored" sql_is 40 "SELECT count(*) FROM jobs" || exit 1
check_eq "positions stored with the cluster's id" 1 \
    "$(sql "SELECT count(*) FROM consumer_offsets WHERE topic LIKE '%job-requests' AND cluster_id IS NOT NULL AND next_offset = 40")"
stop_coordinator
kill -TERM "$MOCK_PID"
wait "$MOCK_PID" 2>/dev/null
start_mock_kafka 2
submit_n 60
start_coordinator
wait_for 30 "100 jobs stored" sql_is 100 "SELECT count(*) FROM jobs"
check_eq "every job the new cluster acknowledged is stored (none skipped)" 100 "$(sql "SELECT count(*) FROM jobs")"
check_eq "the reset is recorded with its reason" new_cluster \
    "$(sql "SELECT reset_reason FROM consumer_offsets WHERE topic LIKE '%job-requests' AND next_offset = 60")"
check "the log says so" grep -q 'belongs to another log (new_cluster' "$T/coordinator.log"
check "admin status shows the reset" sh -c "'$ADMIN' status --json | grep -q '\"reset_reason\": *\"new_cluster\"'"

# --- records pushed out of the log before ingest read them
stop_coordinator
submit_n 5
# about 7 MiB of garbage on the same partition (key c1): the mock keeps ~5 MiB
junk=$(head -c 1000 /dev/zero | od -An -tx1 -v | tr -d ' \n' | sed 's/^00/c1/')
produce_as c1 --topic job-requests --raw-hex "$junk" --count 7000 >/dev/null
submit_n 3
start_coordinator
lost_noted() { [ "$(sql "SELECT count(*) FROM consumer_offsets WHERE topic LIKE '%job-requests' AND lost_records > 0")" -ge 1 ]; }
wait_for 60 "the loss noted" lost_noted
lost=$(sql "SELECT coalesce(sum(lost_records), 0) FROM consumer_offsets WHERE topic LIKE '%job-requests'")
check "records lost before ingest are counted in consumer_offsets ($lost)" [ "$lost" -gt 0 ]
check "the log reports the lost records" grep -q 'were removed from the log before ingest read them' "$T/coordinator.log"
check "admin status shows the loss" sh -c "'$ADMIN' status --json | grep -q '\"lost_records\": *\"*[1-9]'"
wait_for 30 "the 3 jobs after the flood stored" sql_is 103 "SELECT count(*) FROM jobs WHERE created_at IS NOT NULL" ||
    jc_log "jobs: $(sql 'SELECT count(*) FROM jobs')"
check "the jobs after the flood are stored" [ "$(sql "SELECT count(*) FROM jobs")" -ge 103 ]
stop_coordinator
kill -TERM "$MOCK_PID"
wait "$MOCK_PID" 2>/dev/null

# --- the embedded cluster: it dies with the coordinator and starts empty
unset JOBCOORD_KAFKA_BROKERS
rm -f "$T/kafka.bootstrap"
before=$(sql "SELECT count(*) FROM jobs")
start_embedded() {
    rm -f "$T/kafka.bootstrap"
    start_coordinator --set kafka.brokers=
    JOBCOORD_KAFKA_BROKERS=$(cat "$T/kafka.bootstrap")
    export JOBCOORD_KAFKA_BROKERS
}
start_embedded
check "the embedded cluster says it is a development default" grep -q 'not a durable broker' "$T/coordinator.log"
check "the embedded cluster listens on loopback only" grep -q '^127\.0\.0\.1:' "$T/kafka.bootstrap"
submit_n 4
wait_for 30 "4 jobs in the embedded cluster" sql_is $((before + 4)) "SELECT count(*) FROM jobs"
stop_coordinator
start_embedded
# more than before: seeking to the old position would skip the first 4
submit_n 10
wait_for 30 "10 more jobs after the embedded cluster restarted" sql_is $((before + 14)) "SELECT count(*) FROM jobs"
check_eq "every job of the restarted embedded cluster is stored" $((before + 14)) "$(sql "SELECT count(*) FROM jobs")"
jc_done
