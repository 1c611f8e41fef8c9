#!/usr/bin/env bash
# user_sessions: `jobcoord-admin user sessions` lists a principal's
# sessions (refresh-token families: created, last used, the client's
# address, expiry, state) and `user revoke-sessions [--family F]` ends
# them, with the access tokens issued from them, at once over HTTP; the
# other sessions keep working. Refusals: unknown principal, malformed ids,
# another principal's session, missing arguments. Both leave audit entries
# (revoke-sessions only: sessions is a read).
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup user_sessions
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PW='sessions password 1'

start_mock_kafka 1
start_coordinator --set http.listen=127.0.0.1:$PORT --set tokens.key_reload_ms=100

post_form() {
    local path=$1 a
    shift
    local args=()
    for a in "$@"; do args+=(--data-urlencode "$a"); done
    curl -s -o "$T/body" -w '%{http_code}' "${args[@]}" "$URL$path"
}
get_bearer() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $2" "$URL$1"; }
body() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$T/body" "$1"; }
login() { post_form /v1/token grant_type=password "username=$1" "password=$2" >/dev/null; AT=$(body access_token); RT=$(body refresh_token); }
refresh() { post_form /v1/token grant_type=refresh_token "refresh_token=$1"; }
family_of() { sql "SELECT family FROM refresh_tokens WHERE principal_id = '$1' ORDER BY created_at DESC LIMIT 1"; }

add_principal ops admin
add_principal other reader
add_principal cli client
printf '%s\n' "$PW" | "$ADMIN" user set-password ops >/dev/null
printf '%s\n' "$PW" | "$ADMIN" user set-password other >/dev/null

run user sessions ops
rc_is "user sessions without any" 0
check_eq "says none" "(none)" "$OUT"

login ops "$PW"
AT1=$AT RT1=$RT F1=$(family_of ops)
sleep 1.1
login ops "$PW"
AT2=$AT RT2=$RT F2=$(family_of ops)
sleep 1.1
check_eq "a refresh of the first session" 200 "$(refresh "$RT1")"
AT1=$(body access_token) RT1=$(body refresh_token)
login other "$PW"
ATO=$AT FO=$(family_of other)

run --json user sessions ops
rc_is "user sessions --json" 0
check_eq "two active sessions, newest first" "2 $F2 $F1" "$(js 'len(d), d[0]["family"], d[1]["family"]')"
check_eq "with the client's address at login and at the refresh" "127.0.0.1 127.0.0.1 active" "$(js 'd[1]["login_address"], d[1]["last_address"], d[1]["state"]')"
check "the refreshed session was used after it was created" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if d[1]["last_used"] > d[1]["created"] and d[0]["last_used"] == d[0]["created"] else 1)' "$OUT"
check "and expires" python3 -c 'import json,sys; d=json.loads(sys.argv[1]); sys.exit(0 if all(x["expires_at"] > x["created"] for x in d) else 1)' "$OUT"
run user sessions ops
check "the text table has the columns" contains "$OUT" "LOGIN_ADDRESS"
check_eq "one line per session" 3 "$(wc -l <<<"$OUT")"

# ---- one session ----
run --json user revoke-sessions ops --family "$F1"
rc_is "revoke-sessions --family" 0
check_eq "one session, its access tokens (the login's and the refresh's)" "ops 1 2" "$(js 'd["id"], d["sessions_revoked"], d["access_tokens_revoked"]')"
check_eq "its access token is refused at once" 401 "$(get_bearer /v1/jobs "$AT1")"
check_eq "its refresh token too" 400 "$(refresh "$RT1")"
check_eq "the other session's access token works" 200 "$(get_bearer /v1/jobs "$AT2")"
check_eq "another principal's session is untouched" 200 "$(get_bearer /v1/jobs "$ATO")"
run --json user sessions ops
check_eq "one active session left" "1 $F2" "$(js 'len(d), d[0]["family"]')"
run --json user sessions ops --all
check_eq "--all shows the revoked one" "2 revoked" "$(js 'len(d), [x["state"] for x in d if x["family"] == "'"$F1"'"][0]')"
check_eq "audit entry" "ops ok --family=$F1" "$(sql "SELECT target || ' ' || outcome || ' ' || detail FROM audit_log WHERE action = 'user.revoke-sessions' ORDER BY id DESC LIMIT 1")"
check_eq "reads leave none" 0 "$(sql "SELECT count(*) FROM audit_log WHERE action LIKE 'user.sessions%'")"

# ---- all sessions ----
login ops "$PW"
AT3=$AT RT3=$RT
run user revoke-sessions ops
rc_is "revoke-sessions" 0
check_eq "says how many" "ops: 2 sessions revoked, with 2 access tokens" "$OUT"
check_eq "every access token is refused" "401 401" "$(get_bearer /v1/jobs "$AT2") $(get_bearer /v1/jobs "$AT3")"
check_eq "every refresh token too" "400 400" "$(refresh "$RT2") $(refresh "$RT3")"
check_eq "the other principal's session still works" 200 "$(get_bearer /v1/jobs "$ATO")"
login ops "$PW"
check_eq "a new login works" 200 "$(get_bearer /v1/jobs "$AT")"
run user revoke-sessions ops --family "$F1"
check_eq "a session already revoked: nothing more" "0 ops: 0 sessions revoked, with 0 access tokens" "$RC $OUT"

# ---- refusals ----
run user sessions nobody
rc_is "sessions of an unknown principal" 1
check "says so" contains "$ERR" "no principal 'nobody'"
run user sessions 'bad id!'
rc_is "sessions of a malformed id" 1
run user sessions "$(printf 'a%.0s' $(seq 100))"
rc_is "sessions of an oversized id" 1
run user revoke-sessions nobody
rc_is "revoke-sessions of an unknown principal" 1
check_eq "its refusal is in the trail" "nobody refused" "$(sql "SELECT target || ' ' || outcome FROM audit_log WHERE action = 'user.revoke-sessions' ORDER BY id DESC LIMIT 1")"
run user revoke-sessions ops --family not-a-uuid
rc_is "a malformed --family" 1
run user revoke-sessions ops --family "$FO"
rc_is "another principal's session" 1
check "says so" contains "$ERR" "has no session"
check_eq "which stays" 200 "$(get_bearer /v1/jobs "$ATO")"
run user revoke-sessions ops --family 00000000-0000-4000-8000-000000000000
rc_is "an unknown session" 1
run user revoke-sessions
rc_is "no id" 100
run user sessions ops --bogus
rc_is "an unknown option" 100
run user sessions cli
check_eq "a client has no sessions" "0 (none)" "$RC $OUT"

jc_done
