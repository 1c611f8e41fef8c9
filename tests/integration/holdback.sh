#!/usr/bin/env bash
# holdback: a worker that heartbeats but never acknowledges its assigns
# (here a process that only sends heartbeats) would get every job back
# after each jobs.assign_timeout_ms, each time burning an attempt. After
# jobs.unacked_assign_limit unacknowledged assigns in a row it is held
# back: the scheduler stops choosing it, the job keeps its remaining
# attempts, and the operator sees why (log line, /v1/workers, `worker
# list/show`, jobcoord_workers_held_back and
# jobcoord_assigns_unacknowledged_total). An acknowledgement releases it;
# a worker that answers its assigns is never held back.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup holdback

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PASSWORD="holdback-$$-password"
start_mock_kafka
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
add_principal ghost worker
add_principal w2 worker
JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$PASSWORD start_coordinator --set http.listen=127.0.0.1:$PORT \
    --set janitor.interval_ms=200 --set jobs.assign_timeout_ms=700 --set outbox.resend_ms=200 \
    --set jobs.retry_backoff_ms=100 --set jobs.unacked_assign_limit=2

# ghost: heartbeats (job type ok, 2 slots) four times a second, nothing else
jc_bg "$T/ghost.log" "$BIN/tests/jctest-kafka" produce --brokers "$JOBCOORD_KAFKA_BROKERS" \
    --principal ghost --key-id "$(keyid_of ghost)" --key "$(key_of ghost)" --job-type ok \
    --count 2000 --rate 4
wait_for 30 "ghost online" sql_is online "SELECT status FROM workers WHERE id = 'ghost'" || exit 1

J1=$(cat /proc/sys/kernel/random/uuid)
produce_as c1 --topic job-requests --type job.submit --job-id "$J1" --job-type ok \
    --max-attempts 10 >/dev/null
wait_for 30 "ghost held back" sql_is t \
    "SELECT held_back_since IS NOT NULL FROM workers WHERE id = 'ghost'"
check_eq "after 2 unacknowledged assigns the worker is held back" 2 \
    "$(sql "SELECT unacked_assigns FROM workers WHERE id = 'ghost'")"
sleep 3
check_eq "the job is no longer given to it: pending, 2 of 10 attempts used" "pending 2" \
    "$(sql "SELECT state || ' ' || attempt FROM jobs WHERE id = '$J1'")"
check_eq "the ghost is still online (it heartbeats)" online \
    "$(sql "SELECT status FROM workers WHERE id = 'ghost'")"
check "a warning names the worker and why" \
    grep -q "worker ghost left 2 assigns in a row unacknowledged" "$T/coordinator.log"

# what the operator sees
"$ADMIN" --json worker show ghost >"$T/show.json"
check_eq "worker show: unacked_assigns and the reason" "2 yes" \
    "$(jq -r '"\(.worker.unacked_assigns // .unacked_assigns) \(if (.worker.held_back_reason // .held_back_reason) then "yes" else "no" end)"' "$T/show.json")"
"$ADMIN" worker list >"$T/list.txt"
check "worker list: held_back column says yes for the ghost" \
    awk '$1 == "ghost" && $NF == "yes" { found = 1 } END { exit !found }' "$T/list.txt"
TOKEN=$(curl -s --data-urlencode grant_type=password --data-urlencode username=admin \
    --data-urlencode "password=$PASSWORD" "$URL/v1/token" | jq -r '.access_token // empty')
curl -s -H "Authorization: Bearer $TOKEN" "$URL/v1/workers" >"$T/workers.json"
check_eq "/v1/workers: unacked_assigns, held_back_since and held_back_reason" "2 true true" \
    "$(jq -r '.workers[] | select(.id == "ghost") | "\(.unacked_assigns) \(.held_back_since != null) \(.held_back_reason | test("not acknowledged"))"' "$T/workers.json")"
curl -s "$URL/metrics" >"$T/metrics"
check "metric jobcoord_workers_held_back 1" grep -q '^jobcoord_workers_held_back 1$' "$T/metrics"
check "metric jobcoord_assigns_unacknowledged_total counts 2" \
    grep -q '^jobcoord_assigns_unacknowledged_total 2$' "$T/metrics"

# a worker that answers gets the job and is never held back
key_of w2 >"$T/w2.key"
jc_bg "$T/w2.log" "$BIN/tests/jctest-worker" principal=w2 key.id="$(keyid_of w2)" \
    key.file="$T/w2.key" bootstrap.file="$T/kafka.bootstrap" slots=1 heartbeat.interval.ms=300
wait_for 30 "the job runs on w2" sql_is "succeeded w2" \
    "SELECT state || ' ' || worker_id FROM jobs WHERE id = '$J1'"
check_eq "the job succeeded on w2, with attempts to spare" "succeeded w2 true" \
    "$(sql "SELECT state || ' ' || worker_id || ' ' || (attempt < max_attempts) FROM jobs WHERE id = '$J1'")"
check_eq "w2, which answers, is not held back" "0 false" \
    "$(sql "SELECT unacked_assigns || ' ' || (held_back_since IS NOT NULL) FROM workers WHERE id = 'w2'")"
curl -s -H "Authorization: Bearer $TOKEN" "$URL/v1/workers" >"$T/workers.json"
check_eq "/v1/workers: a worker not held back shows 0 and null" "0 null null" \
    "$(jq -r '.workers[] | select(.id == "w2") | "\(.unacked_assigns) \(.held_back_since) \(.held_back_reason)"' "$T/workers.json")"

# an acknowledgement from the ghost releases it
CMD=$(sql "SELECT id FROM commands WHERE kind = 'assign' AND recipient = 'ghost' LIMIT 1")
produce_as ghost --topic command-acks --type command.ack --cmd "$CMD" --ack-ok 1 >/dev/null
wait_for 15 "ghost released" sql_is "0 false" \
    "SELECT unacked_assigns || ' ' || (held_back_since IS NOT NULL) FROM workers WHERE id = 'ghost'"
check_eq "a command.ack from the worker releases it" "0 false" \
    "$(sql "SELECT unacked_assigns || ' ' || (held_back_since IS NOT NULL) FROM workers WHERE id = 'ghost'")"
check "the release is logged" grep -q "worker ghost acknowledged a command again" "$T/coordinator.log"

jc_done
