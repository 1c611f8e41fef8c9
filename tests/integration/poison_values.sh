#!/usr/bin/env bash
# poison_values: a value the codec accepts but PostgreSQL cannot store (an
# `after` of 2^63 does not fit a bigint) used to fail its whole batch, which
# ingest then re-applied one message per transaction: one such message per
# hundred made every batch crawl. The codec now bounds every uint to 2^53-1
# (PROTOCOL.md section 3.1), so such a message is rejected by the checks
# before the batch is written, and the batch stays one transaction.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup poison_values

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal c1 client
start_coordinator
rej() { sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = '$1'"; }
wire() { python3 "$JC_SOURCE_DIR/tests/lib/wire.py" submit --principal c1 --key-id "$(keyid_of c1)" --key "$(key_of c1)" "$@"; }
send() { produce_as c1 --topic job-requests --raw-file "$1" >/dev/null; }

# 1: the limit itself, one message each side of it
wire --count 1 --poison-every 1 --poison-after $(((1 << 53) - 1)) >"$T/edge_ok"
wire --count 1 --poison-every 1 --poison-after $((1 << 53)) >"$T/edge_bad"
send "$T/edge_ok"
send "$T/edge_bad"
edge_done() { [ "$(sql "SELECT count(*) FROM jobs")" -ge 1 ] && [ "$(rej schema)" -ge 1 ]; }
wait_for 30 "the edge cases applied or rejected" edge_done
check_eq "after = 2^53-1 is stored" 1 "$(sql "SELECT count(*) FROM jobs")"
check_eq "after = 2^53 is rejected as schema" 1 "$(rej schema)"

# 2: 3000 submissions, one in a hundred with after = 2^63
wire --count 3000 --poison-every 100 >"$T/mixed"
t0=$(date +%s.%N)
send "$T/mixed"
wait_for 120 "2970 good jobs stored" sql_is 2971 "SELECT count(*) FROM jobs"
t1=$(date +%s.%N)
jc_log "2970 good submissions with 30 poisoned ones applied in $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
check_eq "every good submission is stored" 2971 "$(sql "SELECT count(*) FROM jobs")"
wait_for 20 "31 schema rejections" sql_is 31 "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = 'schema'"
check_eq "every poisoned one is rejected as schema" 31 "$(rej schema)"
check_eq "no batch failed in the database" 0 "$(rej apply_error)"
check "no batch fell back to one message at a time" sh -c "! grep -q 'applying one message at a time' '$T/coordinator.log'"
# (the rejection log keeps one line per reason and principal per interval:
# the first, for the 2^53 edge case, is the one written)
check "the rejection names the field and the limit" grep -Eq "field 'after' is [0-9]+, outside 0..9007199254740991" "$T/coordinator.log"
jc_done
