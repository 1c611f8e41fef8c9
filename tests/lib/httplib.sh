# shellcheck shell=bash
# httplib.sh - helpers of the tests that call the coordinator's HTTP API
# (source after testlib.sh; set URL to the coordinator's base URL).

# free_port prints a free TCP port on 127.0.0.1.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# get TOKEN PATH: the answer's body in $T/body, headers in $T/headers;
# prints the status code. TOKEN "" sends no Authorization header.
get() {
    local auth=()
    [ -n "$1" ] && auth=(-H "Authorization: Bearer $1")
    curl -s -o "$T/body" -D "$T/headers" -w '%{http_code}' "${auth[@]}" "$URL$2"
}
# body [JQ]: the last answer's body through jq (canonical, compact).
body() { jq -S -c "${1:-.}" "$T/body" 2>/dev/null || echo "(not JSON: $(head -c 200 "$T/body"))"; }
# token_password USER PASSWORD: an access token from the password grant.
token_password() {
    curl -s --data-urlencode grant_type=password --data-urlencode "username=$1" \
        --data-urlencode "password=$2" "$URL/v1/token" | jq -r '.access_token // empty'
}
# token_cc ID: an access token from client_credentials with a
# client_secret_jwt assertion over the principal's HMAC key (add_principal).
token_cc() {
    local assertion
    assertion=$(python3 "$JC_SOURCE_DIR/tests/lib/tokens.py" assertion --sub "$1" \
        --kid "$(keyid_of "$1")" --key "$(key_of "$1")" --aud "$URL/v1/token") || return
    curl -s --data-urlencode grant_type=client_credentials \
        --data-urlencode client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer \
        --data-urlencode "client_assertion=$assertion" "$URL/v1/token" | jq -r '.access_token // empty'
}
