#!/usr/bin/env bash
# spec_max_run: jobs.max_run_time_ms bounds an attempt's run time whatever
# its progress (PROTOCOL.md 15.1): a job that keeps reporting progress is
# taken back once its attempt is older than the limit, and its worker is
# sent a cancel naming the reason; a job within the limit is untouched.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup spec_max_run

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal w1 worker
add_principal c1 client
start_coordinator --set janitor.interval_ms=200 --set jobs.max_run_time_ms=8000 \
    --set jobs.assign_timeout_ms=60000 --set janitor.worker_offline_after_s=600

uuid() { cat /proc/sys/kernel/random/uuid; }
submit() { local j=$1; shift; produce_as c1 --topic job-requests --type job.submit --job-id "$j" "$@" >/dev/null; }
event() { local w=$1 j=$2 a=$3 k=$4; shift 4; produce_as "$w" --topic job-events --type job.event --job-id "$j" --attempt "$a" --kind "$k" "$@" >/dev/null; }
state() { sql "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
wait_state() { wait_for "${3:-20}" "job $1 $2" sql_is "$2" "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }

produce_as w1 --job-type t1 >/dev/null
J=$(uuid)
submit "$J" --job-type t1 --max-attempts 1 --timeout-ms 600000
wait_state "$J" "assigned 1 w1" || exit 1
event w1 "$J" 1 started
wait_state "$J" "running 1 w1" || exit 1
# progress again and again: the lease (10 minutes) never ends
event w1 "$J" 1 progress --progress 10
wait_for 10 "progress applied" sql_is 10 "SELECT progress FROM jobs WHERE id = '$J'"
check_eq "running within the limit (assigned less than 8 s ago)" "running 1 w1|true" \
    "$(sql "SELECT state || ' ' || attempt || ' ' || worker_id || '|' || (assigned_at > now() - interval '8 seconds') FROM jobs WHERE id = '$J'")"
for i in $(seq 2 60); do
    [ "$(sql "SELECT state FROM jobs WHERE id = '$J'")" = running ] || break
    event w1 "$J" 1 progress --progress $((i % 100)); sleep 0.3
done
wait_state "$J" "failed 1 w1" 10
check_eq "taken back once older than jobs.max_run_time_ms, despite progress" \
    "failed|ran longer than jobs.max_run_time_ms" "$(sql "SELECT state || '|' || error FROM jobs WHERE id = '$J'")"
check "no sooner than the limit after the assignment" \
    [ "$(sql "SELECT finished_at - assigned_at >= interval '8 seconds' FROM jobs WHERE id = '$J'")" = t ]
check_eq "its worker is told to stop, with the reason" \
    "w1|1|timed out: ran longer than jobs.max_run_time_ms" \
    "$(sql "SELECT recipient || '|' || attempt || '|' || reason FROM commands WHERE job_id = '$J' AND kind = 'cancel'")"

jc_done
