#!/usr/bin/env bash
# me: GET /v1/me tells any bearer who it is (principal, role, scopes, token
# id and expiry, its session); POST /v1/me/password changes the caller's
# password with the current one and ends its other sessions (the caller's
# own keeps working), a wrong current password counts toward the lockout,
# and every attempt is in the audit trail. Refusals: no token, a principal
# without a password, malformed, missing, repeated, short and oversized
# fields, query parameters.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup me
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

TOK="python3 $JC_SOURCE_DIR/tests/lib/tokens.py"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PW1='first password 123'
PW2='second password 456'

start_mock_kafka 1
start_coordinator --set http.listen=127.0.0.1:$PORT --set tokens.key_reload_ms=100 --set auth.login_max_failures=3

post_form() {
    local path=$1 a
    shift
    local args=()
    for a in "$@"; do args+=(--data-urlencode "$a"); done
    curl -s -o "$T/body" -w '%{http_code}' "${args[@]}" "$URL$path"
}
# post_me PATH TOKEN FIELDS...: a form POST with a bearer token
post_me() {
    local path=$1 tok=$2 a
    shift 2
    local args=()
    for a in "$@"; do args+=(--data-urlencode "$a"); done
    curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $tok" "${args[@]}" "$URL$path"
}
get_bearer() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $2" "$URL$1"; }
body() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$T/body" "$1"; }
bodyjs() { python3 -c "import json,sys; d=json.load(open(sys.argv[1])); r=($1); print(' '.join(map(str, r)) if isinstance(r, tuple) else r)" "$T/body"; }
login() { post_form /v1/token grant_type=password "username=$1" "password=$2" >/dev/null; AT=$(body access_token); RT=$(body refresh_token); }
refresh() { post_form /v1/token grant_type=refresh_token "refresh_token=$1"; }
family_of() { sql "SELECT family FROM refresh_tokens WHERE principal_id = '$1' ORDER BY created_at DESC LIMIT 1"; }
cc() { post_form /v1/token grant_type=client_credentials \
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    "client_assertion=$($TOK assertion --sub "$1" --kid "$(keyid_of "$1")" --key "$(key_of "$1")" --aud "$URL/v1/token")" >/dev/null; body access_token; }
last_audit() { sql "SELECT actor || ' ' || outcome || ' ' || detail FROM audit_log WHERE action = 'me.password' ORDER BY id DESC LIMIT 1"; }

add_principal ops admin
add_principal rd reader
add_principal cli client
add_principal w1 worker
printf '%s\n' "$PW1" | "$ADMIN" user set-password ops >/dev/null
printf '%s\n' "$PW1" | "$ADMIN" user set-password rd >/dev/null

# ---- GET /v1/me ----
login ops "$PW1"
AT1=$AT RT1=$RT F1=$(family_of ops)
check_eq "an admin's /v1/me" 200 "$(get_bearer /v1/me "$AT1")"
check_eq "principal, role, session" "ops admin $F1" "$(bodyjs 'd["principal"], d["role"], d["family"]')"
check_eq "its scopes" "jobs:submit jobs:cancel jobs:read workers:read status:read" "$(bodyjs '" ".join(d["scopes"])')"
check_eq "its token id" "$($TOK part "$AT1" claims | python3 -c 'import json,sys; print(json.load(sys.stdin)["jti"])')" "$(body token_id)"
check_eq "its expiry" "$($TOK part "$AT1" claims | python3 -c 'import json,sys,time; print(time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(json.load(sys.stdin)["exp"])))')" "$(body expires_at)"
CT=$(cc cli)
check_eq "a client's /v1/me" "200 cli client None" "$(get_bearer /v1/me "$CT") $(bodyjs 'd["principal"], d["role"], d["family"]')"
WT=$(cc w1)
check_eq "a worker's /v1/me (no scope needed)" "200 w1 worker" "$(get_bearer /v1/me "$WT") $(bodyjs 'd["principal"], d["role"]')"
post_form /v1/token grant_type=password username=rd "password=$PW1" scope=jobs:read >/dev/null
check_eq "a token narrowed to one scope still reads /v1/me" "200 jobs:read" "$(get_bearer /v1/me "$(body access_token)") $(bodyjs '" ".join(d["scopes"])')"
check_eq "no token: 401" 401 "$(get_bearer /v1/me x)"
check_eq "a query parameter: 400" 400 "$(get_bearer '/v1/me?x=1' "$AT1")"
check_eq "POST /v1/me: 405" 405 "$(post_me /v1/me "$AT1" a=b)"

# ---- POST /v1/me/password: refusals ----
login ops "$PW1"
AT2=$AT RT2=$RT
check_eq "no token: 401" 401 "$(post_form /v1/me/password "current_password=$PW1" "new_password=$PW2")"
check_eq "no new password: 400" 400 "$(post_me /v1/me/password "$AT1" "current_password=$PW1")"
check_eq "no current password: 400" 400 "$(post_me /v1/me/password "$AT1" "new_password=$PW2")"
check_eq "a short new password: 400" 400 "$(post_me /v1/me/password "$AT1" "current_password=$PW1" "new_password=short")"
check "says the length" grep -q "12..256" "$T/body"
check_eq "an oversized new password: 400" 400 "$(post_me /v1/me/password "$AT1" "current_password=$PW1" "new_password=$(printf 'p%.0s' $(seq 300))")"
check_eq "a repeated field: 400" 400 "$(post_me /v1/me/password "$AT1" "current_password=$PW1" "new_password=$PW2" "new_password=$PW2")"
check_eq "a JSON body: 415 or 400" 1 "$(c=$(curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $AT1" -H 'Content-Type: application/json' -d '{"current_password":"x"}' "$URL/v1/me/password"); [ "$c" = 415 ] || [ "$c" = 400 ]; echo $((1 - $?)))"
check_eq "a client has no password: 403" 403 "$(post_me /v1/me/password "$CT" "current_password=$PW1" "new_password=$PW2")"
check_eq "the refusals changed nothing" 200 "$(post_form /v1/token grant_type=password username=ops "password=$PW1")"
check_eq "a wrong current password: 403" 403 "$(post_me /v1/me/password "$AT1" "current_password=not it at all" "new_password=$PW2")"
check_eq "counts as a failed login" 1 "$(sql "SELECT failed_logins FROM principals WHERE id = 'ops'")"
check_eq "in the audit trail, without passwords" "ops refused wrong current password" "$(last_audit)"
check_eq "no password in the trail" 0 "$(sql "SELECT count(*) FROM audit_log WHERE detail LIKE '%password 123%' OR detail LIKE '%password 456%' OR detail LIKE '%not it at all%'")"

# ---- the change ----
login ops "$PW1"
AT3=$AT
check_eq "the change" 200 "$(post_me /v1/me/password "$AT1" "current_password=$PW1" "new_password=$PW2")"
check_eq "answers how many other sessions ended (AT2, AT3 and the check login)" "True 3 3" "$(bodyjs 'd["password_changed"], d["sessions_revoked"], d["access_tokens_revoked"]')"
check_eq "the caller's own token still works" 200 "$(get_bearer /v1/jobs "$AT1")"
check_eq "and its refresh token" 200 "$(refresh "$RT1")"
check_eq "the other sessions' tokens are refused" "401 401" "$(get_bearer /v1/jobs "$AT2") $(get_bearer /v1/jobs "$AT3")"
check_eq "their refresh tokens too" 400 "$(refresh "$RT2")"
check_eq "the old password no longer logs in" 400 "$(post_form /v1/token grant_type=password username=ops "password=$PW1")"
check_eq "the new one does" 200 "$(post_form /v1/token grant_type=password username=ops "password=$PW2")"
check_eq "failed logins cleared" 0 "$(sql "SELECT failed_logins FROM principals WHERE id = 'ops'")"
check_eq "audit entry" "ops ok 3 other session(s) revoked with 3 access token(s)" "$(last_audit)"
check_eq "and the address" "127.0.0.1" "$(sql "SELECT address FROM audit_log WHERE action = 'me.password' ORDER BY id DESC LIMIT 1")"

# ---- lockout ----
login rd "$PW1"
RDT=$AT
for i in 1 2 3; do post_me /v1/me/password "$RDT" "current_password=wrong $i wrong" "new_password=$PW2" >/dev/null; done
check_eq "three wrong current passwords lock the account" t "$(sql "SELECT locked_until > now() FROM principals WHERE id = 'rd'")"
check_eq "then even the right one is refused" 403 "$(post_me /v1/me/password "$RDT" "current_password=$PW1" "new_password=$PW2")"
check_eq "as is a login" 400 "$(post_form /v1/token grant_type=password username=rd "password=$PW1")"
check_eq "the locked attempt is audited" "rd refused account locked" "$(last_audit)"

jc_done
