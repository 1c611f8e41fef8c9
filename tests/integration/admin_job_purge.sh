#!/usr/bin/env bash
# admin_job_purge.sh - `jobcoord-admin job delete` and `job purge`: finished
# jobs go with their events, refusals and outbox rows; live jobs, and
# finished jobs whose last job update is still being sent, stay; a purge
# picks by state, finish time and type, works in batches of 1000 (2,500 jobs
# here: three batches), and --dry-run deletes nothing. Bad arguments are
# refused with the documented exit codes. Checked with psql.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup admin_job_purge
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
"$ADMIN" user add c1 --role client >/dev/null 2>&1 || exit 1
P=00000000-0000-4000-8000-00000000000
# job ID STATE TYPE FINISHED_AGO|-: a job with two events, a refusal and a done job update
job() {
    local fin="NULL"
    [ "$4" = - ] || fin="now() - interval '$4'"
    sql "INSERT INTO jobs (id, submitter, type, payload, state, timeout_ms, created_at, finished_at)
         VALUES ('$1', 'c1', '$3', '\\x00', '$2', 1000, now() - interval '400 days', $fin);
         INSERT INTO job_events (job_id, attempt, kind, to_state) VALUES ('$1', 0, 'state', 'pending'), ('$1', 1, 'state', '$2');
         INSERT INTO job_refusals (job_id, worker_id, skip_until) VALUES ('$1', 'w1', now());
         INSERT INTO commands (id, kind, recipient, job_id, attempt, status) VALUES (gen_random_uuid(), 'job.update', 'c1', '$1', 1, 'done')"
}
rows() { sql "SELECT (SELECT count(*) FROM jobs WHERE id = '$1') || ' ' || (SELECT count(*) FROM job_events WHERE job_id = '$1') || ' ' || (SELECT count(*) FROM job_refusals WHERE job_id = '$1') || ' ' || (SELECT count(*) FROM commands WHERE job_id = '$1')"; }
snapshot() { sql "SELECT (SELECT count(*) FROM jobs) || ' ' || (SELECT count(*) FROM job_events) || ' ' || (SELECT count(*) FROM job_refusals) || ' ' || (SELECT count(*) FROM commands)"; }

job "${P}1" succeeded encode '2 days'
job "${P}2" running encode -
job "${P}3" pending encode -
job "${P}4" canceling encode -
job "${P}5" failed encode '2 days'
sql "INSERT INTO commands (id, kind, recipient, job_id, attempt, status) VALUES (gen_random_uuid(), 'job.update', 'c1', '${P}5', 1, 'pending')"
job "${P}6" assigned encode -

# --- job delete ------------------------------------------------------------------
run job delete --help
check "delete --help names what goes" contains "$OUT" "its events (job logs), refusals"
BEFORE=$(snapshot)
for j in 2:running 3:pending 4:canceling 6:assigned; do
    run job delete "${P}${j%:*}"; rc_is "delete of a ${j#*:} job" 1
    check "the refusal names the state" contains "$ERR" "is ${j#*:}: only a finished job is deleted"
done
run job delete "${P}5"; rc_is "delete of a failed job whose job update is still being sent" 1
check "the refusal says why" contains "$ERR" "still being sent"
run job delete 00000000-0000-4000-8000-0000000000ff; rc_is "delete of an unknown job" 1
check "the refusal names it" contains "$ERR" "no job"
run job delete not-a-uuid; rc_is "delete of a non-UUID" 1
run job delete; rc_is "delete without an id" 100
run job delete "${P}1" "${P}5"; rc_is "delete with two ids" 100
check_eq "the refusals changed nothing" "$BEFORE" "$(snapshot)"
check_eq "the succeeded job has its rows" "1 2 1 1" "$(rows "${P}1")"
run job delete "${P}1"
rc_is "delete of a succeeded job" 0
check_eq "the output counts its rows" "deleted job ${P}1 with 2 events and 1 outbox row" "$OUT"
check_eq "the job, its events, refusals and outbox rows are gone" "0 0 0 0" "$(rows "${P}1")"
sql "UPDATE commands SET status = 'done' WHERE job_id = '${P}5'"
run --json job delete "${P}5"
rc_is "delete --json of the failed job, its update sent" 0
check_eq "json" "${P}5 True 2 2" "$(js 'd["id"], d["deleted"], d["events"], d["commands"]')"
check_eq "the live jobs stay" "4" "$(sql "SELECT count(*) FROM jobs")"

# --- job purge -------------------------------------------------------------------------
sql "INSERT INTO jobs (id, submitter, type, payload, state, timeout_ms, created_at, finished_at)
     SELECT gen_random_uuid(), 'c1', CASE WHEN i % 5 = 0 THEN 'thumb' ELSE 'encode' END, '\\x00',
            'succeeded', 1000, now() - interval '40 days', now() - interval '30 days' - i * interval '1 s'
       FROM generate_series(1, 2500) AS i"
sql "INSERT INTO job_events (job_id, attempt, kind, to_state) SELECT id, 1, 'state', 'succeeded' FROM jobs WHERE state = 'succeeded'"
job "${P}7" succeeded encode '1 hour'
job "${P}8" failed encode '40 days'
job "${P}9" succeeded encode '40 days'
sql "INSERT INTO commands (id, kind, recipient, job_id, attempt, status) VALUES (gen_random_uuid(), 'job.update', 'c1', '${P}9', 1, 'sent')"

run job purge --help
check "purge --help: batches" contains "$OUT" "in batches of 1000 jobs"
BEFORE=$(snapshot)
run job purge --state succeeded; rc_is "purge without --before" 100
run job purge --before 1d; rc_is "purge without --state" 100
for bad in "--state running --before 1d" "--state pending --before 1d" "--state done --before 1d" \
           "--state succeeded --before yesterday" "--state succeeded --before 0d" "--state succeeded --before -5d" \
           "--state succeeded --before 2026-13" "--state succeeded --before 11000d" \
           "--state succeeded --before 1d --type bad/type"; do
    # shellcheck disable=SC2086
    run job purge $bad; rc_is "purge $bad" 1
done
run job purge --state succeeded --before 1d --dry-run
rc_is "purge --dry-run" 0
check "the dry run counts 2,500 jobs and their events" contains "$OUT" "would purge 2500 succeeded jobs finished before"
check "the dry run says nothing was deleted" contains "$OUT" "(dry run: nothing deleted)"
check_eq "the dry run and the refusals deleted nothing" "$BEFORE" "$(snapshot)"
run --json job purge --state succeeded --before 1d --type thumb --dry-run
check_eq "a dry run of one type" "500 True" "$(js 'd["jobs"], d["dry_run"]')"
run --json job purge --state succeeded --before 1d --type thumb
rc_is "purge of one type" 0
check_eq "500 thumb jobs in one batch" "500 500 1" "$(js 'd["jobs"], d["events"], d["batches"]')"
check_eq "no thumb job is left" "0" "$(sql "SELECT count(*) FROM jobs WHERE type = 'thumb'")"
run --json job purge --state succeeded --before 1d
rc_is "purge of the rest" 0
check_eq "2,000 jobs in batches of 1,000 (the third comes back empty)" "2000 3" "$(js 'd["jobs"], d["batches"]')"
check_eq "their events went with them" "0" "$(sql "SELECT count(*) FROM job_events e WHERE NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = e.job_id)")"
check_eq "the job finished an hour ago stays" "1 2 1 1" "$(rows "${P}7")"
check_eq "the failed job stays (another state)" "1 2 1 1" "$(rows "${P}8")"
check_eq "the job whose update is being sent stays" "1 2 1 2" "$(rows "${P}9")"
check_eq "the live jobs stay" "4" "$(sql "SELECT count(*) FROM jobs WHERE state NOT IN ('succeeded', 'failed', 'canceled')")"
run --json job purge --state failed --before 2026-01-01T00:00:00Z
check_eq "a date before the failed job finished: nothing" "0" "$(js 'd["jobs"]')"
run --json job purge --state failed --before "$(date -u -d '+1 day' +%Y-%m-%d)"
check_eq "a date after: the failed job" "1" "$(js 'd["jobs"]')"
check_eq "it is gone with its rows" "0 0 0 0" "$(rows "${P}8")"

audit() { sql "SELECT string_agg(target || ' ' || outcome || ' ' || detail, ' | ' ORDER BY id) FROM (SELECT * FROM audit_log WHERE action = '$1' ORDER BY id DESC LIMIT ${2:-1}) e"; }
check_eq "audit: the job delete" "${P}5 ok " "$(sql "SELECT target || ' ' || outcome || ' ' || detail FROM audit_log WHERE action = 'job.delete' AND outcome = 'ok' ORDER BY id DESC LIMIT 1")"
check_eq "audit: the last purge, with its options" " ok --state=failed --before=$(date -u -d '+1 day' +%Y-%m-%d)" "$(audit job.purge)"
check_eq "audit: the dry run is recorded as such" "1" "$(sql "SELECT count(*) FROM audit_log WHERE action = 'job.purge' AND detail = '--state=succeeded --before=1d --type=thumb --dry-run'")"

jc_done
