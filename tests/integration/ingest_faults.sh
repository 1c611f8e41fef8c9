#!/usr/bin/env bash
# ingest_faults: PostgreSQL failures under the ingest loop.
#  1. A message PostgreSQL refuses (a trigger here raises for one worker's
#     heartbeats) must not stall the stream: the batch is re-applied one
#     message at a time, the refused message is rejected (apply_error) and
#     dead-lettered, its neighbours are applied.
#  2. The coordinator's database connections are killed while heartbeats
#     flow: it reconnects and every heartbeat is still stored exactly once.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup ingest_faults

start_mock_kafka 1
"$ADMIN" db migrate >/dev/null || exit 1
for w in fw1 fw2 poison; do add_principal "$w" worker; done
sql "CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS
     \$\$BEGIN IF NEW.worker_id = 'poison' THEN RAISE EXCEPTION 'poison refused'; END IF;
     RETURN NEW; END\$\$;
     CREATE TRIGGER refuse_poison BEFORE INSERT ON heartbeats FOR EACH ROW
     EXECUTE FUNCTION refuse_poison();" >/dev/null

# 1. produce first, then start the coordinator, so all land in one batch
produce_as fw1 --count 3 >/dev/null
produce_as poison >/dev/null
produce_as fw2 --count 3 >/dev/null
start_coordinator
wait_consumed heartbeats 7 || exit 1
check_eq "neighbours of the refused message applied" 6 "$(sql 'SELECT count(*) FROM heartbeats')"
check_eq "refused message rejected as apply_error" 1 \
    "$(sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = 'apply_error'")"
check "the refusal is explained" grep -q 'reason=apply_error: .*poison refused' "$T/coordinator.log"
check "fell back to one message at a time" grep -q 'applying one message at a time' "$T/coordinator.log"
"$BIN/tests/jctest-kafka" consume --brokers "$JOBCOORD_KAFKA_BROKERS" --topic rejected \
    --timeout-ms 20000 --max 1 >"$T/dead-letters" 2>/dev/null
check "refused message dead-lettered" grep -q 'jc-reason=apply_error' "$T/dead-letters"

# 2. kill the coordinator's connections mid-stream, three times
produce_as fw1 --count 3000 --rate 1000 --ids-file "$T/ids" >"$T/delivered" &
PRODUCER=$!
for _ in 1 2 3; do
    sleep 0.7
    sql "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid()" >/dev/null
done
wait $PRODUCER
check_eq "stream delivered" 3000 "$(cat "$T/delivered")"
wait_consumed heartbeats 3007 90 || exit 1
check_eq "every heartbeat stored once through lost connections" 3006 \
    "$(sql 'SELECT count(DISTINCT msg_id) FROM heartbeats')"
check_eq "and no duplicates" 3006 "$(sql 'SELECT count(*) FROM heartbeats')"
check "the coordinator reconnected" grep -Eq 'retrying|not applied' "$T/coordinator.log"
check "coordinator still running" kill -0 "$COORD_PID"
jc_done
