#!/usr/bin/env bash
# audit: the audit trail. Every jobcoord-admin command that writes leaves
# an entry (user@host, action, target, outcome, detail without secrets),
# refusals included once the command reached the database; HTTP logins
# (password and client credentials, failed ones too), refreshes,
# revocations and family revocations leave entries with the client's
# address; `audit list` and GET /v1/audit filter them (admins only over
# HTTP, malformed filters refused); UPDATE, DELETE and TRUNCATE of the
# table are refused in SQL; the janitor deletes entries past
# janitor.audit_retention_s.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup audit
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

TOK="python3 $JC_SOURCE_DIR/tests/lib/tokens.py"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PW='audit password 123'
ME="$(id -un)@$(hostname)"

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
# last ACTION: "actor_kind actor target outcome" of the newest entry of ACTION
last() { sql "SELECT actor_kind || ' ' || actor || ' ' || target || ' ' || outcome FROM audit_log WHERE action = '$1' ORDER BY id DESC LIMIT 1"; }
last_detail() { sql "SELECT detail FROM audit_log WHERE action = '$1' ORDER BY id DESC LIMIT 1"; }
count() { sql "SELECT count(*) FROM audit_log WHERE $1"; }

run db migrate
rc_is "db migrate" 0
check_eq "db migrate is recorded" "cli $ME  ok" "$(last db.migrate)"

# ---- the CLI ----
run user add ops --role reader
rc_is "user add" 0
check_eq "user add: actor, target, outcome" "cli $ME ops ok" "$(last user.add)"
check_eq "user add: the options" "--role=reader" "$(last_detail user.add)"
run user add ops --role reader
rc_is "user add of an existing id" 1
check_eq "the refusal is recorded" "cli $ME ops refused" "$(last user.add)"
check "with the reason" contains "$(last_detail user.add)" "exit 1:"
run user add 'bad id' --role nobody
check_eq "a refusal before the database leaves no entry" 2 "$(count "action = 'user.add'")"
printf '%s\n' "$PW" | "$ADMIN" user set-password ops >/dev/null
check_eq "set-password is recorded" "cli $ME ops ok" "$(last user.set-password)"
check "the password is not in the trail" test "$(count "detail LIKE '%audit password%' OR target LIKE '%audit password%'")" = 0
run user set ops --role admin
check_eq "user set" "cli $ME ops ok --role=admin" "$(last user.set) $(last_detail user.set)"
run user rotate-key ops --grace 5
check_eq "user rotate-key" "cli $ME ops ok --grace=5" "$(last user.rotate-key) $(last_detail user.rotate-key)"
run user unlock ops
check_eq "user unlock" "cli $ME ops ok" "$(last user.unlock)"
run user totp enable ops
check_eq "user totp enable" "cli $ME ops ok" "$(last user.totp.enable)"
run user totp disable ops
check_eq "user totp disable" "cli $ME ops ok" "$(last user.totp.disable)"
add_principal cli client
add_principal w1 worker
run user disable cli
check_eq "user disable" "cli $ME cli ok" "$(last user.disable)"
run user enable cli
check_eq "user enable" "cli $ME cli ok" "$(last user.enable)"
run user end-sessions cli
check_eq "user end-sessions" "cli $ME cli ok" "$(last user.end-sessions)"
run user disable nobody
rc_is "user disable of an unknown principal" 1
check_eq "its refusal is recorded" "cli $ME nobody refused" "$(last user.disable)"
run security rotate-signing-key
check_eq "security rotate-signing-key" "cli $ME  ok" "$(last security.rotate-signing-key)"
run security re-encrypt --client-id cli
check_eq "security re-encrypt" "cli $ME  ok --client-id=cli" "$(last security.re-encrypt) $(last_detail security.re-encrypt)"
sql "INSERT INTO workers (id, status, last_heartbeat_ts_ms) VALUES ('w1', 'online', 1)"
run worker drain w1
check_eq "worker drain" "cli $ME w1 ok" "$(last worker.drain)"
run worker undrain w1
check_eq "worker undrain" "cli $ME w1 ok" "$(last worker.undrain)"
run worker config w1 --set max_jobs=3 --set token=s3cret-value
rc_is "worker config" 0
check_eq "worker config keeps the keys, not the values" "cli $ME w1 ok --set=max_jobs --set=token" "$(last worker.config) $(last_detail worker.config)"
sql "INSERT INTO jobs (id, submitter, type, payload, attempt, state, timeout_ms)
     VALUES ('00000000-0000-4000-8000-0000000000a1', 'cli', 't', 'p', 1, 'pending', 60000)"
run job cancel 00000000-0000-4000-8000-0000000000a1 --reason 'not needed'
rc_is "job cancel" 0
check_eq "job cancel" "cli $ME 00000000-0000-4000-8000-0000000000a1 ok --reason=not needed" "$(last job.cancel) $(last_detail job.cancel)"
run job retry 00000000-0000-4000-8000-0000000000a1
check_eq "job retry" "cli $ME 00000000-0000-4000-8000-0000000000a1 ok" "$(last job.retry)"
run job retry 00000000-0000-4000-8000-0000000000a1
rc_is "job retry of a pending job" 1
check_eq "refused job retry" "cli $ME 00000000-0000-4000-8000-0000000000a1 refused" "$(last job.retry)"
run user delete w1 --force
check_eq "user delete" "cli $ME w1 ok --force" "$(last user.delete) $(last_detail user.delete)"
run user update ops --description 'the ops team'
check_eq "user update" "cli $ME ops ok --description=the ops team" "$(last user.update) $(last_detail user.update)"
run job delete 00000000-0000-4000-8000-0000000000a1
rc_is "job delete of a live job" 1
check_eq "job delete refused" "cli $ME 00000000-0000-4000-8000-0000000000a1 refused" "$(last job.delete)"
run job purge --state succeeded --before 2000-01-01T00:00:00Z --dry-run
check_eq "job purge --dry-run" "cli $ME  ok --state=succeeded --before=2000-01-01T00:00:00Z --dry-run" "$(last job.purge) $(last_detail job.purge)"
run command resend 00000000-0000-4000-8000-0000000000c1
check_eq "command resend of an unknown command" "cli $ME 00000000-0000-4000-8000-0000000000c1 refused" "$(last command.resend)"
add_principal w9 worker
sql "INSERT INTO workers (id, status, last_heartbeat_ts_ms) VALUES ('w9', 'offline', 1)"
run worker delete w9
rc_is "worker delete of an offline worker" 0
check_eq "worker delete" "cli $ME w9 ok" "$(last worker.delete)"
run user list
check_eq "views leave no entry" 0 "$(count "action LIKE 'user.list%' OR action LIKE 'user.show%'")"

# ---- HTTP ----
start_mock_kafka 1
start_coordinator --set http.listen=127.0.0.1:$PORT --set tokens.key_reload_ms=100

post_form /v1/token grant_type=password username=ops "password=wrong one" >/dev/null
check_eq "a failed password login" "principal ops ops refused" "$(last auth.login.password)"
check_eq "records why and the address" "wrong password|127.0.0.1" "$(sql "SELECT detail || '|' || address FROM audit_log WHERE action = 'auth.login.password' ORDER BY id DESC LIMIT 1")"
check "the password tried is not in the trail" test "$(count "detail LIKE '%wrong one%'")" = 0
post_form /v1/token grant_type=password username=ghost "password=x" >/dev/null
check_eq "a login of an unknown user" "principal ghost ghost refused" "$(last auth.login.password)"
login ops "$PW"
check_eq "a password login" "principal ops ops ok" "$(last auth.login.password)"
FAMILY=$(sql "SELECT family FROM refresh_tokens WHERE principal_id = 'ops' ORDER BY created_at DESC LIMIT 1")
check "it names the session" contains "$(last_detail auth.login.password)" "$FAMILY"
check "no token in the trail" test "$(count "detail LIKE '%$RT%' OR detail LIKE '%${AT:0:40}%'")" = 0
post_form /v1/token grant_type=refresh_token "refresh_token=$RT" >/dev/null
RT2=$(body refresh_token)
check_eq "a refresh" "principal ops ops ok" "$(last auth.refresh)"
post_form /v1/token grant_type=refresh_token "refresh_token=$RT" >/dev/null
check_eq "reuse of a rotated refresh token revokes the family" "principal ops ops ok" "$(last auth.family-revoked)"
check "naming it" contains "$(last_detail auth.family-revoked)" "$FAMILY"
post_form /v1/token grant_type=refresh_token "refresh_token=jcr_unknown" >/dev/null
check_eq "an unknown refresh token" "principal (unknown)  refused" "$(last auth.refresh)"
login ops "$PW"
post_form /v1/revoke "token=$RT" >/dev/null
check_eq "revoking a refresh token" "principal ops ops ok" "$(last auth.revoke)"
login ops "$PW"
ADMIN_AT=$AT
post_form /v1/revoke "token=$AT" >/dev/null
check_eq "revoking an access token" "principal ops ops ok" "$(last auth.revoke)"
check "names it" contains "$(last_detail auth.revoke)" "access token"
cc() { post_form /v1/token grant_type=client_credentials \
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    "client_assertion=$($TOK assertion --sub "$1" --kid "$(keyid_of cli)" --key "$2" --aud "$URL/v1/token")" >/dev/null; }
cc cli "$(key_of cli)"
CT=$(body access_token)
check_eq "a client credentials login" "principal cli cli ok" "$(last auth.login.client)"
cc cli "$(python3 -c 'import base64; print(base64.b64encode(b"x" * 32).decode())')"
check_eq "a failed client credentials login" "principal cli cli refused" "$(last auth.login.client)"

# ---- GET /v1/audit ----
login ops "$PW"
AT=$AT
check_eq "an admin reads the trail" 200 "$(get_bearer /v1/audit "$AT")"
check "it holds entries" python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); sys.exit(0 if len(d["entries"]) > 10 else 1)' "$T/body"
check_eq "filter by action" "$(count "action = 'user.add'") user.add" "$(get_bearer '/v1/audit?action=user.add' "$AT" >/dev/null; python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["entries"]; print(len(e), " ".join(sorted(set(x["action"] for x in e))))' "$T/body")"
check_eq "filter by target and outcome fields" "nobody refused" "$(get_bearer '/v1/audit?target=nobody' "$AT" >/dev/null; python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["entries"]; print(" ".join(x["target"] + " " + x["outcome"] for x in e))' "$T/body")"
get_bearer "/v1/audit?actor=$(python3 -c 'import urllib.parse,sys; print(urllib.parse.quote(sys.argv[1]))' "$ME")&action=user.set" "$AT" >/dev/null
check_eq "filter by actor" "1 cli" "$(python3 -c 'import json,sys; e=json.load(open(sys.argv[1]))["entries"]; print(len(e), e[0]["actor_kind"])' "$T/body")"
get_bearer "/v1/audit?since=$(date -u -d '+1 hour' +%Y-%m-%dT%H:%M:%SZ)" "$AT" >/dev/null
check_eq "since in the future: nothing" "0" "$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["entries"]))' "$T/body")"
# paging: 3 per page until next_cursor is null, every entry once
PAGES=$(python3 - "$URL" "$AT" <<'PY'
import json, sys, urllib.request
url, at = sys.argv[1], sys.argv[2]
seen, cursor, pages = [], None, 0
while True:
    q = "/v1/audit?limit=3" + ("&cursor=" + cursor if cursor else "")
    req = urllib.request.Request(url + q, headers={"Authorization": "Bearer " + at})
    d = json.load(urllib.request.urlopen(req))
    seen += [e["id"] for e in d["entries"]]
    pages += 1
    cursor = d["next_cursor"]
    if not cursor or pages > 1000:
        break
print("ok" if seen == sorted(set(seen), reverse=True) and len(seen) > 10 else "bad %r" % seen)
PY
)
check_eq "cursor paging: newest first, every entry once" ok "$PAGES"
check_eq "unknown action: 400" 400 "$(get_bearer '/v1/audit?action=user.fly' "$AT")"
check_eq "bad time: 400" 400 "$(get_bearer '/v1/audit?since=yesterday' "$AT")"
check_eq "oversized actor: 400" 400 "$(get_bearer "/v1/audit?actor=$(printf 'a%.0s' $(seq 300))" "$AT")"
check_eq "bad limit: 400" 400 "$(get_bearer '/v1/audit?limit=501' "$AT")"
check_eq "bad cursor: 400" 400 "$(get_bearer '/v1/audit?cursor=abc' "$AT")"
check_eq "unknown parameter: 400" 400 "$(get_bearer '/v1/audit?who=x' "$AT")"
check_eq "no token: 401" 401 "$(get_bearer /v1/audit x)"
add_principal rd reader
printf '%s\n' "$PW" | "$ADMIN" user set-password rd >/dev/null
login rd "$PW"
check_eq "a reader is refused" 403 "$(get_bearer /v1/audit "$AT")"
check_eq "a client is refused" 403 "$(get_bearer /v1/audit "$CT")"
add_principal w2 worker
post_form /v1/token grant_type=client_credentials \
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    "client_assertion=$($TOK assertion --sub w2 --kid "$(keyid_of w2)" --key "$(key_of w2)" --aud "$URL/v1/token")" >/dev/null
check_eq "a worker is refused" 403 "$(get_bearer /v1/audit "$(body access_token)")"

# ---- audit list ----
run audit list --action user.add
rc_is "audit list --action" 0
check_eq "every user.add entry" "$(count "action = 'user.add'")" "$(grep -c 'user.add' <<<"$OUT")"
run --json audit list --target nobody
check_eq "--json --target" "user.disable refused" "$(js 'd[0]["action"], d[0]["outcome"]')"
run --json audit list --actor ops --action auth.login.password --limit 1
check_eq "--actor --limit" "1 ok" "$(js 'len(d), d[0]["outcome"]')"
run --json audit list --since 3600
check "--since SECONDS" test "$(js 'len(d)')" -gt 10
run --json audit list --since 2999-01-01T00:00:00Z
check_eq "--since a time" 0 "$(js 'len(d)')"
run audit list --action user.fly
rc_is "an unknown action" 1
check "is named, with the list" contains "$ERR" "user.add"
run audit list --since 'not a time'
rc_is "a bad time" 1
run audit list --limit 0
rc_is "limit 0" 1
run audit list --actor "$(printf 'a%.0s' $(seq 300))"
rc_is "an oversized actor" 1
run audit list --bogus
rc_is "an unknown option" 100

# ---- protection ----
check "UPDATE is refused" not sql "UPDATE audit_log SET actor = 'someone else'"
check "DELETE is refused" not sql "DELETE FROM audit_log"
check "TRUNCATE is refused" not sql "TRUNCATE audit_log"
check_eq "nothing changed" 0 "$(count "actor = 'someone else'")"

# ---- retention by the janitor ----
N=$(count true)
sql "INSERT INTO audit_log (at, actor_kind, actor, action, outcome) VALUES
     (now() - interval '2 days', 'cli', 'old@host', 'user.add', 'ok'),
     (now() - interval '3 days', 'cli', 'old@host', 'user.add', 'ok')"
kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null
start_coordinator --set http.listen=127.0.0.1:$PORT --set janitor.audit_retention_s=86400
wait_for 60 "the janitor prunes old entries" sql_is 0 "SELECT count(*) FROM audit_log WHERE actor = 'old@host'"
check_eq "entries past retention are deleted" 0 "$(count "actor = 'old@host'")"
check "the recent ones stay" test "$(count true)" -ge "$N"
check "the janitor says so" grep -q "pruned 2 audit entries" "$T/coordinator.log"

jc_done
