#!/bin/bash
# jobcoord-healthcheck - the image's health check: exits 0 when the
# coordinator's HTTP surface answers GET PATH with status 200, 1 otherwise.
# Needs only bash (its /dev/tcp), so the image carries no HTTP client.
#
#   jobcoord-healthcheck [HOST:PORT [PATH]]
#
# Defaults: $JOBCOORD_HEALTHCHECK_ADDR or 127.0.0.1:8080, and /readyz (200
# once PostgreSQL answers, the consumer has partitions and a token signing
# key is loaded; 503 before). /healthz is liveness only.
set -u
addr=${1:-${JOBCOORD_HEALTHCHECK_ADDR:-127.0.0.1:8080}}
path=${2:-/readyz}
host=${addr%:*}
port=${addr##*:}

if ! exec 3<>"/dev/tcp/$host/$port"; then
    echo "jobcoord-healthcheck: cannot connect to $addr" >&2
    exit 1
fi
printf 'GET %s HTTP/1.0\r\nHost: %s\r\nConnection: close\r\n\r\n' "$path" "$addr" >&3
status=
IFS= read -r -t 5 status <&3
exec 3<&-
status=${status%$'\r'}
case "$status" in
"HTTP/1."[01]" 200"*) exit 0 ;;
esac
echo "jobcoord-healthcheck: GET $path on $addr: ${status:-no answer}" >&2
exit 1
