#!/usr/bin/env bash
# protocol_v2: protocol version 2 end to end (PROTOCOL.md sections 7.7, 14
# and 15.5), with the real coordinator, PostgreSQL, a mock Kafka,
# jobcoord-submit and scripted workers. Checked:
# - a client of version 2 (jobcoord-submit's default) that cancels a running
#   job whose worker then fails with text X gets a version 2 job.update with
#   reason = its cancel reason and err = X, and jobcoord-submit prints both;
# - a client configured with protocol.version = 1 gets version 1, with the
#   cancel reason in err and no reason key;
# - the coordinator answers each principal in the version it last used: a
#   worker's commands follow its switch to version 2 and back to version 1;
#   a delayed message of the old version does not switch it back;
# - hand-built records of version 2 (tests/lib/wire.py) with an unknown key,
#   a forged MAC or an unknown key id, and of version 3, are rejected with
#   schema, bad_signature, unknown_key and bad_version.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup protocol_v2

SUBMIT=$BIN/worker-sdk/tools/jobcoord-submit

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal w1 worker
add_principal c2 client
add_principal c1 client
start_coordinator --set janitor.interval_ms=200 --set outbox.resend_ms=200 \
    --set janitor.worker_offline_after_s=600 --set jobs.assign_timeout_ms=60000

# conf ID [EXTRA]: writes $T/ID.conf for ID's key, with an extra line.
conf() {
    key_of "$1" >"$T/$1.key"
    printf 'principal = %s\nkey.id = %s\nkey.file = %s\nbootstrap.file = %s\n%s\n' "$1" \
        "$(keyid_of "$1")" "$T/$1.key" "$T/kafka.bootstrap" "${2:-}" >"$T/$1.conf"
}
conf c2
conf c1 "protocol.version = 1"
uuid() { cat /proc/sys/kernel/random/uuid; }
event() { local j=$1 a=$2 k=$3; shift 3; produce_as w1 --topic job-events --type job.event --job-id "$j" --attempt "$a" --kind "$k" "$@" >/dev/null; }
state() { sql "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
wait_state() { wait_for "${3:-30}" "job $1 $2" sql_is "$2" "SELECT state || ' ' || attempt || ' ' || coalesce(worker_id, '-') FROM jobs WHERE id = '$1'"; }
version_of() { sql "SELECT proto_version FROM principals WHERE id = '$1'"; }
js() { python3 -c "import json, sys; d = json.loads(sys.argv[1]); print($2)" "$1"; }
# snapshot TOPIC N: reads the N records TOPIC holds, decoded (jctest-kafka
# consume --decode), into $T/TOPIC.dec; decoded TOPIC prints them.
snapshot() {
    "$BIN/tests/jctest-kafka" consume --brokers "$JOBCOORD_KAFKA_BROKERS" --topic "$1" \
        --timeout-ms 60000 --max "$2" --decode >"$T/$1.dec" 2>/dev/null
    check_eq "all $2 records of $1 read" "$2" "$(grep -c . "$T/$1.dec")"
}
decoded() { cat "$T/$1.dec"; }
# outbox_idle: waits until every job update was delivered (status done).
outbox_idle() {
    wait_for 30 "job updates delivered" sql_is 0 \
        "SELECT count(*) FROM commands WHERE kind LIKE 'job.%' AND status = 'pending'" || exit 1
}
# field LINE NAME: the value of NAME=... in a decoded line.
field() { tr '\t' '\n' <<<"$1" | sed -n "s/^$2=//p" | head -1; }
# updates_of JOB [STATE]: JOB's decoded job updates (of STATE), first one first.
updates_of() { decoded job-updates | grep $'\tjob='"$1" | grep "${2:+$'\t'state=$2$'\t'}"; }
# commands_of JOB KIND: the decoded KIND commands of JOB, first one first.
commands_of() { decoded commands | grep $'\tkind='"$2"$'\tjob='"$1"; }

produce_as w1 --job-type t1 >/dev/null # w1 online, version 1 so far
wait_for 20 "w1 online" sql_is online "SELECT status FROM workers WHERE id = 'w1'" || exit 1
check_eq "a principal starts at version 1" 1 "$(version_of w1)"

# cancel_flow AS JOB REASON ERRTEXT: AS submits JOB (type t1) and waits for
# it in the background; w1 starts it; AS cancels it with REASON; w1 answers
# with a failed event carrying ERRTEXT. The wait's JSON is in $T/AS.out.
cancel_flow() {
    local as=$1 j=$2 reason=$3 text=$4
    jc_bg "$T/$as.wait.log" sh -c "'$SUBMIT' --config '$T/$as.conf' --type t1 --payload p --job-id $j --wait --wait-timeout-ms 60000 --json >'$T/$as.out'"
    wait_state "$j" "assigned 1 w1" || exit 1
    event "$j" 1 started --proto-version 2
    wait_state "$j" "running 1 w1" || exit 1
    "$SUBMIT" --config "$T/$as.conf" --cancel "$j" --reason "$reason" >>"$T/$as.cancel.log" 2>&1
    wait_state "$j" "canceling 1 w1" || exit 1
    event "$j" 1 failed --text "$text" --proto-version 2
    wait_state "$j" "canceled 1 w1" || exit 1
    wait_for 30 "$as's wait returned" sh -c "[ -s '$T/$as.out' ]" || exit 1
}

# --- a client of version 2: reason and err apart ---------------------------------
J2=$(uuid)
cancel_flow c2 "$J2" "superseded by order 17" "ffmpeg: killed by signal 15"
OUT=$(cat "$T/c2.out")
check_eq "v2 client: final state canceled" canceled "$(js "$OUT" "d['state']")"
check_eq "v2 client: reason is the cancel reason" "superseded by order 17" "$(js "$OUT" "d['reason']")"
check_eq "v2 client: err is the worker's last error" "ffmpeg: killed by signal 15" "$(js "$OUT" "d['error']")"
check_eq "v2 client recorded as version 2" 2 "$(version_of c2)"
outbox_idle
snapshot job-updates "$(sql "SELECT count(*) FROM commands WHERE kind LIKE 'job.%' AND status = 'done'")"
U=$(updates_of "$J2" canceled | head -1)
check_eq "the canceled update is a version 2 record, with reason and err apart" \
    "2|superseded by order 17|ffmpeg: killed by signal 15" \
    "$(field "$U" v)|$(field "$U" reason)|$(field "$U" err)"
U=$(updates_of "$J2" canceling | head -1)
check_eq "the cancel's answer (canceling) carries the reason, and no err (none yet)" \
    "2|superseded by order 17|" "$(field "$U" v)|$(field "$U" reason)|$(field "$U" err)"
"$SUBMIT" --config "$T/c2.conf" --type t1 --payload p --job-id "$J2" --wait --wait-timeout-ms 60000 >"$T/c2.text" 2>>"$T/c2.wait.log"
check "text output prints the reason" grep -q '^reason  superseded by order 17$' "$T/c2.text"
check "... and the error" grep -q '^error   ffmpeg: killed by signal 15$' "$T/c2.text"

# --- a client of version 1: the cancel reason in err, no reason key ----------------
J1=$(uuid)
cancel_flow c1 "$J1" "superseded by order 18" "ffmpeg: killed by signal 9"
OUT=$(cat "$T/c1.out")
check_eq "v1 client: final state canceled" canceled "$(js "$OUT" "d['state']")"
check_eq "v1 client: err is the cancel reason" "superseded by order 18" "$(js "$OUT" "d['error']")"
check_eq "v1 client: no reason" None "$(js "$OUT" "d['reason']")"
check_eq "v1 client stays at version 1" 1 "$(version_of c1)"
outbox_idle
snapshot job-updates "$(sql "SELECT count(*) FROM commands WHERE kind LIKE 'job.%' AND status = 'done'")"
U=$(updates_of "$J1")
check "c1 got updates" test -n "$U"
check_eq "... all of them version 1 records that version 1's rules decode" 0 \
    "$(grep -v $'\tv=1\tt=job.update\t' <<<"$U" | grep -c .)"
U=$(updates_of "$J1" canceled | head -1)
check_eq "... the canceled one with err = the cancel reason and no reason" \
    "1|superseded by order 18|" "$(field "$U" v)|$(field "$U" err)|$(field "$U" reason)"
check_eq "the job keeps the worker's text as its error" "ffmpeg: killed by signal 9|superseded by order 18" \
    "$(sql "SELECT error || '|' || cancel_reason FROM jobs WHERE id = '$J1'")"

# --- negotiation: a principal is answered in the version it last used -------------
# w1 sent version 1 until J2's started event (version 2): J2's assign went
# out in version 1, everything after in version 2.
check_eq "w1 switched to version 2 with its first version 2 message" 2 "$(version_of w1)"
sent_commands() { sql "SELECT coalesce(sum(tries), 0) FROM commands WHERE kind NOT LIKE 'job.%'"; }
snapshot commands "$(sent_commands)"
check_eq "J2's assign, sent before: version 1" 1 "$(field "$(commands_of "$J2" assign | head -1)" v)"
check_eq "J2's cancel, sent after: version 2" 2 "$(field "$(commands_of "$J2" cancel | head -1)" v)"
check_eq "J1's assign: version 2" 2 "$(field "$(commands_of "$J1" assign | head -1)" v)"
before=$(sql "SELECT count(*) FROM worker_events WHERE worker_id = 'w1'")
produce_as w1 --topic worker-events --type worker.event --ts-offset-ms -120000 >/dev/null # signed 2 min ago, in version 1
wait_for 30 "the delayed worker event applied" sql_is $((before + 1)) \
    "SELECT count(*) FROM worker_events WHERE worker_id = 'w1'" || exit 1
check_eq "a version 1 message older than the switch does not switch back" 2 "$(version_of w1)"
J3=$(uuid)
"$SUBMIT" --config "$T/c2.conf" --type t1 --payload p --job-id "$J3" >/dev/null 2>>"$T/c2.wait.log"
wait_state "$J3" "assigned 1 w1" || exit 1
wait_for 20 "J3's assign sent" sql_is sent "SELECT status FROM commands WHERE kind = 'assign' AND job_id = '$J3'" || exit 1
event "$J3" 1 succeeded --proto-version 1 # w1 rolled back to version 1
wait_state "$J3" "succeeded 1 w1" || exit 1
check_eq "a newer version 1 message switches it back" 1 "$(version_of w1)"
J4=$(uuid)
"$SUBMIT" --config "$T/c2.conf" --type t1 --payload p --job-id "$J4" >/dev/null 2>>"$T/c2.wait.log"
wait_state "$J4" "assigned 1 w1" || exit 1
wait_for 20 "J4's assign sent" sql_is sent "SELECT status FROM commands WHERE kind = 'assign' AND job_id = '$J4'" || exit 1
snapshot commands "$(sent_commands)"
check_eq "J3's assign (w1 at version 2): version 2" 2 "$(field "$(commands_of "$J3" assign | head -1)" v)"
check_eq "J4's assign (w1 back at version 1): version 1" 1 "$(field "$(commands_of "$J4" assign | head -1)" v)"
check_eq "no command the codec cannot decode" 0 "$(decoded commands | grep -c decode=)"
check "the switches are logged" grep -q 'w1 now speaks protocol version 1' "$T/coordinator.log"

# --- hand-built records of version 2 ------------------------------------------------
WIRE="python3 $JC_SOURCE_DIR/tests/lib/wire.py submit --principal c2 --key-id $(keyid_of c2) --key $(key_of c2)"
$WIRE --proto-version 2 --job-type t2 >"$T/ok.rec"
$WIRE --proto-version 2 --extra-body reason=because >"$T/unknown.rec"
$WIRE --proto-version 2 --forge-mac >"$T/forged.rec"
python3 "$JC_SOURCE_DIR/tests/lib/wire.py" submit --principal c2 --key-id no-such-key \
    --key "$(key_of c2)" --proto-version 2 >"$T/nokey.rec"
$WIRE --proto-version 3 >"$T/v3.rec"
$WIRE --proto-version 0 >"$T/v0.rec"
before=$(consumed job-requests)
for f in ok unknown forged nokey v3 v0; do
    produce_as c2 --topic job-requests --raw-file "$T/$f.rec" >/dev/null
done
wait_consumed job-requests $((before + 6)) || exit 1
check_eq "the valid version 2 submission made a job" 1 "$(sql "SELECT count(*) FROM jobs WHERE type = 't2'")"
check_eq "rejected: unknown key schema, forged MAC bad_signature, unknown key id unknown_key, v=3 and v=0 bad_version" \
    "bad_signature:1 bad_version:2 schema:1 unknown_key:1" \
    "$(sql "SELECT string_agg(reason || ':' || count, ' ' ORDER BY reason) FROM rejections WHERE topic = 'jobcoord.job-requests'")"
snapshot rejected "$(sql "SELECT sum(count) FROM rejections")"
D=$(decoded rejected)
check_eq "dead letter: the unknown key, named" 1 \
    "$(grep 'jc-reason=schema' <<<"$D" | grep -c "unknown field 'reason'")"
check "dead letter: bad_version, naming what is implemented" grep -q 'jc-reason=bad_version.*implements 1..2' <<<"$D"
check "coordinator still running" kill -0 "$COORD_PID"

jc_done
