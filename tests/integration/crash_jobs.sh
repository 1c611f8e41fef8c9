#!/usr/bin/env bash
# crash_jobs: a few hundred jobs flow from a client through the coordinator
# to two SDK workers while the coordinator is killed with SIGKILL 20 times,
# a fraction of a second after each restart (Kafka lives in its own
# process). Every job must end in exactly one final state, and no
# transition may be applied twice.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup crash_jobs

start_mock_kafka 4
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
COORD_ARGS=(--set kafka.session_timeout_ms=3000 --set janitor.interval_ms=200
            --set outbox.resend_ms=500 --set jobs.assign_timeout_ms=30000)
start_coordinator "${COORD_ARGS[@]}"
for w in w1 w2; do
    add_principal "$w" worker
    key_of "$w" >"$T/$w.key"
    jc_bg "$T/$w.log" "$BIN/tests/jctest-worker" principal="$w" key.id="$(keyid_of "$w")" \
        key.file="$T/$w.key" bootstrap.file="$T/kafka.bootstrap" slots=4 heartbeat.interval.ms=500
done
wait_for 30 "workers online" sql_is 2 "SELECT count(*) FROM workers WHERE status = 'online'" || exit 1

N=${CRASH_JOBS:-300}
KILLS=${CRASH_KILLS:-20}
produce_as c1 --topic job-requests --type job.submit --job-type sleep --payload 100 \
    --count "$N" --rate 6 >"$T/delivered" &
PRODUCER=$!
JC_PIDS+=("$PRODUCER")
kills=0
midstream=0
while [ $kills -lt "$KILLS" ]; do
    sleep "0.$((RANDOM % 5 + 1))"
    kill -0 "$PRODUCER" 2>/dev/null && midstream=$((midstream + 1))
    kill -KILL "$COORD_PID"
    wait "$COORD_PID" 2>/dev/null
    kills=$((kills + 1))
    jc_log "killed the coordinator ($kills): $(sql "SELECT count(*) FROM jobs WHERE state = 'succeeded'") succeeded so far"
    start_coordinator "${COORD_ARGS[@]}"
done
wait "$PRODUCER"
check_eq "all submissions delivered" "$N" "$(cat "$T/delivered")"
check "the coordinator was killed $kills times, $midstream of them while jobs were submitted" \
    [ $kills -ge "$KILLS" -a $midstream -ge $((KILLS / 4)) ]
wait_for 180 "all jobs final" sql_is "$N" \
    "SELECT count(*) FROM jobs WHERE state IN ('succeeded', 'failed', 'canceled')" || {
    sql "SELECT state, count(*) FROM jobs GROUP BY 1"
}
check_eq "every job submitted exists once" "$N" "$(sql 'SELECT count(*) FROM jobs')"
check_eq "every job succeeded" "$N" "$(sql "SELECT count(*) FROM jobs WHERE state = 'succeeded'")"
check_eq "each job reached its final state exactly once" "$N" \
    "$(sql "SELECT count(*) FROM job_events WHERE kind = 'state' AND to_state IN ('succeeded', 'failed', 'canceled')")"
check_eq "no transition applied twice" 0 "$(sql "SELECT count(*) FROM (SELECT job_id, attempt, from_state, to_state FROM job_events WHERE kind = 'state' GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d")"
check_eq "no job update lost" "$N" "$(sql "SELECT count(DISTINCT job_id) FROM commands WHERE kind = 'job.update' AND status = 'done'")"
jc_done
