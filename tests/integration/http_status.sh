#!/usr/bin/env bash
# http_status: the status API (/v1/status, /v1/workers[/{id}], /v1/jobs,
# /v1/jobs/{id}[/events], /v1/jobs/stats) against a real coordinator fed
# with signed heartbeats, submissions and job events. Every answer is
# compared with what PostgreSQL holds (the expected JSON is built by SQL);
# job lists are walked page by page (no duplicate, none missing, newest
# first); bad parameters answer 400, missing or bad tokens 401; each role
# sees only what it may (clients their own jobs, workers themselves and
# their jobs, readers and admins everything). Also checks that /metrics
# carries the counters and histograms the HTTP and ingest paths feed.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup http_status

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
ADMIN_PASSWORD="status-test-$$-password"
start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
for p in w1 w2; do add_principal "$p" worker; done
for p in c1 c2; do add_principal "$p" client; done
add_principal r1 reader
# nothing may change under the comparisons: no re-sends, no timeouts, no
# offline workers while the test runs
JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD start_coordinator \
    --set http.listen=127.0.0.1:$PORT --set outbox.resend_ms=600000 \
    --set jobs.assign_timeout_ms=3600000 --set janitor.worker_offline_after_s=3600

uuid() { cat /proc/sys/kernel/random/uuid; }
submit() { local c=$1 j=$2; shift 2; produce_as "$c" --topic job-requests --type job.submit --job-id "$j" "$@" >/dev/null; }
event() { local w=$1 j=$2 a=$3 k=$4; shift 4; produce_as "$w" --topic job-events --type job.event --job-id "$j" --attempt "$a" --kind "$k" "$@" >/dev/null; }
wait_state() { wait_for 20 "job $1 $2" sql_is "$2" "SELECT state || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
assign_cmd() { sql "SELECT id FROM commands WHERE kind = 'assign' AND job_id = '$1'"; }

# --- the fleet: two workers, two clients' jobs in every state
produce_as w1 --job-type t1 >/dev/null
produce_as w2 --job-type t2 >/dev/null
wait_for 20 "workers online" sql_is 2 "SELECT count(*) FROM workers WHERE status = 'online'" || exit 1
produce_as c1 --topic job-requests --type job.submit --job-type pend --count 12 >/dev/null
produce_as c2 --topic job-requests --type job.submit --job-type pend2 --count 9 >/dev/null
J1=$(uuid) J2=$(uuid) J3=$(uuid) J4=$(uuid) J5=$(uuid)
submit c1 "$J1" --job-type t1 --ikey "k-1" --payload "hello payload"
wait_state "$J1" "assigned w1" || exit 1
event w1 "$J1" 1 started --cmd "$(assign_cmd "$J1")"
event w1 "$J1" 1 progress --progress 40
event w1 "$J1" 1 log --text "a log line"
event w1 "$J1" 1 succeeded --result "done!"
wait_state "$J1" "succeeded w1" || exit 1
submit c1 "$J2" --job-type t1
wait_state "$J2" "assigned w1" || exit 1
event w1 "$J2" 1 started --cmd "$(assign_cmd "$J2")"
event w1 "$J2" 1 failed --text "boom"
wait_state "$J2" "failed w1" || exit 1
submit c2 "$J3" --job-type t1 --timeout-ms 3600000
wait_state "$J3" "assigned w1" || exit 1
event w1 "$J3" 1 started --cmd "$(assign_cmd "$J3")"
wait_state "$J3" "running w1" || exit 1
submit c2 "$J4" --job-type t2
wait_state "$J4" "assigned w2" || exit 1
produce_as w2 --topic command-acks --type command.ack --cmd "$(assign_cmd "$J4")" >/dev/null
submit c1 "$J5" --job-type pend
wait_state "$J5" "pending -" || exit 1
produce_as c1 --topic job-requests --type job.cancel --job-id "$J5" --reason "not needed" >/dev/null
wait_state "$J5" "canceled -" || exit 1
produce_as w1 --topic worker-events --type worker.event >/dev/null
produce_as c1 --topic job-requests --type job.submit --job-type t1 --forge mac >/dev/null
wait_for 20 "worker event and rejection stored" sql_is "1 1" \
    "SELECT (SELECT count(*) FROM worker_events) || ' ' || (SELECT coalesce(sum(count), 0) FROM rejections)" || exit 1
wait_for 20 "assign commands acknowledged, job updates sent" sql_is 0 \
    "SELECT count(*) FROM commands WHERE status IN ('pending', 'sent')" || exit 1
check_eq "the fleet is set up: 26 jobs" 26 "$(sql "SELECT count(*) FROM jobs")"

# --- HTTP helpers
# get TOKEN PATH: the answer's body in $T/body, headers in $T/headers; prints the status.
get() {
    local auth=()
    [ -n "$1" ] && auth=(-H "Authorization: Bearer $1")
    curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "${auth[@]}" "$URL$2"
}
body() { jq -S -c "${1:-.}" "$T/body" 2>/dev/null || echo "(not JSON: $(head -c 200 "$T/body"))"; }
# sqlj SQL: the JSON a query builds, canonical.
sqlj() { sql "$1" | jq -S -c .; }
TS() { echo "to_char(($1) AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"; }

JOB_JSON="jsonb_build_object('id', j.id, 'type', j.type, 'state', j.state, 'submitter', j.submitter,
  'worker', j.worker_id, 'priority', j.priority, 'attempt', j.attempt, 'max_attempts', j.max_attempts,
  'progress', j.progress, 'error', j.error, 'cancel_reason', j.cancel_reason, 'idempotency_key', j.ikey,
  'created_at', $(TS j.created_at), 'updated_at', $(TS j.updated_at), 'assigned_at', $(TS j.assigned_at),
  'started_at', $(TS j.started_at), 'finished_at', $(TS j.finished_at), 'run_after', $(TS j.run_after),
  'timeout_ms', j.timeout_ms, 'waiting_reason', CASE WHEN j.state = 'pending' AND NOT EXISTS
    (SELECT 1 FROM workers ww WHERE ww.status <> 'offline' AND j.type = ANY(ww.capabilities))
    THEN 'no worker can run this type' END, 'refusals', j.refusals)"
JOBS_ORDER="ORDER BY j.created_at DESC, j.id DESC"
WORKER_JSON="jsonb_build_object('id', w.id, 'status', w.status, 'capabilities', w.capabilities,
  'slots', w.slots, 'running_jobs', w.running_jobs, 'version', w.version, 'host', w.host,
  'uptime_s', w.uptime_s, 'config_version', w.config_version, 'drain_requested', w.drain_requested,
  'first_seen_at', $(TS w.first_seen_at), 'last_seen_at', $(TS w.last_seen_at),
  'status_changed_at', $(TS w.status_changed_at), 'unacked_assigns', w.unacked_assigns,
  'held_back_since', $(TS w.held_back_since),
  'held_back_reason', CASE WHEN w.held_back_since IS NOT NULL THEN w.unacked_assigns
    || ' assigns in a row were not acknowledged: no job is given to this worker until it'
    || ' acknowledges a command, proves a new key or restarts (does it hold its current key?)' END)"
# expected_jobs WHERE: the jobs matching WHERE, newest first.
expected_jobs() { sqlj "SELECT coalesce(jsonb_agg($JOB_JSON $JOBS_ORDER), '[]') FROM jobs j WHERE $1"; }

# walk TOKEN QUERY LIMIT: every page of /v1/jobs?limit=LIMIT&QUERY, joined
# (canonical JSON); "ERROR ..." when a page fails, is larger than LIMIT, or
# a page other than the last is short.
walk() {
    local tok=$1 q=$2 lim=$3 cursor="" all='[]' pages=0 c n
    while :; do
        c=$(get "$tok" "/v1/jobs?limit=$lim${q:+&$q}${cursor:+&cursor=$cursor}")
        [ "$c" = 200 ] || { echo "ERROR HTTP $c on page $pages: $(head -c 200 "$T/body")"; return; }
        n=$(jq '.jobs | length' "$T/body")
        all=$(jq -c --argjson acc "$all" '$acc + .jobs' "$T/body")
        cursor=$(jq -r '.next_cursor // empty' "$T/body")
        pages=$((pages + 1))
        [ "$n" -le "$lim" ] || { echo "ERROR page $pages has $n jobs"; return; }
        [ -z "$cursor" ] || [ "$n" -eq "$lim" ] || { echo "ERROR short page $pages before the end"; return; }
        [ -n "$cursor" ] || break
        [ $pages -lt 1000 ] || { echo "ERROR endless pages"; return; }
    done
    echo "$all" | jq -S -c .
}
no_duplicates() { echo "$1" | jq -e '[.[].id] | length == (unique | length)' >/dev/null; }

# --- tokens
token_password() {
    curl -s --data-urlencode grant_type=password --data-urlencode "username=$1" \
        --data-urlencode "password=$2" "$URL/v1/token" | jq -r '.access_token // empty'
}
# token_cc ID: client_credentials with a client_secret_jwt assertion (HS256
# over the principal's HMAC key, made by tests/lib/tokens.py).
token_cc() {
    local assertion
    assertion=$(python3 "$JC_SOURCE_DIR/tests/lib/tokens.py" assertion --sub "$1" \
        --kid "$(keyid_of "$1")" --key "$(key_of "$1")" --aud "$URL/v1/token") || return
    curl -s --data-urlencode grant_type=client_credentials \
        --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
        --data-urlencode "client_assertion=$assertion" "$URL/v1/token" | jq -r '.access_token // empty'
}
A=$(token_password admin "$ADMIN_PASSWORD")
R=$(token_cc r1)
C1=$(token_cc c1)
C2=$(token_cc c2)
W1=$(token_cc w1)
W2=$(token_cc w2)
for t in A R C1 C2 W1 W2; do
    check "a token for $t" [ -n "${!t}" ]
done
[ -n "$A" ] && [ -n "$C1" ] && [ -n "$W1" ] || { jc_log "no tokens: the rest cannot run"; jc_done; }

# --- 401 without a token or with a bad one, on every route
for path in /v1/status /v1/workers /v1/workers/w1 /v1/jobs "/v1/jobs/$J1" "/v1/jobs/$J1/events" /v1/jobs/stats; do
    check_eq "$path without a token: 401" 401 "$(get "" "$path")"
    check "$path without a token: WWW-Authenticate without error" \
        sh -c "grep -i '^WWW-Authenticate: Bearer realm=\"jobcoord\"' '$T/headers' | grep -vq 'error='"
    check_eq "$path with a bad token: 401" 401 "$(get "not.a.token" "$path")"
    check "$path with a bad token: error=\"invalid_token\"" \
        grep -qi '^WWW-Authenticate: Bearer realm="jobcoord", error="invalid_token"' "$T/headers"
done
# a character in the middle of the signature changed (the last one may hold only padding bits)
FORGED=$(python3 -c 'import sys; t=sys.argv[1]; i=len(t)-10; print(t[:i] + ("A" if t[i] != "A" else "B") + t[i+1:])' "$A")
check_eq "a token with a changed signature: 401" 401 "$(get "$FORGED" /v1/jobs)"
check_eq "errors are JSON with a code" '"unauthorized"' "$(body .error)"

# --- /v1/status
check_eq "status as admin: 200" 200 "$(get "$A" /v1/status)"
check "status is JSON with no-store" grep -qi '^Cache-Control: no-store' "$T/headers"
check_eq "status: jobs by state as in PostgreSQL" \
    "$(sqlj "SELECT jsonb_object_agg(s, (SELECT count(*) FROM jobs WHERE state = s)) FROM unnest(ARRAY['pending','assigned','running','succeeded','failed','canceling','canceled']) s")" \
    "$(body .jobs)"
check_eq "status: workers by status as in PostgreSQL" \
    "$(sqlj "SELECT jsonb_object_agg(s, (SELECT count(*) FROM workers WHERE status = s)) FROM unnest(ARRAY['online','offline','draining']) s")" \
    "$(body .workers)"
check_eq "status: commands by status as in PostgreSQL" \
    "$(sqlj "SELECT jsonb_object_agg(s, (SELECT count(*) FROM commands WHERE status = s)) FROM unnest(ARRAY['pending','sent','acked','failed','done']) s")" \
    "$(body .commands)"
check_eq "status: rejections as in PostgreSQL" \
    "$(sqlj "SELECT coalesce(jsonb_agg(jsonb_build_object('topic', topic, 'reason', reason, 'count', count, 'last_at', $(TS last_at)) ORDER BY topic, reason), '[]') FROM rejections")" \
    "$(body .rejections)"
check_eq "status: version and instance" '"0.1.0" true' "$(body .version) $(body '.instance | length > 0')"
check_eq "status: ingest fields" 'true' \
    "$(body '.ingest | (.assigned_partitions == 10) and .caught_up == true and (.lag | type == "number" or type == "null") and (.applied_total >= 30) and (.rejected_total >= 1) and .position_resets == 0 and .records_lost == 0 and .record_timestamps == "create_time"')"
check "status: uptime is a number" [ "$(body '.uptime_s | type')" = '"number"' ]
check_eq "status as reader: 200" 200 "$(get "$R" /v1/status)"
check_eq "status as a client: 403" 403 "$(get "$C1" /v1/status)"
check_eq "403 is JSON with its code" '"forbidden"' "$(body .error)"
check_eq "status as a worker: 403" 403 "$(get "$W1" /v1/status)"
check_eq "status takes no parameters: 400" 400 "$(get "$A" '/v1/status?x=1')"

# --- /v1/workers
ALL_WORKERS=$(sqlj "SELECT jsonb_agg($WORKER_JSON ORDER BY w.id COLLATE \"C\") FROM workers w")
check_eq "workers as admin: 200" 200 "$(get "$A" /v1/workers)"
check_eq "workers as admin: every worker as in PostgreSQL, by id" "$ALL_WORKERS" "$(body .workers)"
check_eq "workers as reader: the same" 200 "$(get "$R" /v1/workers)"
check_eq "workers as reader: every worker" "$ALL_WORKERS" "$(body .workers)"
check_eq "workers as w1: 200" 200 "$(get "$W1" /v1/workers)"
check_eq "workers as w1: only itself" \
    "$(sqlj "SELECT jsonb_agg($WORKER_JSON) FROM workers w WHERE id = 'w1'")" "$(body .workers)"
check_eq "workers as a client: 403" 403 "$(get "$C1" /v1/workers)"
check_eq "worker detail as a client: 403" 403 "$(get "$C1" /v1/workers/w1)"
check_eq "workers: nothing hidden yet" 0 "$(get "$A" /v1/workers >/dev/null; body .hidden_offline)"

# --- /v1/workers: offline records not seen for more than a day are left out
# and counted unless ?all=true, the rule of `jobcoord-admin worker list`
# (one definition); a record seen 23 hours ago is still listed.
add_principal oldw worker
add_principal freshw worker
sql "INSERT INTO workers (id, status, last_heartbeat_ts_ms, first_seen_at, last_seen_at, status_changed_at) VALUES
  ('oldw', 'offline', 1, now() - interval '40 days', now() - interval '25 hours', now() - interval '25 hours'),
  ('freshw', 'offline', 1, now() - interval '40 days', now() - interval '23 hours', now() - interval '23 hours')" >/dev/null
LISTED=$(sqlj "SELECT jsonb_agg($WORKER_JSON ORDER BY w.id COLLATE \"C\") FROM workers w WHERE w.id <> 'oldw'")
EVERY=$(sqlj "SELECT jsonb_agg($WORKER_JSON ORDER BY w.id COLLATE \"C\") FROM workers w")
check_eq "workers as admin, with old and fresh offline records: 200" 200 "$(get "$A" /v1/workers)"
check_eq "workers: the old offline record is left out, the rest as in PostgreSQL" "$LISTED" "$(body .workers)"
check_eq "workers: hidden_offline counts it" 1 "$(body .hidden_offline)"
check_eq "workers: the one seen 23 hours ago is listed" '["freshw"]' "$(body '[.workers[].id | select(. == "freshw" or . == "oldw")]')"
check_eq "workers as reader: the same" "$LISTED 1" "$(get "$R" /v1/workers >/dev/null; body .workers) $(body .hidden_offline)"
check_eq "workers?all=false: the default" "$LISTED 1" "$(get "$A" '/v1/workers?all=false' >/dev/null; body .workers) $(body .hidden_offline)"
check_eq "workers?all=true: 200" 200 "$(get "$A" '/v1/workers?all=true')"
check_eq "workers?all=true: every record, none hidden" "$EVERY 0" "$(body .workers) $(body .hidden_offline)"
check_eq "the CLI leaves out the same record" "$(get "$A" /v1/workers >/dev/null; jq -r '[.workers[].id] | sort | join(" ")' "$T/body")" \
    "$("$ADMIN" --json worker list | jq -r '[.[].id] | sort | join(" ")')"
check_eq "worker oldw by id: still found" "200 \"oldw\"" "$(get "$A" /v1/workers/oldw) $(body .id)"
check_eq "workers as w1: itself, nothing hidden" '["w1"] 0' "$(get "$W1" /v1/workers >/dev/null; body '[.workers[].id]') $(body .hidden_offline)"
check_eq "workers?all=true as w1: still only itself" '["w1"] 0' "$(get "$W1" '/v1/workers?all=true' >/dev/null; body '[.workers[].id]') $(body .hidden_offline)"
check_eq "workers?all=true as a client: 403" 403 "$(get "$C1" '/v1/workers?all=true')"
for q in 'all=yes' 'all=' 'all=true&all=true' 'all=true&all=false' 'bogus=1' 'all=TRUE' 'all=1' 'all=true&bogus=1' "all=$(head -c 5000 /dev/zero | tr '\0' t)"; do
    check_eq "workers?${q:0:40}: 400" 400 "$(get "$A" "/v1/workers?$q")"
    check_eq "workers?${q:0:40}: bad_request" '"bad_request"' "$(body .error)"
done
check_eq "the 400 for a bad value names all" "all must be true or false" \
    "$(get "$A" '/v1/workers?all=yes' >/dev/null; jq -r .message "$T/body")"
check_eq "the 400 for an unknown parameter names it" "query parameter 'bogus' is not a parameter of this route" \
    "$(get "$A" '/v1/workers?bogus=1' >/dev/null; jq -r .message "$T/body")"
check_eq "the 400 for a repeated all names it" "query parameter 'all' is given more than once" \
    "$(get "$A" '/v1/workers?all=true&all=true' >/dev/null; jq -r .message "$T/body")"
check_eq "the 400 for an empty all" "query parameter 'all' needs a value" \
    "$(get "$A" '/v1/workers?all=' >/dev/null; jq -r .message "$T/body")"
# the rest of the test compares the fleet of w1 and w2 only
sql "DELETE FROM principals WHERE id IN ('oldw', 'freshw')" >/dev/null
check_eq "workers: back to the fleet" "$ALL_WORKERS 0" "$(get "$A" /v1/workers >/dev/null; body .workers) $(body .hidden_offline)"

WORKER_DETAIL="SELECT $WORKER_JSON || jsonb_build_object(
  'jobs', (SELECT coalesce(jsonb_agg($JOB_JSON $JOBS_ORDER), '[]') FROM jobs j
           WHERE j.worker_id = w.id AND j.state IN ('assigned', 'running', 'canceling')),
  'events', (SELECT coalesce(jsonb_agg(jsonb_build_object('at', $(TS e.received_at), 'level', e.level,
             'kind', e.kind, 'text', e.text) ORDER BY e.id), '[]')
             FROM (SELECT * FROM worker_events WHERE worker_id = w.id ORDER BY id DESC LIMIT 50) e))
  FROM workers w"
check_eq "worker w1 as admin: 200" 200 "$(get "$A" /v1/workers/w1)"
check_eq "worker w1: record, live jobs and events as in PostgreSQL" \
    "$(sqlj "$WORKER_DETAIL WHERE w.id = 'w1'")" "$(body)"
check_eq "worker w1 holds the running job" "[\"$J3\"]" "$(body '[.jobs[].id]')"
check_eq "worker w1's event is listed" '["test.event"]' "$(body '[.events[].kind]')"
check_eq "worker w2 as reader" 200 "$(get "$R" /v1/workers/w2)"
check_eq "worker w2: as in PostgreSQL" "$(sqlj "$WORKER_DETAIL WHERE w.id = 'w2'")" "$(body)"
check_eq "worker w1 as w1: 200" 200 "$(get "$W1" /v1/workers/w1)"
check_eq "worker w2 as w1: 404" 404 "$(get "$W1" /v1/workers/w2)"
check_eq "404 is JSON with its code" '"not_found"' "$(body .error)"
check_eq "unknown worker: 404" 404 "$(get "$A" /v1/workers/nobody)"
check_eq "malformed worker id: 400" 400 "$(get "$A" '/v1/workers/bad%20id')"
check "the 400 names the parameter" sh -c "jq -r .message '$T/body' | grep -q '^id'"

# --- /v1/jobs: lists, pages, filters
ALL_JOBS=$(expected_jobs true)
for lim in 1 4 7 26 500; do
    got=$(walk "$A" "" "$lim")
    check_eq "jobs as admin, pages of $lim: every job once, newest first" "$ALL_JOBS" "$got"
done
check_eq "jobs: default page holds all 26 (limit 50)" 200 "$(get "$A" /v1/jobs)"
check_eq "jobs: default page" "26 null" "$(body '.jobs | length') $(body .next_cursor)"
got=$(walk "$A" "" 3)
check "jobs: no duplicate across pages" no_duplicates "$got"
check_eq "jobs as reader: all" "$ALL_JOBS" "$(walk "$R" "" 5)"
for st in pending assigned running succeeded failed canceled canceling; do
    check_eq "jobs state=$st" "$(expected_jobs "j.state = '$st'")" "$(walk "$A" "state=$st" 4)"
done
check_eq "jobs type=pend" "$(expected_jobs "j.type = 'pend'")" "$(walk "$A" "type=pend" 5)"
check_eq "jobs worker=w1" "$(expected_jobs "j.worker_id = 'w1'")" "$(walk "$A" "worker=w1" 2)"
check_eq "jobs submitter=c2" "$(expected_jobs "j.submitter = 'c2'")" "$(walk "$A" "submitter=c2" 4)"
check_eq "jobs type=t1&submitter=c1&state=failed" "[\"$J2\"]" \
    "$(walk "$A" "type=t1&submitter=c1&state=failed" 10 | jq -c '[.[].id]')"
SINCE=$(sql "SELECT to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') FROM jobs WHERE id = '$J2'")
check_eq "jobs since=RFC 3339 (microseconds)" "$(expected_jobs "j.created_at >= (SELECT created_at FROM jobs WHERE id = '$J2')")" \
    "$(walk "$A" "since=$SINCE" 3)"
SINCE_OFF=$(sql "SELECT to_char(created_at AT TIME ZONE 'Asia/Kolkata', 'YYYY-MM-DD\"T\"HH24:MI:SS.US') || '%2B05:30' FROM jobs WHERE id = '$J2'")
check_eq "jobs since=RFC 3339 with an offset" "$(expected_jobs "j.created_at >= (SELECT created_at FROM jobs WHERE id = '$J2')")" \
    "$(walk "$A" "since=$SINCE_OFF" 3)"
EPOCH=$(sql "SELECT floor(extract(epoch FROM created_at))::bigint FROM jobs WHERE id = '$J3'")
check_eq "jobs since=epoch seconds" "$(expected_jobs "j.created_at >= to_timestamp($EPOCH)")" \
    "$(walk "$A" "since=$EPOCH" 3)"
check_eq "jobs since the future: none" "[]" "$(walk "$A" "since=2999-01-01T00:00:00Z" 3)"

# --- each role sees its own
check_eq "jobs as c1: exactly c1's" "$(expected_jobs "j.submitter = 'c1'")" "$(walk "$C1" "" 4)"
check_eq "jobs as c2: exactly c2's" "$(expected_jobs "j.submitter = 'c2'")" "$(walk "$C2" "" 4)"
check_eq "jobs as c1 asking for c2's: none" "[]" "$(walk "$C1" "submitter=c2" 4)"
check_eq "jobs as w1: exactly those it holds" "$(expected_jobs "j.worker_id = 'w1'")" "$(walk "$W1" "" 2)"
check_eq "jobs as w2: exactly those it holds" "$(expected_jobs "j.worker_id = 'w2'")" "$(walk "$W2" "" 2)"
check_eq "jobs as w1 asking for w2's: none" "[]" "$(walk "$W1" "worker=w2" 2)"

# --- 400s, each naming its parameter
bad() { # DESCRIPTION QUERY PARAMETER
    check_eq "$1: 400" 400 "$(get "$A" "/v1/jobs?$2")"
    check_eq "$1: bad_request naming $3" "\"bad_request\" true" \
        "$(body .error) $(jq --arg p "$3" '.message | contains($p)' "$T/body")"
}
bad "unknown state" "state=done" state
bad "empty state" "state=" state
bad "state twice" "state=pending&state=failed" state
bad "limit 0" "limit=0" limit
bad "limit 501" "limit=501" limit
bad "limit not a number" "limit=ten" limit
bad "negative limit" "limit=-5" limit
bad "since garbage" "since=yesterday" since
bad "since with a bad date" "since=2026-02-30T00:00:00Z" since
bad "since without a zone" "since=2026-01-01T00:00:00" since
bad "cursor garbage" "cursor=not-a-cursor" cursor
bad "cursor too short" "cursor=AAAA" cursor
BADVER=$(python3 -c 'import base64; print(base64.urlsafe_b64encode(bytes([2]) + bytes(24)).rstrip(b"=").decode())')
bad "cursor of another version" "cursor=$BADVER" cursor
bad "type with forbidden characters" "type=a%20b" type
bad "worker too long" "worker=$(printf 'w%.0s' $(seq 70))" worker
bad "an unknown parameter" "color=blue" color
CUR=$(get "$A" "/v1/jobs?limit=3" >/dev/null; body .next_cursor | tr -d '"')
check_eq "a cursor given by the server works" 200 "$(get "$A" "/v1/jobs?limit=3&cursor=$CUR")"
check_eq "jobs stats: bad window 0" 400 "$(get "$A" '/v1/jobs/stats?window=0')"
check "jobs stats: the 400 names window" sh -c "jq -r .message '$T/body' | grep -q window"
check_eq "jobs stats: window too large" 400 "$(get "$A" '/v1/jobs/stats?window=31536001')"

# --- /v1/jobs/{id}
JOB_DETAIL="SELECT $JOB_JSON || jsonb_build_object('payload_size', octet_length(j.payload),
  'result_size', octet_length(j.result), 'payload_base64', translate(encode(j.payload, 'base64'), E'\\n', ''),
  'result_base64', translate(encode(j.result, 'base64'), E'\\n', '')) FROM jobs j"
check_eq "job J1 as admin: 200" 200 "$(get "$A" "/v1/jobs/$J1")"
check_eq "job J1: as in PostgreSQL" "$(sqlj "$JOB_DETAIL WHERE j.id = '$J1'")" "$(body)"
check_eq "job J1: payload and result" "hello payload|done!" \
    "$(body .payload_base64 | tr -d '"' | base64 -d)|$(body .result_base64 | tr -d '"' | base64 -d)"
check_eq "job J1: fields of a finished job" '"succeeded" "k-1" 13 5' \
    "$(body .state) $(body .idempotency_key) $(body .payload_size) $(body .result_size)"
check_eq "job J5 (canceled) as its submitter" 200 "$(get "$C1" "/v1/jobs/$J5")"
check_eq "job J5: as in PostgreSQL" "$(sqlj "$JOB_DETAIL WHERE j.id = '$J5'")" "$(body)"
check_eq "job J5: nulls where unset" 'null null null null' \
    "$(body .worker) $(body .result_base64) $(body .result_size) $(body .started_at)"
# the refusals a job's assignments met (as jobs_flow's refusing worker makes them)
sql "UPDATE jobs SET refusals = 2 WHERE id = '$J5'" >/dev/null
get "$C1" "/v1/jobs/$J5" >/dev/null
check_eq "job J5: its refusals" 2 "$(body .refusals)"
check_eq "job J3 (c2's) as c1: 404" 404 "$(get "$C1" "/v1/jobs/$J3")"
check_eq "job J3 as c2: 200" 200 "$(get "$C2" "/v1/jobs/$J3")"
check_eq "job J3 as w1 (its worker): 200" 200 "$(get "$W1" "/v1/jobs/$J3")"
check_eq "job J4 (w2's) as w1: 404" 404 "$(get "$W1" "/v1/jobs/$J4")"
check_eq "job J3 as reader: 200" 200 "$(get "$R" "/v1/jobs/$J3")"
check_eq "unknown job: 404" 404 "$(get "$A" "/v1/jobs/$(uuid)")"
check_eq "malformed job id: 400" 400 "$(get "$A" /v1/jobs/not-a-uuid)"
check "the 400 names the parameter" sh -c "jq -r .message '$T/body' | grep -q '^id'"

# --- /v1/jobs/{id}/events
EVENTS="SELECT coalesce(jsonb_agg(jsonb_build_object('id', e.id, 'at', $(TS e.at), 'attempt', e.attempt,
  'kind', e.kind, 'from', e.from_state, 'to', e.to_state, 'worker', e.worker_id, 'stream', e.stream,
  'progress', e.progress, 'text', e.text) ORDER BY e.id), '[]') FROM job_events e"
check_eq "events of J1 as admin: 200" 200 "$(get "$A" "/v1/jobs/$J1/events")"
check_eq "events of J1: as in PostgreSQL, oldest first" "$(sqlj "$EVENTS WHERE e.job_id = '$J1'")" "$(body .events)"
check_eq "events of J1: the whole story" '["log","progress","state","state","state"]' "$(body '[.events[].kind] | sort')"
check_eq "events of J2 as w1" 200 "$(get "$W1" "/v1/jobs/$J2/events")"
check_eq "events of J2: as in PostgreSQL" "$(sqlj "$EVENTS WHERE e.job_id = '$J2'")" "$(body .events)"
check_eq "events of J1 as c2: 404" 404 "$(get "$C2" "/v1/jobs/$J1/events")"
check_eq "events of J4 as w1: 404" 404 "$(get "$W1" "/v1/jobs/$J4/events")"
check_eq "events of an unknown job: 404" 404 "$(get "$A" "/v1/jobs/$(uuid)/events")"
check_eq "events of a malformed id: 400" 400 "$(get "$A" /v1/jobs/xyz/events)"

# --- /v1/jobs/stats
STATS="SELECT coalesce(jsonb_agg(jsonb_build_object('type', type, 'succeeded', s, 'failed', f, 'canceled', c, 'total', t)
  ORDER BY type COLLATE \"C\"), '[]') FROM (SELECT type, count(*) FILTER (WHERE state = 'succeeded') s,
  count(*) FILTER (WHERE state = 'failed') f, count(*) FILTER (WHERE state = 'canceled') c, count(*) t
  FROM jobs WHERE finished_at >= now() - interval '3600 s' AND state IN ('succeeded', 'failed', 'canceled')
  GROUP BY type) x"
check_eq "stats as admin: 200" 200 "$(get "$A" /v1/jobs/stats)"
check_eq "stats: default window" 3600 "$(body .window_s)"
check_eq "stats: counts by type as in PostgreSQL" "$(sqlj "$STATS")" \
    "$(body '[.types[] | {type, succeeded, failed, canceled, total}]')"
check_eq "stats: success rates (pend: one canceled; t1: one of two)" '[0,0.5]' "$(body '[.types[].success_rate]')"
check_eq "stats: durations present" 'true' "$(body '[.types[].duration_ms | .p50 <= .p90 and .p90 <= .p99] | all')"
P50=$(sql "SELECT percentile_cont(0.5) WITHIN GROUP (ORDER BY extract(epoch FROM finished_at - created_at) * 1000) FROM jobs WHERE type = 't1' AND state IN ('succeeded', 'failed', 'canceled')")
check "stats: p50 of t1 as in PostgreSQL" python3 -c "import json,sys; d=json.load(open('$T/body')); t=[x for x in d['types'] if x['type']=='t1'][0]; sys.exit(abs(t['duration_ms']['p50'] - $P50) > 1e-6)"
check_eq "stats as reader, window=60" 200 "$(get "$R" '/v1/jobs/stats?window=60')"
check_eq "stats: the window asked for" 60 "$(body .window_s)"
check_eq "stats as a client: 403" 403 "$(get "$C1" /v1/jobs/stats)"
check_eq "stats as a worker: 403" 403 "$(get "$W1" /v1/jobs/stats)"

# --- /metrics: what the ingest and HTTP paths fed
check_eq "metrics: 200" 200 "$(get "" /metrics)"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/body"; }
check_eq "metrics: job.submit consumed" 26 "$(metric 'jobcoord_messages_consumed_total{type="job.submit"}')"
check_eq "metrics: the forged message counted as not decoded" 1 "$(metric 'jobcoord_messages_consumed_total{type="unknown"}')"
check_eq "metrics: rejected by reason" 1 "$(metric 'jobcoord_messages_rejected_total{reason="bad_signature"}')"
check "metrics: batch size histogram consistent" [ "$(metric 'jobcoord_ingest_batch_size_bucket{le="+Inf"}')" = "$(metric jobcoord_ingest_batch_size_count)" ]
check "metrics: apply seconds observed" [ "$(metric jobcoord_ingest_apply_seconds_count)" -ge 1 ]
check "metrics: consumer lag per partition" grep -q '^jobcoord_consumer_lag{topic="jobcoord.heartbeats",partition="0"} 0$' "$T/body"
check_eq "metrics: lag total" 0 "$(metric jobcoord_consumer_lag_total)"
check "metrics: HTTP requests by route and status" grep -q '^jobcoord_http_requests_total{route="/v1/jobs",status="400"} [1-9]' "$T/body"
check "metrics: HTTP request histogram" grep -q '^jobcoord_http_request_seconds_count{route="/v1/jobs/{id}"} [1-9]' "$T/body"
check "metrics: fleet gauges" grep -q '^jobcoord_jobs{state="pending"} 21$' "$T/body"
check "metrics: rejections by topic and reason" grep -q '^jobcoord_rejections{topic="jobcoord.job-requests",reason="bad_signature"} 1$' "$T/body"
check "metrics: build info" grep -q '^jobcoord_build_info{version="0.1.0"} 1$' "$T/body"
jc_done
