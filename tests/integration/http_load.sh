#!/usr/bin/env bash
# http_load: the HTTP surface under attack stays available to others.
# A password spray (24 connections guessing at once) must not slow the
# cheap routes: password hashing runs on threads of its own behind a
# bounded queue, so /healthz answers within 100 ms (median) while the
# token endpoint is saturated, and a full queue answers 503 at once.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup http_load

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
export JOBCOORD_AUTH_BOOTSTRAP_PASSWORD='correct horse battery staple'
start_mock_kafka 1
start_coordinator --set http.listen=127.0.0.1:$PORT --set http.threads=2 \
    --set auth.max_concurrent_hashes=2 --set auth.max_queued_logins=8 \
    --set auth.login_max_failures=1000
unset JOBCOORD_AUTH_BOOTSTRAP_PASSWORD

# ---- password spray against /healthz ----
python3 - "$PORT" >"$T/spray.json" 2>"$T/spray.err" <<'PY'
import http.client, json, statistics, sys, threading, time
port = int(sys.argv[1])
stop = time.monotonic() + 12
statuses = {}
lock = threading.Lock()

def spray(n):
    i = 0
    while time.monotonic() < stop:
        i += 1
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            c.request("POST", "/v1/token", body=f"grant_type=password&username=admin&password=guess-{n}-{i}",
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
            st = c.getresponse().status
            c.close()
        except OSError:
            st = 0
        with lock:
            statuses[st] = statuses.get(st, 0) + 1
        if st == 503:
            time.sleep(0.05)

threads = [threading.Thread(target=spray, args=(n,)) for n in range(24)]
for t in threads:
    t.start()
time.sleep(2)  # let the spray fill the hashing threads and the queue
times, codes = [], []
while time.monotonic() < stop - 1:
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/healthz")
        codes.append(c.getresponse().status)
        c.close()
    except OSError:
        codes.append(0)
    times.append((time.monotonic() - t0) * 1000)
    time.sleep(0.2)
for t in threads:
    t.join()
print(json.dumps({"median_ms": statistics.median(times), "max_ms": max(times), "n": len(times),
                  "healthz_ok": sum(1 for c in codes if c == 200), "token": statuses}))
PY
js() { python3 -c "import json,sys; d=json.load(open('$T/spray.json')); print($1)"; }
jc_log "spray: $(cat "$T/spray.json")"
check "the spray ran (token answers were counted)" test "$(js 'sum(d["token"].values())')" -gt 24
check_eq "every /healthz during the spray answered 200" "$(js 'd["n"]')" "$(js 'd["healthz_ok"]')"
check "/healthz median under 100 ms during the spray ($(js 'round(d["median_ms"],1)') ms)" \
    test "$(js 'int(d["median_ms"] < 100)')" = 1
check "/healthz worst under 1 s during the spray ($(js 'round(d["max_ms"],1)') ms)" \
    test "$(js 'int(d["max_ms"] < 1000)')" = 1
check "wrong passwords were answered 400 (the hashing threads worked)" test "$(js 'd["token"].get("400", 0)')" -gt 0
check "a full login queue answers 503 at once" test "$(js 'd["token"].get("503", 0)')" -gt 0
check_eq "no login request went unanswered" 0 "$(js 'd["token"].get("0", 0)')"
check_eq "after the spray the right password still logs in" 200 \
    "$(curl -s -o /dev/null -w '%{http_code}' --data-urlencode grant_type=password --data-urlencode username=admin \
        --data-urlencode 'password=correct horse battery staple' "$URL/v1/token")"
check "503 carries Retry-After" sh -c "python3 - '$PORT' <<'PY'
import http.client, sys, threading
port = int(sys.argv[1])
hdrs = []
def one():
    c = http.client.HTTPConnection('127.0.0.1', port, timeout=30)
    c.request('POST', '/v1/token', body='grant_type=password&username=admin&password=x',
              headers={'Content-Type': 'application/x-www-form-urlencoded'})
    r = c.getresponse()
    if r.status == 503:
        hdrs.append(r.getheader('Retry-After'))
ts = [threading.Thread(target=one) for _ in range(20)]
[t.start() for t in ts]
[t.join() for t in ts]
sys.exit(0 if hdrs and all(h == '1' for h in hdrs) else 1)
PY"
check_eq "the coordinator is still running" 0 "$(kill -0 "$COORD_PID"; echo $?)"
jc_done
