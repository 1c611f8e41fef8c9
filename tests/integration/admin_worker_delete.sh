#!/usr/bin/env bash
# admin_worker_delete.sh - `jobcoord-admin worker delete` and the default
# filter of `worker list`. Deleting is refused (nothing changed) for an
# online or draining worker and for an offline one that still holds a job,
# for an unknown or invalid id; an idle offline worker's record goes, its
# principal and settings stay. `worker list` leaves out offline workers not
# seen for more than a day and says how many; --all lists them. Checked
# with psql.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup admin_worker_delete
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
for p in on drn busy gone old1 old2 c1; do
    role=worker; [ "$p" = c1 ] && role=client
    "$ADMIN" user add "$p" --role "$role" >/dev/null 2>&1 || { echo "user add $p failed"; exit 1; }
done
sql "INSERT INTO workers (id, status, last_heartbeat_ts_ms, last_seen_at) VALUES
  ('on', 'online', 1, now()), ('drn', 'draining', 1, now()),
  ('busy', 'offline', 1, now() - interval '2 minutes'), ('gone', 'offline', 1, now() - interval '2 hours'),
  ('old1', 'offline', 1, now() - interval '3 days'), ('old2', 'offline', 1, now() - interval '40 days')"
sql "INSERT INTO worker_settings (worker_id, key, value) VALUES ('gone', 'ffmpeg.threads', '4')"
sql "INSERT INTO jobs (id, submitter, type, payload, max_attempts, attempt, state, timeout_ms, worker_id, lease_expires_at)
     VALUES ('00000000-0000-4000-8000-000000000001', 'c1', 't', 'p', 3, 1, 'running', 60000, 'busy', now() + interval '1 h')"
snapshot() { sql "SELECT string_agg(id || status, ',' ORDER BY id) FROM workers"; sql "SELECT count(*) FROM principals"; }

# --- worker list: old offline records are left out by default ---------------------
run worker list
rc_is "worker list" 0
for w in on drn busy gone; do check "list shows $w" grep -q "^$w " <<<"$OUT"; done
check "list leaves out old1" not grep -q "^old1 " <<<"$OUT"
check "list leaves out old2" not grep -q "^old2 " <<<"$OUT"
check "list says how many it left out" contains "$OUT" "(2 offline workers not seen for more than a day not listed: --all lists them"
run worker list --all
check "--all lists old1 and old2" test "$(grep -c '^old[12] ' <<<"$OUT")" = 2
check "--all has no note" not contains "$OUT" "not listed"
run --json worker list
check_eq "--json: the same default" "busy drn gone on" "$(js '" ".join(sorted(w["id"] for w in d))')"
run --json worker list --all
check_eq "--json --all: every record" "6" "$(js 'len(d)')"
run worker list --window 600
check_eq "--window 600: only those seen in 10 minutes" "busy drn on" "$(awk 'NR > 1 && $1 != "(" { print $1 }' <<<"$OUT" | sort | xargs)"
check "--window 600: no note (none hidden in that window)" not contains "$OUT" "not listed"
run worker list --all=yes; rc_is "--all takes no value" 100
run worker list --window 0; rc_is "--window 0" 1

# --- worker delete: refused cases -----------------------------------------------------
run worker delete --help
check "delete --help says the principal stays" contains "$OUT" "principal, its keys and settings stay"
BEFORE=$(snapshot)
run worker delete; rc_is "delete without an id" 100
run worker delete a b; rc_is "delete with two ids" 100
run worker delete nobody; rc_is "delete of an unknown worker" 1
check "the refusal names it" contains "$ERR" "no worker 'nobody'"
run worker delete c1; rc_is "delete of a principal that has no worker record" 1
run worker delete 'bad id'; rc_is "delete with an invalid id" 1
run worker delete "$(head -c 65 /dev/zero | tr '\0' a)"; rc_is "delete with a 65-character id" 1
run worker delete on; rc_is "delete of an online worker" 1
check "the refusal says it is online" contains "$ERR" "worker 'on' is online"
run worker delete drn; rc_is "delete of a draining worker" 1
check "the refusal says it is draining" contains "$ERR" "is draining"
run worker delete busy; rc_is "delete of an offline worker holding a job" 1
check "the refusal counts the job" contains "$ERR" "still holds 1 live job"
check_eq "the refusals changed nothing" "$BEFORE" "$(snapshot)"

# --- worker delete: an idle offline worker -----------------------------------------------
run worker delete gone
rc_is "delete of an idle offline worker" 0
check "the output says the principal is kept" contains "$OUT" "deleted the record of worker gone"
check_eq "its record is gone" "0" "$(sql "SELECT count(*) FROM workers WHERE id = 'gone'")"
check_eq "its principal and settings stay" "1 1" "$(sql "SELECT count(*) FROM principals WHERE id = 'gone'") $(sql "SELECT count(*) FROM worker_settings WHERE worker_id = 'gone'")"
run --json worker delete old2
rc_is "delete --json" 0
check_eq "json: id and deleted" "old2 True" "$(js 'd["id"], d["deleted"]')"
run worker delete old2; rc_is "deleting it again" 1
run worker list --all
check "the deleted records are not listed" not grep -qE '^(gone|old2) ' <<<"$OUT"

audit() { sql "SELECT string_agg(target || ' ' || outcome || ' ' || detail, ' | ' ORDER BY id) FROM (SELECT * FROM audit_log WHERE action = '$1' ORDER BY id DESC LIMIT ${2:-1}) e"; }
check_eq "audit: the last delete (refused: already gone)" "old2 refused exit 1: no worker 'old2'" "$(audit worker.delete)"
check_eq "audit: the delete of gone" "ok" "$(sql "SELECT outcome FROM audit_log WHERE action = 'worker.delete' AND target = 'gone'")"
check_eq "audit: the refusal of the online worker" "refused" "$(sql "SELECT outcome FROM audit_log WHERE action = 'worker.delete' AND target = 'on'")"

jc_done
