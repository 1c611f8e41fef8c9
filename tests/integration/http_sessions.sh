#!/usr/bin/env bash
# http_sessions: a change to what a principal is (password, role, scopes,
# disabled, deleted and created again) or an explicit end-sessions ends its
# sessions: every access token and refresh token issued to it before stops
# working at once, over HTTP against a real coordinator, while tokens issued
# after the change work at once (no clock granularity in the way).
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup http_sessions
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

TOK="python3 $JC_SOURCE_DIR/tests/lib/tokens.py"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PW1='first password 123'
PW2='second password 456'

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
# both_refused WHAT AT RT: the access token gets 401 and the refresh token invalid_grant
both_refused() {
    check_eq "$1: the old access token is refused" 401 "$(get_bearer /v1/jobs "$2")"
    check_eq "$1: the old refresh token is refused" "400 invalid_grant" "$(refresh "$3") $(body error)"
}

add_principal ops reader
add_principal cli client
printf '%s\n' "$PW1" | "$ADMIN" user set-password ops >/dev/null

# ---- set-password ----
login ops "$PW1"
AT0=$AT RT0=$RT
check_eq "the first token works" 200 "$(get_bearer /v1/jobs "$AT0")"
check "tokens carry the principal's generation" test -n "$($TOK part "$AT0" claims | python3 -c 'import json,sys; print(json.load(sys.stdin).get("gen", ""))')"
run user set-password ops <<<"$PW2"
rc_is "set-password" 0
check "set-password says the sessions ended" contains "$OUT" "sessions ended"
both_refused "after set-password" "$AT0" "$RT0"
check "the refresh refusal says why" grep -q "changed since it was issued" "$T/body"
login ops "$PW2"
check_eq "a token issued right after the change works at once" 200 "$(get_bearer /v1/jobs "$AT")"
check_eq "and its refresh token refreshes" 200 "$(refresh "$RT")"
check_eq "the refreshed access token works" 200 "$(get_bearer /v1/jobs "$(body access_token)")"
RT=$(body refresh_token)
check_eq "the sessions' end is recorded" "password changed|1" \
    "$(sql "SELECT sessions_ended_why || '|' || (sessions_ended_at > now() - interval '1 min')::int FROM principals WHERE id = 'ops'")"

# ---- role change ----
login ops "$PW2"
AT1=$AT RT1=$RT
run user set ops --role admin
rc_is "user set --role" 0
check "user set says the sessions ended" contains "$OUT" "sessions ended"
both_refused "after a role change (reader -> admin)" "$AT1" "$RT1"
login ops "$PW2"
check_eq "a new login gets the new role" admin "$($TOK part "$AT" claims | python3 -c 'import json,sys; print(json.load(sys.stdin)["role"])')"
check_eq "and works" 200 "$(get_bearer /v1/status "$AT")"

# ---- scope change ----
AT2=$AT RT2=$RT
run user set ops --scopes jobs:read
rc_is "user set --scopes" 0
both_refused "after a scope change" "$AT2" "$RT2"
login ops "$PW2"
AT3=$AT RT3=$RT
run user set ops --clear-scopes
rc_is "user set --clear-scopes" 0
both_refused "after clearing the scopes" "$AT3" "$RT3"
check_eq "the scopes are gone" "{}" "$(sql "SELECT scopes FROM principals WHERE id = 'ops'")"

# ---- disable, enable ----
login ops "$PW2"
AT4=$AT RT4=$RT
run user disable ops
rc_is "user disable" 0
check_eq "disabled in the table" t "$(sql "SELECT disabled FROM principals WHERE id = 'ops'")"
run user enable ops
rc_is "user enable" 0
both_refused "after disable then enable" "$AT4" "$RT4"
login ops "$PW2"
check_eq "after enable a new login works" 200 "$(get_bearer /v1/jobs "$AT")"
run user enable ops
check_eq "enable twice says so" "0 already enabled: ops" "$RC $OUT"

# ---- client credentials, end-sessions ----
cc() { post_form /v1/token grant_type=client_credentials \
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    "client_assertion=$($TOK assertion --sub cli --kid "$(keyid_of cli)" --key "$(key_of cli)" --aud "$URL/v1/token")" >/dev/null; body access_token; }
CT=$(cc)
check_eq "a client's token works" 200 "$(get_bearer /v1/jobs "$CT")"
run --json user end-sessions cli
rc_is "user end-sessions --json" 0
check_eq "end-sessions --json" "cli True" "$(js 'd["id"], d["sessions_ended"]')"
check_eq "after end-sessions the client's token is refused" 401 "$(get_bearer /v1/jobs "$CT")"
check "the refusal names ended sessions" grep -q "sessions were ended" "$T/body"
check_eq "a new client token works" 200 "$(get_bearer /v1/jobs "$(cc)")"

# ---- delete, then a principal of the same id ----
login ops "$PW2"
AT5=$AT RT5=$RT
run user delete ops
rc_is "user delete" 0
"$ADMIN" user add ops --role reader >/dev/null 2>&1
printf '%s\n' "$PW2" | "$ADMIN" user set-password ops >/dev/null
both_refused "after delete and a new principal of the same id" "$AT5" "$RT5"
login ops "$PW2"
check_eq "the new principal's own token works" 200 "$(get_bearer /v1/jobs "$AT")"

# ---- refusals of the commands ----
run user set nobody --role client; rc_is "user set of an unknown principal" 1
run user set ops --role boss; rc_is "user set with an invalid role" 1
run user set ops; rc_is "user set without a change" 100
run user set ops --scopes a --clear-scopes; rc_is "--scopes with --clear-scopes" 100
run user disable nobody; rc_is "disable of an unknown principal" 1
run user end-sessions 'bad id'; rc_is "end-sessions with an invalid id" 1
add_principal busy worker
sql "INSERT INTO workers (id, status, last_heartbeat_ts_ms) VALUES ('busy', 'online', 1)"
sql "INSERT INTO jobs (id, submitter, type, payload, attempt, state, timeout_ms, worker_id)
     VALUES ('00000000-0000-4000-8000-000000000001', 'cli', 't', 'p', 1, 'running', 60000, 'busy')"
run user set busy --role client
rc_is "a worker holding a job keeps its role" 1
check "the refusal says why" contains "$ERR" "holds 1 live job"
check_eq "nothing changed" "worker 1" "$(sql "SELECT role FROM principals WHERE id = 'busy'") $(sql "SELECT count(*) FROM workers WHERE id = 'busy'")"
sql "UPDATE jobs SET state = 'succeeded' WHERE worker_id = 'busy'"
run user set busy --role client
rc_is "a worker without live jobs may change role" 0
check_eq "and loses its worker record" "client 0" "$(sql "SELECT role FROM principals WHERE id = 'busy'") $(sql "SELECT count(*) FROM workers WHERE id = 'busy'")"

jc_done
