#!/usr/bin/env bash
# resend_backlog: an unacknowledged command is re-sent (outbox.resend_ms,
# doubling), but not while the coordinator's ingest has more than a batch
# of records unread: the answer may be among them, and re-sending to a
# coordinator that is behind only adds work (under overload the benchmark's
# relay spent a quarter of its rows on assigns the workers had answered).
# Once the backlog is read, re-sends resume.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup resend_backlog

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
add_principal w1 worker
add_principal w2 worker
# one message per ingest transaction: a few thousand records are a backlog
start_coordinator --set ingest.batch_max_messages=1 --set outbox.resend_ms=100 \
    --set outbox.max_tries=1000 --set jobs.assign_timeout_ms=600000 \
    --set jobs.unacked_assign_limit=0 --set janitor.worker_offline_after_s=600

tries() { sql "SELECT coalesce(max(tries), 0) FROM commands WHERE kind = 'assign' AND job_id = '$1'"; }

# --- J1 is assigned to w1, which never answers: its assign is sent, then
#     re-sent 100, 200, 400, 800, 1600, 3200 ms apart (resend_ms 100, doubling)
produce_as w1 --job-type t1 >/dev/null
wait_for 30 "w1 online" sql_is online "SELECT status FROM workers WHERE id = 'w1'" || exit 1
J1=$(cat /proc/sys/kernel/random/uuid)
produce_as c1 --topic job-requests --type job.submit --job-id "$J1" --job-type t1 >/dev/null
wait_for 30 "J1's assign sent" sql_is 1 \
    "SELECT count(*) FROM commands WHERE job_id = '$J1' AND kind = 'assign' AND tries >= 1" || exit 1

# --- a backlog: 10,000 heartbeats of another worker, applied one per
#     transaction (tens of seconds); once ingest has measured its lag (at
#     most a second), J1's re-sends stop
HB=$(consumed heartbeats)
produce_as w2 --job-type other --count 10000 >/dev/null
sleep 2
T0=$(tries "$J1")
sleep 6
LEFT=$((HB + 10000 - $(consumed heartbeats)))
check "the backlog is still there 6 s later ($LEFT heartbeats unread)" test "$LEFT" -gt 500
check_eq "during the backlog the assign is not re-sent ($T0 sends)" "$T0" "$(tries "$J1")"

# --- once the backlog is read, re-sends resume
wait_consumed heartbeats $((HB + 10000)) 300 || exit 1
wait_for 30 "J1's assign re-sent after the backlog" sh -c \
    "[ \$(psql -XAtq -d '$JC_DB' -c \"SELECT max(tries) FROM commands WHERE job_id = '$J1'\") -gt $T0 ]"
check "after the backlog the assign is re-sent again" test "$(tries "$J1")" -gt "$T0"
check_eq "J1 is still assigned to w1 (attempt 1)" "assigned 1 w1" \
    "$(sql "SELECT state || ' ' || attempt || ' ' || worker_id FROM jobs WHERE id = '$J1'")"
jc_done
