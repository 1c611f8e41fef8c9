#!/usr/bin/env bash
# scopes: the scope table enforced at ingest and on every authenticated HTTP
# route. Each scope's allowed and refused actions: a client holding only
# jobs:read cannot submit (forbidden_scope, counted), a worker without
# jobs:run cannot heartbeat, tokens carry the role's defaults when a
# principal has no scopes, a token narrowed to one scope opens only that
# scope's routes, and jobcoord-admin refuses unknown scopes and scopes the
# role does not allow.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup scopes
. "$JC_SOURCE_DIR/tests/lib/adminlib.sh"

TOK="python3 $JC_SOURCE_DIR/tests/lib/tokens.py"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
PW='reader password 123'

start_mock_kafka 2
start_coordinator --set http.listen=127.0.0.1:$PORT --set ingest.key_cache_ttl_ms=0
rej() { sql "SELECT coalesce(sum(count), 0) FROM rejections WHERE reason = '$1'"; }
uuid() { python3 -c 'import uuid; print(uuid.uuid4())'; }
post_form() {
    local path=$1 a
    shift
    local args=()
    for a in "$@"; do args+=(--data-urlencode "$a"); done
    curl -s -o "$T/body" -w '%{http_code}' "${args[@]}" "$URL$path"
}
body() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$T/body" "$1"; }
get() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $2" "$URL$1"; }
cc() { post_form /v1/token grant_type=client_credentials \
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
    "client_assertion=$($TOK assertion --sub "$1" --kid "$(keyid_of "$1")" --key "$(key_of "$1")" --aud "$URL/v1/token")" "${@:2}"; }
# routes CODE... TOKEN: the statuses of the seven authenticated routes
routes() {
    local t=$1 out=""
    for r in /v1/jobs /v1/jobs/00000000-0000-4000-8000-000000000000 /v1/jobs/00000000-0000-4000-8000-000000000000/events \
        /v1/workers /v1/workers/w /v1/status /v1/jobs/stats; do out="$out $(get "$r" "$t")"; done
    echo "${out# }"
}

add_principal cli client
add_principal ro client
add_principal sub client
add_principal w worker
add_principal wr worker
add_principal rd reader
add_principal rdj reader
"$ADMIN" user set ro --scopes jobs:read >/dev/null
"$ADMIN" user set sub --scopes jobs:submit >/dev/null
"$ADMIN" user set wr --scopes jobs:read,workers:read >/dev/null
"$ADMIN" user set rdj --scopes jobs:read >/dev/null
for r in rd rdj; do printf '%s\n' "$PW" | "$ADMIN" user set-password $r >/dev/null; done

# ---- the table, as clients discover it ----
check_eq "metadata lists every scope" "jobs:submit jobs:cancel jobs:run jobs:read workers:read status:read" \
    "$(curl -s "$URL/.well-known/oauth-authorization-server" | python3 -c 'import json,sys; print(" ".join(json.load(sys.stdin)["scopes_supported"]))')"

# ---- ingest ----
JC=$(uuid) JRO=$(uuid) JSUB=$(uuid)
produce_as cli --topic job-requests --type job.submit --job-id "$JC" --job-type t >/dev/null
produce_as ro --topic job-requests --type job.submit --job-id "$JRO" --job-type t >/dev/null
produce_as sub --topic job-requests --type job.submit --job-id "$JSUB" --job-type t >/dev/null
produce_as ro --topic job-requests --type job.cancel --job-id "$JRO" >/dev/null
produce_as sub --topic job-requests --type job.cancel --job-id "$JSUB" >/dev/null
produce_as w --type heartbeat >/dev/null
produce_as wr --type heartbeat >/dev/null
wait_consumed job-requests 5 || exit 1
wait_consumed heartbeats 2 || exit 1
check_eq "a client without scopes submits (role default jobs:submit)" 1 "$(sql "SELECT count(*) FROM jobs WHERE id = '$JC'")"
check_eq "a jobs:read client's job.submit is not applied" 0 "$(sql "SELECT count(*) FROM jobs WHERE id = '$JRO'")"
check_eq "a jobs:submit client submits" 1 "$(sql "SELECT count(*) FROM jobs WHERE id = '$JSUB'")"
check_eq "a jobs:submit client may not cancel: still pending" pending "$(sql "SELECT state FROM jobs WHERE id = '$JSUB'")"
check_eq "a worker without scopes heartbeats (role default jobs:run)" 1 "$(sql "SELECT count(*) FROM workers WHERE id = 'w'")"
check_eq "a worker without jobs:run may not heartbeat" 0 "$(sql "SELECT count(*) FROM workers WHERE id = 'wr'")"
check_eq "refusals counted as forbidden_scope (submit, 2 cancels, heartbeat)" 4 "$(rej forbidden_scope)"
check_eq "by topic" "heartbeats:1 job-requests:3" \
    "$(sql "SELECT string_agg(replace(topic, 'jobcoord.', '') || ':' || count, ' ' ORDER BY topic) FROM rejections WHERE reason = 'forbidden_scope'")"
check "the rejection names the scope" grep -q "job.submit messages need scope jobs:submit, which 'ro' lacks" "$T/coordinator.log"
check "the metric counts it" sh -c "curl -s '$URL/metrics' | grep -q '^jobcoord_messages_rejected_total{reason=\"forbidden_scope\"} 4$'"

# ---- HTTP: tokens and routes ----
check_eq "a client without scopes gets its role's defaults" "200 jobs:submit jobs:cancel jobs:read" "$(cc cli) $(body scope)"
CT=$(body access_token)
check_eq "client defaults: jobs yes, workers and status no" "200 404 404 403 403 403 403" "$(routes "$CT")"
check_eq "a jobs:read client's token says so" "200 jobs:read" "$(cc ro) $(body scope)"
check_eq "jobs:read opens the job routes only" "200 404 404 403 403 403 403" "$(routes "$(body access_token)")"
check_eq "a jobs:submit client's token" "200 jobs:submit" "$(cc sub) $(body scope)"
check_eq "jobs:submit opens no HTTP route" "403 403 403 403 403 403 403" "$(routes "$(body access_token)")"
check "the 403 names the missing scope" grep -q "lacks scope 'status:read'" "$T/body"
check_eq "asking for a scope it lacks: invalid_scope" "400 invalid_scope" "$(cc ro scope=jobs:submit) $(body error)"
check_eq "a token narrowed to jobs:submit" "200 jobs:submit" "$(cc cli scope=jobs:submit) $(body scope)"
check_eq "opens no route either" "403 403 403 403 403 403 403" "$(routes "$(body access_token)")"
check_eq "a worker's defaults" "200 jobs:run jobs:read workers:read" "$(cc w) $(body scope)"
check_eq "worker: jobs and itself, not status" "200 404 404 200 200 403 403" "$(routes "$(body access_token)")"
post_form /v1/token grant_type=password username=rd "password=$PW" >/dev/null
check_eq "a reader's defaults" "jobs:read workers:read status:read" "$(body scope)"
check_eq "reader: every route" "200 404 404 200 200 200 200" "$(routes "$(body access_token)")"
post_form /v1/token grant_type=password username=rd "password=$PW" scope=status:read >/dev/null
check_eq "a reader narrowed to status:read" "403 403 403 403 403 200 200" "$(routes "$(body access_token)")"
post_form /v1/token grant_type=password username=rdj "password=$PW" >/dev/null
RT=$(body refresh_token)
check_eq "a jobs:read reader" "200 404 404 403 403 403 403" "$(routes "$(body access_token)")"
check_eq "its refresh keeps the scope" "200 jobs:read" "$(post_form /v1/token grant_type=refresh_token "refresh_token=$RT") $(body scope)"
RT=$(body refresh_token)
check_eq "and cannot widen it" "400 invalid_scope" "$(post_form /v1/token grant_type=refresh_token "refresh_token=$RT" scope=status:read) $(body error)"

# ---- jobcoord-admin ----
run user add x1 --role client --scopes status:read
rc_is "a scope the role does not allow" 1
check "named" contains "$ERR" "role does not allow scope 'status:read'"
run user add x2 --role client --scopes jobs:fly
rc_is "an unknown scope" 1
check "named" contains "$ERR" "unknown scope 'jobs:fly'"
run user set rdj --role client
rc_is "a role change that its scopes fit" 0
run user set w --scopes status:read
rc_is "user set with a scope outside the role" 1
check_eq "nothing created" 0 "$(sql "SELECT count(*) FROM principals WHERE id IN ('x1', 'x2')")"

jc_done
