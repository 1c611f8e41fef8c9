#!/usr/bin/env bash
# e2e_jobs: jobs end to end with separate processes: a standalone mock
# Kafka, the coordinator, and two workers built on libjobcoord (handlers
# ok, flaky, fail, hang, sleep). Every final state is reached through the
# real SDK; a worker killed with SIGKILL mid-job loses the job to the other
# worker, and the success is recorded once; commands whose delivery Kafka
# refuses are re-sent until they are acknowledged.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup e2e_jobs

start_mock_kafka_with_control() {
    rm -f "$T/kafka.bootstrap"
    jc_bg "$T/mock-kafka.log" "$BIN/coordinator/jobcoord-mock-kafka" \
        --bootstrap-file "$T/kafka.bootstrap" --partitions 4 --control-file "$T/kafka.control"
    wait_for 20 "mock kafka" test -s "$T/kafka.bootstrap" || exit 1
    export JOBCOORD_KAFKA_BROKERS
    JOBCOORD_KAFKA_BROKERS=$(cat "$T/kafka.bootstrap")
}
start_mock_kafka_with_control
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
start_coordinator --set janitor.interval_ms=200 --set janitor.worker_offline_after_s=3 \
    --set jobs.retry_backoff_ms=200 --set outbox.resend_ms=300

declare -A WPID
start_worker() {
    local w=$1
    key_of "$w" >"$T/$w.key"
    jc_bg "$T/$w.log" "$BIN/tests/jctest-worker" principal="$w" key.id="$(keyid_of "$w")" \
        key.file="$T/$w.key" bootstrap.file="$T/kafka.bootstrap" slots=2 heartbeat.interval.ms=300
    WPID[$w]=$JC_LAST_PID
}
for w in w1 w2; do
    add_principal "$w" worker
    start_worker "$w"
done
wait_for 30 "workers online" sql_is 2 "SELECT count(*) FROM workers WHERE status = 'online'" || exit 1

uuid() { cat /proc/sys/kernel/random/uuid; }
submit() { local j=$1 t=$2; shift 2; produce_as c1 --topic job-requests --type job.submit --job-id "$j" --job-type "$t" "$@" >/dev/null; }
final() { sql "SELECT state FROM jobs WHERE id = '$1'"; }
wait_final() { wait_for "${2:-30}" "job $1 final" sh -c "psql -XAtq -d '$JC_DB' -c \"SELECT state FROM jobs WHERE id = '$1'\" | grep -Eq 'succeeded|failed|canceled'"; }

OK=$(uuid) FLAKY=$(uuid) FAIL=$(uuid) HANG=$(uuid) PEND=$(uuid) RUN=$(uuid)
submit "$OK" ok
submit "$FLAKY" flaky
submit "$FAIL" fail
submit "$HANG" hang --timeout-ms 1500 --max-attempts 1
for j in "$OK" "$FLAKY" "$FAIL" "$HANG"; do wait_final "$j" || exit 1; done
check_eq "ok -> succeeded, payload as result" "succeeded|" "$(sql "SELECT state || '|' || encode(result, 'escape') FROM jobs WHERE id = '$OK'" | cut -c1-10)"
check_eq "the handler's log line is kept" "ok handler ran" "$(sql "SELECT text FROM job_events WHERE job_id = '$OK' AND kind = 'log'")"
check_eq "flaky -> retried, succeeded on attempt 2" "succeeded 2 recovered" "$(sql "SELECT state || ' ' || attempt || ' ' || convert_from(result, 'UTF8') FROM jobs WHERE id = '$FLAKY'")"
check_eq "fail -> failed with its error" "failed 1 permanent failure" "$(sql "SELECT state || ' ' || attempt || ' ' || error FROM jobs WHERE id = '$FAIL'")"
check_eq "hang -> timed out, failed" "failed" "$(final "$HANG")"
Q="SELECT bool_and(status = 'acked') FROM commands WHERE job_id = '$HANG' AND kind = 'cancel'"
wait_for 10 "timeout cancel acked" sql_is t "$Q"
check_eq "the hung job's worker acknowledged the cancel" t "$(sql "$Q")"
check_eq "assign commands acknowledged by the workers' first events" 0 \
    "$(sql "SELECT count(*) FROM commands WHERE kind = 'assign' AND job_id IN ('$OK','$FLAKY','$FAIL') AND status <> 'acked'")"

# cancel while pending (a type no worker runs) and while running
submit "$PEND" nobody-runs-this
wait_for 10 "pending" sql_is pending "SELECT state FROM jobs WHERE id = '$PEND'"
produce_as c1 --topic job-requests --type job.cancel --job-id "$PEND" >/dev/null
wait_final "$PEND" || exit 1
check_eq "canceled while pending" canceled "$(final "$PEND")"
submit "$RUN" sleep --payload 20000
wait_for 10 "running" sql_is running "SELECT state FROM jobs WHERE id = '$RUN'"
produce_as c1 --topic job-requests --type job.cancel --job-id "$RUN" >/dev/null
wait_final "$RUN" || exit 1
check_eq "canceled while running, confirmed by the SDK" "canceled|canceling>canceled" \
    "$(sql "SELECT j.state || '|' || (SELECT string_agg(from_state || '>' || to_state, ',') FROM job_events e WHERE e.job_id = j.id AND e.to_state = 'canceled') FROM jobs j WHERE id = '$RUN'")"

# a worker killed with SIGKILL mid-job: requeued, completed elsewhere, once
K=$(uuid)
submit "$K" sleep --max-attempts 3 --payload 3000
wait_for 10 "K running" sql_is running "SELECT state FROM jobs WHERE id = '$K'"
victim=$(sql "SELECT worker_id FROM jobs WHERE id = '$K'")
kill -KILL "${WPID[$victim]}"
wait_final "$K" 60 || exit 1
check_eq "the job completed on the other worker" "succeeded 2" "$(sql "SELECT state || ' ' || attempt FROM jobs WHERE id = '$K'")"
check "not on the killed worker" [ "$(sql "SELECT worker_id FROM jobs WHERE id = '$K'")" != "$victim" ]
check_eq "its success recorded once" 1 "$(sql "SELECT count(*) FROM job_events WHERE job_id = '$K' AND to_state = 'succeeded'")"
check_eq "the killed worker is offline, running nothing" "offline 0" \
    "$(sql "SELECT status || ' ' || running_jobs FROM workers WHERE id = '$victim'")"
start_worker "$victim"
wait_for 30 "workers back" sql_is 2 "SELECT count(*) FROM workers WHERE status = 'online'" || exit 1

# commands whose delivery Kafka refuses are re-sent until acknowledged
"$ADMIN" worker drain w1 >/dev/null && "$ADMIN" worker drain w2 >/dev/null
D=$(uuid)
submit "$D" ok
wait_for 10 "D pending" sql_is pending "SELECT state FROM jobs WHERE id = '$D'"
echo "produce-errors 6 TOPIC_AUTHORIZATION_FAILED" >"$T/kafka.control"
wait_for 5 "fault armed" sh -c "! test -e '$T/kafka.control'"
"$ADMIN" worker undrain w1 >/dev/null
wait_final "$D" 60 || exit 1
check_eq "the job completed despite refused deliveries" succeeded "$(final "$D")"
check "Kafka refused some deliveries" grep -q "TOPIC_AUTHORIZATION_FAILED\|delivery failed" "$T/coordinator.log"
# the worker's own ack may have been refused too: the re-sent command is
# acknowledged again
wait_for 60 "undrain acked" sql_is acked "SELECT status FROM commands WHERE kind = 'undrain' AND recipient = 'w1'"
check_eq "the undrain command was acknowledged" acked "$(sql "SELECT status FROM commands WHERE kind = 'undrain' AND recipient = 'w1'")"

# worker settings: stored, sent as a config command, applied by the SDK and
# reported back in heartbeats
"$ADMIN" worker config w2 --set color=blue --set batch=7 >/dev/null
Q="SELECT config_version = desired_config_version AND desired_config_version > 0 FROM workers WHERE id = 'w2'"
wait_for 30 "w2 applied its config" sql_is t "$Q"
check_eq "the worker reports the configuration it applied" t "$(sql "$Q")"
# the ack is its own message (on command-acks), not part of the heartbeat
# that reported the version: it may arrive a little later
wait_for 30 "config acked" sql_is acked "SELECT status FROM commands WHERE kind = 'config' AND recipient = 'w2'"
check_eq "the config command was acknowledged" acked "$(sql "SELECT status FROM commands WHERE kind = 'config' AND recipient = 'w2'")"

check_eq "no transition applied twice" 0 "$(sql "SELECT count(*) FROM (SELECT job_id, attempt, from_state, to_state FROM job_events WHERE kind = 'state' GROUP BY 1, 2, 3, 4 HAVING count(*) > 1) d")"
jc_done
