#!/usr/bin/env bash
# http_health: the HTTP surface's health, readiness and metrics, and its
# limits: unknown routes, other methods, a slow client held past the
# connection timeout, too many connections from one address.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup http_health

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
start_mock_kafka 1
"$ADMIN" db migrate >/dev/null || exit 1
start_coordinator --set http.listen=127.0.0.1:$PORT --set http.connection_timeout_s=1 \
    --set http.max_connections_per_ip=4
add_principal w1 worker
produce_as w1 >/dev/null
wait_for 20 "w1 online" sql_is online "SELECT status FROM workers WHERE id = 'w1'" || exit 1

code() { curl -s -o "$T/body" -w '%{http_code}' "$@"; }
check_eq "healthz answers 200" 200 "$(code "$URL/healthz")"
check "healthz says alive" grep -q '"alive"' "$T/body"
check_eq "readyz answers 200 once the consumer has partitions" 200 "$(code "$URL/readyz")"
check "readyz names its checks" grep -q '"postgresql":true,"consumer_assigned":true' "$T/body"
check_eq "metrics answer 200" 200 "$(code "$URL/metrics")"
check "metrics count the applied heartbeat" grep -q '^jobcoord_messages_applied_total [1-9]' "$T/body"
check "metrics carry workers by status" grep -q '^jobcoord_workers{status="online"} 1$' "$T/body"
check "metrics carry jobs by state" grep -q '^jobcoord_jobs{state="pending"} 0$' "$T/body"
check "metrics are Prometheus text" grep -q '^# TYPE jobcoord_jobs gauge$' "$T/body"
check_eq "unknown route: 404" 404 "$(code "$URL/nope")"
check "errors are JSON with a stable code" grep -q '"error":"not_found"' "$T/body"
check_eq "POST refused: 405" 405 "$(code -X POST --data 'x=1' "$URL/healthz")"

# a slow client that never finishes its request is cut off by the timeout
exec 5<>/dev/tcp/127.0.0.1/$PORT
printf 'GET /healthz HTTP/1.1\r\nHost: x\r\n' >&5
sleep 2.5
if read -r -t 1 line <&5; then not_ok "slow client still connected ($line)"; else ok "slow client closed after the connection timeout"; fi
exec 5>&-

# at most 4 connections from one address: the 5th is refused
for fd in 6 7 8 9; do eval "exec $fd<>/dev/tcp/127.0.0.1/$PORT"; done
check_eq "a fifth connection from the same address is refused" 000 "$(curl -s -o /dev/null -m 2 -w '%{http_code}' "$URL/healthz")"
for fd in 6 7 8 9; do eval "exec $fd>&-"; done
sleep 0.5
check_eq "and served again once they are gone" 200 "$(code "$URL/healthz")"

# garbage: random bytes, broken request lines, huge headers, bad encodings,
# each on its own connection; the server must stay up and keep answering
python3 - "$PORT" <<'PY' >"$T/garbage.log" 2>&1
import os, random, socket, sys
port = int(sys.argv[1])
random.seed(4242)
cases = [
    b"\x00\xff" * 100, b"GET\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET /%zz%00 HTTP/1.1\r\nHost: x\r\n\r\n",
    b"POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
    b"POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999999999999999\r\n\r\n",
    b"POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 9\r\n\r\n%%%%%%%%%",
    b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + b"A" * 60000 + b"\r\n\r\n",
    b"GET /v1/jobs HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a.b.c.d.e\r\n\r\n",
    b"GET /v1/jobs/" + b"../" * 200 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
]
cases += [os.urandom(random.randint(1, 4096)) for _ in range(150)]
cases += [b"GET /" + bytes(random.randint(33, 126) for _ in range(random.randint(1, 300))) + b" HTTP/1.1\r\nHost: x\r\n\r\n" for _ in range(150)]
for c in cases:
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=3)
        s.sendall(c)
        s.shutdown(socket.SHUT_WR)
        s.recv(65536)
        s.close()
    except OSError:
        pass
print(len(cases), "garbage requests sent")
PY
check "310 garbage requests sent" grep -q '^310 garbage requests sent' "$T/garbage.log"
check_eq "the server still answers after the garbage" 200 "$(code "$URL/healthz")"
check_eq "the coordinator is still running" 0 "$(kill -0 "$COORD_PID"; echo $?)"
jc_done
