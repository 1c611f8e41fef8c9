#!/usr/bin/env bash
# key_age.sh - auth.max_key_age_s and the keys' last use. With a maximum of
# 10 days: a worker whose only key is 11 days old has its heartbeats
# rejected (key_expired) and its client assertions refused (401); a key 9.5
# days old (inside the default warning window, a tenth) still works and is
# counted in /v1/status's warnings, `jobcoord-admin status` and the
# jobcoord_keys_near_max_age metric; `user list/show` show each key's age,
# when it ages out and when it was last used. The last use is written at
# most once a minute per key: a second heartbeat does not move it. Without
# a maximum nothing ages out and nothing is warned of. Bad values of the
# settings are refused at start.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup key_age
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"
. "$JC_SOURCE_DIR/tests/lib/httplib.sh"

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
ADMIN_PASSWORD="key-age-test-$$-password"
start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
add_principal old worker
add_principal aging worker
add_principal fresh worker
add_principal r1 reader
add_principal c1 client
# .9 of a second: a rounded (not floored) creation time would be a second off
sql "UPDATE principal_keys SET created_at = date_trunc('second', now()) - interval '11 days' + interval '0.9 s' WHERE principal_id = 'old'"
sql "UPDATE principal_keys SET created_at = now() - interval '9 days 12 hours' WHERE principal_id = 'aging'"

# bad settings are refused (the daemon and the tool share the table)
run --set auth.max_key_age_s=-1 status; rc_is "a negative auth.max_key_age_s" 100
run --set auth.max_key_age_s=ten status; rc_is "a non-numeric auth.max_key_age_s" 100
run --set auth.key_age_warn_s=999999999999 status; rc_is "an auth.key_age_warn_s out of range" 100

# --- without a maximum: nothing ages out, nothing to warn of ---------------------
run --json status
rc_is "status without a maximum" 0
check_eq "no key-age warning without a maximum" "0" "$(js 'len([w for w in d["warnings"] if "max_key_age" in w])')"
run --json user show old
check_eq "the old key is current without a maximum" "current False None" "$(js 'd["keys"][0]["status"], d["keys"][0]["aged_out"], d["keys"][0]["expires_by_age"]')"

MAX=864000 # 10 days
export JOBCOORD_AUTH_MAX_KEY_AGE_S=$MAX
JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD start_coordinator \
    --set http.listen=127.0.0.1:$PORT --set ingest.key_cache_ttl_ms=0

# --- ingest: the old key's messages are refused like an expired key's ------------
produce_as old >/dev/null
produce_as aging >/dev/null
produce_as fresh >/dev/null
wait_consumed heartbeats 3 || exit 1
check_eq "the worker with an 11-day-old key is not heard" "0" "$(sql "SELECT count(*) FROM workers WHERE id = 'old'")"
check_eq "its heartbeat rejected as key_expired" "1" "$(sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = 'key_expired'")"
check "the rejection says why" contains "$(sql "SELECT last_detail FROM rejections WHERE reason = 'key_expired'")" "older than auth.max_key_age_s"
check_eq "the 9.5-day-old and the fresh keys work" "2" "$(sql "SELECT count(*) FROM workers WHERE id IN ('aging', 'fresh')")"

# --- the last use: written once, not per message ------------------------------------
USED=$(sql "SELECT last_used_at FROM principal_keys WHERE principal_id = 'fresh'")
check "the fresh key's last use is recorded" test -n "$USED"
check_eq "the refused key has no last use" "" "$(sql "SELECT last_used_at FROM principal_keys WHERE principal_id = 'old'")"
produce_as fresh >/dev/null
produce_as fresh >/dev/null
wait_consumed heartbeats 5 || exit 1
check_eq "two more heartbeats within the minute do not move it" "$USED" "$(sql "SELECT last_used_at FROM principal_keys WHERE principal_id = 'fresh'")"
# an instance forgets what it wrote when it restarts; an older stamp is written again
sql "UPDATE principal_keys SET last_used_at = now() - interval '1 hour' WHERE principal_id = 'aging'"
kill "$COORD_PID"; wait "$COORD_PID" 2>/dev/null
JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD start_coordinator \
    --set http.listen=127.0.0.1:$PORT --set ingest.key_cache_ttl_ms=0
produce_as aging >/dev/null
wait_consumed heartbeats 6 || exit 1
check_eq "a key used again after a restart is stamped again" "t" "$(sql "SELECT last_used_at > now() - interval '5 minutes' FROM principal_keys WHERE principal_id = 'aging'")"

# --- the token endpoint -------------------------------------------------------------
check_eq "no token for a principal whose key is too old" "" "$(token_cc old)"
C1=$(token_cc c1)
check "a token for c1" test -n "$C1"
check "its key's last use is recorded by the token endpoint" test -n "$(sql "SELECT last_used_at FROM principal_keys WHERE principal_id = 'c1'")"
R=$(token_cc r1)
A=$(token_password admin "$ADMIN_PASSWORD")
W=$(token_cc fresh)

# --- user list / show -----------------------------------------------------------------
run --json user show old
check_eq "show old: expired by age" "expired True" "$(js 'd["keys"][0]["status"], d["keys"][0]["aged_out"]')"
check_eq "show old: expires_by_age is created_at + 10 days" \
    "$(sql "SELECT to_char((created_at + interval '10 days') AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') FROM principal_keys WHERE principal_id = 'old'")" \
    "$(js 'd["keys"][0]["expires_by_age"]')"
check "show old: age about 11 days" python3 -c "import sys; sys.exit(not 950000 < $(js 'd["keys"][0]["age_s"]') < 951000)"
run --json user show fresh
check_eq "show fresh: current, last used" "current True" "$(js 'd["keys"][0]["status"], d["keys"][0]["last_used_at"] is not None')"
run user show fresh
check "show (text) has the age columns" contains "$OUT" "EXPIRES_BY_AGE"
check "show (text) has the last use" contains "$OUT" "LAST_USED_AT"
run user list
check "list (text) has the key age" contains "$OUT" "KEY_AGE"
check "list: old's current key is 11 days old" contains "$(grep '^old ' <<<"$OUT")" "11d"

# --- warnings: status (CLI and HTTP) and the metrics ---------------------------------------
run --json status
check_eq "status: one key-age warning" "1" "$(js 'len([w for w in d["warnings"] if "max_key_age" in w])')"
check "status: it counts the aging key" contains "$OUT" "1 key reaches it within 86400 s"
check "status: it counts the key past the limit" contains "$OUT" "1 current key is past it"
check "status: it names the first" contains "$OUT" "of 'old'"
check_eq "/v1/status as a reader" 200 "$(get "$R" /v1/status)"
check "/v1/status warns of the key ages" contains "$(body .warnings)" "1 key reaches it within 86400 s"
check_eq "/v1/status as the admin" 200 "$(get "$A" /v1/status)"
check "/v1/status (admin) warns too" contains "$(body .warnings)" "auth.max_key_age_s"
check_eq "/v1/status as a client: 403" 403 "$(get "$C1" /v1/status)"
check_eq "/v1/status as a worker: 403" 403 "$(get "$W" /v1/status)"
check_eq "/v1/status without a token: 401" 401 "$(get "" /v1/status)"
sql "UPDATE principals SET disabled = true WHERE id = 'r1'"
check_eq "/v1/status as a disabled reader: 401" 401 "$(get "$R" /v1/status)"
check_eq "metrics: 200" 200 "$(get "" /metrics)"
metric() { awk -v k="$1" '$1 == k { print $2 }' "$T/body"; }
check_eq "metric: keys near the maximum age" 1 "$(metric jobcoord_keys_near_max_age)"
check_eq "metric: current keys past it" 1 "$(metric jobcoord_keys_past_max_age)"
# a narrower window: the 9.5-day-old key is not near yet
run --json --set auth.key_age_warn_s=3600 status
check "a window of an hour: the aging key is not counted" contains "$OUT" "0 keys reach it within 3600 s"

# rotating the old key makes it work again
run user rotate-key old
rc_is "rotate the old key" 0
run --json status
check "after the rotation no current key is past the limit" contains "$OUT" "0 current keys are past it"

jc_done
