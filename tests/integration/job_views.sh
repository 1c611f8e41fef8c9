#!/usr/bin/env bash
# job_views.sh - `job list --submitter`, `status --window DURATION` (job
# counts and recent jobs within the window) and the per-submitter figures
# of `job stats` and GET /v1/jobs/stats, against jobs written with psql
# (created and finished at chosen times) and a real coordinator for the
# HTTP side. Every figure is compared with what PostgreSQL holds; bad
# arguments and the roles that may not read statistics are refused.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup job_views
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"
. "$JC_SOURCE_DIR/tests/lib/httplib.sh"

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
ADMIN_PASSWORD="job-views-test-$$-password"
start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
add_principal alice client
add_principal bob client
add_principal w1 worker
add_principal r1 reader
# job SUBMITTER TYPE STATE CREATED_AGO FINISHED_AGO|- : a job created (and
# finished) that many seconds ago
job() {
    local fin="NULL"
    [ "$5" = - ] || fin="now() - interval '$5 s'"
    sql "INSERT INTO jobs (id, submitter, type, payload, state, timeout_ms, created_at, finished_at)
         VALUES (gen_random_uuid(), '$1', '$2', '\\x00', '$3', 1000, now() - interval '$4 s', $fin)"
}
job alice encode succeeded 30 29
job alice encode succeeded 40 39
job alice encode failed 50 49
job alice thumb pending 20 -
job bob encode canceled 100 98
job bob thumb running 10 -
job bob thumb succeeded 7300 7200   # 2 hours ago: out of the default windows
job alice encode succeeded 90000 86500 # a day ago

# --- job list --submitter -------------------------------------------------------------
run --json job list --submitter alice
rc_is "job list --submitter" 0
check_eq "alice's jobs, all of them" "5" "$(js 'len(d)')"
check_eq "each names alice" "True" "$(js 'all(j["submitter"] == "alice" for j in d)')"
run --json job list --submitter bob --state running
check_eq "with --state" "1 thumb" "$(js 'len(d), d[0]["type"]')"
run job list --submitter bob
check "text has the submitter column" contains "$OUT" "SUBMITTER"
check_eq "text: bob's 3 jobs" 3 "$(grep -c ' bob ' <<<"$OUT")"
run --json job list --submitter nobody
check_eq "an unknown submitter: none" "0" "$(js 'len(d)')"
run job list --submitter 'bad id'; rc_is "job list --submitter with an invalid id" 1
run job list --submitter "$(head -c 65 /dev/zero | tr '\0' a)"; rc_is "job list --submitter with 65 characters" 1
run job list --submitter; rc_is "job list --submitter without a value" 100

# --- status --window ----------------------------------------------------------------------
run --json status
rc_is "status" 0
check_eq "default window: 300 s" 300 "$(js 'd["window_s"]')"
check_eq "jobs created in the last 300 s" \
    "$(sql "SELECT count(*) FILTER (WHERE state = 'pending') || ' ' || count(*) FILTER (WHERE state = 'succeeded') || ' ' || count(*) FROM jobs WHERE created_at >= now() - interval '300 s'")" \
    "$(js 'd["jobs_in_window"]["pending"], d["jobs_in_window"]["succeeded"], sum(d["jobs_in_window"].values())')"
check_eq "all jobs still counted in jobs" 8 "$(js 'sum(d["jobs"].values())')"
check_eq "recent jobs: the 6 created in the window, newest first" "6 thumb running" "$(js 'len(d["recent_jobs"]), d["recent_jobs"][0]["type"], d["recent_jobs"][0]["state"]')"
run --json status --window 3h
check_eq "--window 3h: 10800 s" 10800 "$(js 'd["window_s"]')"
check_eq "--window 3h: 7 jobs" 7 "$(js 'sum(d["jobs_in_window"].values())')"
run --json status --window 2d
check_eq "--window 2d: all 8" "172800 8" "$(js 'd["window_s"], sum(d["jobs_in_window"].values())')"
# no job is near the edge of these windows while the test runs
run --json status --window 90m
check_eq "--window 90m: 5400 s, the 6 recent jobs" "5400 6" "$(js 'd["window_s"], sum(d["jobs_in_window"].values())')"
run --json status --window 7000s
check_eq "--window 7000s: the same 6" "7000 6" "$(js 'd["window_s"], sum(d["jobs_in_window"].values())')"
run --json status --window 1m
check_eq "--window 1m = 60 s" 60 "$(js 'd["window_s"]')"
run status --window 5m
check "text: the window's counts" contains "$OUT" "jobs created in it  pending 1, assigned 0, running 1, succeeded 2, failed 1"
check "text: recent jobs" contains "$OUT" "Recent jobs (the newest 10 created in the last 300 s):"
for bad in 0 -5 5x 1.5h h 366d 99999999999999999999 ""; do
    run status --window "$bad"; rc_is "status --window '$bad'" 1
done

# --- job stats per submitter -----------------------------------------------------------------
run --json job stats
rc_is "job stats" 0
check_eq "submitters in the last hour" "['alice', 'bob']" "$(js '[s["submitter"] for s in d["submitters"]]')"
check_eq "alice: 2 succeeded, 1 failed" "2 1 0 3" "$(js 'd["submitters"][0]["succeeded"], d["submitters"][0]["failed"], d["submitters"][0]["canceled"], d["submitters"][0]["total"]')"
check_eq "bob: 1 canceled" "0 0 1 1" "$(js 'd["submitters"][1]["succeeded"], d["submitters"][1]["failed"], d["submitters"][1]["canceled"], d["submitters"][1]["total"]')"
check_eq "types are still there" "['encode']" "$(js '[t["type"] for t in d["types"]]')"
run --json job stats --window 100000
check_eq "a longer window: alice 4, bob 2" "4 2" "$(js 'd["submitters"][0]["total"], d["submitters"][1]["total"]')"
run job stats
check "text: the submitter table" contains "$OUT" "by submitter:"
check "text: alice's row" grep -Eq '^alice +2 +1 +0 +3 +66\.7%' <<<"$OUT"

# --- GET /v1/jobs/stats ---------------------------------------------------------------------------
JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD start_coordinator --set http.listen=127.0.0.1:$PORT
R=$(token_cc r1)
A=$(token_password admin "$ADMIN_PASSWORD")
C=$(token_cc alice)
W=$(token_cc w1)
check_eq "/v1/jobs/stats as a reader" 200 "$(get "$R" /v1/jobs/stats)"
check_eq "submitters" '["alice","bob"]' "$(body '[.submitters[].submitter]')"
check_eq "alice's figures" '[2,1,0,3]' "$(body '[.submitters[0] | .succeeded, .failed, .canceled, .total]')"
check "alice's success rate" python3 -c "import json,sys; d=json.load(open('$T/body')); sys.exit(abs(d['submitters'][0]['success_rate'] - 2/3) > 1e-9)"
check_eq "as the admin, a day and more" 200 "$(get "$A" '/v1/jobs/stats?window=100000')"
check_eq "the longer window" '[4,2]' "$(body '[.submitters[].total]')"
check_eq "a client: 403" 403 "$(get "$C" /v1/jobs/stats)"
check_eq "a worker: 403" 403 "$(get "$W" /v1/jobs/stats)"
check_eq "no token: 401" 401 "$(get "" /v1/jobs/stats)"
check_eq "a bad window: 400" 400 "$(get "$R" '/v1/jobs/stats?window=0')"
check_eq "an unknown parameter: 400" 400 "$(get "$R" '/v1/jobs/stats?submitter=alice')"
"$ADMIN" user disable r1 >/dev/null
check_eq "a disabled reader: 401" 401 "$(get "$R" /v1/jobs/stats)"

jc_done
