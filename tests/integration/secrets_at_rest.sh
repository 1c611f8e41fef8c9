#!/usr/bin/env bash
# secrets_at_rest.sh - no secret is stored in plain text unless the
# configuration says so. Without a keys file and without
# security.allow_plaintext, the coordinator refuses to start on a database
# where it must create the token signing key, and jobcoord-admin refuses
# every command that would store a secret (user add, rotate-key, totp
# enable, rotate-signing-key, re-encrypt --decrypt): exit code, a message
# naming both settings, and nothing in the tables. With allow_plaintext
# (file, environment or --set; a boolean, other values refused) it works
# with the warning. Secrets already in plain text stay readable, the
# coordinator counts them at start, and `security re-encrypt` seals them;
# with a keys file no secret column holds plain text.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup secrets_at_rest
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

KEYS_FILE=$JOBCOORD_SECURITY_KEYS_FILE
KEY_ID=$JOBCOORD_SECURITY_ENCRYPTION_KEY_ID
check_eq "the test set-up's keys file is mode 0600" 600 "$(stat -c %a "$KEYS_FILE")"
unset JOBCOORD_SECURITY_KEYS_FILE JOBCOORD_SECURITY_ENCRYPTION_KEY_ID JOBCOORD_SECURITY_ALLOW_PLAINTEXT

run db migrate
rc_is "db migrate stores no secret" 0

# status_warnings: the warnings `jobcoord-admin status --json` prints, one
# per line
status_warnings() { "$ADMIN" --json status | python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["warnings"]))'; }
check "status: no plain-text warning while new secrets are refused and none is stored" \
    not grep -q "plain text" <<<"$(status_warnings)"
check "status with allow_plaintext: warns that new secrets would be stored in plain text" \
    grep -q "^no keys file is configured (security.keys_file) and security.allow_plaintext is true: new secrets" \
    <<<"$(JOBCOORD_SECURITY_ALLOW_PLAINTEXT=true status_warnings)"

# plain_count: the rows of every secret column stored in plain text.
plain_count() {
    sql "SELECT (SELECT count(*) FROM principal_keys WHERE enc_key_id IS NULL)
              + (SELECT count(*) FROM signing_keys WHERE enc_key_id IS NULL)
              + (SELECT count(*) FROM principals WHERE totp_secret IS NOT NULL AND totp_enc_key_id IS NULL)"
}
# names_settings TEXT: the refusal names both settings.
names_settings() { contains "$1" "security.keys_file" && contains "$1" "security.allow_plaintext"; }

# --- the daemon: refuses to start when it must create a secret ------------
start_mock_kafka
COORD="$BIN/coordinator/jobcoord"
JOBCOORD_AUTH_BOOTSTRAP_PASSWORD='correct horse battery' timeout 120 "$COORD" \
    --bootstrap-file "$T/kafka.bootstrap" >"$T/refused.log" 2>&1
check_eq "no keys file, no allow_plaintext: the coordinator exits 100 (configuration)" 100 $?
check "it says it refuses to store the token signing key in plain text" \
    grep -q "refusing to store the token signing key in plain text" "$T/refused.log"
check "the refusal names security.keys_file and security.allow_plaintext" \
    names_settings "$(cat "$T/refused.log")"
check_eq "nothing stored: no signing key, no principal, no key" "0 0 0" \
    "$(sql "SELECT (SELECT count(*) FROM signing_keys), (SELECT count(*) FROM principals), (SELECT count(*) FROM principal_keys)" | tr '|' ' ')"
check "it did not reach Kafka" not grep -q "ingest ready" "$T/refused.log"

# --- jobcoord-admin: every command that would store a secret refuses ------
run user add w1 --role worker
rc_is "user add without keys file: refused" 1
check "user add: the refusal is explained" contains "$ERR" "refusing to store the key of 'w1' in plain text"
check "user add: it names both settings" names_settings "$ERR"
check "user add printed no key" [ -z "$OUT" ]
check_eq "user add stored nothing" "0 0" \
    "$(sql "SELECT (SELECT count(*) FROM principals), (SELECT count(*) FROM principal_keys)" | tr '|' ' ')"
run --json user add w1 --role worker
rc_is "user add --json: refused the same way" 1
run security rotate-signing-key
rc_is "rotate-signing-key without keys file: refused" 1
check "rotate-signing-key: the refusal names both settings" names_settings "$ERR"
check_eq "rotate-signing-key stored nothing" 0 "$(sql "SELECT count(*) FROM signing_keys")"

# --- allow_plaintext: a boolean, from a file, the environment or --set ----
printf 'security = { allow_plaintext = 1; };\n' >"$T/bad.conf"
out=$("$COORD" --check-config --config "$T/bad.conf" 2>&1)
check_eq "allow_plaintext = 1 in a file: exit 100" 100 $?
check "... naming the key and what it must be" contains "$out" "key 'security.allow_plaintext' must be true or false"
out=$("$COORD" --check-config --set security.allow_plaintext=yes 2>&1)
check_eq "--set security.allow_plaintext=yes: exit 100" 100 $?
check "... naming the key and the value" contains "$out" "must be true or false, not 'yes'"
JOBCOORD_CONFIG=$T/bad.conf run user list
rc_is "jobcoord-admin with the bad file: exit 111 (configuration)" 111
check "... naming the key" contains "$ERR" "security.allow_plaintext"
out=$("$COORD" --check-config --set security.allow_plaintext=true 2>&1)
check_eq "--set security.allow_plaintext=true is accepted" 0 $?

# the daemon with --set: starts, makes its signing key in plain text, warns
start_coordinator --set security.allow_plaintext=true
check "allowed: the coordinator warns that new secrets are stored in plain text" \
    grep -q "security.allow_plaintext is true: new secrets (principals' HMAC keys, token signing keys, TOTP secrets) are stored in PostgreSQL in plain text" "$T/coordinator.log"
check_eq "allowed: the signing key is stored in plain text (32 bytes)" "1|32" \
    "$(sql "SELECT count(*), max(octet_length(secret)) FROM signing_keys WHERE enc_key_id IS NULL")"
kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null

# jobcoord-admin with a configuration file that allows it
printf 'security = { allow_plaintext = true; };\n' >"$T/plain.conf"
export JOBCOORD_CONFIG=$T/plain.conf
run --json user add dash --role reader
rc_is "allowed (file): user add" 0
check_eq "allowed: user add reports plain text" None "$(js 'd["enc_key_id"]')"
check_eq "allowed: dash's key stored in plain text" "1|32" \
    "$(sql "SELECT count(*), max(octet_length(secret)) FROM principal_keys WHERE principal_id = 'dash' AND enc_key_id IS NULL")"
run user totp enable dash
rc_is "allowed: totp enable" 0
check "allowed: totp enable says plain text" grep -Eq "^stored +plain text" <<<"$OUT"
unset JOBCOORD_CONFIG
JOBCOORD_SECURITY_ALLOW_PLAINTEXT=true run --json user add w1 --role worker
rc_is "allowed (environment): user add" 0
check_eq "two principals' keys, one signing key, one TOTP secret in plain text" 4 "$(plain_count)"

# --- without permission again: plain secrets are read, new ones refused ---
BEFORE=$(sql "SELECT string_agg(key_id || encode(secret, 'hex'), ',' ORDER BY key_id) FROM principal_keys")
TOTP_BEFORE=$(sql "SELECT encode(totp_secret, 'hex') FROM principals WHERE id = 'dash'")
run user rotate-key dash
rc_is "rotate-key without permission: refused" 1
check "rotate-key: names both settings" names_settings "$ERR"
run user totp enable dash
rc_is "totp enable without permission: refused" 1
check "totp enable: names both settings" names_settings "$ERR"
check "totp enable printed no secret" [ -z "$OUT" ]
run security re-encrypt --decrypt
rc_is "re-encrypt --decrypt without permission: refused" 1
check "re-encrypt --decrypt: names security.allow_plaintext" contains "$ERR" "security.allow_plaintext = true"
run security rotate-signing-key
rc_is "rotate-signing-key without permission: refused" 1
check_eq "no key, TOTP secret or signing key changed" \
    "$BEFORE $TOTP_BEFORE 1" \
    "$(sql "SELECT string_agg(key_id || encode(secret, 'hex'), ',' ORDER BY key_id) FROM principal_keys") $(sql "SELECT encode(totp_secret, 'hex') FROM principals WHERE id = 'dash'") $(sql "SELECT count(*) FROM signing_keys")"
run --json user show dash --show-key
rc_is "plain keys are still read (user show --show-key)" 0

# the coordinator starts (its signing key exists, in plain text: it reads
# it) and says what it found, in its log, /v1/status and `status`
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
printf 'reader-password-%s\n' "$$" | "$ADMIN" user set-password dash >/dev/null
: >"$T/coordinator.log"
start_coordinator --set http.listen=127.0.0.1:$PORT
check "it warns that new secrets are refused" \
    grep -q "no keys file configured (security.keys_file): new secrets .* are refused, since security.allow_plaintext is false" "$T/coordinator.log"
PLAIN4="4 secrets are stored in PostgreSQL in plain text (principals' HMAC keys 2, token signing keys 1, TOTP secrets 1)"
check "it counts the secrets in plain text and says how to seal them" \
    grep -q "$PLAIN4.*security re-encrypt" "$T/coordinator.log"
# http_warnings: the warnings of GET /v1/status, read as dash (a reader)
http_warnings() {
    local tok
    tok=$(curl -s --data-urlencode grant_type=password --data-urlencode username=dash \
        --data-urlencode "password=reader-password-$$" "http://127.0.0.1:$PORT/v1/token" |
        python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
    curl -s -H "Authorization: Bearer $tok" "http://127.0.0.1:$PORT/v1/status" |
        python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin)["warnings"]))'
}
check "/v1/status warns of the 4 secrets in plain text" grep -q "^$PLAIN4" <<<"$(http_warnings)"
check "jobcoord-admin status too" grep -q "^$PLAIN4" <<<"$(status_warnings)"
kill -TERM "$COORD_PID"
wait "$COORD_PID" 2>/dev/null

# --- with a keys file: re-encrypt seals them, nothing new is plain --------
export JOBCOORD_SECURITY_KEYS_FILE=$KEYS_FILE JOBCOORD_SECURITY_ENCRYPTION_KEY_ID=$KEY_ID
run --json security re-encrypt
rc_is "re-encrypt to the keys file" 0
check_eq "re-encrypt moved the 4 secrets, none remaining" "4 0" "$(js 'd["moved"], d["remaining"]')"
check_eq "no secret column holds plain text" 0 "$(plain_count)"
check_eq "sealed: 32-byte keys are 72 bytes, the 20-byte TOTP secret 60" "72 72 60" \
    "$(sql "SELECT max(octet_length(secret)) FROM principal_keys") $(sql "SELECT max(octet_length(secret)) FROM signing_keys") $(sql "SELECT octet_length(totp_secret) FROM principals WHERE id = 'dash'")"
sql "DELETE FROM signing_keys" >/dev/null
: >"$T/coordinator.log"
start_coordinator --set http.listen=127.0.0.1:$PORT
check "first start with a keys file: a signing key is made" grep -q "created the first token signing key" "$T/coordinator.log"
check "and no plain-text warning" not grep -q "plain text" "$T/coordinator.log"
check "nor in jobcoord-admin status" not grep -q "plain text" <<<"$(status_warnings)"
run --json user add w2 --role worker
rc_is "user add with the keys file" 0
check_eq "user add reports the sealing key" "$KEY_ID" "$(js 'd["enc_key_id"]')"
W2_HEX=$(js 'd["key"]' | base64 -d | od -An -tx1 | tr -d ' \n')
check "the new key's bytes are not in the table" \
    not grep -q "$W2_HEX" <<<"$(sql "SELECT encode(secret, 'hex') FROM principal_keys")"
run user rotate-key dash
rc_is "rotate-key with the keys file" 0
run user totp enable dash
rc_is "totp enable with the keys file" 0
run security rotate-signing-key
rc_is "rotate-signing-key with the keys file" 0
check_eq "every secret sealed with the keys-file key" 0 "$(plain_count)"
check_eq "... and with that key" 0 \
    "$(sql "SELECT (SELECT count(*) FROM principal_keys WHERE enc_key_id <> '$KEY_ID') + (SELECT count(*) FROM signing_keys WHERE enc_key_id <> '$KEY_ID')")"
check "/v1/status: no plain-text warning once every secret is sealed" \
    not grep -q "plain text" <<<"$(http_warnings)"
jc_done
