#!/usr/bin/env bash
# outage_leases: a coordinator outage longer than a running job's lease
# must not take the job back from a healthy worker. While the coordinator
# is stopped, the worker goes on running the job and reporting progress
# into Kafka; the restarted coordinator applies that backlog, which extends
# the lease, before it judges any lease (every live instance caught up,
# jobs/janitor.c ALL_CAUGHT_UP). The job ends succeeded in its first
# attempt with no cancel sent; a job whose worker really went silent is
# still taken back once ingest has caught up.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup outage_leases

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
add_principal w1 worker
add_principal w2 worker
COORD_ARGS=(--set janitor.interval_ms=200 --set jobs.assign_timeout_ms=3000
            --set janitor.worker_offline_after_s=60)
start_coordinator "${COORD_ARGS[@]}"
key_of w1 >"$T/w1.key"
jc_bg "$T/w1.log" "$BIN/tests/jctest-worker" principal=w1 key.id="$(keyid_of w1)" \
    key.file="$T/w1.key" bootstrap.file="$T/kafka.bootstrap" slots=1 heartbeat.interval.ms=500
W1_PID=$JC_LAST_PID
wait_for 30 "w1 online" sql_is online "SELECT status FROM workers WHERE id = 'w1'" || exit 1

# a 14 s job with a 2 s progress timeout (its lease), reported every 50 ms
J=$(cat /proc/sys/kernel/random/uuid)
produce_as c1 --topic job-requests --type job.submit --job-id "$J" --job-type sleep \
    --payload 14000 --timeout-ms 2000 >/dev/null
wait_for 30 "the job running on w1" sql_is "running w1" \
    "SELECT state || ' ' || worker_id FROM jobs WHERE id = '$J'" || exit 1

# the outage: 6 s, three times the lease
kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
LEASE=$(sql "SELECT extract(epoch FROM lease_expires_at)::bigint FROM jobs WHERE id = '$J'")
sleep 6
check "the lease ran out during the outage" [ "$(date +%s)" -gt "$((LEASE + 2))" ]
start_coordinator "${COORD_ARGS[@]}"
wait_for 60 "the job final" sql_is t \
    "SELECT state IN ('succeeded', 'failed', 'canceled') FROM jobs WHERE id = '$J'"
check_eq "after the outage the job succeeded in its first attempt" "succeeded 1" \
    "$(sql "SELECT state || ' ' || attempt FROM jobs WHERE id = '$J'")"
check_eq "it was never taken back (no move back to pending)" 0 \
    "$(sql "SELECT count(*) FROM job_events WHERE job_id = '$J' AND kind = 'state' AND to_state = 'pending'")"
check_eq "no cancel was sent to its worker" 0 \
    "$(sql "SELECT count(*) FROM commands WHERE job_id = '$J' AND kind = 'cancel'")"
check_eq "the coordinator logged no take-back of it" 0 \
    "$(grep -c "janitor: job $J " "$T/coordinator.log")"

# a worker that really goes silent: its job is taken back once the lease ends
kill -KILL "$W1_PID"
J2=$(cat /proc/sys/kernel/random/uuid)
produce_as w2 --job-type hang >/dev/null # w2 is online and advertises hang, but runs nothing
produce_as c1 --topic job-requests --type job.submit --job-id "$J2" --job-type hang \
    --timeout-ms 2000 --max-attempts 2 >/dev/null
wait_for 30 "J2 assigned (to w2, or to the killed w1, not yet offline)" sql_is assigned \
    "SELECT state FROM jobs WHERE id = '$J2'" || exit 1
wait_for 30 "J2 taken back" sql_is 1 \
    "SELECT count(*) FROM job_events WHERE job_id = '$J2' AND kind = 'state' AND from_state = 'assigned' AND to_state = 'pending'"
check_eq "a job whose worker never answers is still taken back when its lease ends" 1 \
    "$(sql "SELECT count(*) FROM job_events WHERE job_id = '$J2' AND kind = 'state' AND from_state = 'assigned' AND to_state = 'pending'")"
jc_done
