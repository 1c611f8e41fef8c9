#!/usr/bin/env bash
# http_spec: the HTTP surface against its contract, schemas/openapi.yaml.
# The document is a valid OpenAPI 3.1 description of every route of the
# contract (tests/js/validate-openapi.mjs). The checker of answers
# (tests/js/check-answer.mjs) accepts answers written from the contract and
# refuses wrong ones (controls, no server needed). Then a live coordinator
# with a worker, a client and jobs is asked on every route, with and without
# tokens and with bad parameters, and each answer (status, Content-Type,
# body, declared headers) is checked against the document in one batch.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup http_spec

JS=$JC_SOURCE_DIR/tests/js
SPEC=$JC_SOURCE_DIR/schemas/openapi.yaml
TOK="python3 $JC_SOURCE_DIR/tests/lib/tokens.py"
export NODE_NO_WARNINGS=1 # node 18: no ExperimentalWarning lines in the log
if ! command -v node >/dev/null || [ ! -d "$JS/node_modules" ]; then
    not_ok "node and tests/js/node_modules are there (run scripts/bootstrap --js)"
    jc_done
fi

# checked_lines FILE: counts each "ok - " / "not ok - " line of a checker's
# output as this test's own; the "#" lines under them (the reasons) are shown.
checked_lines() {
    local line
    while IFS= read -r line; do
        case "$line" in
        "ok - "*) ok "${line#ok - }" ;;
        "not ok - "*) not_ok "${line#not ok - }" ;;
        *) echo "$line" ;;
        esac
    done <"$1"
}
# refused_lines FILE: the controls' output, where every answer must be refused.
refused_lines() {
    local line
    while IFS= read -r line; do
        case "$line" in
        "not ok - "*) ok "control refused: ${line#not ok - }" ;;
        "ok - "*) not_ok "control accepted a wrong answer: ${line#ok - }" ;;
        *) ;;
        esac
    done <"$1"
}

# ---- the document ----
node "$JS/validate-openapi.mjs" "$SPEC" >"$T/validate.out" 2>&1
rc=$?
sed 's/^/# /' "$T/validate.out"
check "openapi.yaml is a valid OpenAPI 3.1 document" \
    grep -qx 'ok - openapi.yaml is a valid OpenAPI 3.1 document' "$T/validate.out"
check_eq "validate-openapi exits 0" 0 "$rc"
# docs/http-api.md names every operation of the spec, and no other
node "$JS/check-docs.mjs" "$SPEC" "$JC_SOURCE_DIR/docs/http-api.md" >"$T/docs.out" 2>&1
check_eq "docs/http-api.md agrees with openapi.yaml" 0 "$?"
grep '^not ok' "$T/docs.out" | sed 's/^/# /'
# control: a copy without one route of the contract and with an open object
sed -e 's|^  /v1/jobs/stats:$|  /v1/jobs/statistics:|' \
    -e '/^    Health:$/,/^    Ready:$/{/additionalProperties: false/d}' "$SPEC" >"$T/broken.yaml"
node "$JS/validate-openapi.mjs" "$T/broken.yaml" >"$T/broken.out" 2>&1
check_eq "control: validate-openapi refuses a broken copy" 1 "$?"
check "control: it names the missing route" grep -q 'GET /v1/jobs/stats (in the contract) is missing' "$T/broken.out"
check "control: it names the open object" grep -q 'Health is an object without additionalProperties: false' "$T/broken.out"

# ---- controls of the answer checker: answers written from the contract ----
C=$T/controls
mkdir -p "$C"
# control NAME METHOD PATH STATUS CONTENT-TYPE [HEADERS]: the body is on stdin;
# HEADERS ("Name: value|Name: value") makes a header block too.
control() {
    local name=$1 method=$2 path=$3 status=$4 ctype=$5 headers=${6:-} hdr=""
    cat >"$C/$name.body"
    if [ -n "$headers" ]; then
        printf 'HTTP/1.1 %s X\r\nContent-Type: %s\r\n' "$status" "$ctype" >"$C/$name.headers"
        tr '|' '\n' <<<"$headers" | sed 's/$/\r/' >>"$C/$name.headers"
        printf '\r\n' >>"$C/$name.headers"
        hdr=",\"headersFile\":\"$name.headers\""
    fi
    printf '{"name":"%s","method":"%s","path":"%s","status":%s,"contentType":"%s","bodyFile":"%s.body"%s}\n' \
        "$name" "$method" "$path" "$status" "$ctype" "$name" "$hdr" >>"$C/$BATCH"
}
J=6f1a3c2e-8b4d-4e7f-9a01-23456789abcd
TS=2026-11-22T19:51:47.123Z
JOB='"id":"'$J'","type":"echo","state":"succeeded","submitter":"c1","worker":"w1","priority":0,"attempt":1,"max_attempts":3,"progress":100,"error":null,"cancel_reason":null,"idempotency_key":"k-1","created_at":"'$TS'","updated_at":"'$TS'","assigned_at":"'$TS'","started_at":"'$TS'","finished_at":"'$TS'","run_after":"'$TS'","timeout_ms":60000,"waiting_reason":null,"refusals":0'
PENDING='"id":"'$J'","type":"t2","state":"pending","submitter":"c1","worker":null,"priority":-5,"attempt":0,"max_attempts":1,"progress":null,"error":null,"cancel_reason":null,"idempotency_key":null,"created_at":"'$TS'","updated_at":"'$TS'","assigned_at":null,"started_at":null,"finished_at":null,"run_after":"'$TS'","timeout_ms":1,"waiting_reason":"no worker can run this type","refusals":0'
WORKER='"id":"w1","status":"online","capabilities":["echo","t1"],"slots":4,"running_jobs":0,"version":"0.1.0","host":"h1","uptime_s":12,"config_version":null,"drain_requested":false,"first_seen_at":"'$TS'","last_seen_at":"'$TS'","status_changed_at":"'$TS'","unacked_assigns":0,"held_back_since":null,"held_back_reason":null'

BATCH=good.jsonl
control health GET /healthz 200 application/json 'Cache-Control: no-store' <<<'{"status":"alive"}'
control ready GET /readyz 200 application/json <<<'{"status":"ready","postgresql":true,"consumer_assigned":true,"signing_key":true,"version":"0.1.0"}'
control not-ready GET /readyz 503 application/json <<<'{"status":"not ready","postgresql":true,"consumer_assigned":false,"signing_key":true,"version":"0.1.0"}'
printf '# HELP jobcoord_jobs Jobs by state.\n# TYPE jobcoord_jobs gauge\njobcoord_jobs{state="pending"} 0\njobcoord_up 1 1795376707000\nx_seconds{quantile="0.5",le="+Inf"} 1.5e-3\n' |
    control metrics GET /metrics 200 'text/plain; version=0.0.4'
control jwks GET /.well-known/jwks.json 200 application/json 'Cache-Control: max-age=60' \
    <<<'{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k-2","use":"sig","alg":"EdDSA"}]}'
control metadata GET /.well-known/oauth-authorization-server 200 application/json <<<'{"issuer":"http://127.0.0.1:8080","token_endpoint":"http://127.0.0.1:8080/v1/token","jwks_uri":"http://127.0.0.1:8080/.well-known/jwks.json","revocation_endpoint":"http://127.0.0.1:8080/v1/revoke","grant_types_supported":["client_credentials","password","refresh_token"],"token_endpoint_auth_methods_supported":["client_secret_jwt"],"token_endpoint_auth_signing_alg_values_supported":["HS256"],"revocation_endpoint_auth_methods_supported":["client_secret_jwt","none"],"response_types_supported":[],"scopes_supported":["jobs:read"]}'
control token POST /v1/token 200 application/json 'Cache-Control: no-store' <<<'{"access_token":"eyJhbGciOiJFZERTQSJ9.eyJzdWIiOiJjMSJ9.c2ln","token_type":"Bearer","expires_in":900,"scope":""}'
control token-refresh POST /v1/token 200 application/json <<<'{"access_token":"a.b.c","token_type":"Bearer","expires_in":60,"refresh_token":"r-1","scope":"jobs:read status"}'
control token-refused POST /v1/token 400 application/json 'Cache-Control: no-store|Pragma: no-cache' \
    <<<'{"error":"invalid_grant","error_description":"the username or password is wrong"}'
control token-bad-client POST /v1/token 401 application/json <<<'{"error":"invalid_client","error_description":"assertion expired"}'
control revoke POST /v1/revoke 200 application/json <<<'{}'
control no-token GET /v1/status 401 application/json 'Cache-Control: no-store|WWW-Authenticate: Bearer realm="jobcoord"' \
    <<<'{"error":"unauthorized","message":"a bearer token is required"}'
control status GET /v1/status 200 application/json <<<'{"version":"0.1.0","instance":"h:1","uptime_s":3,"workers":{"online":1,"offline":0,"draining":0},"jobs":{"pending":1,"assigned":0,"running":0,"succeeded":1,"failed":0,"canceling":0,"canceled":0},"commands":{"pending":0,"sent":0,"acked":1,"failed":0,"done":1},"ingest":{"assigned_partitions":1,"caught_up":true,"lag":null,"applied_total":9,"rejected_total":0,"position_resets":0,"records_lost":0,"record_timestamps":"create_time"},"rejections":[{"topic":"heartbeats","reason":"bad_mac","count":2,"last_at":"'$TS'"}],"warnings":["Kafka: security.protocol is plaintext"]}'
control workers GET /v1/workers 200 application/json <<<'{"workers":[{'"$WORKER"'}],"hidden_offline":0}'
control workers-some-hidden GET '/v1/workers?all=false' 200 application/json <<<'{"workers":[],"hidden_offline":3}'
control worker GET /v1/workers/w1 200 application/json <<<'{'"$WORKER"',"jobs":[{'"$JOB"'}],"events":[{"at":"'$TS'","level":"warn","kind":"disk.low","text":"5% left"}]}'
control jobs GET /v1/jobs 200 application/json <<<'{"jobs":[{'"$JOB"'},{'"$PENDING"'}],"next_cursor":"AQAF"}'
control jobs-last-page GET '/v1/jobs?state=pending' 200 application/json <<<'{"jobs":[],"next_cursor":null}'
control job GET /v1/jobs/$J 200 application/json <<<'{'"$JOB"',"payload_size":5,"result_size":3,"payload_base64":"aGVsbG8=","result_base64":"b2sh"}'
control job-pending GET /v1/jobs/$J 200 application/json <<<'{'"$PENDING"',"payload_size":0,"result_size":null,"payload_base64":"","result_base64":null}'
control events GET /v1/jobs/$J/events 200 application/json <<<'{"events":[{"id":1,"at":"'$TS'","attempt":0,"kind":"state","from":null,"to":"pending","worker":null,"stream":null,"progress":null,"text":null},{"id":7,"at":"'$TS'","attempt":1,"kind":"progress","from":null,"to":null,"worker":"w1","stream":null,"progress":50,"text":null},{"id":8,"at":"'$TS'","attempt":1,"kind":"log","from":null,"to":null,"worker":"w1","stream":"stderr","progress":null,"text":"hello"}]}'
control stats GET '/v1/jobs/stats?window=60' 200 application/json <<<'{"window_s":60,"types":[{"type":"echo","succeeded":3,"failed":1,"canceled":0,"total":4,"success_rate":0.75,"duration_ms":{"p50":12,"p90":40.5,"p99":99}},{"type":"t2","succeeded":0,"failed":0,"canceled":0,"total":0,"success_rate":null,"duration_ms":null}],"submitters":[{"submitter":"c1","succeeded":3,"failed":1,"canceled":0,"total":4,"success_rate":0.75,"duration_ms":{"p50":12,"p90":40.5,"p99":99}}]}'
control bad-uuid GET /v1/jobs/nope 400 application/json <<<'{"error":"bad_request","message":"id: not a UUID"}'
control forbidden GET /v1/jobs/stats 403 application/json <<<'{"error":"forbidden","message":"admins and readers only"}'
control unknown-route GET /nope 404 application/json <<<'{"error":"not_found","message":"no such route"}'
control wrong-method POST /healthz 405 application/json 'Cache-Control: no-store|Allow: GET, HEAD' <<<'{"error":"method_not_allowed","message":"POST is not served here"}'
control too-large GET /healthz 413 application/json <<<'{"error":"payload_too_large","message":"the body is larger than 16384 bytes"}'
control unavailable GET /v1/jobs 503 application/json <<<'{"error":"unavailable","message":"PostgreSQL cannot be reached"}'
node "$JS/check-answer.mjs" --spec "$SPEC" --batch "$C/good.jsonl" >"$T/good.out" 2>&1
check_eq "check-answer exits 0 when every answer is right" 0 "$?"
sed 's/^ok - /ok - control accepted: /' "$T/good.out" >"$T/good.lines"
checked_lines "$T/good.lines"

# ---- controls: wrong answers, each must be refused ----
BATCH=bad.jsonl
control extra-field GET /healthz 200 application/json <<<'{"status":"alive","uptime":3}'
control ready-without-signing-key GET /readyz 200 application/json <<<'{"status":"ready","postgresql":true,"consumer_assigned":true,"version":"0.1.0"}'
control ready-but-not GET /readyz 200 application/json <<<'{"status":"not ready","postgresql":false,"consumer_assigned":true,"signing_key":true,"version":"0.1.0"}'
control unknown-error-code GET /metrics 500 application/json <<<'{"error":"too_large","message":"metrics do not fit"}'
control error-code-of-another-status GET /v1/jobs/nope 400 application/json <<<'{"error":"not_found","message":"x"}'
control metrics-garbage GET /metrics 200 'text/plain; version=0.0.4' <<<'this is not prometheus'
control metrics-unversioned GET /metrics 200 text/plain <<<'jobcoord_up 1'
control healthz-as-html GET /healthz 200 text/html <<<'{"status":"alive"}'
control not-json GET /healthz 200 application/json <<<'{"status":'
control rsa-key GET /v1/jwks 200 application/json <<<'{"keys":[{"kty":"RSA","crv":"Ed25519","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo","kid":"k","use":"sig","alg":"EdDSA"}]}'
control short-key GET /v1/jwks 200 application/json <<<'{"keys":[{"kty":"OKP","crv":"Ed25519","x":"11qYAYKx","kid":"k","use":"sig","alg":"EdDSA"}]}'
control metadata-with-docs GET /.well-known/oauth-authorization-server 200 application/json <<<'{"issuer":"http://h","token_endpoint":"http://h/v1/token","jwks_uri":"http://h/.well-known/jwks.json","revocation_endpoint":"http://h/v1/revoke","grant_types_supported":["client_credentials","password","refresh_token"],"token_endpoint_auth_methods_supported":["client_secret_jwt"],"token_endpoint_auth_signing_alg_values_supported":["HS256"],"revocation_endpoint_auth_methods_supported":["client_secret_jwt","none"],"response_types_supported":[],"scopes_supported":[],"service_documentation":"http://h/docs"}'
control token-type-lowercase POST /v1/token 200 application/json <<<'{"access_token":"a.b.c","token_type":"bearer","expires_in":900,"scope":""}'
control oauth-error-as-api-error POST /v1/token 400 application/json <<<'{"error":"bad_request","message":"grant_type is required"}'
control oauth-error-without-pragma POST /v1/token 400 application/json 'Cache-Control: no-store' <<<'{"error":"invalid_request","error_description":"x"}'
control revoke-not-empty POST /v1/revoke 200 application/json <<<'{"revoked":true}'
control no-www-authenticate GET /v1/jobs 401 application/json 'Cache-Control: no-store' <<<'{"error":"unauthorized","message":"a bearer token is required"}'
control no-cache-control GET /v1/jobs 200 application/json 'X-Other: 1' <<<'{"jobs":[],"next_cursor":null}'
control status-missing-draining GET /v1/status 200 application/json <<<'{"version":"0.1.0","instance":"h:1","uptime_s":3,"workers":{"online":1,"offline":0},"jobs":{"pending":1,"assigned":0,"running":0,"succeeded":1,"failed":0,"canceling":0,"canceled":0},"commands":{"pending":0,"sent":0,"acked":1,"failed":0,"done":1},"ingest":{"assigned_partitions":1,"caught_up":true,"lag":null,"applied_total":9,"rejected_total":0,"position_resets":0,"records_lost":0,"record_timestamps":null},"rejections":[],"warnings":[]}'
control worker-unknown-status GET /v1/workers 200 application/json <<<'{"workers":[{'"${WORKER/online/busy}"'}],"hidden_offline":0}'
control workers-without-hidden-count GET /v1/workers 200 application/json <<<'{"workers":[{'"$WORKER"'}]}'
control workers-negative-hidden-count GET /v1/workers 200 application/json <<<'{"workers":[],"hidden_offline":-1}'
control job-time-without-ms GET /v1/jobs/$J 200 application/json <<<'{'"${JOB/$TS/2026-11-22T19:51:47Z}"',"payload_size":5,"result_size":3,"payload_base64":"aGVsbG8=","result_base64":"b2sh"}'
control job-without-payload GET /v1/jobs/$J 200 application/json <<<'{'"$JOB"',"payload_size":5,"result_size":null,"result_base64":null}'
control job-bad-uuid GET /v1/jobs 200 application/json <<<'{"jobs":[{'"${JOB/$J/not-a-uuid}"'}],"next_cursor":null}'
control jobs-without-cursor GET /v1/jobs 200 application/json <<<'{"jobs":[]}'
control event-unknown-kind GET /v1/jobs/$J/events 200 application/json <<<'{"events":[{"id":1,"at":"'$TS'","attempt":0,"kind":"note","from":null,"to":null,"worker":null,"stream":null,"progress":null,"text":null}]}'
control stats-rate-over-one GET /v1/jobs/stats 200 application/json <<<'{"window_s":60,"types":[{"type":"echo","succeeded":3,"failed":0,"canceled":0,"total":2,"success_rate":1.5,"duration_ms":null}],"submitters":[]}'
control route-answers-undocumented-status GET /v1/jobs 418 application/json <<<'{"error":"internal","message":"teapot"}'
control unknown-route-answers-200 GET /nope 200 application/json <<<'{"status":"alive"}'
printf '{"name":"status-not-expected","method":"GET","path":"/v1/jobs?limit=0","status":200,"expectStatus":400,"contentType":"application/json","bodyFile":"jobs-last-page.body"}\n' >>"$C/bad.jsonl"
node "$JS/check-answer.mjs" --spec "$SPEC" --batch "$C/bad.jsonl" >"$T/bad.out" 2>&1
check_eq "check-answer exits 1 when an answer is wrong" 1 "$?"
check_eq "every wrong answer was refused" "$(grep -c '"name"' "$C/bad.jsonl")" "$(grep -c '^not ok - ' "$T/bad.out")"
refused_lines "$T/bad.out"
# one answer at a time: the command line form, as the brief for it says
node "$JS/check-answer.mjs" --spec "$SPEC" --method GET --path '/v1/jobs/{id}' --status 200 \
    --content-type application/json --body-file "$C/job.body" >"$T/one.out" 2>&1
check "check-answer, one answer: ok" grep -qx 'ok - GET /v1/jobs/{id} 200 application/json' "$T/one.out"
node "$JS/check-answer.mjs" --spec "$SPEC" --method GET --path /healthz --status 200 \
    --content-type application/json --body-file "$C/extra-field.body" >"$T/one.out" 2>&1
check_eq "check-answer, one wrong answer: exit 1" 1 "$?"
check "check-answer, one wrong answer: not ok, naming the extra field" \
    grep -q 'additionalProperty.*uptime' "$T/one.out"

# ---- the live coordinator ----
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
ADMIN_PW='correct horse battery staple'
start_mock_kafka 1
"$ADMIN" db migrate >/dev/null || exit 1
add_principal w1 worker
add_principal c1 client
export JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$ADMIN_PW
start_coordinator --set http.listen=127.0.0.1:$PORT --set http.max_body_bytes=1024
unset JOBCOORD_AUTH_BOOTSTRAP_PASSWORD

uuid() { cat /proc/sys/kernel/random/uuid; }
event() { local j=$1 k=$2; shift 2; produce_as w1 --topic job-events --type job.event --job-id "$j" --attempt 1 --kind "$k" "$@" >/dev/null; }
J1=$(uuid)
J2=$(uuid)
produce_as c1 --topic job-requests --type job.submit --job-id "$J1" --job-type t1 --ikey key-1 --payload hello >/dev/null
produce_as c1 --topic job-requests --type job.submit --job-id "$J2" --job-type t2 >/dev/null
produce_as w1 --job-type t1 >/dev/null
produce_as w1 --topic worker-events --type worker.event >/dev/null
wait_for 20 "J1 assigned" sql_is assigned "SELECT state FROM jobs WHERE id = '$J1'" || exit 1
CMD=$(sql "SELECT id FROM commands WHERE kind = 'assign' AND job_id = '$J1'")
event "$J1" started --cmd "$CMD"
event "$J1" progress --progress 50
event "$J1" log --text "hello from w1"
event "$J1" succeeded --result "the result"
wait_for 20 "J1 succeeded" sql_is succeeded "SELECT state FROM jobs WHERE id = '$J1'" || exit 1
wait_for 20 "the worker event stored" sql_is 1 "SELECT count(*) FROM worker_events" || exit 1

A=$T/answers
mkdir -p "$A"
# answer NAME EXPECTED-STATUS METHOD PATH [curl options...]: asks the
# coordinator, keeps the answer in $A/NAME.body and NAME.headers, and adds it
# to the batch that check-answer checks at the end.
answer() {
    local name=$1 expect=$2 method=$3 path=$4 status
    shift 4
    status=$(curl -s -m 10 -X "$method" -o "$A/$name.body" -D "$A/$name.headers" -w '%{http_code}' "$@" "$URL$path")
    status=$((10#${status:-0})) # curl's 000: no answer at all
    printf '{"name":"%s","method":"%s","path":"%s","status":%s,"expectStatus":%s,"bodyFile":"%s.body","headersFile":"%s.headers"}\n' \
        "$name" "$method" "$path" "${status:-0}" "$expect" "$name" "$name" >>"$A/batch.jsonl"
}
# token ARGS...: the access_token of a POST /v1/token with the form ARGS.
token() {
    local a args=()
    for a in "$@"; do args+=(--data-urlencode "$a"); done
    curl -s -m 10 "${args[@]}" "$URL/v1/token" |
        python3 -c 'import json,sys; print(json.load(sys.stdin).get("access_token", ""))' 2>/dev/null
}
assertion() { $TOK assertion --sub "$1" --kid "$(keyid_of "$1")" --key "$(key_of "$1")" --aud "$URL/v1/token"; }
ASSERTION_TYPE=client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer

answer healthz 200 GET /healthz
answer readyz 200 GET /readyz
answer metrics 200 GET /metrics
answer jwks 200 GET /.well-known/jwks.json
answer jwks-v1 200 GET /v1/jwks
answer oauth-metadata 200 GET /.well-known/oauth-authorization-server
answer unknown-route 404 GET /nope
answer dashboard 200 GET /
answer dashboard-css 200 GET /ui/app.css
answer dashboard-js 200 GET /ui/app.js
answer dashboard-missing 404 GET /ui/nope.js
answer wrong-method 405 POST /healthz --data x=1
answer token-wrong-method 405 GET /v1/token
head -c 2000 /dev/zero | tr '\0' x >"$T/big.form"
answer body-too-large-get 413 GET /v1/workers --data-binary "@$T/big.form"
answer body-too-large 413 POST /v1/token --data-binary "@$T/big.form"
answer body-chunked-form 411 POST /v1/token -H 'Transfer-Encoding: chunked' --data-binary "@$T/big.form"
answer token-no-grant 400 POST /v1/token --data scope=x
answer token-bad-grant 400 POST /v1/token --data grant_type=magic
answer token-wrong-password 400 POST /v1/token --data grant_type=password --data username=admin --data password=wrong
answer token-bad-assertion 401 POST /v1/token --data grant_type=client_credentials --data "$ASSERTION_TYPE" \
    --data client_assertion=e30.e30.c2ln
answer token-not-a-form 415 POST /v1/token -H 'Content-Type: application/json' --data '{"grant_type":"password"}'
answer token-password 200 POST /v1/token --data grant_type=password --data username=admin \
    --data-urlencode "password=$ADMIN_PW"
answer token-client 200 POST /v1/token --data grant_type=client_credentials --data "$ASSERTION_TYPE" \
    --data "client_assertion=$(assertion c1)"
answer revoke-unknown 200 POST /v1/revoke --data token=not-a-token
answer revoke-no-token 400 POST /v1/revoke --data token_type_hint=access_token
answer status-no-token 401 GET /v1/status
answer status-bad-token 401 GET /v1/status -H 'Authorization: Bearer e30.e30.c2ln'

ADMIN_AT=$(token grant_type=password username=admin "password=$ADMIN_PW")
CLIENT_AT=$(token grant_type=client_credentials "$ASSERTION_TYPE" "client_assertion=$(assertion c1)")
WORKER_AT=$(token grant_type=client_credentials "$ASSERTION_TYPE" "client_assertion=$(assertion w1)")
check "an admin token (password grant)" test -n "$ADMIN_AT"
check "a client token (client credentials)" test -n "$CLIENT_AT"
check "a worker token (client credentials)" test -n "$WORKER_AT"
AS_ADMIN=(-H "Authorization: Bearer $ADMIN_AT")
AS_CLIENT=(-H "Authorization: Bearer $CLIENT_AT")
AS_WORKER=(-H "Authorization: Bearer $WORKER_AT")

answer status 200 GET /v1/status "${AS_ADMIN[@]}"
answer status-client 403 GET /v1/status "${AS_CLIENT[@]}"
answer status-unknown-param 400 GET '/v1/status?x=1' "${AS_ADMIN[@]}"
answer workers 200 GET /v1/workers "${AS_ADMIN[@]}"
answer workers-as-worker 200 GET /v1/workers "${AS_WORKER[@]}"
answer workers-client 403 GET /v1/workers "${AS_CLIENT[@]}"
answer workers-all 200 GET '/v1/workers?all=true' "${AS_ADMIN[@]}"
answer workers-all-false 200 GET '/v1/workers?all=false' "${AS_ADMIN[@]}"
answer workers-all-bad 400 GET '/v1/workers?all=yes' "${AS_ADMIN[@]}"
answer workers-all-repeated 400 GET '/v1/workers?all=true&all=true' "${AS_ADMIN[@]}"
answer workers-unknown-param 400 GET '/v1/workers?bogus=1' "${AS_ADMIN[@]}"
answer worker 200 GET /v1/workers/w1 "${AS_ADMIN[@]}"
answer worker-unknown 404 GET /v1/workers/nobody "${AS_ADMIN[@]}"
answer worker-other-as-worker 404 GET /v1/workers/c1 "${AS_WORKER[@]}"
answer jobs 200 GET /v1/jobs "${AS_ADMIN[@]}"
answer jobs-page 200 GET '/v1/jobs?limit=1' "${AS_ADMIN[@]}"
answer jobs-filtered 200 GET "/v1/jobs?state=succeeded&type=t1&worker=w1&submitter=c1&since=2020-01-01T00:00:00.000Z" "${AS_ADMIN[@]}"
answer jobs-since-epoch 200 GET '/v1/jobs?since=1577836800' "${AS_CLIENT[@]}"
answer jobs-as-worker 200 GET /v1/jobs "${AS_WORKER[@]}"
answer jobs-bad-state 400 GET '/v1/jobs?state=sleeping' "${AS_ADMIN[@]}"
answer jobs-bad-limit 400 GET '/v1/jobs?limit=0' "${AS_ADMIN[@]}"
answer jobs-limit-too-high 400 GET '/v1/jobs?limit=501' "${AS_ADMIN[@]}"
answer jobs-bad-since 400 GET '/v1/jobs?since=yesterday' "${AS_ADMIN[@]}"
answer jobs-bad-cursor 400 GET '/v1/jobs?cursor=not-a-cursor' "${AS_ADMIN[@]}"
answer jobs-no-token 401 GET /v1/jobs
answer job 200 GET "/v1/jobs/$J1" "${AS_ADMIN[@]}"
answer job-pending 200 GET "/v1/jobs/$J2" "${AS_CLIENT[@]}"
answer job-bad-uuid 400 GET /v1/jobs/not-a-uuid "${AS_ADMIN[@]}"
answer job-unknown 404 GET "/v1/jobs/$(uuid)" "${AS_ADMIN[@]}"
answer job-not-held-by-worker 404 GET "/v1/jobs/$J2" "${AS_WORKER[@]}"
answer job-events 200 GET "/v1/jobs/$J1/events" "${AS_ADMIN[@]}"
answer job-events-unknown 404 GET "/v1/jobs/$(uuid)/events" "${AS_ADMIN[@]}"
answer job-stats 200 GET /v1/jobs/stats "${AS_ADMIN[@]}"
answer job-stats-window 200 GET '/v1/jobs/stats?window=60' "${AS_ADMIN[@]}"
answer job-stats-bad-window 400 GET '/v1/jobs/stats?window=0' "${AS_ADMIN[@]}"
answer job-stats-client 403 GET /v1/jobs/stats "${AS_CLIENT[@]}"
CMD1=$(sql "SELECT id FROM commands ORDER BY seq LIMIT 1")
answer commands 200 GET /v1/commands "${AS_ADMIN[@]}"
answer commands-filtered 200 GET '/v1/commands?status=acked&kind=assign&limit=5' "${AS_ADMIN[@]}"
answer commands-bad-status 400 GET '/v1/commands?status=lost' "${AS_ADMIN[@]}"
answer commands-client 403 GET /v1/commands "${AS_CLIENT[@]}"
answer commands-worker 403 GET /v1/commands "${AS_WORKER[@]}"
answer commands-no-token 401 GET /v1/commands
answer command 200 GET "/v1/commands/$CMD1" "${AS_ADMIN[@]}"
answer command-bad-uuid 400 GET /v1/commands/not-a-uuid "${AS_ADMIN[@]}"
answer command-unknown 404 GET "/v1/commands/$(uuid)" "${AS_ADMIN[@]}"
answer command-client 403 GET "/v1/commands/$CMD1" "${AS_CLIENT[@]}"
answer audit 200 GET /v1/audit "${AS_ADMIN[@]}"
answer audit-page 200 GET '/v1/audit?limit=1&action=auth.login.password' "${AS_ADMIN[@]}"
answer audit-bad-action 400 GET '/v1/audit?action=user.fly' "${AS_ADMIN[@]}"
answer audit-client 403 GET /v1/audit "${AS_CLIENT[@]}"
answer me 200 GET /v1/me "${AS_ADMIN[@]}"
answer me-client 200 GET /v1/me "${AS_CLIENT[@]}"
answer me-no-token 401 GET /v1/me
answer me-password-wrong 403 POST /v1/me/password "${AS_ADMIN[@]}" --data current_password=not-the-password \
    --data new_password=another-password-123
answer me-password-short 400 POST /v1/me/password "${AS_ADMIN[@]}" --data-urlencode "current_password=$ADMIN_PW" \
    --data new_password=short
answer me-totp-nothing-pending 409 POST /v1/me/totp "${AS_ADMIN[@]}" --data code=123456
answer me-totp-bad-code 400 POST /v1/me/totp "${AS_ADMIN[@]}" --data code=12

node "$JS/check-answer.mjs" --spec "$SPEC" --batch "$A/batch.jsonl" >"$T/live.out" 2>&1
rc=$?
sed -E 's/^(ok|not ok) - /\1 - live answer: /' "$T/live.out" >"$T/live.lines"
checked_lines "$T/live.lines"
check_eq "check-answer's exit status agrees with its lines" \
    "$(grep -q '^not ok' "$T/live.out" && echo 1 || echo 0)" "$rc"
jc_done
