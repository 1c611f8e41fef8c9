#!/usr/bin/env bash
# spec_lifecycle: the lifecycle rules of PROTOCOL.md that a third-party
# worker or client can only see on the wire, through the real coordinator
# and scripted principals speaking the protocol: an assign is never re-sent
# once its job has moved past "assigned" (and is then acknowledged by the
# job event), nor once the job was taken back.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup spec_lifecycle

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal w1 worker
add_principal c1 client
# jobs.assign_timeout_ms 10 s: the first job's checks must fit in it on a
# loaded machine (3 s ran out there, and the job was taken back first)
start_coordinator --set janitor.interval_ms=200 --set jobs.assign_timeout_ms=10000 \
    --set outbox.resend_ms=150 --set outbox.max_tries=50 --set janitor.worker_offline_after_s=600

uuid() { cat /proc/sys/kernel/random/uuid; }
submit() { local j=$1; shift; produce_as c1 --topic job-requests --type job.submit --job-id "$j" "$@" >/dev/null; }
event() { local w=$1 j=$2 a=$3 k=$4; shift 4; produce_as "$w" --topic job-events --type job.event --job-id "$j" --attempt "$a" --kind "$k" "$@" >/dev/null; }
state() { sql "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
wait_state() { wait_for "${3:-20}" "job $1 $2" sql_is "$2" "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
assign_cmd() { sql "SELECT id FROM commands WHERE kind = 'assign' AND job_id = '$1' AND attempt = $2"; }
tries() { sql "SELECT tries FROM commands WHERE id = '$1'"; }
cmd_status() { sql "SELECT status FROM commands WHERE id = '$1'"; }

produce_as w1 --job-type t1 >/dev/null

# --- a job event without "cmd" moves the job past assigned: the assign is
#     acknowledged by it and never sent again
J1=$(uuid)
submit "$J1" --job-type t1
wait_state "$J1" "assigned 1 w1" || exit 1
C1=$(assign_cmd "$J1" 1)
wait_for 10 "assign re-sent at least once" sh -c "[ \$(psql -XAtq -d '$JC_DB' -c \"SELECT tries FROM commands WHERE id = '$C1'\") -ge 2 ]"
event w1 "$J1" 1 started
wait_state "$J1" "running 1 w1" || exit 1
sleep 0.5 # the relay's round that saw the job running
n=$(tries "$C1")
sleep 2.5 # > 4 re-send periods at the last delay (150 ms doubling: 0.3, 0.6, 1.2 s ...)
check_eq "no re-send of an assign whose job is running" "$n" "$(tries "$C1")"
check_eq "the assign counts as acknowledged by the job event" acked "$(cmd_status "$C1")"

# --- a job taken back (not started within jobs.assign_timeout_ms): its
#     assign is not re-sent, and is marked failed with the reason
J2=$(uuid)
submit "$J2" --job-type t1 --max-attempts 1
wait_state "$J2" "assigned 1 w1" || exit 1
C2=$(assign_cmd "$J2" 1)
wait_state "$J2" "failed 1 w1" 40 || exit 1
sleep 0.5
n=$(tries "$C2")
sleep 2.5
check_eq "no re-send of an assign whose job was taken back" "$n" "$(tries "$C2")"
# (the relay marks it when the row is next due: its re-send delay has grown
# by then)
wait_for 30 "the assign marked failed" sql_is failed "SELECT status FROM commands WHERE id = '$C2'"
check_eq "that assign failed, with why" "failed|the assignment ended before it was acknowledged" \
    "$(sql "SELECT status || '|' || error FROM commands WHERE id = '$C2'")"

# --- an "accepted" event without "cmd" answers the assign too: the job stays
#     assigned, and the assign is not sent again
J3=$(uuid)
submit "$J3" --job-type t1
wait_state "$J3" "assigned 1 w1" || exit 1
C3=$(assign_cmd "$J3" 1)
event w1 "$J3" 1 accepted
wait_for 10 "accepted applied" sql_is t "SELECT last_event_ts_ms > 0 FROM jobs WHERE id = '$J3'" || exit 1
check_eq "accepted leaves the job assigned" "assigned 1 w1" "$(state "$J3")"
sleep 0.5
n=$(tries "$C3")
sleep 1.5 # less than jobs.assign_timeout_ms after the assignment
check_eq "no re-send of an assign answered by accepted" "$n" "$(tries "$C3")"
check_eq "that assign is acknowledged" acked "$(cmd_status "$C3")"

jc_done
