#!/bin/sh
# kafka-init.sh - the one-shot `kafka-init` service of docker-compose.yml:
# creates jobcoord's topics on the compose Kafka (the broker does not create
# topics by itself: auto.create.topics.enable=false), and on every run
# enforces the settings that matter on topics that already exist.
# Runs in the apache/kafka image (POSIX sh, Kafka's CLI in /opt/kafka/bin).
#
# The topic names are proto/include/jcproto/topics.h's, with the coordinator's
# default prefix "jobcoord." (kafka.topic_prefix; the SDK's topic.prefix).
# Partition counts and retention: docs/deployment.md, "Topics and
# partitions". Every topic gets message.timestamp.type=LogAppendTime: the
# coordinator judges rotated-out keys and heartbeat ages by the record
# timestamp, which must then be the broker's clock, not the producer's
# (docs/architecture.md).
#
# Partitions are never added here: adding partitions moves workers' and
# clients' inbox partitions (see docs/deployment.md); a topic with fewer
# partitions than configured is reported, not changed. Exit 0 when every
# topic exists with the settings, 1 otherwise.
set -eu

BOOTSTRAP=${KAFKA_BOOTSTRAP:-kafka:9092}
BIN=${KAFKA_BIN:-/opt/kafka/bin}
PREFIX=jobcoord.
PARTITIONS=${JOBCOORD_TOPIC_PARTITIONS:-8}
REJECTED_PARTITIONS=${JOBCOORD_REJECTED_PARTITIONS:-1}
REPLICATION=${JOBCOORD_TOPIC_REPLICATION:-1}
RETENTION_MS=${JOBCOORD_TOPIC_RETENTION_MS:-604800000}
REJECTED_RETENTION_MS=${JOBCOORD_REJECTED_RETENTION_MS:-2592000000}

# topic suffix, partitions, retention.ms (proto/include/jcproto/topics.h)
TOPICS="
heartbeats $PARTITIONS $RETENTION_MS
job-requests $PARTITIONS $RETENTION_MS
job-events $PARTITIONS $RETENTION_MS
worker-events $PARTITIONS $RETENTION_MS
command-acks $PARTITIONS $RETENTION_MS
commands $PARTITIONS $RETENTION_MS
job-updates $PARTITIONS $RETENTION_MS
rejected $REJECTED_PARTITIONS $REJECTED_RETENTION_MS
"

say() { echo "kafka-init: $*"; }

tries=0
until "$BIN/kafka-broker-api-versions.sh" --bootstrap-server "$BOOTSTRAP" >/dev/null 2>&1; do
    tries=$((tries + 1))
    if [ "$tries" -ge 60 ]; then
        say "no broker answers at $BOOTSTRAP"
        exit 1
    fi
    sleep 2
done

existing=$("$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --list)
status=0
echo "$TOPICS" | while read -r name parts retention; do
    [ -n "$name" ] || continue
    topic=$PREFIX$name
    if echo "$existing" | grep -qx "$topic"; then
        "$BIN/kafka-configs.sh" --bootstrap-server "$BOOTSTRAP" --alter --entity-type topics \
            --entity-name "$topic" \
            --add-config "message.timestamp.type=LogAppendTime,retention.ms=$retention" >/dev/null
        say "$topic exists; message.timestamp.type=LogAppendTime, retention.ms=$retention"
    else
        "$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --create --if-not-exists \
            --topic "$topic" --partitions "$parts" --replication-factor "$REPLICATION" \
            --config message.timestamp.type=LogAppendTime --config "retention.ms=$retention" >/dev/null
        say "$topic created: $parts partitions, replication $REPLICATION"
    fi
done

# check what the broker now says: one header line per topic,
# "Topic: NAME<TAB>TopicId: ...<TAB>PartitionCount: N<TAB>...<TAB>Configs: k=v,..."
described=$("$BIN/kafka-topics.sh" --bootstrap-server "$BOOTSTRAP" --describe \
    --topic "$(echo "$PREFIX" | sed 's/\./\\./g').*" | grep '^Topic:' || true)
echo "$described"
for line in $(echo "$TOPICS" | awk 'NF == 3 { print $1 ":" $2 }'); do
    topic=$PREFIX${line%%:*}
    want=${line##*:}
    header=$(echo "$described" | grep "^Topic: ${topic}[[:space:]]" || true)
    have=$(echo "$header" | sed -n 's/.*PartitionCount: *\([0-9][0-9]*\).*/\1/p')
    if [ -z "$have" ]; then
        say "ERROR: $topic is missing"
        status=1
        continue
    fi
    if [ "$have" -lt "$want" ]; then
        say "WARNING: $topic has $have partitions, $want configured (not changed: see docs/deployment.md)"
    fi
    case "$header" in
    *message.timestamp.type=LogAppendTime*) ;;
    *)
        say "ERROR: $topic does not have message.timestamp.type=LogAppendTime"
        status=1
        ;;
    esac
done
if [ "$status" -eq 0 ]; then
    say "done: every topic exists with message.timestamp.type=LogAppendTime"
fi
exit "$status"
