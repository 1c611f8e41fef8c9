# testlib.sh - shared helpers of jobcoord's shell-driven integration and
# end-to-end tests. Source it, call jc_setup NAME, then use the helpers;
# finish with jc_done. Every process started with jc_bg is killed on exit.
#
# Needs: the PG* variables of a reachable PostgreSQL server (scripts/test
# runs ctest inside one), JC_BUILD_DIR (set by ctest) and JC_SOURCE_DIR.

set -u
# The tools the tests call are Debian's (scripts/bootstrap installs them):
# /usr/bin first, so that a version manager's shim earlier on PATH (a shell
# script that starts several processes per call: about a second for each of
# the hundreds of python3 calls of a run, measured at 1-2 s against 0.15 s
# for Debian's python3 on a loaded 2-core machine) is not paid.
PATH=/usr/bin:/bin:$PATH
JC_PASS=0
JC_FAIL=0
JC_PIDS=()

jc_log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# jc_setup creates the test's private folder $T and database $JC_DB, and
# exports JOBCOORD_DATABASE_CONNINFO so every binary uses it. Secrets at rest
# are sealed with a keys file of the test's own ($T/at-rest-keys.conf, mode
# 0600), as in a deployment: the coordinator and jobcoord-admin refuse to
# store them in plain text otherwise. A test that reads secrets from SQL
# calls jc_plaintext after jc_setup.
jc_setup() {
    JC_TEST=$1
    : "${JC_BUILD_DIR:?JC_BUILD_DIR must be set}"
    : "${JC_SOURCE_DIR:?JC_SOURCE_DIR must be set}"
    T="$JC_BUILD_DIR/test-tmp/$JC_TEST"
    rm -rf "$T"
    mkdir -p "$T"
    JC_DB="jc_$(echo "$JC_TEST" | tr -c 'a-zA-Z0-9_\n' '_')"
    dropdb --if-exists "$JC_DB" >/dev/null 2>&1
    createdb "$JC_DB" || { echo "cannot create database $JC_DB"; exit 1; }
    export JOBCOORD_DATABASE_CONNINFO="dbname=$JC_DB"
    export JOBCOORD_LOG_LEVEL=${JOBCOORD_LOG_LEVEL:-info}
    # every test logs in from 127.0.0.1, many times a minute: the token
    # endpoint's per-address throttle is off unless a test sets it
    # (token_throttle.sh, with --set, which wins over the environment)
    export JOBCOORD_AUTH_TOKEN_RATE_PER_MIN=0
    unset JOBCOORD_CONFIG
    BIN="$JC_BUILD_DIR"
    ADMIN="$BIN/coordinator/jobcoord-admin"
    trap jc_cleanup EXIT
    jc_keys_file
}

# jc_keys_file writes a keys file with one new key to $T/at-rest-keys.conf
# (mode 0600) and exports the settings that seal secrets with it.
jc_keys_file() {
    local line
    unset JOBCOORD_SECURITY_KEYS_FILE JOBCOORD_SECURITY_ENCRYPTION_KEY_ID JOBCOORD_SECURITY_ALLOW_PLAINTEXT
    line=$("$ADMIN" security generate-key xchacha20poly1305) || { echo "cannot generate a keys-file key"; exit 1; }
    (
        umask 077
        printf 'keys = {\n    %s\n};\n' "$line" >"$T/at-rest-keys.conf"
    )
    export JOBCOORD_SECURITY_KEYS_FILE="$T/at-rest-keys.conf"
    export JOBCOORD_SECURITY_ENCRYPTION_KEY_ID="${line%% *}"
}

# jc_plaintext switches the test to secrets stored in plain text (no keys
# file, security.allow_plaintext = true), for tests that read or compare the
# stored bytes.
jc_plaintext() {
    unset JOBCOORD_SECURITY_KEYS_FILE JOBCOORD_SECURITY_ENCRYPTION_KEY_ID
    export JOBCOORD_SECURITY_ALLOW_PLAINTEXT=true
}

jc_cleanup() {
    local p i
    # newest first, so Kafka (started first) outlives its clients
    for ((i = ${#JC_PIDS[@]} - 1; i >= 0; i--)); do kill -TERM "${JC_PIDS[$i]}" 2>/dev/null; done
    sleep 0.5
    for p in "${JC_PIDS[@]}"; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
}

# jc_bg LOGFILE CMD... starts CMD in the background; its pid is in $JC_LAST_PID.
jc_bg() {
    local log=$1
    shift
    "$@" >>"$log" 2>&1 &
    JC_LAST_PID=$!
    JC_PIDS+=("$JC_LAST_PID")
}

# sql runs one statement in the test database and prints the rows.
sql() { psql -X -A -t -q -v ON_ERROR_STOP=1 -d "$JC_DB" -c "$1"; }

# wait_for SECONDS DESCRIPTION CMD... polls CMD every 0.1 s until it succeeds.
wait_for() {
    local secs=$1 what=$2
    shift 2
    local deadline=$((SECONDS + secs))
    while ! "$@" >/dev/null 2>&1; do
        if [ $SECONDS -ge $deadline ]; then
            jc_log "timed out after ${secs}s waiting for: $what"
            return 1
        fi
        sleep 0.1
    done
}

# sql_is EXPECTED SQL: true when the query prints exactly EXPECTED.
sql_is() { [ "$(sql "$2" 2>/dev/null)" = "$1" ]; }

# ok and not_ok end each line with the seconds since the test started, so
# that a slow run's log shows where its time went
ok() {
    JC_PASS=$((JC_PASS + 1))
    echo "ok - $* [${SECONDS}s]"
}
not_ok() {
    JC_FAIL=$((JC_FAIL + 1))
    echo "not ok - $* [${SECONDS}s]"
}
# check DESCRIPTION CMD...: ok when CMD succeeds.
check() {
    local what=$1
    shift
    if "$@"; then ok "$what"; else not_ok "$what"; fi
}
# check_eq DESCRIPTION EXPECTED ACTUAL
check_eq() {
    if [ "$2" = "$3" ]; then ok "$1"; else not_ok "$1 (expected '$2', got '$3')"; fi
}

# start_mock_kafka starts a standalone mock cluster; its bootstrap address is
# written to $T/kafka.bootstrap and exported as JOBCOORD_KAFKA_BROKERS.
start_mock_kafka() {
    rm -f "$T/kafka.bootstrap"
    jc_bg "$T/mock-kafka.log" "$BIN/coordinator/jobcoord-mock-kafka" \
        --bootstrap-file "$T/kafka.bootstrap" --partitions "${1:-4}"
    MOCK_PID=$JC_LAST_PID
    wait_for 20 "mock kafka bootstrap file" test -s "$T/kafka.bootstrap" || exit 1
    export JOBCOORD_KAFKA_BROKERS
    JOBCOORD_KAFKA_BROKERS=$(cat "$T/kafka.bootstrap")
}

# start_coordinator [ARGS...] starts the daemon (log: $T/coordinator.log)
# and waits until it has its partitions.
start_coordinator() {
    local before
    before=$(grep -c 'ingest ready' "$T/coordinator.log" 2>/dev/null || true)
    jc_bg "$T/coordinator.log" "$BIN/coordinator/jobcoord" --bootstrap-file "$T/kafka.bootstrap" \
        --set kafka.fetch_wait_max_ms=10 "$@"
    COORD_PID=$JC_LAST_PID
    wait_for 60 "coordinator ready" sh -c "[ \$(grep -c 'ingest ready' '$T/coordinator.log') -gt ${before:-0} ]" || {
        tail -20 "$T/coordinator.log"
        exit 1
    }
}

# jc_check_counts: the counts kept as rows change (state_counts, migration
# 027) equal what jobs and commands hold, in one snapshot. jc_done runs it
# in every test whose database has the table, so each test's mix of
# writers (ingest, scheduler, janitor, admin CLI, kills and restarts) checks
# the counts /v1/status, /metrics and `jobcoord-admin status` report.
jc_check_counts() {
    local diff
    diff=$(sql "SELECT coalesce(string_agg(format('%s %s: kept %s, counted %s', t, s,
                   coalesce(k.n, 0), coalesce(a.n, 0)), '; '), '')
              FROM (SELECT 'jobs' AS t, state AS s, count(*) AS n FROM jobs GROUP BY state
                    UNION ALL SELECT 'commands', status, count(*) FROM commands GROUP BY status) a
              FULL JOIN (SELECT tbl AS t, state AS s, sum(n) AS n FROM state_counts
                          GROUP BY tbl, state) k USING (t, s)
             WHERE coalesce(k.n, 0) <> coalesce(a.n, 0)" 2>&1)
    check_eq "the kept job and command counts equal the tables' (state_counts)" "" "$diff"
}

jc_done() {
    if [ -n "${JC_DB:-}" ] &&
        [ "$(sql "SELECT to_regclass('state_counts') IS NOT NULL" 2>/dev/null)" = t ]; then
        jc_check_counts
    fi
    echo "$JC_PASS passed, $JC_FAIL failed"
    [ "$JC_FAIL" -eq 0 ] && [ "$JC_PASS" -gt 0 ]
    exit $?
}

# consumed TOPIC: how many records of TOPIC (without prefix) the coordinator
# has committed, from the positions stored in PostgreSQL.
consumed() {
    sql "SELECT coalesce(sum(next_offset), 0) FROM consumer_offsets WHERE topic = 'jobcoord.$1'" 2>/dev/null || echo 0
}

# wait_consumed TOPIC N [SECONDS]: waits until N records of TOPIC are committed.
wait_consumed() {
    wait_for "${3:-60}" "$2 records of $1 consumed" sh -c "[ \"\$(psql -XAtq -d '$JC_DB' -c \"SELECT coalesce(sum(next_offset),0) FROM consumer_offsets WHERE topic = 'jobcoord.$1'\" 2>/dev/null)\" -ge $2 ]"
}

# add_principal ID ROLE: creates a principal; sets KEY_<ID> and KEYID_<ID>
# (non-alphanumerics of ID as _) and appends "id key_id key" to $T/keys.
add_principal() {
    local out var
    out=$("$ADMIN" --json user add "$1" --role "$2") || { echo "user add $1 failed"; exit 1; }
    var=$(echo "$1" | tr -c 'a-zA-Z0-9\n' '_')
    eval "KEY_$var=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key"])')"
    eval "KEYID_$var=$(echo "$out" | python3 -c 'import json,sys; print(json.load(sys.stdin)["key_id"])')"
    eval "echo \"$1 \$KEYID_$var \$KEY_$var\"" >>"$T/keys"
}

# key_of ID / keyid_of ID print what add_principal stored.
key_of() { local v; v=KEY_$(echo "$1" | tr -c 'a-zA-Z0-9\n' '_'); echo "${!v}"; }
keyid_of() { local v; v=KEYID_$(echo "$1" | tr -c 'a-zA-Z0-9\n' '_'); echo "${!v}"; }

# produce_as ID [jctest-kafka produce options...]
produce_as() {
    local id=$1
    shift
    "$BIN/tests/jctest-kafka" produce --brokers "$JOBCOORD_KAFKA_BROKERS" --principal "$id" \
        --key-id "$(keyid_of "$id")" --key "$(key_of "$id")" "$@" 2>>"$T/produce.log"
}
