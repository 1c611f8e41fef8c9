#!/usr/bin/env bash
# e2e_workers: separate processes end to end: a standalone mock Kafka, the
# coordinator and three example workers built on libjobcoord. All three come
# online in PostgreSQL; one killed with SIGKILL goes offline after the
# threshold; a restart of the coordinator (down for longer than the
# threshold) does not mark the live workers offline; SIGTERM stops the
# coordinator cleanly.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup e2e_workers

start_mock_kafka 4
"$ADMIN" db migrate >/dev/null || exit 1
COORD_ARGS=(--set janitor.worker_offline_after_s=3 --set janitor.interval_ms=200)
start_coordinator "${COORD_ARGS[@]}"

declare -A WPID
for w in w1 w2 w3; do
    add_principal "$w" worker
    key_of "$w" >"$T/$w.key"
    jc_bg "$T/$w.log" "$BIN/worker-sdk/jobcoord-example-worker" principal="$w" \
        key.id="$(keyid_of "$w")" key.file="$T/$w.key" bootstrap.file="$T/kafka.bootstrap" \
        capabilities=echo,sleep slots=2 heartbeat.interval.ms=300 version=e2e-1
    WPID[$w]=$JC_LAST_PID
done

wait_for 30 "three workers online" sql_is 3 "SELECT count(*) FROM workers WHERE status = 'online'"
check_eq "three workers online" 3 "$(sql "SELECT count(*) FROM workers WHERE status = 'online'")"
check_eq "capabilities and slots from the heartbeat" "{echo,sleep,fail} 2 e2e-1" \
    "$(sql "SELECT capabilities::text || ' ' || slots || ' ' || version FROM workers WHERE id = 'w1'")"

kill -KILL "${WPID[w2]}"
t0=$SECONDS
wait_for 20 "w2 offline" sql_is offline "SELECT status FROM workers WHERE id = 'w2'"
check_eq "killed worker goes offline" offline "$(sql "SELECT status FROM workers WHERE id = 'w2'")"
check "not before the threshold" [ $((SECONDS - t0)) -ge 2 ]
check_eq "the others stay online" 2 "$(sql "SELECT count(*) FROM workers WHERE status = 'online'")"
check "offline logged" grep -q 'worker w2 is offline' "$T/coordinator.log"

# coordinator down for twice the threshold, then back: live workers must
# never be seen offline
kill -TERM "$COORD_PID"
wait "$COORD_PID"
check_eq "SIGTERM stops the coordinator cleanly" 0 $?
check "clean stop logged" grep -q 'stopped:' "$T/coordinator.log"
sleep 6
start_coordinator "${COORD_ARGS[@]}"
bad=0
for _ in $(seq 1 40); do
    n=$(sql "SELECT count(*) FROM workers WHERE id IN ('w1','w3') AND status <> 'online'")
    [ "$n" != 0 ] && bad=$((bad + 1))
    sleep 0.2
done
check_eq "live workers never marked offline across a coordinator restart" 0 "$bad"
check_eq "the dead worker stays offline" offline "$(sql "SELECT status FROM workers WHERE id = 'w2'")"

jc_done
