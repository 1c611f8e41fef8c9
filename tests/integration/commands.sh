#!/usr/bin/env bash
# commands.sh - `jobcoord-admin command list|show|resend` and GET
# /v1/commands[/{id}] against a real coordinator and mock Kafka. A drain
# the worker never acknowledges fails after outbox.max_tries sends; it is
# listed and shown (CLI and HTTP), sent again by `command resend` as a new
# row that the relay really sends; a resend is refused for what is not
# failed, for assigns and job updates, and for a command that no longer
# says what is wanted (a drain after an undrain, an old config, a cancel of
# a job no longer canceling). Bad arguments and the roles that may not read
# the outbox (client, worker, disabled reader, no token) are refused.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup commands
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"
. "$JC_SOURCE_DIR/tests/lib/httplib.sh"

PORT=$(free_port)
URL=http://127.0.0.1:$PORT
ADMIN_PASSWORD="commands-test-$$-password"
start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || { echo "migrate failed"; exit 1; }
add_principal w1 worker
add_principal c1 client
add_principal r1 reader
add_principal r2 reader
JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$ADMIN_PASSWORD start_coordinator \
    --set http.listen=127.0.0.1:$PORT --set outbox.resend_ms=100 --set outbox.max_tries=2 \
    --set janitor.worker_offline_after_s=3600

produce_as w1 >/dev/null
wait_for 60 "w1 online" sql_is online "SELECT status FROM workers WHERE id = 'w1'" || exit 1

# --- a drain w1 never acknowledges fails -------------------------------------------
run --json worker drain w1
D1=$(js 'd["command_id"]')
wait_for 60 "the drain failed" sql_is failed "SELECT status FROM commands WHERE id = '$D1'" || exit 1

# --- command list / show ------------------------------------------------------------
run command list --worker w1 --status failed
rc_is "command list --worker --status" 0
check "list shows the failed drain" grep -q "^$D1 *drain *w1 " <<<"$OUT"
run --json command list --kind drain --limit 1
check_eq "list --json --kind --limit" "$D1 drain failed 2" "$(js 'd[0]["id"], d[0]["kind"], d[0]["status"], d[0]["tries"]')"
run --json command list --status acked
check_eq "list --status acked: none" "0" "$(js 'len(d)')"
run command show "$D1"
rc_is "command show" 0
check "show has the error" contains "$OUT" "not acknowledged"
run --json command show "$D1"
check_eq "show --json" "$D1 w1 failed None" "$(js 'd["id"], d["recipient"], d["status"], d["resent_from"]')"
for bad in "--status lost" "--kind reboot" "--limit 0" "--limit 10001" "--limit x" "--worker bad/id"; do
    # shellcheck disable=SC2086
    run command list $bad; rc_is "command list $bad" 1
done
run command list --status; rc_is "command list --status without a value" 100
run command show not-a-uuid; rc_is "command show of a non-UUID" 1
run command show 00000000-0000-4000-8000-0000000000ff; rc_is "command show of an unknown id" 1
run command show; rc_is "command show without an id" 100

# --- resend ---------------------------------------------------------------------------
run command resend "$D1"
rc_is "resend of the failed drain" 0
D2=$(sql "SELECT id FROM commands WHERE resent_from = '$D1'")
check "a new row copies it" test -n "$D2"
check "the output names the new command" contains "$OUT" "queued drain command $D2 for w1 (a copy of failed command $D1)"
wait_for 30 "the relay sent the copy" sql_is t "SELECT tries > 0 FROM commands WHERE id = '$D2'" || exit 1
check_eq "the copy: same kind and recipient, new id" "drain w1" "$(sql "SELECT kind || ' ' || recipient FROM commands WHERE id = '$D2'")"
check_eq "the original stays failed" failed "$(sql "SELECT status FROM commands WHERE id = '$D1'")"
run --json command show "$D1"
check_eq "show: resent_as names the copy" "$D2" "$(js 'd["resent_as"]')"
wait_for 60 "the copy failed too" sql_is failed "SELECT status FROM commands WHERE id = '$D2'" || exit 1

# refused: acked, assign, job update, unknown, bad id

J=00000000-0000-4000-8000-000000000001
sql "INSERT INTO jobs (id, submitter, type, payload, max_attempts, attempt, state, timeout_ms, worker_id, lease_expires_at)
     VALUES ('$J', 'c1', 't', 'p', 3, 1, 'canceling', 60000, 'w1', now() + interval '1 h')"
sql "INSERT INTO commands (id, kind, recipient, job_id, attempt, status, error) VALUES
  ('00000000-0000-4000-8000-0000000000a1', 'drain', 'w1', NULL, NULL, 'acked', NULL),
  ('00000000-0000-4000-8000-0000000000a2', 'assign', 'w1', '$J', 1, 'failed', 'taken back'),
  ('00000000-0000-4000-8000-0000000000a3', 'job.update', 'c1', '$J', 1, 'failed', 'x'),
  ('00000000-0000-4000-8000-0000000000a4', 'cancel', 'w1', '$J', 1, 'failed', 'not acknowledged'),
  ('00000000-0000-4000-8000-0000000000a5', 'config', 'w1', NULL, NULL, 'failed', 'not acknowledged')"
# not due for a day: the relay leaves them as they are
sql "INSERT INTO commands (id, kind, recipient, status, next_send_at) VALUES
  ('00000000-0000-4000-8000-0000000000a6', 'drain', 'w1', 'sent', now() + interval '1 day'),
  ('00000000-0000-4000-8000-0000000000a7', 'drain', 'w1', 'pending', now() + interval '1 day')"
sql "UPDATE commands SET config_version = 7 WHERE id = '00000000-0000-4000-8000-0000000000a5'"
COUNT=$(sql "SELECT count(*) FROM commands")
run command resend 00000000-0000-4000-8000-0000000000a1; rc_is "resend of an acked command" 1
check "the refusal says it was acknowledged" contains "$ERR" "the worker acknowledged it"
for c in a6:sent a7:pending; do
    run command resend "00000000-0000-4000-8000-0000000000${c%:*}"; rc_is "resend of a ${c#*:} command" 1
    check "the refusal says the relay is still sending it" contains "$ERR" "is ${c#*:}: only a failed command is sent again (the relay is still sending it)"
done
run command resend 00000000-0000-4000-8000-0000000000a2; rc_is "resend of an assign" 1
check "the refusal explains assigns" contains "$ERR" "an assign is never sent again"
run command resend 00000000-0000-4000-8000-0000000000a3; rc_is "resend of a job update" 1
run command resend 00000000-0000-4000-8000-0000000000a5; rc_is "resend of an old config" 1
check "the refusal names newer settings" contains "$ERR" "newer settings were sent since"
run command resend 00000000-0000-4000-8000-0000000000ff; rc_is "resend of an unknown command" 1
run command resend nope; rc_is "resend of a non-UUID" 1
"$ADMIN" worker undrain w1 >/dev/null
run command resend "$D1"; rc_is "resend of a drain after an undrain" 1
check "the refusal names the drain flag" contains "$ERR" "drain flag changed"
check_eq "the refused resends added nothing" "$((COUNT + 1))" "$(sql "SELECT count(*) FROM commands")"
# the cancel: sent again while its job is canceling on w1, refused once it ended
run --json command resend 00000000-0000-4000-8000-0000000000a4
rc_is "resend of a failed cancel of a canceling job" 0
check_eq "json: the copy's kind and origin" "cancel 00000000-0000-4000-8000-0000000000a4" "$(js 'd["kind"], d["resent_from"]')"
check_eq "the copy carries the job and attempt" "$J 1" "$(sql "SELECT job_id || ' ' || attempt FROM commands WHERE resent_from = '00000000-0000-4000-8000-0000000000a4'")"
sql "UPDATE commands SET status = 'failed' WHERE resent_from = '00000000-0000-4000-8000-0000000000a4'"
sql "UPDATE jobs SET state = 'canceled', finished_at = now() WHERE id = '$J'"
run command resend 00000000-0000-4000-8000-0000000000a4; rc_is "resend of a cancel whose job ended" 1
check "the refusal says so" contains "$ERR" "no longer canceling"

audit() { sql "SELECT string_agg(target || ' ' || outcome || ' ' || detail, ' | ' ORDER BY id) FROM (SELECT * FROM audit_log WHERE action = '$1' ORDER BY id DESC LIMIT ${2:-1}) e"; }
check_eq "audit: the resend of the drain" "ok" "$(sql "SELECT outcome FROM audit_log WHERE action = 'command.resend' AND target = '$D1' ORDER BY id LIMIT 1")"
check_eq "audit: the last resend, refused" "00000000-0000-4000-8000-0000000000a4 refused exit 1: command 00000000-0000-4000-8000-0000000000a4 is not sent again: its job is no longer canceling on that worker and attempt; nothing sent" "$(audit command.resend)"

# --- HTTP -------------------------------------------------------------------------------
R=$(token_cc r1)
R2=$(token_cc r2)
A=$(token_password admin "$ADMIN_PASSWORD")
C=$(token_cc c1)
W=$(token_cc w1)
check "tokens for the reader, the admin, the client and the worker" test -n "$R" -a -n "$A" -a -n "$C" -a -n "$W"
check_eq "GET /v1/commands as a reader" 200 "$(get "$R" '/v1/commands?worker=w1&status=failed&kind=drain')"
check_eq "the failed drains, newest first" "[\"$D2\",\"$D1\"]" "$(body '[.commands[].id]')"
check_eq "a row's fields" '["drain","failed","w1",null]' "$(body "[.commands[1].kind, .commands[1].status, .commands[1].recipient, .commands[1].resent_from]")"
check_eq "resent_from of the copy" "\"$D1\"" "$(body '.commands[0].resent_from')"
check_eq "GET /v1/commands?limit=1 as the admin" 200 "$(get "$A" '/v1/commands?limit=1')"
check_eq "limit=1: one row" 1 "$(body '.commands | length')"
check_eq "GET /v1/commands/{id}" 200 "$(get "$R" "/v1/commands/00000000-0000-4000-8000-0000000000a5")"
check_eq "the detail carries the config version" '["config",7]' "$(body '[.kind, .config_version]')"
for q in 'status=lost' 'kind=reboot' 'limit=0' 'limit=501' 'limit=x' 'worker=bad%2Fid' 'bogus=1'; do
    check_eq "GET /v1/commands?$q: 400" 400 "$(get "$R" "/v1/commands?$q")"
done
check_eq "GET /v1/commands/not-a-uuid: 400" 400 "$(get "$R" /v1/commands/not-a-uuid)"
check_eq "GET /v1/commands/{unknown}: 404" 404 "$(get "$R" /v1/commands/00000000-0000-4000-8000-0000000000ff)"
check_eq "a client: 403" 403 "$(get "$C" /v1/commands)"
check_eq "a client, one command: 403" 403 "$(get "$C" "/v1/commands/$D1")"
check_eq "a worker: 403" 403 "$(get "$W" /v1/commands)"
check_eq "no token: 401" 401 "$(get "" /v1/commands)"
"$ADMIN" user disable r2 >/dev/null
check_eq "a disabled reader: 401" 401 "$(get "$R2" /v1/commands)"
check_eq "a reader's token scoped to jobs:read only: 403" 403 "$(get "$(python3 "$JC_SOURCE_DIR/tests/lib/tokens.py" assertion --sub r1 --kid "$(keyid_of r1)" --key "$(key_of r1)" --aud "$URL/v1/token" | xargs -I{} curl -s --data-urlencode grant_type=client_credentials --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer --data-urlencode client_assertion={} --data-urlencode scope=jobs:read "$URL/v1/token" | jq -r .access_token)" /v1/commands)"

jc_done
