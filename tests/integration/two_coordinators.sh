#!/usr/bin/env bash
# two_coordinators: two coordinator instances share one PostgreSQL and one
# Kafka cluster (one consumer group, partitions split between them; each
# runs a scheduler, a relay and a janitor). Jobs flow through both; every
# job ends succeeded exactly once, and no worker ever holds more jobs than
# its slots.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup two_coordinators

start_mock_kafka 4
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
ARGS=(--set janitor.interval_ms=200 --set kafka.session_timeout_ms=6000)
start_coordinator "${ARGS[@]}" --set instance.id=coord-a
FIRST=$COORD_PID
mv "$T/coordinator.log" "$T/coordinator-a.log"
start_coordinator "${ARGS[@]}" --set instance.id=coord-b
for w in w1 w2 w3; do
    add_principal "$w" worker
    key_of "$w" >"$T/$w.key"
    jc_bg "$T/$w.log" "$BIN/tests/jctest-worker" principal="$w" key.id="$(keyid_of "$w")" \
        key.file="$T/$w.key" bootstrap.file="$T/kafka.bootstrap" slots=2 heartbeat.interval.ms=300
done
wait_for 30 "workers online" sql_is 3 "SELECT count(*) FROM workers WHERE status = 'online'" || exit 1
wait_for 30 "both instances registered" sql_is 2 "SELECT count(*) FROM coordinator_instances" || exit 1

# watch the slot limit while jobs flow
( while :; do
      sql "SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM jobs
            WHERE state IN ('assigned','running','canceling') GROUP BY worker_id) s" >>"$T/max-held"
      sleep 0.1
  done ) &
JC_PIDS+=("$!")

N=200
produce_as c1 --topic job-requests --type job.submit --job-type sleep --payload 30 \
    --count "$N" --rate 100 >"$T/delivered"
wait_for 120 "all jobs final" sql_is "$N" "SELECT count(*) FROM jobs WHERE state = 'succeeded'" || {
    sql "SELECT state, count(*) FROM jobs GROUP BY 1"
}
check_eq "all jobs succeeded" "$N" "$(sql "SELECT count(*) FROM jobs WHERE state = 'succeeded'")"
check_eq "each exactly once" "$N" "$(sql "SELECT count(*) FROM job_events WHERE kind = 'state' AND to_state = 'succeeded'")"
check_eq "no transition applied twice" 0 "$(sql "SELECT count(*) FROM (SELECT job_id, attempt, from_state, to_state FROM job_events WHERE kind = 'state' GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d")"
check "no worker ever held more jobs than its 2 slots" [ "$(sort -n "$T/max-held" | tail -1)" -le 2 ]
check "both instances took part (each consumed partitions)" \
    sh -c "grep -q 'ingest ready: [1-9]' '$T/coordinator-a.log' && grep -q 'ingest ready: [1-9]' '$T/coordinator.log'"
check_eq "every assign command sent once and acknowledged" 0 \
    "$(sql "SELECT count(*) FROM commands WHERE kind = 'assign' AND status <> 'acked'")"
check "both still running" kill -0 "$FIRST" "$COORD_PID"
jc_done
