#!/usr/bin/env bash
# tools_worker: jobcoord-worker and jobcoord-submit end to end, against a
# standalone mock Kafka and the real coordinator. The worker maps job types
# to /bin/echo, /bin/sh -c (a fixed script, the payload as "$1") and
# /bin/sleep. Checked: outcomes and exit codes of submit --wait, stdout and
# stderr lines as log events, exit statuses as failures (retryable or not),
# payload limits, payloads with shell metacharacters passed literally, a type
# outside the allow-list never assigned, cancel and timeout stopping the
# program (gone, not a zombie), --file submissions, wait timeouts, and
# SIGTERM handing back a running job.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup tools_worker

WORKER=$BIN/worker-sdk/tools/jobcoord-worker
SUBMIT=$BIN/worker-sdk/tools/jobcoord-submit
MARK=$T/marker # no job may ever create it

# job_sql ID COLUMNS: columns of a job, '|'-separated.
job_sql() { sql "SELECT $2 FROM jobs WHERE id = '$1'"; }
# logs ID: the job's log events as stream:text, in order.
logs() { sql "SELECT stream || ':' || text FROM job_events WHERE job_id = '$1' AND kind = 'log' ORDER BY id"; }
# js JSON EXPR: a Python expression over the JSON object d.
js() { python3 -c "import json, sys; d = json.loads(sys.argv[1]); print($2)" "$1"; }
# running_sleeps ARG: pids of /bin/sleep ARG processes.
running_sleeps() { pgrep -f "^/bin/sleep $1\$"; }
no_sleep() { ! running_sleeps "$1" >/dev/null; }
# submit ARGS...: jobcoord-submit as alice; stdout in $OUT, status in $RC.
submit() {
    OUT=$("$SUBMIT" --config "$T/alice.conf" "$@" 2>>"$T/submit.log")
    RC=$?
}

# --- command lines, no coordinator needed ------------------------------------
for tool in "$WORKER" "$SUBMIT"; do
    name=$(basename "$tool")
    "$tool" --help >"$T/help.out" 2>&1
    check_eq "$name --help exits 0" 0 $?
    check "$name --help documents the exit codes" grep -q "Exit codes" "$T/help.out"
    "$tool" --version >/dev/null 2>&1
    check_eq "$name --version exits 0" 0 $?
    "$tool" --bogus >/dev/null 2>&1
    check_eq "$name with an unknown option exits 100" 100 $?
    "$tool" >/dev/null 2>&1
    check_eq "$name without --config exits 100" 100 $?
done
head -c 262145 /dev/zero >"$T/big.payload"
for bad in "--type t --payload a --arg b" "--type t --reason r" "--file x --idempotency-key k" \
    "--type t --priority abc" "--type t --priority 5000" "--type t --wait-timeout-ms 5" \
    "--cancel x --wait" "--type t --file x" "--type t --payload-file $T/big.payload"; do
    # shellcheck disable=SC2086
    "$SUBMIT" --config "$T/none.conf" $bad >/dev/null 2>&1
    check_eq "jobcoord-submit $bad: exit 100" 100 $?
done
"$SUBMIT" --config "$T/none.conf" --type t >/dev/null 2>&1
check_eq "jobcoord-submit with an unreadable configuration exits 111" 111 $?
"$WORKER" --config "$JC_SOURCE_DIR/config/jobcoord-worker.conf.example" --check >"$T/check.out" 2>&1
check_eq "the example configuration passes --check" 0 $?
check "--check lists the job types" grep -q "^exit: /bin/sh \[-c\] \[exit \"\$1\"\] \[exit\]" "$T/check.out"
printf 'principal = x\ncapabilities = echo\njob.echo.command = /bin/echo\n' >"$T/bad1.conf"
err=$("$WORKER" --config "$T/bad1.conf" --check 2>&1)
check_eq "a capabilities key is refused (exit 100)" 100 $?
check "... naming the line" grep -q "bad1.conf:2:" <<<"$err"
printf 'job.echo.command = /bin/echo\njob.echo.colour = red\n' >"$T/bad2.conf"
err=$("$WORKER" --config "$T/bad2.conf" --check 2>&1)
check_eq "an unknown job key is refused (exit 100)" 100 $?
check "... naming it" grep -q "job.echo.colour" <<<"$err"
printf 'job.x.command = /nonexistent/prog\n' >"$T/bad3.conf"
"$WORKER" --config "$T/bad3.conf" --check >/dev/null 2>&1
check_eq "a command that is not an executable file is refused (exit 100)" 100 $?
"$WORKER" --config "$T/nonexistent.conf" >/dev/null 2>&1
check_eq "an unreadable configuration file exits 111" 111 $?

# --- coordinator, principals, the worker ------------------------------------
start_mock_kafka 4
"$ADMIN" db migrate >/dev/null || exit 1
start_coordinator --set jobs.retry_backoff_ms=100 --set jobs.retry_backoff_max_ms=200 \
    --set janitor.interval_ms=200
add_principal tw1 worker
add_principal alice client
key_of tw1 >"$T/tw1.key"
key_of alice >"$T/alice.key"
cat >"$T/alice.conf" <<EOF
principal = alice
key.id = $(keyid_of alice)
key.file = $T/alice.key
bootstrap.file = $T/kafka.bootstrap
EOF
cat >"$T/worker.conf" <<EOF
principal = tw1
key.id = $(keyid_of tw1)
key.file = $T/tw1.key
bootstrap.file = $T/kafka.bootstrap
slots = 4
heartbeat.interval.ms = 300
key.reload.ms = 0

job.echo.command = /bin/echo
job.sh-exit.command = /bin/sh
job.sh-exit.args = -c,echo "exiting with \$1"; echo "to stderr" >&2; exit "\$1",sh-exit
job.sh-exit.max_args = 1
job.sh-exit.retry_exit_codes = 75
job.sleep.command = /bin/sleep
job.sleep.max_args = 1
job.sleep.kill_grace_ms = 1000
job.nap.command = /bin/sleep
job.nap.timeout_ms = 400
EOF
jc_bg "$T/worker.log" "$WORKER" --config "$T/worker.conf" --grace-ms 1500
WPID=$JC_LAST_PID
wait_for 30 "worker tw1 online" sql_is online "SELECT status FROM workers WHERE id = 'tw1'"
check_eq "the allow-list is the worker's capabilities" "echo nap sh-exit sleep" \
    "$(sql "SELECT string_agg(c, ' ' ORDER BY c) FROM workers, unnest(capabilities) c WHERE id = 'tw1'")"

# --- success, result, stdout as log events -----------------------------------
submit --type echo --arg hello --arg world --wait --wait-timeout-ms 30000 --json
check_eq "echo: submit --wait exits 0" 0 "$RC"
ID=$(js "$OUT" "d['id']")
check_eq "echo: succeeded" succeeded "$(js "$OUT" "d['state']")"
check_eq "echo: the result is stdout's tail" "'hello world\\n'" "$(js "$OUT" "repr(d['result'])")"
check_eq "echo: state and result in PostgreSQL" "succeeded|hello world" \
    "$(job_sql "$ID" "state || '|' || rtrim(convert_from(result, 'UTF8'), E'\\n')")"
wait_for 10 "echo's log event" sql_is 1 "SELECT count(*) FROM job_events WHERE job_id = '$ID' AND kind = 'log'"
check_eq "echo: its output line as a stdout log event" "stdout:hello world" "$(logs "$ID")"

submit --type echo --payload 'plain text' --wait --wait-timeout-ms 30000
check_eq "text output: exit 0" 0 "$RC"
check "text output: state line" grep -q "^state   succeeded$" <<<"$OUT"
check "text output: result line, escaped" grep -qF 'result  plain text\n' <<<"$OUT"

# --- shell metacharacters are data --------------------------------------------
rm -f "$MARK"
submit --type echo --payload "; touch $MARK" --wait --wait-timeout-ms 30000 --json
check_eq "metacharacters: echo succeeded" succeeded "$(js "$OUT" "d['state']")"
check_eq "metacharacters: printed literally" "; touch $MARK" "$(js "$OUT" "d['result'].rstrip()")"
submit --type echo --arg "\$(touch $MARK)" --arg "\`touch $MARK\`" --arg "|| touch $MARK" --wait \
    --wait-timeout-ms 30000 --json
check_eq "substitutions printed literally" "\$(touch $MARK) \`touch $MARK\` || touch $MARK" \
    "$(js "$OUT" "d['result'].rstrip()")"
submit --type sh-exit --payload "0; touch $MARK" --wait --wait-timeout-ms 30000 --json
check_eq "a fixed sh -c script gets the payload as \$1, not as code" failed "$(js "$OUT" "d['state']")"
check "no job ran a shell command from a payload" [ ! -e "$MARK" ]

# --- failures ------------------------------------------------------------------
submit --type sh-exit --payload 3 --max-attempts 3 --wait --wait-timeout-ms 30000 --json
check_eq "exit 3: submit --wait exits 1" 1 "$RC"
ID=$(js "$OUT" "d['id']")
check_eq "exit 3: failed with the status as error" "failed|exit status 3" \
    "$(js "$OUT" "d['state'] + '|' + d['error']")"
check_eq "exit 3: not retried (one attempt of 3)" "failed|1|exit status 3" \
    "$(job_sql "$ID" "state || '|' || attempt || '|' || error")"
wait_for 10 "exit 3's log events" sql_is 2 "SELECT count(*) FROM job_events WHERE job_id = '$ID' AND kind = 'log'"
check_eq "stdout and stderr lines as log events" "stdout:exiting with 3 stderr:to stderr" \
    "$(logs "$ID" | tr '\n' ' ' | sed 's/ $//')"

submit --type sh-exit --payload 75 --max-attempts 2 --wait --wait-timeout-ms 30000 --json
ID=$(js "$OUT" "d['id']")
check_eq "exit 75 (retry_exit_codes): failed after both attempts" "failed|2|exit status 75" \
    "$(job_sql "$ID" "state || '|' || attempt || '|' || error")"

submit --type sleep --arg 1 --arg 2 --max-attempts 3 --wait --wait-timeout-ms 30000 --json
ID=$(js "$OUT" "d['id']")
check_eq "too many payload arguments: failed, not retried" "failed|1|payload: more than 1 argument" \
    "$(job_sql "$ID" "state || '|' || attempt || '|' || error")"
submit --type echo --arg -n --arg x --wait --wait-timeout-ms 30000 --json
check_eq "a payload option is refused" "failed|payload: argument 1 starts with '-'" \
    "$(js "$OUT" "d['state'] + '|' + d['error'].split(' (')[0]")"

submit --type nap --arg 30 --max-attempts 1 --wait --wait-timeout-ms 30000 --json
check_eq "timeout_ms: failed, timed out" "failed|timed out after 400 ms" \
    "$(js "$OUT" "d['state'] + '|' + d['error']")"
check "timeout_ms: the program is gone" wait_for 5 "sleep 30 gone" no_sleep 30

# --- a type outside the allow-list never runs -----------------------------------
submit --type forbidden --payload "touch $MARK"
check_eq "forbidden type: submitted (exit 0)" 0 "$RC"
FID=$OUT
wait_for 10 "the forbidden job recorded" sql_is pending "SELECT state FROM jobs WHERE id = '$FID'"
sleep 2
check_eq "forbidden type: still pending, never assigned" "pending|0|" \
    "$(job_sql "$FID" "state || '|' || attempt || '|' || coalesce(worker_id, '')")"
check "forbidden type: nothing ran" [ ! -e "$MARK" ]

# --- cancel a running job ---------------------------------------------------------
"$SUBMIT" --config "$T/alice.conf" --type sleep --arg 3127 --wait --wait-timeout-ms 60000 --json \
    >"$T/cancel.out" 2>>"$T/submit.log" &
SPID=$!
wait_for 20 "sleep 3127 running" running_sleeps 3127
CID=$(sql "SELECT id FROM jobs WHERE type = 'sleep' AND payload = convert_to('3127', 'UTF8') || '\\x00'::bytea")
wait_for 10 "sleep 3127 job running" sql_is running "SELECT state FROM jobs WHERE id = '$CID'"
check_eq "the job runs on tw1" "running|tw1" "$(job_sql "$CID" "state || '|' || worker_id")"
submit --cancel "$CID" --reason "test cancel"
check_eq "--cancel exits 0" 0 "$RC"
wait_for 20 "sleep 3127 canceled" sql_is canceled "SELECT state FROM jobs WHERE id = '$CID'"
check_eq "cancel: canceled" canceled "$(job_sql "$CID" state)"
check "cancel: the program is gone" wait_for 5 "sleep 3127 gone" no_sleep 3127
wait "$SPID"
check_eq "cancel: the waiting submit exits 1" 1 $?
check_eq "cancel: the waiting submit saw canceled" canceled "$(js "$(cat "$T/cancel.out")" "d['state']")"

# --- wait timeout ------------------------------------------------------------------
submit --type sleep --arg 3128 --wait --wait-timeout-ms 300 --json
check_eq "--wait-timeout-ms: exits 2" 2 "$RC"
check_eq "--wait-timeout-ms: timed_out" True "$(js "$OUT" "d['timed_out']")"
TID=$(js "$OUT" "d['id']")
submit --cancel "$TID"

# --- many jobs from a file -----------------------------------------------------------
printf '# a comment\necho\tfrom a file\n\nsh-exit\t0\n' >"$T/jobs.tsv"
submit --file "$T/jobs.tsv"
check_eq "--file: exit 0" 0 "$RC"
check_eq "--file: one id per job" 2 "$(grep -cE '^[0-9a-f-]{36}$' <<<"$OUT")"
OUT=$(printf 'echo\tline one\nsh-exit\t5\n' | "$SUBMIT" --config "$T/alice.conf" --file - --wait \
    --wait-timeout-ms 30000 --json 2>>"$T/submit.log")
check_eq "--file - --wait: exit 1 (one job failed)" 1 $?
check_eq "--file - --wait: both outcomes" "succeeded failed" \
    "$(grep '"state"' <<<"$OUT" | python3 -c 'import json,sys; print(" ".join(json.loads(l)["state"] for l in sys.stdin))')"

# --- SIGHUP: the rotated key is read from key.file at once (key.reload.ms = 0:
#     the SDK does not look by itself) ------------------------------------------------
ROT=$("$ADMIN" --json user rotate-key tw1 --grace 600)
NEW_ID=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key_id"])' <<<"$ROT")
NEW_KEY=$(python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])' <<<"$ROT")
printf '%s %s\n' "$NEW_ID" "$NEW_KEY" >"$T/tw1.key"
kill -HUP "$WPID"
wait_for 10 "the SIGHUP line" grep -q "SIGHUP: key file read again" "$T/worker.log"
check "SIGHUP: the worker read the key file again" grep -q "SIGHUP: key file read again" "$T/worker.log"
check "SIGHUP: the worker is still running" kill -0 "$WPID"
wait_for 20 "tw1 signs with its new key" sql_is "$NEW_ID" "SELECT reply_key_id FROM principals WHERE id = 'tw1'"
check_eq "SIGHUP: its messages are signed with the new key (the coordinator's reply key)" "$NEW_ID" \
    "$(sql "SELECT reply_key_id FROM principals WHERE id = 'tw1'")"
submit --type echo --arg after-the-rotation --wait --wait-timeout-ms 30000
check_eq "SIGHUP: a job runs on the new key (assign verified, events accepted)" 0 "$RC"
echo "not a key" >"$T/tw1.key"
kill -HUP "$WPID"
wait_for 10 "the refused reload" grep -q "SIGHUP: cannot read the key file" "$T/worker.log"
check "SIGHUP with a damaged key file: the worker says so" \
    grep -q "SIGHUP: cannot read the key file: .*(the key in use stays)" "$T/worker.log"
submit --type echo --arg key-kept --wait --wait-timeout-ms 30000
check_eq "... and keeps working on the key it holds" 0 "$RC"
printf '%s %s\n' "$NEW_ID" "$NEW_KEY" >"$T/tw1.key"

# --- no zombies, then SIGTERM hands a running job back ---------------------------------
check_eq "no zombie children of the worker" "" "$(ps -o stat= --ppid "$WPID" | grep Z)"
wait_for 10 "sleep 3128 gone" no_sleep 3128
submit --type sleep --arg 3129 --max-attempts 3
HID=$OUT
wait_for 20 "sleep 3129 running" running_sleeps 3129
kill -TERM "$WPID"
t0=$SECONDS
wait "$WPID"
check_eq "SIGTERM: the worker exits 0" 0 $?
check "SIGTERM: within the grace period, kill_grace_ms and the flush" [ $((SECONDS - t0)) -le 10 ]
check "SIGTERM: its program is gone" no_sleep 3129
wait_for 20 "the job handed back" sql_is pending "SELECT state FROM jobs WHERE id = '$HID'"
check_eq "SIGTERM: the running job is handed back for another try" "pending|1" \
    "$(job_sql "$HID" "state || '|' || attempt")"
check "the worker logged its stop" grep -q "stopping" "$T/worker.log"
check "no job ran a shell command from a payload (end)" [ ! -e "$MARK" ]

jc_done
