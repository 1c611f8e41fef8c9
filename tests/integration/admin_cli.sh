#!/usr/bin/env bash
# admin_cli.sh - jobcoord-admin against a private database: every command,
# its exit codes, and its effect on the tables, checked with psql. Covers
# the life of a principal's key (add, show, rotate with grace, delete) and
# the encryption at rest (plain -> key A -> key B in limited batches ->
# plain), checking that the 32 key bytes survive every move.
. "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup admin_cli
jc_plaintext # the test compares the stored bytes of secrets

. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"
b64len() { printf '%s' "$1" | base64 -d 2>/dev/null | wc -c; }

LATEST=$(ls "$JC_SOURCE_DIR"/schemas/sql/[0-9][0-9][0-9]_*.sql | sed 's|.*/||' | sort | tail -1 | cut -c1-3 | sed 's/^0*//')

# --- schema ----------------------------------------------------------------
run user list
rc_is "commands refuse an unmigrated database" 111
check "the refusal says to run db migrate" contains "$ERR" "jobcoord-admin db migrate"

run --json db migrate
rc_is "db migrate" 0
check_eq "db migrate reaches the latest version" "$LATEST" "$(js 'd["version"]')"
check "db migrate applied something" [ "$(js 'd["applied"]')" -ge 1 ]
run db migrate
rc_is "db migrate again" 0
check "db migrate again applies nothing" contains "$OUT" "applied 0 migrations; schema version $LATEST"
check_eq "schema version in the table" "$LATEST" "$(sql 'SELECT max(version) FROM jc_schema_migrations')"

# --- help and usage --------------------------------------------------------
for c in "" "user" "worker" "security" "db" "user add" "user list" "user show" "user rotate-key" \
    "user delete" "worker list" "worker show" "status" "security generate-key" \
    "security re-encrypt" "db migrate"; do
    # shellcheck disable=SC2086
    run $c --help
    check_eq "'$c --help' exits 0" 0 "$RC"
    check "'$c --help' prints a usage line" contains "$OUT" "Usage: jobcoord-admin"
done
run user add --help
check "user add --help documents --role" contains "$OUT" "--role ROLE"
check "help documents the exit codes" contains "$OUT" "100 usage error"
run --version
check "--version" contains "$OUT" "jobcoord-admin "

run frobnicate; rc_is "unknown command" 100
run user frobnicate; rc_is "unknown user command" 100
run user; rc_is "group without command" 100
run; rc_is "no command" 100
run user add carol; rc_is "user add without --role" 100
check "missing --role is named" contains "$ERR" "--role is required"
run user add --role client; rc_is "user add without id" 100
run user add a b --role client; rc_is "user add with two ids" 100
run user list --bogus; rc_is "unknown option" 100
run user rotate-key alice --grace; rc_is "option without its value" 100
run user list --show-key=yes; rc_is "flag with a value" 100
run security re-encrypt --decrypt --key-id x; rc_is "--decrypt with --key-id" 100

# --- user add --------------------------------------------------------------
run user add alice --role client --scopes jobs:submit,jobs:read
rc_is "user add alice" 0
ALICE_K1=$(field key_id)
ALICE_KEY1=$(field key)
check "user add prints a key id" [ -n "$ALICE_K1" ]
check_eq "the key is 32 bytes of base64" 32 "$(b64len "$ALICE_KEY1")"
check "the shown-once notice goes to stderr" contains "$ERR" "shown only once"
check_eq "alice's row" "client|{jobs:submit,jobs:read}|f" \
    "$(sql "SELECT role, scopes, disabled FROM principals WHERE id = 'alice'")"
check_eq "alice's key is stored in plain text, current" "$ALICE_K1|32||t" \
    "$(sql "SELECT key_id, octet_length(secret), enc_key_id, valid_until IS NULL FROM principal_keys WHERE principal_id = 'alice'")"
check_eq "the stored key is the printed key" "$ALICE_KEY1" \
    "$(sql "SELECT encode(secret, 'base64') FROM principal_keys WHERE principal_id = 'alice'")"

run --json user add w1 --role worker
rc_is "user add w1 --json" 0
check_eq "json id" w1 "$(js 'd["id"]')"
check_eq "json role" worker "$(js 'd["role"]')"
W1_K1=$(js 'd["key_id"]')
check_eq "json key id is stored" "$W1_K1" "$(sql "SELECT key_id FROM principal_keys WHERE principal_id = 'w1'")"
check_eq "json key is 32 bytes" 32 "$(b64len "$(js 'd["key"]')")"

run user add root --role admin; rc_is "user add admin" 0
run user add w2 --role worker; rc_is "user add w2" 0
run user add alice --role client; rc_is "duplicate principal" 1
check "duplicate is explained" contains "$ERR" "already exists"
run user add carol --role superuser; rc_is "bad role" 1
run user add 'bad id!' --role client; rc_is "bad id" 1
run user add "$(printf 'x%.0s' $(seq 65))" --role client; rc_is "id too long" 1
run user add carol --role client --scopes 'a,,b'; rc_is "bad scopes" 1
check_eq "refused commands wrote nothing" 4 "$(sql 'SELECT count(*) FROM principals')"

# --- user list / show ------------------------------------------------------
run user list
rc_is "user list" 0
check "user list shows alice's current key id" grep -q "^alice .*client .*$ALICE_K1" <<<"$OUT"
check "user list hides keys" not contains "$OUT" "$ALICE_KEY1"
check_eq "user list has a header and 4 rows" 5 "$(wc -l <<<"$OUT")"
run user list --show-key
check "user list --show-key shows the key" grep -q "^alice .*$ALICE_KEY1" <<<"$OUT"
run --json user list
rc_is "user list --json" 0
check_eq "json list ids, sorted" "['alice', 'root', 'w1', 'w2']" "$(js '[p["id"] for p in d]')"
check_eq "json list scopes" "['jobs:submit', 'jobs:read']" "$(js 'd[0]["scopes"]')"
check_eq "json list without keys" "False" "$(js '"key" in d[0]["keys"][0]')"
run user list --json --show-key
check_eq "json list --show-key" "$ALICE_KEY1" "$(js 'd[0]["keys"][0]["key"]')"
run user show alice
rc_is "user show" 0
check_eq "user show role" client "$(field role)"
check_eq "user show scopes" "jobs:submit,jobs:read" "$(field scopes)"
check "user show lists the key as current" grep -q "^$ALICE_K1 *current" <<<"$OUT"
check "user show hides the key" not contains "$OUT" "$ALICE_KEY1"
run user show alice --show-key
check "user show --show-key" grep -q "^$ALICE_K1 .*$ALICE_KEY1" <<<"$OUT"
run user show alice --json
check_eq "user show --json" "alice client 1 current None" \
    "$(js 'd["id"], d["role"], len(d["keys"]), d["keys"][0]["status"], d["keys"][0]["enc_key_id"]')"
run user show nobody; rc_is "user show unknown" 1
run user show 'bad id!'; rc_is "user show bad id" 1

# --- rotate-key ------------------------------------------------------------
run user rotate-key alice --grace 3600
rc_is "rotate-key with grace" 0
ALICE_K2=$(field key_id)
ALICE_KEY2=$(field key)
check "rotation makes a new key id" [ -n "$ALICE_K2" -a "$ALICE_K2" != "$ALICE_K1" ]
check "rotation makes a new key" [ "$ALICE_KEY2" != "$ALICE_KEY1" ]
check_eq "rotated key is 32 bytes" 32 "$(b64len "$ALICE_KEY2")"
check_eq "old key valid for the grace period" "t" \
    "$(sql "SELECT valid_until BETWEEN now() + interval '3590 s' AND now() + interval '3610 s' FROM principal_keys WHERE principal_id = 'alice' AND key_id = '$ALICE_K1'")"
check_eq "new key is the current one" "$ALICE_K2" \
    "$(sql "SELECT key_id FROM principal_keys WHERE principal_id = 'alice' AND valid_until IS NULL")"
run user show alice --show-key
check "show: new key current" grep -q "^$ALICE_K2 *current .*$ALICE_KEY2" <<<"$OUT"
check "show: old key still valid" grep -q "^$ALICE_K1 *valid .*$ALICE_KEY1" <<<"$OUT"
run --json user rotate-key w1
rc_is "rotate-key without grace" 0
check_eq "json rotate names the previous key" "$W1_K1" "$(js 'd["previous_key_id"]')"
check_eq "without grace the old key expires at once" "t" \
    "$(sql "SELECT valid_until <= now() FROM principal_keys WHERE principal_id = 'w1' AND key_id = '$W1_K1'")"
run user show w1
check "show: expired key" grep -q "^$W1_K1 *expired" <<<"$OUT"
run user rotate-key nobody; rc_is "rotate unknown principal" 1
run user rotate-key alice --grace -1; rc_is "negative grace" 1
run user rotate-key alice --grace 5x; rc_is "grace with junk" 1
check_eq "refused rotations changed nothing" 2 "$(sql "SELECT count(*) FROM principal_keys WHERE principal_id = 'alice'")"

# --- delete ----------------------------------------------------------------
run user add tmp --role client
run user delete tmp
rc_is "user delete" 0
check_eq "principal and keys gone" "0|0" \
    "$(sql "SELECT (SELECT count(*) FROM principals WHERE id = 'tmp'), (SELECT count(*) FROM principal_keys WHERE principal_id = 'tmp')")"
run user delete tmp; rc_is "delete unknown principal" 1

# --- workers and status ----------------------------------------------------
sql "INSERT INTO workers (id, status, capabilities, slots, running_jobs, version, host, last_heartbeat_ts_ms)
     VALUES ('w1', 'online', '{transcode,\"with space\"}', 4, 1, '1.2.3', 'host-a', 1)"
sql "INSERT INTO workers (id, status, slots, version, host, last_heartbeat_ts_ms, last_seen_at)
     VALUES ('w2', 'offline', 2, '1.0.0', 'host-b', 1, now() - interval '2 hours')"
sql "INSERT INTO heartbeats (msg_id, worker_id, seq, sent_at, slots, running_jobs, kafka_partition, kafka_offset)
     SELECT gen_random_uuid(), 'w1', s, now() - (20 - s) * interval '1 s', 4, 1, 0, s FROM generate_series(1, 12) s"
sql "INSERT INTO heartbeats (msg_id, worker_id, seq, sent_at, received_at, slots, running_jobs, kafka_partition, kafka_offset)
     VALUES (gen_random_uuid(), 'w2', 1, now() - interval '2 hours', now() - interval '2 hours', 2, 0, 1, 7)"
sql "INSERT INTO rejections (topic, reason, count, last_detail) VALUES ('jobcoord.heartbeats', 'bad_signature', 3, 'key k1')"
sql "INSERT INTO consumer_offsets (consumer_group, topic, kpartition, next_offset) VALUES ('jobcoord', 'jobcoord.heartbeats', 0, 13)"
sql "INSERT INTO coordinator_instances (id, host, pid, version, started_at, last_seen_at) VALUES ('host-c:42', 'host-c', 42, '0.1.0', now(), now())"

run worker list
rc_is "worker list" 0
check "worker list shows w1" grep -q "^w1 *online *transcode,with space *4 *1 *1.2.3 *host-a" <<<"$OUT"
check "worker list shows w2" grep -q "^w2 *offline" <<<"$OUT"
run worker list --window 600
check_eq "worker list --window keeps recent workers" "ID w1" "$(awk '{print $1}' <<<"$OUT" | tr '\n' ' ' | sed 's/ $//')"
run worker list --window 0; rc_is "worker list --window 0" 1
run --json worker list
check_eq "worker list --json" "2 ['transcode', 'with space'] 4 host-b" \
    "$(js 'len(d), d[0]["capabilities"], d[0]["slots"], d[1]["host"]')"
run worker show w1
rc_is "worker show" 0
check_eq "worker show status" online "$(field status)"
check_eq "worker show prints 10 heartbeats, newest first" "12 11 10 9 8 7 6 5 4 3" \
    "$(sed -n '/^last heartbeats:/,$p' <<<"$OUT" | awk 'NR > 2 {print $2}' | tr '\n' ' ' | sed 's/ $//')"
run --json worker show w1
check_eq "worker show --json" "w1 10 12 ['transcode', 'with space']" \
    "$(js 'd["id"], len(d["heartbeats"]), d["heartbeats"][0]["seq"], d["capabilities"]')"
run worker show nobody; rc_is "worker show unknown" 1

run status
rc_is "status" 0
check "status: workers by status" contains "$OUT" "online 1, offline 1, draining 0"
check "status: principals by role" contains "$OUT" "client 1, worker 2, admin 1"
check "status: heartbeats in the default window" contains "$OUT" "heartbeats applied  12 in the last 300 s"
check "status: rejections" grep -q "^jobcoord.heartbeats *bad_signature *3" <<<"$OUT"
check "status: consumer offsets" grep -q "^jobcoord *jobcoord.heartbeats *0 *13" <<<"$OUT"
check "status: instances" grep -q "^host-c:42 *host-c *42" <<<"$OUT"
check "status: schema version" contains "$OUT" "schema version      $LATEST"
run --json status --window 86400
rc_is "status --json" 0
check_eq "status --json" "$LATEST 1 1 13 86400 3 13 42" \
    "$(js 'd["schema_version"], d["workers"]["online"], d["workers"]["offline"], d["heartbeats_applied"], d["window_s"], d["rejections"][0]["count"], d["consumer_offsets"][0]["next_offset"], d["coordinator_instances"][0]["pid"]')"
run status --window abc; rc_is "status bad window" 1

# --- security generate-key -------------------------------------------------
run security generate-key xchacha20poly1305
rc_is "generate-key" 0
check "generate-key prints a keys-file line" grep -Eq '^k[0-9]{8}_[0-9a-f]{4} = "xchacha20poly1305:[A-Za-z0-9+/]{43}=";$' <<<"$OUT"
run security generate-key rot13
rc_is "generate-key unknown algorithm" 1
check "the supported algorithms are listed" contains "$ERR" "xchacha20poly1305"
run security generate-key; rc_is "generate-key without algorithm" 100

# --- re-encryption ---------------------------------------------------------
NKEYS=$(sql "SELECT count(*) FROM principal_keys")
check_eq "all keys start in plain text" "$NKEYS" "$(sql "SELECT count(*) FROM principal_keys WHERE enc_key_id IS NULL AND octet_length(secret) = 32")"
PLAIN_BEFORE=$(sql "SELECT string_agg(principal_id || key_id || encode(secret, 'hex'), ',' ORDER BY principal_id, key_id) FROM principal_keys WHERE principal_id <> 'root'")
run security re-encrypt; rc_is "re-encrypt with no target" 1
LINE_A=$("$ADMIN" security generate-key xchacha20poly1305)
sleep 0.01
LINE_B=$("$ADMIN" security generate-key xchacha20poly1305)
KEY_A=${LINE_A%% *}
KEY_B=${LINE_B%% *}
[ "$KEY_A" = "$KEY_B" ] && { KEY_B=${KEY_B}x; LINE_B="$KEY_B ${LINE_B#* }"; }
printf 'keys = {\n  %s\n  %s\n};\n' "$LINE_A" "$LINE_B" >"$T/keys.conf"
export JOBCOORD_SECURITY_KEYS_FILE="$T/keys.conf"
export JOBCOORD_SECURITY_ENCRYPTION_KEY_ID="$KEY_A"

run security re-encrypt --key-id nope; rc_is "re-encrypt to a key not in the file" 1
run --json security re-encrypt
rc_is "re-encrypt to key A (the configured one)" 0
check_eq "re-encrypt counts" "$NKEYS 1 0" "$(js 'd["moved"], d["batches"], d["remaining"]')"
check_eq "every row sealed with A, 72 bytes" "$NKEYS" \
    "$(sql "SELECT count(*) FROM principal_keys WHERE enc_key_id = '$KEY_A' AND octet_length(secret) = 72")"
run user show alice --show-key
check "sealed keys still open: current" grep -q "^$ALICE_K2 .*$KEY_A .*$ALICE_KEY2" <<<"$OUT"
check "sealed keys still open: rotated" grep -q "^$ALICE_K1 .*$KEY_A .*$ALICE_KEY1" <<<"$OUT"

run user add bob --role client
rc_is "user add with a keys file" 0
BOB_KEY=$(field key)
check_eq "new keys are sealed with the configured key" "$KEY_A|72" \
    "$(sql "SELECT enc_key_id, octet_length(secret) FROM principal_keys WHERE principal_id = 'bob'")"
NKEYS=$((NKEYS + 1))

run --json security re-encrypt --key-id "$KEY_B" --limit 3 --batch-size 2
rc_is "re-encrypt to B with a limit" 0
check_eq "limit and batches respected" "3 2 $((NKEYS - 3))" "$(js 'd["moved"], d["batches"], d["remaining"]')"
check_eq "3 rows on B" 3 "$(sql "SELECT count(*) FROM principal_keys WHERE enc_key_id = '$KEY_B'")"
run --json security re-encrypt --key-id "$KEY_B" --client-id w2
check_eq "--client-id moves only that principal" "1 0|$KEY_B|$((NKEYS - 4))" \
    "$(js 'd["moved"], d["remaining"]')|$(sql "SELECT enc_key_id FROM principal_keys WHERE principal_id = 'w2'")|$(sql "SELECT count(*) FROM principal_keys WHERE enc_key_id = '$KEY_A'")"
run security re-encrypt --key-id "$KEY_B" --batch-size 1
rc_is "re-encrypt the rest to B" 0
check_eq "every row on B" "$NKEYS" "$(sql "SELECT count(*) FROM principal_keys WHERE enc_key_id = '$KEY_B' AND octet_length(secret) = 72")"
run user show alice --show-key
check "after two moves the keys are the same: current" grep -q "^$ALICE_K2 .*$KEY_B .*$ALICE_KEY2" <<<"$OUT"
check "after two moves the keys are the same: rotated" grep -q "^$ALICE_K1 .*$KEY_B .*$ALICE_KEY1" <<<"$OUT"
run --json user show bob --show-key
check_eq "bob's key survives" "$BOB_KEY" "$(js 'd["keys"][0]["key"]')"

# A sealed secret copied to another row does not open (associated data).
sql "UPDATE principal_keys SET secret = (SELECT secret FROM principal_keys WHERE principal_id = 'bob') WHERE principal_id = 'root'"
run user show root --show-key
rc_is "a secret moved to another row does not open" 111
check "the failing key is named" contains "$ERR" "of 'root'"
run user delete root

run security re-encrypt --decrypt --from-key-id "$KEY_A"
rc_is "--from-key-id with no match" 0
check "nothing matched key A" contains "$OUT" "moved 0 keys"
run security re-encrypt --decrypt
rc_is "re-encrypt --decrypt" 0
check_eq "every row plain again" "$((NKEYS - 1))" \
    "$(sql "SELECT count(*) FROM principal_keys WHERE enc_key_id IS NULL AND octet_length(secret) = 32")"
check_eq "alice's current key is the same 32 bytes" "$ALICE_KEY2" \
    "$(sql "SELECT encode(secret, 'base64') FROM principal_keys WHERE principal_id = 'alice' AND key_id = '$ALICE_K2'")"
check_eq "the same bytes as before any encryption" "$PLAIN_BEFORE" \
    "$(sql "SELECT string_agg(principal_id || key_id || encode(secret, 'hex'), ',' ORDER BY principal_id, key_id) FROM principal_keys WHERE principal_id <> 'bob'")"

# Keys file trouble is a system error that names the file or key.
JOBCOORD_SECURITY_KEYS_FILE=$T/missing.conf run user add carol --role client
rc_is "missing keys file" 111
check "missing keys file is named" contains "$ERR" "missing.conf"
JOBCOORD_SECURITY_ENCRYPTION_KEY_ID=knope run user add carol --role client
rc_is "encryption key id not in the keys file" 111
check "the key id is named" contains "$ERR" "knope"
unset JOBCOORD_SECURITY_KEYS_FILE JOBCOORD_SECURITY_ENCRYPTION_KEY_ID

# --- configuration ---------------------------------------------------------
printf 'log = {\n  level = "info";\n  levle = "debug";\n};\n' >"$T/bad.conf"
run -c "$T/bad.conf" user list
rc_is "config file with an unknown key" 111
check "the unknown key and its line are named" contains "$ERR" "unknown key 'log.levle' ($T/bad.conf:3)"
printf 'ingest = { batch_max_ms = "fast"; };\n' >"$T/type.conf"
run --config "$T/type.conf" user list
rc_is "config file with a wrong type" 111
check "the wrong type is named" contains "$ERR" "key 'ingest.batch_max_ms' must be an integer"
printf 'database = { conninfo = "dbname=no_such_db_jc"; };\nlog = { level = "warn"; };\n' >"$T/good.conf"
run -c "$T/good.conf" user list
rc_is "environment overrides the file" 0
JOBCOORD_CONFIG=$T/bad.conf run user list
rc_is "JOBCOORD_CONFIG names the file" 111
run --set database.conninfo=dbname=no_such_db_jc user list
rc_is "--set overrides the environment (cannot connect)" 111
check "connection failure explained" contains "$ERR" "cannot connect"
run --set no.such=1 user list; rc_is "--set unknown key" 100
run --set ingest.batch_max_ms=12ms user list; rc_is "--set bad integer" 100
run --set ingest.batch_max_ms user list; rc_is "--set without =" 100
JOBCOORD_KAFKA_PARTITIONS=1000 run user list
rc_is "out-of-range environment value" 111
check "the range is named" contains "$ERR" "1..256"

jc_done
