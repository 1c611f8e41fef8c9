#!/usr/bin/env bash
# dashboard: the status dashboard the coordinator serves at /, in a real
# browser (Debian's chromium, driven by tests/js/dashboard.mjs with
# playwright-core) against a real coordinator, a standalone mock Kafka, an
# example worker and jobcoord-submit. Here: the files are served with their
# types and security headers, only embedded names are served, and nothing
# in them points outside the coordinator. In the browser: sign in (a wrong
# password first), an empty fleet, a worker coming online, jobs finishing,
# a job's details, events and logs, filters, pages, throughput and
# rejections, commands (a drain and an undrain) and the audit trail, token
# renewal, a 401, reload and logout; then a reader, who gets no audit panel
# (see dashboard.mjs).
# Saves a screenshot to $T/dashboard.png (and to docs/dashboard.png when that
# is missing or JC_UPDATE_SCREENSHOT=1).
#
# Skips (exit 77) when chromium is not installed: scripts/bootstrap --test
# installs it.
CHROMIUM=${JC_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$CHROMIUM" ]; then
    echo "SKIP: dashboard: $CHROMIUM is not installed (scripts/bootstrap --test installs Debian's chromium)"
    exit 77
fi
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup dashboard

JS=$JC_SOURCE_DIR/tests/js
WEB=$JC_SOURCE_DIR/coordinator/web
SUBMIT=$BIN/worker-sdk/tools/jobcoord-submit
WORKER=$BIN/worker-sdk/jobcoord-example-worker
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
ADMIN_PW="dashboard-$$-password"
READER_PW="dashboard-$$-reader-password"
ACCESS_TTL=20 # short, so the page must renew its access token while the test runs
H=$T/hooks
mkdir -p "$H"

if [ ! -f "$JS/node_modules/playwright-core/package.json" ]; then
    not_ok "playwright-core is installed in tests/js (run scripts/bootstrap --js)"
    jc_done
fi

start_mock_kafka 2
"$ADMIN" db migrate >/dev/null || exit 1
add_principal dash-w1 worker
add_principal dash-w2 worker
add_principal dash-client client
add_principal dash-reader reader
# an offline worker not seen for two days: left out of the workers table,
# counted under it (GET /v1/workers' hidden_offline)
add_principal dash-gone worker
sql "INSERT INTO workers (id, status, last_heartbeat_ts_ms, last_seen_at, status_changed_at)
     VALUES ('dash-gone', 'offline', 1, now() - interval '2 days', now() - interval '2 days')" >/dev/null
printf '%s\n' "$READER_PW" | "$ADMIN" user set-password dash-reader >/dev/null || exit 1
JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$ADMIN_PW start_coordinator --set http.listen=127.0.0.1:$PORT \
    --set tokens.access_ttl_s=$ACCESS_TTL --set janitor.interval_ms=200

# ---- serving: types, headers, the embedded names only ----
CSP="default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
get() { curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "$@"; }
header() { sed -n "s/^$1: //Ip" "$T/headers" | tr -d '\r' | head -1; }
check_eq "GET / answers 200" 200 "$(get "$URL/")"
check "GET / is index.html" cmp -s "$T/body" "$WEB/index.html"
check_eq "index.html: Content-Type" "text/html; charset=utf-8" "$(header Content-Type)"
check_eq "Content-Security-Policy" "$CSP" "$(header Content-Security-Policy)"
check_eq "X-Frame-Options" DENY "$(header X-Frame-Options)"
check_eq "Referrer-Policy" no-referrer "$(header Referrer-Policy)"
check_eq "Cache-Control" no-cache "$(header Cache-Control)"
check_eq "X-Content-Type-Options" nosniff "$(header X-Content-Type-Options)"
ETAG=$(header ETag)
check "an ETag" test -n "$ETAG"
check_eq "If-None-Match with it: 304" 304 "$(get -H "If-None-Match: $ETAG" "$URL/")"
check_eq "GET /ui/app.js answers 200" 200 "$(get "$URL/ui/app.js")"
check "with the script's bytes" cmp -s "$T/body" "$WEB/app.js"
check_eq "app.js: Content-Type" "text/javascript; charset=utf-8" "$(header Content-Type)"
check_eq "app.js: the same CSP" "$CSP" "$(header Content-Security-Policy)"
check_eq "GET /ui/app.css answers 200" 200 "$(get "$URL/ui/app.css")"
check "with the style sheet's bytes" cmp -s "$T/body" "$WEB/app.css"
check_eq "app.css: Content-Type" "text/css; charset=utf-8" "$(header Content-Type)"
check_eq "HEAD / answers 200" 200 "$(get -I "$URL/")"
for p in /ui/nope.js /ui/..%2fCMakeLists.txt /ui/../CMakeLists.txt /ui/ /index.html /ui/app.js/x; do
    check_eq "GET $p: 404" 404 "$(get --path-as-is "$URL$p")"
done
check_eq "POST /: 405" 405 "$(get -X POST --data x=1 "$URL/")"
check_eq "the dashboard needs no token to load, the API does: /v1/status 401" 401 "$(get "$URL/v1/status")"
check "the page's files name no other origin (no http:// or https:// URL)" \
    sh -c "! grep -Eq 'https?://' '$WEB/index.html' '$WEB/app.js' '$WEB/app.css'"
check "the script never writes markup (no innerHTML, outerHTML, insertAdjacentHTML, document.write, eval)" \
    sh -c "! grep -Eq 'innerHTML|outerHTML|insertAdjacentHTML|document\\.write|eval\\(|new Function' '$WEB/app.js'"

# ---- the browser ----
# configurations: the worker (the SDK's example) and the client (jobcoord-submit)
sdk_conf() { # ID CAPABILITIES
    key_of "$1" >"$T/$1.key"
    {
        echo "principal = $1"
        echo "key.id = $(keyid_of "$1")"
        echo "key.file = $T/$1.key"
        echo "bootstrap.file = $T/kafka.bootstrap"
        [ -n "${2:-}" ] && echo "capabilities = $2"
        [ -n "${2:-}" ] && echo "slots = 2"
        [ -n "${2:-}" ] && echo "heartbeat.interval.ms = 500"
    } >"$T/$1.conf"
}
sdk_conf dash-w1 echo,sleep,fail
sdk_conf dash-client
submit() { "$SUBMIT" --config "$T/dash-client.conf" --json "$@" 2>>"$T/submit.log"; }
job_id() { python3 -c 'import json,sys; print(json.loads(sys.stdin.readline())["id"])'; }

node "$JS/dashboard.mjs" --url "$URL" --user admin --password "$ADMIN_PW" --hooks "$H" \
    --screenshot "$T/dashboard.png" --chromium "$CHROMIUM" --worker dash-w1 \
    --access-ttl "$ACCESS_TTL" --reader dash-reader --reader-password "$READER_PW" >"$T/browser.log" 2>&1 &
NODE_PID=$!
JC_PIDS+=("$NODE_PID")

# await_hook NAME: waits until the browser script reaches step NAME; 1 when
# the script ended first. hook_done NAME [ANSWER] lets it go on.
await_hook() {
    while [ ! -e "$H/$1.ready" ]; do
        kill -0 "$NODE_PID" 2>/dev/null || return 1
        sleep 0.2
    done
}
hook_done() {
    printf '%s\n' "${2:-}" >"$H/$1.tmp" && mv "$H/$1.tmp" "$H/$1.done"
}

if await_hook start-worker; then
    jc_bg "$T/dash-w1.log" "$WORKER" --config "$T/dash-w1.conf" --grace 0
    hook_done start-worker
fi
if await_hook submit; then
    MARKUP='<img src=x onerror="window.__pwned=1"><script>window.__pwned=1</script>&amp;'
    ECHO=$(submit --type echo --payload "hello from the dashboard test" --wait --wait-timeout-ms 30000 | job_id)
    FAIL=$(submit --type fail --payload "no retry" --max-attempts 1 --wait --wait-timeout-ms 30000 | job_id)
    XSS=$(submit --type echo --payload "$MARKUP" --wait --wait-timeout-ms 30000 | job_id)
    # long enough to be running for the screenshot; progress every 4 s
    SLEEP=$(submit --type sleep --payload 40000 | job_id)
    # a forged heartbeat (bad MAC): one rejection for the page to count
    produce_as dash-w2 --forge mac >/dev/null
    check "four jobs submitted" test -n "$ECHO" -a -n "$FAIL" -a -n "$XSS" -a -n "$SLEEP"
    hook_done submit "$(python3 -c 'import json,sys; print(json.dumps(dict(zip(["echo","fail","markup","sleep","markupPayload"], sys.argv[1:]))))' \
        "$ECHO" "$FAIL" "$XSS" "$SLEEP" "$MARKUP")"
fi
if await_hook submit-many; then
    MANY=60
    for i in $(seq 1 $MANY); do printf 'echo\tpage filler %d\n' "$i"; done >"$T/many.jobs"
    check_eq "$MANY more jobs submitted" $MANY "$(submit --file "$T/many.jobs" | grep -c '"id"')"
    hook_done submit-many $MANY
fi
if await_hook commands; then
    check "worker drain dash-w1 (a command and an audit entry)" "$ADMIN" worker drain dash-w1
    check "worker undrain dash-w1" "$ADMIN" worker undrain dash-w1
    hook_done commands
fi
wait "$NODE_PID"
NODE_RC=$?

cat "$T/browser.log"
JC_PASS=$((JC_PASS + $(grep -c '^ok - ' "$T/browser.log")))
JC_FAIL=$((JC_FAIL + $(grep -c '^not ok - ' "$T/browser.log")))
case $NODE_RC in
0) ok "the browser checks passed" ;;
3) not_ok "chromium ($CHROMIUM) could not start: see the lines above" ;;
*) not_ok "the browser checks failed (dashboard.mjs exited $NODE_RC; log $T/browser.log)" ;;
esac
check "the screenshot is saved" test -s "$T/dashboard.png"
# the docs' copy: made when missing, refreshed with JC_UPDATE_SCREENSHOT=1
# (not at every run, which would leave the work tree changed after each test)
if [ -s "$T/dashboard.png" ] && [ -w "$JC_SOURCE_DIR/docs" ] &&
    { [ ! -e "$JC_SOURCE_DIR/docs/dashboard.png" ] || [ "${JC_UPDATE_SCREENSHOT:-0}" = 1 ]; }; then
    cp "$T/dashboard.png" "$JC_SOURCE_DIR/docs/dashboard.png" && jc_log "copied the screenshot to docs/dashboard.png"
fi
check "the access log names no token" sh -c "! grep -Eq 'eyJ|jcr_' '$T/coordinator.log'"
jc_done
