#!/usr/bin/env bash
# key_prune: the janitor deletes HMAC keys whose grace period ended more
# than janitor.expired_key_retention_s ago, and only those: a key still in
# its grace period, a key expired more recently than the retention, and
# every principal's current key are kept. A message signed with a pruned
# key is then refused as unknown_key.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup key_prune

start_mock_kafka
"$ADMIN" db migrate >/dev/null || exit 1
add_principal p1 client
add_principal p2 client
add_principal p3 worker
keyid() { sql "SELECT key_id FROM principal_keys WHERE principal_id = '$1' AND valid_until IS NULL"; }
P1_A=$(keyid p1)
"$ADMIN" user rotate-key p1 --grace 3600 >/dev/null || exit 1
P1_B=$(keyid p1)
"$ADMIN" user rotate-key p1 --grace 3600 >/dev/null || exit 1
P1_C=$(keyid p1)
P3_A=$(keyid p3)
"$ADMIN" user rotate-key p3 --grace 0 >/dev/null || exit 1
P3_B=$(keyid p3)
# A's grace ended two hours ago, B is in its grace for an hour more, C is
# current; p3's old key expired just now (within the retention); p2 has
# only its current key, and one that ended long ago
sql "UPDATE principal_keys SET valid_until = now() - interval '2 hours' WHERE key_id = '$P1_A'"
sql "INSERT INTO principal_keys (principal_id, key_id, secret, valid_until)
     VALUES ('p2', 'old-p2', decode(repeat('ab', 32), 'hex'), now() - interval '400 days')"
check_eq "before: p1 has 3 keys, p2 2, p3 2" "3 2 2" \
    "$(sql "SELECT string_agg(n::text, ' ' ORDER BY p) FROM (SELECT principal_id p, count(*) n FROM principal_keys GROUP BY 1) s")"

start_coordinator --set janitor.expired_key_retention_s=3600 --set janitor.interval_ms=200
wait_for 30 "expired keys pruned" sql_is 0 \
    "SELECT count(*) FROM principal_keys WHERE key_id IN ('$P1_A', 'old-p2')"
check_eq "p1's key whose grace ended 2 h ago is deleted" 0 \
    "$(sql "SELECT count(*) FROM principal_keys WHERE key_id = '$P1_A'")"
check_eq "p2's key that ended 400 days ago is deleted" 0 \
    "$(sql "SELECT count(*) FROM principal_keys WHERE key_id = 'old-p2'")"
check_eq "p1's key in its grace period and its current key are kept" "$P1_B $P1_C" \
    "$(sql "SELECT string_agg(key_id, ' ' ORDER BY created_at) FROM principal_keys WHERE principal_id = 'p1'")"
check_eq "p2's current key is kept" "$(keyid_of p2)" \
    "$(sql "SELECT key_id FROM principal_keys WHERE principal_id = 'p2'")"
check_eq "p3's key expired within the retention is kept, with its current key" "$P3_A $P3_B" \
    "$(sql "SELECT string_agg(key_id, ' ' ORDER BY created_at) FROM principal_keys WHERE principal_id = 'p3'")"
check "the coordinator logs each pruned key" grep -q "pruned key $P1_A of p1" "$T/coordinator.log"

# a message signed with the pruned key: unknown_key (and nothing applied)
produce_as p1 --topic job-requests --type job.submit --job-id "$(cat /proc/sys/kernel/random/uuid)" \
    --job-type x >/dev/null
wait_consumed job-requests 1 || exit 1
check_eq "a submission under the pruned key is refused as unknown_key" 1 \
    "$(sql "SELECT count FROM rejections WHERE reason = 'unknown_key'")"
check_eq "and creates no job" 0 "$(sql "SELECT count(*) FROM jobs")"

jc_done
