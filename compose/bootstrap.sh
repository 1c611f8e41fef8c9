#!/usr/bin/env bash
# bootstrap.sh - first-time set-up of the compose deployment, and adding
# workers to it. Idempotent: what exists is kept. Needs Docker with
# `docker compose` (or docker-compose); nothing else on the host.
#
#   ./bootstrap.sh                   set up: .env, the image, the secrets, the
#                                    database schema, the principals of
#                                    worker-1, worker-2 and demo-client, and
#                                    their configuration files
#   ./bootstrap.sh add-worker NAME   one more worker: principal, key, config,
#                                    and its service in docker-compose.override.yml
#   ./bootstrap.sh configs           write every worker's (and the client's)
#                                    configuration again from its template, with
#                                    its current key id (after editing a template)
#   ./bootstrap.sh render TEMPLATE PRINCIPAL KEY_ID
#                                    print a worker or client configuration
#                                    made from TEMPLATE (no Docker)
#
# What it writes (compose/README.md has the whole story):
#   .env                    from .env.example, with a new KAFKA_CLUSTER_ID and
#                           the JOBCOORD_ENCRYPTION_KEY_ID of the keys file
#   secrets/postgres_password, secrets/pgpass
#                           a new random database password, for the postgres
#                           image (owner uid 999) and as a libpq passfile for
#                           the coordinator and jobcoord-admin (uid 10001)
#   secrets/keys.conf       a keys file with one key from
#                           `jobcoord-admin security generate-key` (uid 10001)
#   secrets/NAME.key        each principal's HMAC key (uid 10001)
#   config/NAME.conf        each worker's (client's) configuration, from
#                           config/worker.conf.in (config/client.conf.in)
# Every secret file is mode 0600, owned by the user of the container that
# reads it; it is written by a short-lived root container of the jobcoord
# image, so the host user needs no sudo (and cannot read them afterwards).
# Keys never pass through an environment variable or a command line.
#
# JC_BOOTSTRAP_LOCAL=1 (tests/integration/compose_check.sh) runs the same
# steps without Docker: JC_BOOTSTRAP_ADMIN names a jobcoord-admin binary, the
# database comes from the caller's JOBCOORD_DATABASE_CONNINFO, and secret
# files are written by this user.
set -euo pipefail
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$HERE"

WORKERS=(worker-1 worker-2) # the worker services of docker-compose.yml
CLIENT=demo-client          # the client of the `submit` tool service
JC_UID=10001                # the jobcoord image's user
PG_UID=999                  # the postgres image's user
LOCAL=${JC_BOOTSTRAP_LOCAL:-0}
EXTRA_LIST=config/extra-workers
OVERRIDE=docker-compose.override.yml

say() { echo "bootstrap: $*" >&2; }
die() {
    say "$*"
    exit 1
}

usage() {
    cat >&2 <<'TXT'
usage: ./bootstrap.sh                    set up (idempotent)
       ./bootstrap.sh add-worker NAME    add a worker (principal, key, config, service)
       ./bootstrap.sh configs            rewrite the configurations from their templates
       ./bootstrap.sh render TEMPLATE PRINCIPAL KEY_ID
TXT
    exit 100
}

# valid_name S: a principal id (PROTOCOL.md: 1 to 64 of A-Z a-z 0-9 . _ : @ -).
valid_name() { [[ $1 =~ ^[A-Za-z0-9._:@-]{1,64}$ ]]; }

# render TEMPLATE PRINCIPAL KEY_ID prints TEMPLATE with @PRINCIPAL@ and
# @KEY_ID@ replaced outside comments.
render() {
    [ $# -eq 3 ] || usage
    [ -f "$1" ] || die "no template $1"
    valid_name "$2" || die "'$2' is not a valid principal id"
    valid_name "$3" || die "'$3' is not a valid key id"
    echo "# written by compose/bootstrap.sh from $1 for $2: edit the template, not this file"
    # comment lines are kept as they are
    sed -e "/^[[:space:]]*#/!{s/@PRINCIPAL@/$2/g;s/@KEY_ID@/$3/g}" "$1"
}

# env_get NAME: NAME's value in .env (else in .env.example).
env_get() {
    local f
    for f in .env .env.example; do
        if [ -f "$f" ] && grep -q "^$1=" "$f"; then
            sed -n "s/^$1=//p" "$f" | tail -1
            return 0
        fi
    done
    return 0
}

# env_set NAME VALUE sets NAME in .env.
env_set() {
    if grep -q "^$1=" .env; then
        sed -i "s|^$1=.*|$1=$2|" .env
    else
        printf '%s=%s\n' "$1" "$2" >>.env
    fi
}

compose() {
    if [ -z "${COMPOSE_CMD:-}" ]; then
        if docker compose version >/dev/null 2>&1; then
            COMPOSE_CMD="docker compose"
        elif command -v docker-compose >/dev/null 2>&1; then
            COMPOSE_CMD=docker-compose
        else
            die "neither 'docker compose' nor docker-compose is installed"
        fi
    fi
    $COMPOSE_CMD "$@"
}

# random_text N: N bytes of randomness as letters and digits (a password).
random_text() { head -c "$1" /dev/urandom | base64 | tr -dc 'A-Za-z0-9'; }

# put_secret NAME OWNER_UID writes standard input to $SECRETS/NAME, mode
# 0600, owned by OWNER_UID, replacing it atomically.
put_secret() {
    local name=$1 owner=$2
    if [ "$LOCAL" = 1 ]; then
        (
            umask 077
            cat >"$SECRETS/.$name.tmp"
        )
        chmod 600 "$SECRETS/.$name.tmp"
        mv -f "$SECRETS/.$name.tmp" "$SECRETS/$name"
        return 0
    fi
    docker run --rm -i --network none --user 0:0 --entrypoint /bin/sh \
        -v "$SECRETS:/secrets" "$IMAGE" -c '
            set -e
            umask 077
            t="/secrets/.$1.tmp"
            cat >"$t"
            chown "$2:$2" "$t"
            chmod 600 "$t"
            mv -f "$t" "/secrets/$1"' put-secret "$name" "$owner"
}

# admin ARGS...: jobcoord-admin with the deployment's configuration: in a
# one-shot container of the `admin` service (postgres must be up).
admin() {
    if [ "$LOCAL" = 1 ]; then
        JOBCOORD_SECURITY_KEYS_FILE="$SECRETS/keys.conf" \
            JOBCOORD_SECURITY_ENCRYPTION_KEY_ID="$(env_get JOBCOORD_ENCRYPTION_KEY_ID)" \
            "${JC_BOOTSTRAP_ADMIN:?JC_BOOTSTRAP_ADMIN must name jobcoord-admin}" "$@"
    else
        compose run --rm -T --no-deps admin "$@"
    fi
}

# json_str FIELD: the string FIELD of the one JSON object on stdin.
json_str() { sed -n "s/.*\"$1\":\"\([^\"]*\)\".*/\1/p"; }

# wait_healthy SERVICE SECONDS waits for the service's container to be healthy.
wait_healthy() {
    local id status deadline=$((SECONDS + $2))
    while :; do
        id=$(compose ps -q "$1" 2>/dev/null || true)
        status=
        [ -z "$id" ] || status=$(docker inspect -f '{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$id" 2>/dev/null || true)
        [ "$status" = healthy ] && return 0
        [ $SECONDS -lt "$deadline" ] || die "$1 is not healthy after $2 s: see 'docker compose logs $1'"
        sleep 2
    done
}

prepare() {
    if [ "$LOCAL" != 1 ]; then
        command -v docker >/dev/null 2>&1 || die "docker is not installed"
        compose version >/dev/null
    fi
    if [ ! -f .env ]; then
        cp .env.example .env
        env_set KAFKA_CLUSTER_ID "$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
        say "wrote .env from .env.example, with a new KAFKA_CLUSTER_ID"
    fi
    IMAGE=$(env_get JOBCOORD_IMAGE)
    SECRETS=$(env_get JOBCOORD_SECRETS_DIR)
    SECRETS=${SECRETS:-./secrets}
    mkdir -p "$SECRETS"
    chmod 700 "$SECRETS"
    SECRETS=$(cd "$SECRETS" && pwd)
}

# db_password makes the database password, once: the postgres image reads it
# when it initialises its volume, the coordinator and the admin CLI through
# the passfile.
db_password() {
    local pw
    if [ -e "$SECRETS/postgres_password" ] && [ -e "$SECRETS/pgpass" ]; then
        return 0
    fi
    if [ -e "$SECRETS/postgres_password" ] || [ -e "$SECRETS/pgpass" ]; then
        die "only one of $SECRETS/postgres_password and pgpass exists: remove it (and, if the postgres volume was initialised with it, see README.md, 'Passwords and keys')"
    fi
    pw=$(random_text 30)
    printf '%s\n' "$pw" | put_secret postgres_password "$PG_UID"
    printf '*:*:*:jobcoord:%s\n' "$pw" | put_secret pgpass "$JC_UID"
    say "new database password in $SECRETS/postgres_password and $SECRETS/pgpass"
}

# keys_file makes the keys file sealing principals' keys at rest, once, and
# records its key id in .env.
keys_file() {
    local out id value
    if [ -e "$SECRETS/keys.conf" ]; then
        [ -n "$(env_get JOBCOORD_ENCRYPTION_KEY_ID)" ] ||
            die "$SECRETS/keys.conf exists but JOBCOORD_ENCRYPTION_KEY_ID is empty in .env: set it to the id of a key in that file"
        return 0
    fi
    if [ "$LOCAL" = 1 ]; then
        out=$("${JC_BOOTSTRAP_ADMIN:?}" --json security generate-key xchacha20poly1305)
    else
        out=$(docker run --rm --network none --entrypoint /usr/local/bin/jobcoord-admin "$IMAGE" \
            --json security generate-key xchacha20poly1305)
    fi
    id=$(json_str id <<<"$out")
    value=$(json_str value <<<"$out")
    if [ -z "$id" ] || [ -z "$value" ]; then die "security generate-key gave no key"; fi
    printf '# keys.conf - written by compose/bootstrap.sh (format: config/keys.conf.example)\nkeys = {\n    %s = "%s";\n};\n' \
        "$id" "$value" | put_secret keys.conf "$JC_UID"
    env_set JOBCOORD_ENCRYPTION_KEY_ID "$id"
    say "new keys file $SECRETS/keys.conf; JOBCOORD_ENCRYPTION_KEY_ID=$id in .env"
}

# principal NAME ROLE TEMPLATE makes sure principal NAME exists with its key
# in $SECRETS/NAME.key and its configuration in config/NAME.conf. When one of
# the three is missing, the principal is created, or its key rotated (the old
# key stops working at once), and both files are written again.
principal() {
    local name=$1 role=$2 template=$3 rc=0 out key key_id
    admin user show "$name" >/dev/null 2>&1 || rc=$?
    case $rc in
    0 | 1) ;;
    *) die "jobcoord-admin user show $name failed (exit $rc): is the database up?" ;;
    esac
    if [ $rc -eq 0 ] && [ -e "$SECRETS/$name.key" ] && [ -s "config/$name.conf" ]; then
        say "$name: principal, key and config/$name.conf exist (kept)"
        return 0
    fi
    if [ $rc -eq 0 ]; then
        out=$(admin --json user rotate-key "$name")
        say "$name: existed without its key file or configuration: key rotated"
    else
        out=$(admin --json user add "$name" --role "$role")
        say "$name: principal created (role $role)"
    fi
    key=$(json_str key <<<"$out")
    key_id=$(json_str key_id <<<"$out")
    if [ -z "$key" ] || [ -z "$key_id" ]; then die "$name: jobcoord-admin printed no key"; fi
    printf '%s\n' "$key" | put_secret "$name.key" "$JC_UID"
    render "$template" "$name" "$key_id" >"config/.$name.conf.tmp"
    mv -f "config/.$name.conf.tmp" "config/$name.conf"
    say "$name: key in $SECRETS/$name.key, configuration in config/$name.conf"
}

# override_service NAME prints the service of an extra worker: the same as
# worker-1 and worker-2 in docker-compose.yml (compose_check.sh compares them).
override_service() {
    cat <<YAML
  $1:
    image: \${JOBCOORD_IMAGE:-jobcoord:0.1.0}
    pull_policy: never
    user: "10001:10001"
    init: true
    read_only: true
    tmpfs:
      - /tmp
    cap_drop:
      - ALL
    security_opt:
      - no-new-privileges:true
    restart: unless-stopped
    logging:
      driver: json-file
      options:
        max-size: "10m"
        max-file: "5"
    entrypoint: ["/usr/local/bin/jobcoord-worker"]
    command: ["--config", "/etc/jobcoord/worker.conf", "--grace-ms", "30000"]
    healthcheck:
      disable: true
    stop_grace_period: 40s
    depends_on:
      kafka-init:
        condition: service_completed_successfully
      coordinator:
        condition: service_healthy
    volumes:
      - ./config/$1.conf:/etc/jobcoord/worker.conf:ro
    secrets:
      - source: $1.key
        target: worker.key
YAML
}

# write_override writes docker-compose.override.yml (read by docker compose
# along with docker-compose.yml) with a service per extra worker.
write_override() {
    local w names=()
    [ ! -f "$EXTRA_LIST" ] || mapfile -t names < <(grep -v '^[[:space:]]*$' "$EXTRA_LIST")
    if [ ${#names[@]} -eq 0 ]; then
        # no extra worker (any more): remove the file if this script wrote it
        if [ -f "$OVERRIDE" ] && head -1 "$OVERRIDE" | grep -q '^# written by compose/bootstrap.sh'; then
            rm -f "$OVERRIDE"
        fi
        return 0
    fi
    {
        echo "# written by compose/bootstrap.sh add-worker: the extra workers (config/extra-workers)"
        echo "services:"
        for w in "${names[@]}"; do override_service "$w"; done
        echo "secrets:"
        for w in "${names[@]}"; do
            # shellcheck disable=SC2016 # ${JOBCOORD_SECRETS_DIR...} is for compose
            printf '  %s.key:\n    file: ${JOBCOORD_SECRETS_DIR:-./secrets}/%s.key\n' "$w" "$w"
        done
    } >"$OVERRIDE.tmp"
    mv -f "$OVERRIDE.tmp" "$OVERRIDE"
}

# database: postgres up and healthy, the schema migrated.
database() {
    if [ "$LOCAL" != 1 ]; then
        compose up -d postgres
        wait_healthy postgres 180
    fi
    admin db migrate >&2
}

# dashboard_admin makes sure an admin can log in to the dashboard and the
# token endpoint: principal "admin" (role admin) with a random password kept
# in $SECRETS/admin_password, readable by the operator who ran this script
# (it is mounted into no container). An existing admin keeps its password.
dashboard_admin() {
    local rc=0 pw
    admin user show admin >/dev/null 2>&1 || rc=$?
    case $rc in
    0)
        say "admin: exists (kept; jobcoord-admin user set-password admin changes its password)"
        return 0
        ;;
    1) ;;
    *) die "jobcoord-admin user show admin failed (exit $rc): is the database up?" ;;
    esac
    admin user add admin --role admin >/dev/null
    pw=$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')
    (
        umask 077
        printf '%s\n' "$pw" >"$SECRETS/admin_password"
    )
    printf '%s\n' "$pw" | admin user set-password admin >/dev/null
    say "admin: created; its password is in $SECRETS/admin_password (dashboard: http://127.0.0.1:$(env_get JOBCOORD_HTTP_PORT)/)"
}

setup() {
    local w
    prepare
    if [ "$LOCAL" != 1 ]; then
        say "building $IMAGE (compose/Dockerfile)"
        compose build coordinator
    fi
    db_password
    keys_file
    database
    for w in "${WORKERS[@]}"; do principal "$w" worker config/worker.conf.in; done
    principal "$CLIENT" client config/client.conf.in
    dashboard_admin
    if [ -s "$EXTRA_LIST" ]; then
        while read -r w; do principal "$w" worker config/worker.conf.in; done <"$EXTRA_LIST"
    fi
    write_override
    cat >&2 <<TXT
bootstrap: done. Next:
    docker compose up -d
    docker compose ps                       # all healthy or running
    curl -s http://127.0.0.1:$(env_get JOBCOORD_HTTP_PORT)/readyz
    # dashboard: http://127.0.0.1:$(env_get JOBCOORD_HTTP_PORT)/ as admin, password in secrets/admin_password
    docker compose run --rm admin worker list
    docker compose run --rm submit --type echo --arg hello --wait
TXT
}

# configs writes each principal's configuration again from its template,
# with its current key id (user show lists the current key first).
configs() {
    local w out key_id
    prepare
    database
    for w in "${WORKERS[@]}" "$CLIENT" $([ ! -f "$EXTRA_LIST" ] || cat "$EXTRA_LIST"); do
        out=$(admin --json user show "$w") || die "$w: no such principal: run ./bootstrap.sh"
        key_id=$(grep -o '"key_id":"[^"]*"' <<<"$out" | head -1 | cut -d'"' -f4)
        [ -n "$key_id" ] || die "$w: no key id in jobcoord-admin user show"
        if [ "$w" = "$CLIENT" ]; then
            render config/client.conf.in "$w" "$key_id" >"config/.$w.conf.tmp"
        else
            render config/worker.conf.in "$w" "$key_id" >"config/.$w.conf.tmp"
        fi
        mv -f "config/.$w.conf.tmp" "config/$w.conf"
        say "config/$w.conf written (key id $key_id)"
    done
    say "restart the containers to read them: docker compose restart ${WORKERS[*]}"
}

add_worker() {
    local name=${1:-}
    valid_name "$name" || die "usage: bootstrap.sh add-worker NAME (1 to 64 of A-Z a-z 0-9 . _ : @ -)"
    case " ${WORKERS[*]} $CLIENT " in
    *" $name "*) die "$name is already a service of docker-compose.yml" ;;
    esac
    prepare
    if [ ! -e "$SECRETS/keys.conf" ] || [ ! -e "$SECRETS/pgpass" ]; then die "run ./bootstrap.sh first"; fi
    database
    principal "$name" worker config/worker.conf.in
    touch "$EXTRA_LIST"
    grep -qxF "$name" "$EXTRA_LIST" || echo "$name" >>"$EXTRA_LIST"
    write_override
    say "$name added to $OVERRIDE; start it with: docker compose up -d $name"
}

case "${1:-}" in
"") setup ;;
add-worker) add_worker "${2:-}" ;;
configs) configs ;;
render)
    shift
    render "$@"
    ;;
-h | --help) usage ;;
*) usage ;;
esac
