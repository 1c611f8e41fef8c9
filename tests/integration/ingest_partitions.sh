#!/usr/bin/env bash
# ingest_partitions: topics with 300 partitions. Ingest once kept positions
# in fixed arrays of 256 partitions: records of partitions 256 and up were
# read and applied, but their positions never stored, so a restart applied
# them again. Here heartbeats land on partitions above 255 (the producer's
# default partitioner is CRC-32 of the key, the principal); each must be
# applied once, its position stored, and nothing read again after a restart.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup ingest_partitions

# start_mock_kafka 300, with time to create 300 partitions of every topic
jc_bg "$T/mock-kafka.log" "$BIN/coordinator/jobcoord-mock-kafka" \
    --bootstrap-file "$T/kafka.bootstrap" --partitions 300
wait_for 180 "mock kafka bootstrap file" test -s "$T/kafka.bootstrap" || exit 1
export JOBCOORD_KAFKA_BROKERS
JOBCOORD_KAFKA_BROKERS=$(cat "$T/kafka.bootstrap")
"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
# principals whose key hashes to a partition of 256 or more (and two below)
high=$(python3 -c "
import zlib
names = ['w%d' % i for i in range(2000)]
print(' '.join([n for n in names if zlib.crc32(n.encode()) % 300 >= 256][:6]))")
low="w0 w1"
workers="$high $low"
n=0
for w in $workers; do
    add_principal "$w" worker
    n=$((n + 1))
done
start_coordinator
check "ingest took all 300 partitions of each of its topics" \
    grep -q "ingest ready: 1500 partitions assigned" "$T/coordinator.log"

for w in $workers; do produce_as "$w" >/dev/null; done
wait_consumed heartbeats "$n" 60
check_eq "every heartbeat applied once" "$n" "$(sql 'SELECT count(*) FROM heartbeats')"
check_eq "every worker online" "$n" "$(sql "SELECT count(*) FROM workers WHERE status = 'online'")"
check_eq "every heartbeat's position stored" "$n" "$(consumed heartbeats)"
high_rows=$(sql "SELECT count(*) FROM consumer_offsets WHERE topic = 'jobcoord.heartbeats' AND kpartition >= 256")
check "positions stored for partitions numbered 256 and up ($high_rows)" [ "${high_rows:-0}" -ge 1 ]
check "no partition refused" sh -c "! grep -q 'partition refused\|partition not consumed' '$T/coordinator.log'"

# a restart starts from the stored positions: nothing applied or rejected again
kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
start_coordinator
produce_as w0 >/dev/null # one more, so the restarted instance surely polled
wait_consumed heartbeats $((n + 1)) 60
check_eq "after a restart, only the new heartbeat is applied" $((n + 1)) "$(sql 'SELECT count(*) FROM heartbeats')"
check_eq "and nothing was read again (no replay rejected)" 0 \
    "$(sql "SELECT coalesce(sum(count), 0) FROM rejections")"
jc_done
