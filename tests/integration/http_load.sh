#!/usr/bin/env bash
# http_load: the HTTP surface under attack stays available to others.
# Slow clients (slowloris: 256 connections from 16 addresses, each sending
# one header line every 3 s, never finishing) cannot hold the connection
# slots: each request has a deadline to arrive whole, shorter once 3/4 of
# http.max_connections are open, and a normal client gets all its answers.
# The status warns when the Kafka cluster authenticates nobody.
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
    --set auth.login_max_failures=1000 --set http.request_deadline_s=4
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
# metric NAME: the value of an unlabelled metric on /metrics
metric() { curl -s -m 10 "$URL/metrics" | awk -v n="$1" '$1 == n { print $2 }'; }
CUT0=$(metric jobcoord_http_requests_cut_total)
check "the slow-sender metrics are there: cut_total, connections_open, busy_deadline 0 (cut $CUT0)" \
    test -n "$CUT0" -a -n "$(metric jobcoord_http_connections_open)" -a "$(metric jobcoord_http_busy_deadline)" = 0
# ---- one slow sender: cut at http.request_deadline_s though never idle ----
python3 - "$PORT" >"$T/slow1.txt" <<'PY'
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
t0 = time.monotonic()
s.settimeout(1)
while time.monotonic() - t0 < 15:
    try:
        s.sendall(b"X-Slow: 1\r\n")  # a line a second: never idle for the 10 s timeout
        if s.recv(1) == b"":
            break
    except socket.timeout:
        continue
    except OSError:
        break
print(round(time.monotonic() - t0, 1))
PY
check "a client trickling a header line a second is cut near the 4 s deadline ($(cat "$T/slow1.txt") s)" \
    python3 -c "import sys; sys.exit(0 if float(open('$T/slow1.txt').read()) < 9 else 1)"
CUT1=$(metric jobcoord_http_requests_cut_total)
check_eq "the cut is counted (jobcoord_http_requests_cut_total)" $((CUT0 + 1)) "$CUT1"

# ---- slowloris from 16 addresses while a normal client asks 5 times ----
python3 - "$PORT" >"$T/slowloris.json" 2>"$T/slowloris.err" <<'PY'
import http.client, json, socket, sys, threading, time
port = int(sys.argv[1])
stop = time.monotonic() + 25
opened = [0]
lock = threading.Lock()

def attacker(addr):
    socks = []
    while time.monotonic() < stop:
        while len(socks) < 16 and time.monotonic() < stop:  # keep 16 open, reconnect the cut ones
            try:
                s = socket.socket()
                s.bind((addr, 0))
                s.settimeout(2)
                s.connect(("127.0.0.1", port))
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                socks.append(s)
                with lock:
                    opened[0] += 1
            except OSError:
                time.sleep(0.05)
        time.sleep(3)
        for s in list(socks):
            try:
                s.sendall(b"X-Slow: 1\r\n")
            except OSError:
                socks.remove(s)
                s.close()
    for s in socks:
        s.close()

ts = [threading.Thread(target=attacker, args=(f"127.0.0.{i}",)) for i in range(2, 18)]
for t in ts:
    t.start()
time.sleep(6)  # the attack holds its 256 connections
answers, times = 0, []
for i in range(5):
    t0 = time.monotonic()
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        c.request("GET", "/healthz")
        if c.getresponse().status == 200:
            answers += 1
        c.close()
    except OSError:
        pass
    times.append(round(time.monotonic() - t0, 2))
    time.sleep(1)
for t in ts:
    t.join()
print(json.dumps({"answers": answers, "times": times, "attack_connections": opened[0]}))
PY
jc_log "slowloris: $(cat "$T/slowloris.json")"
sl() { python3 -c "import json; d=json.load(open('$T/slowloris.json')); print($1)"; }
check "the attack opened at least 256 connections ($(sl 'd["attack_connections"]'))" test "$(sl 'd["attack_connections"]')" -ge 256
check_eq "a normal client got all 5 answers during the slowloris (times $(sl 'd["times"]'))" 5 "$(sl 'd["answers"]')"
check "the cut connections are logged" grep -q "cut for sending a request too slowly" "$T/coordinator.log"
check "after the attack the open connections fall back (jobcoord_http_connections_open: the metrics request alone) and the busy deadline is off" \
    wait_for 20 "connections closed" sh -c "curl -s -m 10 '$URL/metrics' | grep -qx 'jobcoord_http_connections_open 1' && curl -s -m 10 '$URL/metrics' | grep -qx 'jobcoord_http_busy_deadline 0'"
CUT2=$(metric jobcoord_http_requests_cut_total)
check "the attack's cuts are counted: $((CUT2 - CUT1)) of $(sl 'd["attack_connections"]') connections, all but the 256 open at its end at least" \
    test $((CUT2 - CUT1)) -ge $(($(sl 'd["attack_connections"]') - 256)) -a $((CUT2 - CUT1)) -gt 0
check_eq "after the attack /healthz answers" 200 "$(curl -s -o /dev/null -m 10 -w '%{http_code}' "$URL/healthz")"
# ---- status warns that the Kafka cluster authenticates nobody ----
AT=$(curl -s --data-urlencode grant_type=password --data-urlencode username=admin \
    --data-urlencode 'password=correct horse battery staple' "$URL/v1/token" |
    python3 -c 'import json,sys; print(json.load(sys.stdin)["access_token"])')
curl -s -H "Authorization: Bearer $AT" "$URL/v1/status" >"$T/status.json"
check "/v1/status warns: security.protocol plaintext" \
    python3 -c "import json,sys; w=json.load(open('$T/status.json'))['warnings']; sys.exit(0 if len(w) == 1 and 'plaintext' in w[0] else 1)"
check "the coordinator logged the warning at start" grep -q "security.protocol is plaintext" "$T/coordinator.log"
OUT=$("$ADMIN" status 2>&1)
check "jobcoord-admin status warns about plaintext" grep -q '^warning .*security.protocol is plaintext' <<<"$OUT"
OUT=$(JOBCOORD_KAFKA_BROKERS= "$ADMIN" --json status 2>&1)
check "jobcoord-admin status warns about the embedded cluster" \
    python3 -c "import json,sys; w=json.loads(sys.argv[1])['warnings']; sys.exit(0 if len(w) == 1 and 'embedded development cluster' in w[0] else 1)" "$OUT"
OUT=$(JOBCOORD_KAFKA_PROPERTIES=security.protocol=SASL_SSL,sasl.mechanism=OAUTHBEARER "$ADMIN" --json status 2>&1)
check_eq "no warning with SASL" "[]" "$(python3 -c "import json,sys; print(json.dumps(json.loads(sys.argv[1])['warnings']))" "$OUT")"
OUT=$(JOBCOORD_KAFKA_PROPERTIES=security.protocol=SASL_SSL,security.protocol=PLAINTEXT "$ADMIN" status 2>&1)
check "the last security.protocol given counts" grep -q '^warning .*plaintext' <<<"$OUT"
check_eq "the coordinator is still running" 0 "$(kill -0 "$COORD_PID"; echo $?)"
jc_done
