#!/usr/bin/env bash
# unschedulable: a pending job of a type no online worker advertises is
# shown as such ("no worker can run this type") by the status API, the
# admin CLI and a metric, and fails with a clear reason once no online
# worker has advertised the type for jobs.unschedulable_after_s; a job
# whose type an online worker advertises waits however long it takes, and
# a type that a worker advertised recently gets the full time again.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup unschedulable

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
ADMIN_PASSWORD="unsched-$$-password"
start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal w1 worker
add_principal c1 client
JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD start_coordinator \
    --set http.listen=127.0.0.1:$PORT --set janitor.interval_ms=200 \
    --set jobs.unschedulable_after_s=15 --set janitor.worker_offline_after_s=3600 \
    --set jobs.assign_timeout_ms=3600000

uuid() { cat /proc/sys/kernel/random/uuid; }
submit() { local j=$1; shift; produce_as c1 --topic job-requests --type job.submit --job-id "$j" "$@" >/dev/null; }
state() { sql "SELECT state FROM jobs WHERE id = '$1'"; }
TOKEN=$(curl -s --data-urlencode grant_type=password --data-urlencode "username=admin" \
    --data-urlencode "password=$ADMIN_PASSWORD" "$URL/v1/token" | jq -r '.access_token // empty')
check "admin token" [ -n "$TOKEN" ]
api() { curl -s -H "Authorization: Bearer $TOKEN" "$URL$1"; }

# w1 runs 'busy' with 2 slots: a third 'busy' job waits for a slot, not
# for a worker
produce_as w1 --job-type busy >/dev/null
wait_for 20 "w1 online" sql_is online "SELECT status FROM workers WHERE id = 'w1'" || exit 1
B1=$(uuid) B2=$(uuid) B3=$(uuid) N=$(uuid)
submit "$B1" --job-type busy
submit "$B2" --job-type busy
submit "$B3" --job-type busy
submit "$N" --job-type nobody-runs-this
wait_for 20 "N pending" sql_is pending "SELECT state FROM jobs WHERE id = '$N'" || exit 1
wait_for 20 "B3 pending, B1 B2 assigned" sql_is 2 \
    "SELECT count(*) FROM jobs WHERE type = 'busy' AND state = 'assigned'" || exit 1

check_eq "API: the job no worker can run says so" "pending|no worker can run this type" \
    "$(api "/v1/jobs/$N" | jq -r '.state + "|" + (.waiting_reason // "null")')"
check_eq "API: a job waiting for a slot does not" "pending|null" \
    "$(api "/v1/jobs/$B3" | jq -r '.state + "|" + (.waiting_reason // "null")')"
check_eq "API list: the same" "no worker can run this type" \
    "$(api "/v1/jobs?state=pending&type=nobody-runs-this" | jq -r '.jobs[0].waiting_reason')"
check_eq "API: an assigned job has no waiting reason" null \
    "$(api "/v1/jobs/$B1" | jq -r '.waiting_reason')"
OUT=$("$ADMIN" job show "$N")
check "job show says it" grep -q "^waiting *no worker can run this type" <<<"$OUT"
check_eq "job show --json says it" "no worker can run this type" \
    "$("$ADMIN" job show "$N" --json | jq -r '.waiting')"
check_eq "job show of a job waiting for a slot: no reason" null \
    "$("$ADMIN" job show "$B3" --json | jq -r '.waiting')"
check_eq "metric: one unschedulable job" 1 \
    "$(curl -s "$URL/metrics" | awk '$1 == "jobcoord_jobs_unschedulable" { print $2 }')"

# after jobs.unschedulable_after_s (15 s: the checks above must fit in it
# on a loaded machine, where 6 s ran out) the job fails, saying why
wait_for 60 "N failed" sql_is failed "SELECT state FROM jobs WHERE id = '$N'" || exit 1
check_eq "failed as unschedulable" \
    "failed|unschedulable: no online worker has advertised type 'nobody-runs-this' for 15 s (jobs.unschedulable_after_s)" \
    "$(sql "SELECT state || '|' || error FROM jobs WHERE id = '$N'")"
check_eq "never assigned" 0 "$(sql "SELECT attempt FROM jobs WHERE id = '$N'")"
check_eq "its history says why" 1 \
    "$(sql "SELECT count(*) FROM job_events WHERE job_id = '$N' AND from_state = 'pending' AND to_state = 'failed' AND text LIKE 'unschedulable:%'")"
wait_for 20 "the client is told" sql_is 1 \
    "SELECT count(*) FROM commands WHERE job_id = '$N' AND kind = 'job.update' AND state = 'failed'"
check_eq "the client is told" 1 \
    "$(sql "SELECT count(*) FROM commands WHERE job_id = '$N' AND kind = 'job.update' AND state = 'failed'")"
check_eq "the job waiting for a slot still waits" pending "$(state "$B3")"
check_eq "metric: none left" 0 \
    "$(curl -s "$URL/metrics" | awk '$1 == "jobcoord_jobs_unschedulable" { print $2 }')"

# a type a worker advertised until just now gets the full time again: w1
# drops 'busy' (its jobs stay with it), the waiting job gets 15 s from then
produce_as w1 --job-type other >/dev/null
wait_for 20 "w1 dropped busy" sql_is '{other}' "SELECT capabilities FROM workers WHERE id = 'w1'" || exit 1
sleep 2
check_eq "a type advertised 2 s ago: not failed yet" pending "$(state "$B3")"
check_eq "but shown as waiting for a worker" "no worker can run this type" \
    "$(api "/v1/jobs/$B3" | jq -r '.waiting_reason')"
wait_for 60 "B3 failed" sql_is failed "SELECT state FROM jobs WHERE id = '$B3'" || exit 1
check_eq "then it fails" failed "$(state "$B3")"
check "coordinator still running" kill -0 "$COORD_PID"
jc_done
