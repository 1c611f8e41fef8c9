#!/usr/bin/env bash
# crash_safety: with Kafka in its own process and a stream of signed
# heartbeats flowing, the coordinator is killed with SIGKILL again and again
# (20 times, a fraction of a second after each restart) and restarted. Every
# heartbeat Kafka acknowledged must end up stored exactly once: none lost,
# none applied twice. Each cycle costs what the restarted coordinator waits
# for its partitions: the development cluster gives the killed member's
# session (3 s, the shortest that survives its 3 s first join) about 2 s.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup crash_safety

start_mock_kafka 4
"$ADMIN" db migrate >/dev/null || exit 1
for i in 1 2 3 4 5 6; do add_principal "cw$i" worker; done
COORD_ARGS=(--set kafka.session_timeout_ms=3000 --set ingest.batch_max_messages=200)
start_coordinator "${COORD_ARGS[@]}"

TOTAL=${CRASH_MESSAGES:-6000}   # at 120/s: the stream lasts through most of the cycles
KILLS=${CRASH_KILLS:-20}
"$BIN/tests/jctest-kafka" produce --brokers "$JOBCOORD_KAFKA_BROKERS" --keys-file "$T/keys" \
    --count "$TOTAL" --rate 120 --ids-file "$T/ids" >"$T/delivered" 2>>"$T/produce.log" &
PRODUCER=$!
JC_PIDS+=("$PRODUCER")

kills=0
midstream=0
while [ $kills -lt "$KILLS" ]; do
    sleep "0.$((RANDOM % 3 + 1))"
    kill -0 "$PRODUCER" 2>/dev/null && midstream=$((midstream + 1))
    kill -KILL "$COORD_PID"
    wait "$COORD_PID" 2>/dev/null
    kills=$((kills + 1))
    jc_log "killed the coordinator ($kills), $(consumed heartbeats) consumed so far"
    start_coordinator "${COORD_ARGS[@]}"
done
wait "$PRODUCER"
check_eq "producer delivered everything" 0 $?
delivered=$(cat "$T/delivered")
check_eq "delivered count" "$TOTAL" "$delivered"
check "the coordinator was killed $kills times, $midstream of them while the producer ran" \
    [ $kills -ge "$KILLS" -a $midstream -ge $((KILLS / 4)) ]

wait_consumed heartbeats "$delivered" 120 || exit 1
sql "CREATE TABLE produced (msg_id uuid)" >/dev/null
psql -X -q -d "$JC_DB" -c "\\copy produced FROM '$T/ids'" || exit 1
check_eq "ids recorded by the producer" "$delivered" "$(sql 'SELECT count(*) FROM produced')"
check_eq "stored heartbeats" "$delivered" "$(sql 'SELECT count(*) FROM heartbeats')"
check_eq "no heartbeat stored twice" "$delivered" "$(sql 'SELECT count(DISTINCT msg_id) FROM heartbeats')"
check_eq "every produced heartbeat stored" 0 \
    "$(sql 'SELECT count(*) FROM produced p WHERE NOT EXISTS (SELECT 1 FROM heartbeats h WHERE h.msg_id = p.msg_id)')"
check_eq "nothing rejected" 0 "$(sql 'SELECT coalesce(sum(count), 0) FROM rejections')"
jc_done
