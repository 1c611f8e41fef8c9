#!/usr/bin/env bash
# admin_tokens.sh - the jobcoord-admin commands behind logins and tokens,
# against a private database: the reader role (and, through a real
# coordinator and mock Kafka, that a reader's messages are rejected with
# wrong_role), passwords read from stdin, unlock, TOTP enrolment, the token
# signing keys (list, rotation with grace), re-encryption of signing keys and
# TOTP secrets with a keys file (the bytes survive every move), and job
# stats computed from jobs inserted with SQL.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup admin_tokens
jc_plaintext # the test compares the stored bytes of secrets

. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

# set_pw ID PASSWORD [ARGS...]: `user set-password ID ARGS` with PASSWORD
# and a newline on stdin (not a terminal).
set_pw() {
    local id=$1 pw=$2
    shift 2
    OUT=$(printf '%s\n' "$pw" | "$ADMIN" user set-password "$id" "$@" 2>"$T/stderr")
    RC=$?
    ERR=$(cat "$T/stderr")
}
# pw_hash ID: the stored hash of ID's password.
pw_hash() { sql "SELECT coalesce(password_hash, '-') FROM principals WHERE id = '$1'"; }
# near SQL_TS SECONDS: true when the timestamp is now + SECONDS, within 10 s.
near() { sql_is t "SELECT $1 BETWEEN now() + interval '$(($2 - 10)) s' AND now() + interval '$(($2 + 10)) s'"; }

run db migrate
rc_is "db migrate" 0

# --- help -----------------------------------------------------------------
for c in "user set-password" "user unlock" "user totp" "security signing-keys" \
    "security rotate-signing-key" "job stats"; do
    # shellcheck disable=SC2086
    run $c --help
    check_eq "'$c --help' exits 0" 0 "$RC"
    check "'$c --help' prints a usage line" contains "$OUT" "Usage: jobcoord-admin $c"
done
run user --help
check "user --help lists set-password, unlock and totp" \
    sh -c "echo \"\$1\" | grep -q set-password && echo \"\$1\" | grep -q unlock && echo \"\$1\" | grep -q 'user totp'" _ "$OUT"
run user add --help
check "user add --help names the reader role" contains "$OUT" "client, worker, admin or reader"

# --- the reader role ------------------------------------------------------
run user add dash --role reader
rc_is "user add --role reader" 0
check_eq "reader row" "reader" "$(sql "SELECT role FROM principals WHERE id = 'dash'")"
check_eq "a reader has an HMAC key like everyone" 1 "$(sql "SELECT count(*) FROM principal_keys WHERE principal_id = 'dash'")"
run user add dash2 --role readers
rc_is "unknown role refused" 1
check "the roles are listed" contains "$ERR" "client, worker, admin or reader"
run user add root --role admin; rc_is "user add admin" 0
run user add w1 --role worker; rc_is "user add worker" 0
run --json user show dash
check_eq "user show --json: login state of a new reader" "reader False 0 None False False" \
    "$(js 'd["role"], d["has_password"], d["failed_logins"], d["locked_until"], d["locked"], d["totp_enabled"]')"
run status
check "status counts readers" contains "$OUT" "admin 1, reader 1"

# --- set-password ---------------------------------------------------------
set_pw root 'root-password-1'
rc_is "set-password of an admin" 0
check "set-password confirms" contains "$OUT" "password set for root"
H1=$(pw_hash root)
check "stored as an Argon2id hash" contains "$H1" '$argon2id$v=19$'
check "the password itself is not stored" not contains "$H1" "root-password-1"
set_pw dash 'reader-password-1' --json
rc_is "set-password of a reader (--json)" 0
check_eq "set-password --json" "dash True" "$(js 'd["id"], d["password_set"]')"
check "password_changed_at set" sql_is t "SELECT password_changed_at IS NOT NULL FROM principals WHERE id = 'dash'"
set_pw root 'root-password-1'
check "same password, new salt: another hash" [ "$(pw_hash root)" != "$H1" ]

set_pw w1 'worker-password-1'
rc_is "set-password of a worker refused" 1
check "the refusal names the role" contains "$ERR" "role worker"
check_eq "the worker got no password" "-" "$(pw_hash w1)"
set_pw ghost 'ghost-password-1'
rc_is "set-password of an unknown principal" 1
check "unknown principal named" contains "$ERR" "no principal 'ghost'"
set_pw root 'short'
rc_is "password shorter than 12 bytes" 1
check "length rule explained" contains "$ERR" "12 to 256 bytes"
set_pw root "$(printf 'x%.0s' $(seq 257))"
rc_is "password longer than 256 bytes" 1
set_pw root "$(printf 'x%.0s' $(seq 256))"
rc_is "password of exactly 256 bytes" 0
set_pw root "$(printf 'y%.0s' $(seq 12))"
rc_is "password of exactly 12 bytes" 0
run user set-password root </dev/null
rc_is "empty stdin" 1
check "empty stdin explained" contains "$ERR" "no password on stdin"
run user set-password root 'root-password-1'
rc_is "a password on the command line is a usage error" 100
run user set-password 'bad id!' </dev/null
rc_is "invalid id" 1
# only the first line counts: a second line that would be too long is not read
OUT=$(printf 'first-line-password\r\n%s\n' "$(printf 'z%.0s' $(seq 300))" | "$ADMIN" user set-password root --password-stdin 2>"$T/stderr")
RC=$?; ERR=$(cat "$T/stderr")
rc_is "only the first line of stdin is the password (CRLF ok)" 0
H2=$(pw_hash root)
OUT=$(printf 'short\nlong-enough-second-line\n' | "$ADMIN" user set-password root 2>"$T/stderr")
RC=$?; ERR=$(cat "$T/stderr")
rc_is "a short first line is refused, whatever follows" 1
check_eq "a refusal leaves the password as it was" "$H2" "$(pw_hash root)"

# From a terminal: asked twice, without echo; two different answers refuse.
# tty_pw ANSWER1 ANSWER2 prints the exit code, then what the terminal showed.
tty_pw() {
    python3 - "$ADMIN" "$@" <<'PY'
import os, pty, select, signal, sys, time
admin, answers = sys.argv[1], sys.argv[2:]
pid, fd = pty.fork()
if pid == 0:
    os.execv(admin, [admin, "user", "set-password", "dash"])
shown, deadline = b"", time.time() + 30

def read_some():
    """Reads what the terminal shows; False at its end or the deadline."""
    global shown
    left = deadline - time.time()
    if left <= 0 or not select.select([fd], [], [], left)[0]:
        return False
    try:
        d = os.read(fd, 4096)
    except OSError:
        return False
    shown += d
    return bool(d)

for a in answers:
    # answer each prompt only once it shows (":" ends a prompt)
    while not shown.rstrip().endswith(b":") and read_some():
        pass
    shown = shown.replace(b":", b";")
    os.write(fd, a.encode() + b"\n")
while read_some():
    pass
if time.time() >= deadline:
    os.kill(pid, signal.SIGKILL)
_, st = os.waitpid(pid, 0)
print(os.WEXITSTATUS(st) if os.WIFEXITED(st) else "killed")
print(shown.decode(errors="replace").replace("\r", ""))
PY
}
HD0=$(pw_hash dash)
TTY_OUT=$(tty_pw 'terminal-password-1' 'terminal-password-1')
check_eq "terminal: asked twice, then set" 0 "$(head -1 <<<"$TTY_OUT")"
check "terminal: the prompts" contains "$TTY_OUT" "New password for dash"
check "terminal: the second prompt" contains "$TTY_OUT" "Repeat it"
check "terminal: the password is not echoed" not contains "$TTY_OUT" "terminal-password-1"
check "terminal: a new hash" [ "$(pw_hash dash)" != "$HD0" ]
HD0=$(pw_hash dash)
TTY_OUT=$(tty_pw 'terminal-password-1' 'terminal-password-2')
check_eq "terminal: two different passwords refused" 1 "$(head -1 <<<"$TTY_OUT")"
check "terminal: the refusal says why" contains "$TTY_OUT" "the two passwords differ"
check_eq "terminal: nothing changed" "$HD0" "$(pw_hash dash)"

# set-password clears a lockout
sql "UPDATE principals SET failed_logins = 4, locked_until = now() + interval '1 hour' WHERE id = 'root'"
run user show root
check_eq "user show: failed_logins" 4 "$(field failed_logins)"
check "user show: locked" grep -q '^locked_until .*(locked)$' <<<"$OUT"
check_eq "user show: has_password" yes "$(field has_password)"
set_pw root 'root-password-2'
rc_is "set-password while locked" 0
check_eq "set-password cleared the lockout" "0|t" "$(sql "SELECT failed_logins, locked_until IS NULL FROM principals WHERE id = 'root'")"

# --- unlock ---------------------------------------------------------------
sql "UPDATE principals SET failed_logins = 5, locked_until = now() + interval '15 minutes' WHERE id = 'dash'"
run --json user show dash
check_eq "show --json: locked reader" "5 True True" "$(js 'd["failed_logins"], d["locked"], d["locked_until"] is not None')"
HD=$(pw_hash dash)
run user unlock dash
rc_is "user unlock" 0
check "unlock confirms" contains "$OUT" "unlocked dash"
check_eq "unlock cleared the counters" "0|t" "$(sql "SELECT failed_logins, locked_until IS NULL FROM principals WHERE id = 'dash'")"
check_eq "unlock kept the password" "$HD" "$(pw_hash dash)"
run --json user unlock dash
check_eq "unlock --json" "dash True" "$(js 'd["id"], d["unlocked"]')"
run user unlock ghost; rc_is "unlock unknown principal" 1
run user unlock; rc_is "unlock without id" 100
run user show dash
check_eq "user show after unlock" "0 -" "$(field failed_logins) $(field locked_until)"

# --- TOTP -----------------------------------------------------------------
run --json user totp enable root
rc_is "totp enable --json" 0
S=$(js 'd["secret"]')
check "the secret is 32 base32 characters" grep -Eq '^[A-Z2-7]{32}$' <<<"$S"
check_eq "the otpauth URI" "otpauth://totp/jobcoord:root?secret=$S&issuer=jobcoord&algorithm=SHA256&digits=6&period=30" "$(js 'd["uri"]')"
check "the shown-once notice goes to stderr" contains "$ERR" "shown only once"
check_eq "stored: 20 plain bytes, pending (not enabled yet), last step 0" "20||f|t|0" \
    "$(sql "SELECT octet_length(totp_secret), totp_enc_key_id, totp_enabled, totp_pending, totp_last_step FROM principals WHERE id = 'root'")"
check_eq "the stored bytes are the printed secret" \
    "$(python3 -c "import base64,sys; print(base64.b32decode(sys.argv[1]).hex())" "$S")" \
    "$(sql "SELECT encode(totp_secret, 'hex') FROM principals WHERE id = 'root'")"
ROOT_TOTP_HEX=$(sql "SELECT encode(totp_secret, 'hex') FROM principals WHERE id = 'root'")
run user show root
check_eq "user show: totp_enabled, while pending" no "$(field totp_enabled)"
run user totp confirm root "$(python3 "$JC_SOURCE_DIR/tests/lib/tokens.py" totp --secret "$S")"
rc_is "totp confirm with the device's code" 0
run user show root
check_eq "user show: totp_enabled" yes "$(field totp_enabled)"
check "user show never prints the secret" not contains "$OUT" "$S"
run --json user show root
check "user show --json never prints the secret" not contains "$OUT" "$S"
check_eq "user show --json: totp_enabled" True "$(js 'd["totp_enabled"]')"

run user totp enable dash
rc_is "totp enable (text)" 0
S_DASH=$(field secret)
check "text output: secret" grep -Eq '^[A-Z2-7]{32}$' <<<"$S_DASH"
check "text output: uri" contains "$(field uri)" "otpauth://totp/jobcoord:dash?secret=$S_DASH&"
run user totp enable dash
check "enabling again makes a new secret" [ "$(field secret)" != "$S_DASH" ]
run user add ops@example --role admin
run --json user totp enable ops@example
check "the id is percent-encoded in the URI label" contains "$(js 'd["uri"]')" "otpauth://totp/jobcoord:ops%40example?"
run user totp enable w1
rc_is "totp enable of a worker refused" 1
check "the refusal names the role" contains "$ERR" "role worker"
check_eq "the worker got no secret" "f|t" "$(sql "SELECT totp_enabled, totp_secret IS NULL FROM principals WHERE id = 'w1'")"
run user totp enable ghost; rc_is "totp enable unknown principal" 1
run user totp frob root; rc_is "totp unknown action" 100
run user totp enable; rc_is "totp without id" 100
run user totp disable dash
rc_is "totp disable" 0
check_eq "disabled and the secret deleted" "f|t|" \
    "$(sql "SELECT totp_enabled, totp_secret IS NULL, totp_enc_key_id FROM principals WHERE id = 'dash'")"
run --json user totp disable ops@example
check_eq "totp disable --json" "ops@example False" "$(js 'd["id"], d["totp_enabled"]')"
run user totp disable ghost; rc_is "totp disable unknown principal" 1

# --- signing keys ---------------------------------------------------------
run security signing-keys
rc_is "signing-keys with none" 0
check "says there is none" contains "$OUT" "(none"
run --json security signing-keys
check_eq "signing-keys --json with none" "[]" "$(js 'd')"
run --json security rotate-signing-key
rc_is "first rotation (no active key yet)" 0
K1=$(js 'd["kid"]')
check "kid is s + 12 hex digits" grep -Eq '^s[0-9a-f]{12}$' <<<"$K1"
check_eq "nothing retired the first time" "None None" "$(js 'd["retired_kid"], d["retired_valid_until"]')"
check_eq "stored plain, active" "32||t|32" \
    "$(sql "SELECT octet_length(secret), enc_key_id, retired_at IS NULL, octet_length(public_key) FROM signing_keys WHERE kid = '$K1'")"
run security rotate-signing-key
rc_is "rotate with the configured grace" 0
K2=$(field kid)
check "rotation prints the retired key" grep -q "^retired  $K1 valid until 20" <<<"$OUT"
check "default grace: tokens.signing_key_grace_s (3600)" near "(SELECT valid_until FROM signing_keys WHERE kid = '$K1')" 3600
run --json security rotate-signing-key --grace 600
rc_is "rotate with --grace 600" 0
K3=$(js 'd["kid"]')
check_eq "json names the retired key" "$K2 600" "$(js 'd["retired_kid"], d["grace_s"]')"
check "--grace 600" near "(SELECT valid_until FROM signing_keys WHERE kid = '$K2')" 600
check "a grace shorter than the access token lifetime is warned about" contains "$ERR" "warning"
run security signing-keys
rc_is "signing-keys" 0
check_eq "1 active + 2 retired, newest first" "$K3 active|$K2 retired|$K1 retired" \
    "$(awk 'NR > 1 {printf "%s%s %s", (NR > 2 ? "|" : ""), $1, $2}' <<<"$OUT")"
check "sealed-with column: plain" grep -q "^$K3 *active .* plain$" <<<"$OUT"
run --json security signing-keys
check_eq "json: states" "['active', 'retired', 'retired']" "$(js '[k["state"] for k in d]')"
check_eq "json: the active key has no retirement" "None None EdDSA" "$(js 'd[0]["retired_at"], d[0]["valid_until"], d[0]["alg"]')"
check_eq "json: public key is the stored one (base64url)" \
    "$(sql "SELECT translate(rtrim(encode(public_key, 'base64'), '='), '+/', '-_') FROM signing_keys WHERE kid = '$K3'")" \
    "$(js 'd[0]["public_key"]')"
check_eq "one active key in the table" 1 "$(sql 'SELECT count(*) FROM signing_keys WHERE retired_at IS NULL')"
run --set tokens.signing_key_grace_s=5000 security rotate-signing-key
K4=$(field kid)
check "the configured grace is the default" near "(SELECT valid_until FROM signing_keys WHERE kid = '$K3')" 5000
run security rotate-signing-key --grace 0
K5=$(field kid)
run security signing-keys
check "--grace 0: the key is expired at once" grep -q "^$K4 *expired" <<<"$OUT"
run security rotate-signing-key --grace -1; rc_is "negative grace" 1
run security rotate-signing-key --grace 1x; rc_is "grace with junk" 1
check_eq "refused rotations changed nothing" 5 "$(sql 'SELECT count(*) FROM signing_keys')"

# --- re-encryption of signing keys and TOTP secrets -------------------------
SEEDS_PLAIN=$(sql "SELECT string_agg(kid || ':' || encode(secret, 'hex'), ',' ORDER BY kid) FROM signing_keys")
check_eq "all signing keys plain" 5 "$(sql 'SELECT count(*) FROM signing_keys WHERE enc_key_id IS NULL AND octet_length(secret) = 32')"
NPK=$(sql 'SELECT count(*) FROM principal_keys')
LINE_A=$("$ADMIN" security generate-key xchacha20poly1305)
sleep 0.01
LINE_B=$("$ADMIN" security generate-key xchacha20poly1305)
KEY_A=${LINE_A%% *}
KEY_B=${LINE_B%% *}
[ "$KEY_A" = "$KEY_B" ] && { KEY_B=${KEY_B}x; LINE_B="$KEY_B ${LINE_B#* }"; }
printf 'keys = {\n  %s\n  %s\n};\n' "$LINE_A" "$LINE_B" >"$T/keys.conf"
export JOBCOORD_SECURITY_KEYS_FILE="$T/keys.conf"
export JOBCOORD_SECURITY_ENCRYPTION_KEY_ID="$KEY_A"

run --json security re-encrypt
rc_is "re-encrypt to A" 0
check_eq "counts: principal keys, 5 signing keys, 1 TOTP secret" "$((NPK + 6)) $NPK 5 1 0" \
    "$(js 'd["moved"], d["principal_keys"]["moved"], d["signing_keys"]["moved"], d["totp_secrets"]["moved"], d["remaining"]')"
check_eq "signing keys sealed with A (72 bytes)" 5 \
    "$(sql "SELECT count(*) FROM signing_keys WHERE enc_key_id = '$KEY_A' AND octet_length(secret) = 72")"
check_eq "root's TOTP secret sealed with A (60 bytes)" "$KEY_A|60" \
    "$(sql "SELECT totp_enc_key_id, octet_length(totp_secret) FROM principals WHERE id = 'root'")"
run security signing-keys
check "signing-keys shows the sealing key" grep -q "^$K5 *active .* $KEY_A$" <<<"$OUT"
run --json security rotate-signing-key --grace 3600
K6=$(js 'd["kid"]')
check_eq "a new signing key is sealed with the configured key" "$KEY_A|72|$KEY_A" \
    "$(sql "SELECT enc_key_id, octet_length(secret) FROM signing_keys WHERE kid = '$K6'")|$(js 'd["enc_key_id"]')"
run --json user totp enable dash
S_DASH=$(js 'd["secret"]')
check_eq "a new TOTP secret is sealed with the configured key" "$KEY_A|60|$KEY_A" \
    "$(sql "SELECT totp_enc_key_id, octet_length(totp_secret) FROM principals WHERE id = 'dash'")|$(js 'd["enc_key_id"]')"

TOTAL=$((NPK + 6 + 2))
run --json security re-encrypt --key-id "$KEY_B" --limit 3 --batch-size 2
rc_is "re-encrypt to B with a limit" 0
check_eq "the limit is shared: 3 principal keys moved, the rest counted" "3 3 0 0 $((TOTAL - 3))" \
    "$(js 'd["moved"], d["principal_keys"]["moved"], d["signing_keys"]["moved"], d["totp_secrets"]["moved"], d["remaining"]')"
run --json security re-encrypt --key-id "$KEY_B" --client-id root
rc_is "re-encrypt --client-id" 0
check_eq "--client-id: root's TOTP secret, no signing key" "1 0" "$(js 'd["totp_secrets"]["moved"], d["signing_keys"]["moved"]')"
check_eq "root's TOTP on B, dash's still on A" "$KEY_B $KEY_A" \
    "$(sql "SELECT string_agg(totp_enc_key_id, ' ' ORDER BY id DESC) FROM principals WHERE id IN ('root', 'dash')")"
run --json security re-encrypt --key-id "$KEY_B" --batch-size 1
rc_is "re-encrypt the rest to B" 0
check_eq "everything on B" "0 6 1" "$(js 'd["remaining"], d["signing_keys"]["moved"], d["totp_secrets"]["moved"]')"
check_eq "signing keys on B" 6 "$(sql "SELECT count(*) FROM signing_keys WHERE enc_key_id = '$KEY_B' AND octet_length(secret) = 72")"
check_eq "TOTP secrets on B" 2 "$(sql "SELECT count(*) FROM principals WHERE totp_enc_key_id = '$KEY_B' AND octet_length(totp_secret) = 60")"
run security re-encrypt --decrypt
rc_is "re-encrypt --decrypt" 0
check "text output counts each kind" contains "$OUT" "signing keys 6, TOTP secrets 2 moved"
check_eq "the first 5 seeds are the same bytes as before any encryption" "$SEEDS_PLAIN" \
    "$(sql "SELECT string_agg(kid || ':' || encode(secret, 'hex'), ',' ORDER BY kid) FROM signing_keys WHERE kid <> '$K6'")"
check_eq "root's TOTP secret is the same bytes" "$ROOT_TOTP_HEX" \
    "$(sql "SELECT encode(totp_secret, 'hex') FROM principals WHERE id = 'root' AND totp_enc_key_id IS NULL")"
check_eq "dash's TOTP secret is the printed one" \
    "$(python3 -c "import base64,sys; print(base64.b32decode(sys.argv[1]).hex())" "$S_DASH")" \
    "$(sql "SELECT encode(totp_secret, 'hex') FROM principals WHERE id = 'dash' AND totp_enc_key_id IS NULL")"
check_eq "K6's seed is still its public key's (32 plain bytes)" 32 "$(sql "SELECT octet_length(secret) FROM signing_keys WHERE kid = '$K6'")"

# A sealed seed copied to another row does not open: re-encrypt stops, names it.
run security re-encrypt --key-id "$KEY_A"
sql "UPDATE signing_keys SET secret = (SELECT secret FROM signing_keys WHERE kid = '$K1') WHERE kid = '$K2'"
run security re-encrypt --key-id "$KEY_B"
rc_is "a moved signing key secret stops re-encrypt" 111
check "the signing key is named" contains "$ERR" "signing key '$K2'"
sql "DELETE FROM signing_keys"
run security re-encrypt --decrypt
rc_is "back to plain text (for the coordinator below)" 0
unset JOBCOORD_SECURITY_KEYS_FILE JOBCOORD_SECURITY_ENCRYPTION_KEY_ID

# --- job stats ------------------------------------------------------------
# encode: 3 succeeded (100, 200, 300 ms), 1 failed (400 ms); thumb: 1
# canceled (1000 ms); an encode job finished 2 hours ago (5000 ms); a running
# job (not counted).
job() { # TYPE STATE DURATION_MS AGO_S
    sql "INSERT INTO jobs (id, submitter, type, payload, state, timeout_ms, created_at, finished_at)
         VALUES (gen_random_uuid(), 'c1', '$1', '\\x00', '$2', 1000,
                 now() - interval '$4 s' - interval '$3 ms', now() - interval '$4 s')"
}
INSERTED_AT=$SECONDS
job encode succeeded 100 10
job encode succeeded 200 20
job encode succeeded 300 30
job encode failed 400 40
job thumb canceled 1000 50
job encode succeeded 5000 7200
sql "INSERT INTO jobs (id, submitter, type, payload, state, timeout_ms) VALUES (gen_random_uuid(), 'c1', 'encode', '\\x00', 'running', 1000)"
run --json job stats
rc_is "job stats --json" 0
check_eq "default window 3600" 3600 "$(js 'd["window_s"]')"
check_eq "types, ordered" "['encode', 'thumb']" "$(js '[t["type"] for t in d["types"]]')"
check_eq "encode counts" "3 1 0 4 0.75" \
    "$(js 'd["types"][0]["succeeded"], d["types"][0]["failed"], d["types"][0]["canceled"], d["types"][0]["total"], d["types"][0]["success_rate"]')"
check_eq "encode percentiles (percentile_cont of 100..400 ms)" "250.0 370.0 397.0" \
    "$(js 'round(d["types"][0]["p50_ms"], 3), round(d["types"][0]["p90_ms"], 3), round(d["types"][0]["p99_ms"], 3)')"
check_eq "thumb: one canceled job" "0 0 1 1 0.0 1000.0 1000.0" \
    "$(js 'd["types"][1]["succeeded"], d["types"][1]["failed"], d["types"][1]["canceled"], d["types"][1]["total"], d["types"][1]["success_rate"], round(d["types"][1]["p50_ms"], 3), round(d["types"][1]["p99_ms"], 3)')"
run job stats
rc_is "job stats (text)" 0
check "text: encode row" grep -Eq '^encode +3 +1 +0 +4 +75\.0% +250\.0 +370\.0 +397\.0$' <<<"$OUT"
check "text: thumb row" grep -Eq '^thumb +0 +0 +1 +1 +0\.0% +1000\.0 +1000\.0 +1000\.0$' <<<"$OUT"
run --json job stats --window 10800
check_eq "a wider window takes the old job in" "5 4 0.8 300.0" \
    "$(js 'd["types"][0]["total"], d["types"][0]["succeeded"], d["types"][0]["success_rate"], round(d["types"][0]["p50_ms"], 3)')"
# the jobs age while the commands above run (slowly under the sanitizers):
# the window takes in the 10 s old job and not the 20 s old one, whenever
run --json job stats --window $((15 + SECONDS - INSERTED_AT))
check_eq "a narrow window" "encode 1 100.0" "$(js 'd["types"][0]["type"], d["types"][0]["total"], round(d["types"][0]["p50_ms"], 3)')"
run --json job stats --window 1
check_eq "nothing finished in the last second" "[]" "$(js 'd["types"]')"
run job stats --window 1
check "text says so" contains "$OUT" "no job finished in the last 1 s"
run job stats --window 0; rc_is "window 0" 1
run job stats --window 1h; rc_is "window with junk" 1
run job stats --window 31536001; rc_is "window over a year" 1
run job stats extra; rc_is "job stats takes no argument" 100

# --- a reader sends nothing over Kafka --------------------------------------
if [ ! -x "$BIN/coordinator/jobcoord" ]; then
    not_ok "the coordinator binary is missing: cannot check that a reader's messages are rejected"
else
    start_mock_kafka 2
    add_principal rdr reader
    add_principal c1 client
    start_coordinator --set ingest.key_cache_ttl_ms=0
    produce_as rdr >/dev/null
    produce_as rdr --topic job-requests --type job.submit --job-id "$(python3 -c 'import uuid; print(uuid.uuid4())')" >/dev/null
    produce_as c1 --topic job-requests --type job.submit --job-id "$(python3 -c 'import uuid; print(uuid.uuid4())')" --job-type reader-test >/dev/null
    wait_consumed heartbeats 1 || exit 1
    wait_consumed job-requests 2 || exit 1
    check_eq "a reader's heartbeat and submission: wrong_role" 2 \
        "$(sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = 'wrong_role'")"
    check_eq "nothing of the reader applied" "0 0" \
        "$(sql "SELECT (SELECT count(*) FROM heartbeats) || ' ' || (SELECT count(*) FROM jobs WHERE submitter = 'rdr')")"
    check_eq "the client's submission next to it was applied" 1 "$(sql "SELECT count(*) FROM jobs WHERE submitter = 'c1' AND type = 'reader-test'")"
    check "the rejection names the role" grep -q "role reader" "$T/coordinator.log"
fi

jc_done
