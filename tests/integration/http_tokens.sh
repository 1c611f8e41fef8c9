#!/usr/bin/env bash
# http_tokens: token issuance end to end against a real coordinator and
# PostgreSQL: every grant with its failures, lockout and its expiry, TOTP,
# refresh rotation and family revocation on reuse (with the family's access
# tokens), revocation, nbf, signing-key
# rotation checked by an independent JWT implementation (jose) against the
# served JWKS, forged and malformed tokens and requests, body and time
# limits, and an access log that never holds a secret.
source "$JC_SOURCE_DIR/tests/lib/testlib.sh"
jc_setup http_tokens
jc_plaintext # the test compares the stored bytes of secrets

JS=$JC_SOURCE_DIR/tests/js
TOK="python3 $JC_SOURCE_DIR/tests/lib/tokens.py"
PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
URL=http://127.0.0.1:$PORT
ADMIN_PW='correct horse battery staple'
export JOBCOORD_AUTH_BOOTSTRAP_PASSWORD=$ADMIN_PW

start_mock_kafka 1
start_coordinator --set http.listen=127.0.0.1:$PORT --set http.connection_timeout_s=2 \
    --set auth.login_max_failures=3 --set auth.lockout_s=10 --set tokens.key_reload_ms=100
unset JOBCOORD_AUTH_BOOTSTRAP_PASSWORD

# post_form PATH ARGS... : POST a form (curl --data-urlencode each ARG),
# body in $T/body, prints the status.
post_form() {
    local path=$1 a
    shift
    local args=()
    for a in "$@"; do args+=(--data-urlencode "$a"); done
    curl -s -o "$T/body" -w '%{http_code}' "${args[@]}" "$URL$path"
}
get_bearer() { curl -s -o "$T/body" -w '%{http_code}' -H "Authorization: Bearer $2" "$URL$1"; }
field() { python3 -c 'import json,sys; v=json.load(open(sys.argv[1])).get(sys.argv[2]); print("" if v is None else v)' "$T/body" "$1"; }
claim() { $TOK part "$1" claims | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"; }
hdr() { $TOK part "$1" header | python3 -c 'import json,sys; print(json.load(sys.stdin).get(sys.argv[1], ""))' "$2"; }
jose() { node "$JS/jose-verify.mjs" --jwks "$URL/.well-known/jwks.json" --issuer "$URL" --audience jobcoord --token "$1"; }
login() { post_form /v1/token grant_type=password "username=$1" "password=$2" "${@:3}"; }

# ---- first start, metadata, JWKS ----
check_eq "bootstrap admin created with an Argon2id hash" "admin|t" \
    "$(sql "SELECT role, password_hash LIKE '\$argon2id\$%' FROM principals WHERE id = 'admin'")"
check "bootstrap logged" grep -q "created admin 'admin'" "$T/coordinator.log"
KID1=$(sql "SELECT kid FROM signing_keys WHERE retired_at IS NULL")
check "a signing key was created at first start" test -n "$KID1"
check_eq "metadata answers 200" 200 "$(curl -s -o "$T/body" -w '%{http_code}' "$URL/.well-known/oauth-authorization-server")"
check_eq "metadata issuer" "$URL" "$(field issuer)"
check_eq "metadata names the access tokens' aud" jobcoord "$(field access_token_audience)"
check_eq "metadata token endpoint" "$URL/v1/token" "$(field token_endpoint)"
check_eq "JWKS answers 200" 200 "$(curl -s -o "$T/body" -w '%{http_code}' "$URL/.well-known/jwks.json")"
check_eq "JWKS holds the active key" "$KID1 OKP Ed25519 EdDSA" \
    "$(python3 -c 'import json,sys; k=json.load(open(sys.argv[1]))["keys"]; print(len(k) == 1 and " ".join([k[0]["kid"], k[0]["kty"], k[0]["crv"], k[0]["alg"]]))' "$T/body")"
check_eq "/v1/jwks is the same document" "$(cat "$T/body")" "$(curl -s "$URL/v1/jwks")"
check_eq "JWKS public key equals the stored one" \
    "$(sql "SELECT encode(public_key, 'hex') FROM signing_keys WHERE kid = '$KID1'")" \
    "$(python3 -c 'import json,sys,base64; x=json.load(open(sys.argv[1]))["keys"][0]["x"]; print(base64.urlsafe_b64decode(x+"==").hex())' "$T/body")"

# ---- password grant ----
check_eq "password login: 200" 200 "$(login admin "$ADMIN_PW")"
AT=$(field access_token)
RT=$(field refresh_token)
check_eq "token_type Bearer" Bearer "$(field token_type)"
check_eq "expires_in from config" 900 "$(field expires_in)"
check "a refresh token is issued" test -n "$RT"
check_eq "header: EdDSA, at+jwt, active kid" "EdDSA at+jwt $KID1" "$(hdr "$AT" alg) $(hdr "$AT" typ) $(hdr "$AT" kid)"
check_eq "claims: iss sub aud role" "$URL admin jobcoord admin" \
    "$(claim "$AT" iss) $(claim "$AT" sub) $(claim "$AT" aud) $(claim "$AT" role)"
check "claims: jti, iat, exp = iat + 900" python3 -c "
import json,sys,subprocess
c=json.loads(subprocess.check_output(['python3','$JC_SOURCE_DIR/tests/lib/tokens.py','part','$AT','claims']))
sys.exit(0 if c['jti'] and c['exp']-c['iat']==900 and 'scope' in c else 1)"
J=$(jose "$AT")
check_eq "jose verifies the token against the JWKS" "True $KID1" \
    "$(echo "$J" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["ok"], j.get("kid"))')"
check_eq "the token opens the status API" 200 "$(get_bearer /v1/workers "$AT")"

check_eq "wrong password: 400" 400 "$(login admin wrong-password-here)"
cp "$T/body" "$T/wrong.json"
check_eq "wrong password: invalid_grant" invalid_grant "$(field error)"
check_eq "unknown user: 400" 400 "$(login nobody wrong-password-here)"
check "unknown user: the very same answer as a wrong password" cmp -s "$T/body" "$T/wrong.json"
# the same work: both pay for an Argon2id hash
t_wrong=$(curl -s -o /dev/null -w '%{time_total}' --data 'grant_type=password&username=admin&password=xxxxxxxxxxxxx' "$URL/v1/token")
t_unknown=$(curl -s -o /dev/null -w '%{time_total}' --data 'grant_type=password&username=ghost&password=xxxxxxxxxxxxx' "$URL/v1/token")
jc_log "login time: wrong password ${t_wrong}s, unknown user ${t_unknown}s"
check "unknown users cost a hash too (${t_unknown}s vs ${t_wrong}s)" python3 -c "
w,u=$t_wrong,$t_unknown; import sys; sys.exit(0 if u > 0.3*w and w > 0.3*u else 1)"
sql "UPDATE principals SET failed_logins = 0 WHERE id = 'admin'" >/dev/null
check_eq "missing password: invalid_request" "400 invalid_request" "$(post_form /v1/token grant_type=password username=admin) $(field error)"
check_eq "password given twice: invalid_request" "400 invalid_request" \
    "$(post_form /v1/token grant_type=password username=admin "password=$ADMIN_PW" "password=$ADMIN_PW") $(field error)"

# ---- lockout ----
for i in 1 2 3; do login admin "bad-$i-password" >/dev/null; done
check "three failures lock the account" sql_is t "SELECT locked_until > now() FROM principals WHERE id = 'admin'"
check_eq "locked: even the right password is refused, same answer" 400 "$(login admin "$ADMIN_PW")"
check "locked: the answer does not tell" cmp -s "$T/body" "$T/wrong.json"
check "the lockout is logged" grep -q "login of 'admin' refused (account locked)" "$T/coordinator.log"
# (10 s: long enough for the checks above on a loaded machine, where 3 s
# ran out before them)
wait_for 20 "the lockout's end" sql_is t "SELECT locked_until <= now() FROM principals WHERE id = 'admin'"
check_eq "after auth.lockout_s the right password works" 200 "$(login admin "$ADMIN_PW")"
for i in 1 2 3; do login admin "bad-$i-password" >/dev/null; done
check_eq "locked again" 400 "$(login admin "$ADMIN_PW")"
"$ADMIN" user unlock admin >/dev/null
check_eq "jobcoord-admin user unlock ends the lockout" 200 "$(login admin "$ADMIN_PW")"

# ---- readers, and roles that may not log in ----
add_principal reader1 reader
add_principal client1 client
echo 'reader password 123' | "$ADMIN" user set-password reader1 >/dev/null
check_eq "a reader logs in with a password" 200 "$(login reader1 'reader password 123')"
check_eq "and gets role reader" reader "$(claim "$(field access_token)" role)"
sql "UPDATE principals SET password_hash = (SELECT password_hash FROM principals WHERE id = 'reader1') WHERE id = 'client1'" >/dev/null
check_eq "a client cannot log in with a password" "400 invalid_grant" "$(login client1 'reader password 123') $(field error)"

# ---- TOTP ----
SECRET=$("$ADMIN" --json user totp enable admin | python3 -c 'import json,sys; print(json.load(sys.stdin)["secret"])')
check "totp enable gives a base32 secret" test -n "$SECRET"
check_eq "pending: the password alone still works" 200 "$(login admin "$ADMIN_PW")"
"$ADMIN" user totp confirm admin "$($TOK totp --secret "$SECRET" --offset -1)" >/dev/null
check_eq "confirmed with a code" t "$(sql "SELECT totp_enabled FROM principals WHERE id = 'admin'")"
check_eq "TOTP on: password alone is refused" "400 invalid_grant" "$(login admin "$ADMIN_PW") $(field error)"
check "and the answer asks for the code" grep -q 'TOTP code is required' "$T/body"
check_eq "a wrong code is refused" 400 "$(login admin "$ADMIN_PW" totp=000000)"
CODE=$($TOK totp --secret "$SECRET")
check_eq "the right code (RFC 6238, SHA-256) logs in" 200 "$(login admin "$ADMIN_PW" "totp=$CODE")"
check_eq "the same code cannot be used twice" 400 "$(login admin "$ADMIN_PW" "totp=$CODE")"
"$ADMIN" user totp disable admin >/dev/null
check_eq "TOTP off: the password alone works again" 200 "$(login admin "$ADMIN_PW")"

# ---- refresh tokens ----
login admin "$ADMIN_PW" >/dev/null
RT1=$(field refresh_token)
AT1=$(field access_token)
check_eq "refresh: 200" 200 "$(post_form /v1/token grant_type=refresh_token "refresh_token=$RT1")"
RT2=$(field refresh_token)
AT2=$(field access_token)
check "refresh rotates the refresh token" test -n "$RT2" -a "$RT2" != "$RT1"
check_eq "the new access token works" 200 "$(get_bearer /v1/workers "$AT2")"
check_eq "refresh tokens are stored hashed, never in clear" 0 \
    "$(sql "SELECT count(*) FROM refresh_tokens WHERE encode(token_hash, 'escape') LIKE '%jcr_%'")"
check_eq "reusing the rotated token is refused" "400 invalid_grant" \
    "$(post_form /v1/token grant_type=refresh_token "refresh_token=$RT1") $(field error)"
check_eq "and revokes its family: the newest one is refused too" 400 \
    "$(post_form /v1/token grant_type=refresh_token "refresh_token=$RT2")"
check "the reuse is logged" grep -q "used twice: family" "$T/coordinator.log"
check_eq "the access token minted by the refresh is revoked with its family" 401 "$(get_bearer /v1/workers "$AT2")"
check "the answer says revoked" grep -q 'revoked' "$T/body"
check_eq "and so is the one from the login that started the family" 401 "$(get_bearer /v1/workers "$AT1")"
check_eq "a token of another login (another family) still works" 200 "$(get_bearer /v1/workers "$AT")"
check "the log counts the access tokens revoked" grep -q "family .* revoked with 2 access token(s)" "$T/coordinator.log"
check_eq "an unknown refresh token: invalid_grant" "400 invalid_grant" \
    "$(post_form /v1/token grant_type=refresh_token refresh_token=jcr_nope) $(field error)"

# ---- revocation (RFC 7009) ----
login admin "$ADMIN_PW" >/dev/null
AT3=$(field access_token)
RT3=$(field refresh_token)
check_eq "revoke an access token: 200" 200 "$(post_form /v1/revoke "token=$AT3")"
check_eq "a revoked access token is refused" 401 "$(get_bearer /v1/workers "$AT3")"
check_eq "revoke a refresh token: 200" 200 "$(post_form /v1/revoke "token=$RT3" token_type_hint=refresh_token)"
check_eq "a revoked refresh token is refused" 400 "$(post_form /v1/token grant_type=refresh_token "refresh_token=$RT3")"
login admin "$ADMIN_PW" >/dev/null
AT5=$(field access_token)
RT5=$(field refresh_token)
check_eq "before its refresh token is revoked an access token works" 200 "$(get_bearer /v1/workers "$AT5")"
check_eq "revoke its refresh token: 200" 200 "$(post_form /v1/revoke "token=$RT5")"
check_eq "the access token of that family is revoked with it" 401 "$(get_bearer /v1/workers "$AT5")"
check_eq "revoking an unknown token: 200 all the same" 200 "$(post_form /v1/revoke token=whatever)"
check_eq "revoke without token: invalid_request" "400 invalid_request" "$(post_form /v1/revoke x=1) $(field error)"

# ---- client_credentials (client_secret_jwt) ----
assertion() { $TOK assertion --sub client1 --kid "$(keyid_of client1)" --key "$(key_of client1)" --aud "$URL/v1/token" "$@"; }
cc() { post_form /v1/token grant_type=client_credentials \
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer "client_assertion=$1" "${@:2}"; }
A1=$(assertion)
check_eq "client credentials: 200" 200 "$(cc "$A1")"
CT=$(field access_token)
check_eq "no refresh token for client credentials" "" "$(field refresh_token)"
check_eq "the token names the client and its role" "client1 client" "$(claim "$CT" sub) $(claim "$CT" role)"
check_eq "jose verifies it" True "$(jose "$CT" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ok"])')"
check_eq "the same assertion twice: refused (jti)" "401 invalid_client" "$(cc "$A1") $(field error)"
check "replay named" grep -q 'already used' "$T/body"
check_eq "aud may be the issuer" 200 "$(cc "$($TOK assertion --sub client1 --key "$(key_of client1)" --aud "$URL")")"
check_eq "kid may be left out (current key)" 200 "$(cc "$($TOK assertion --sub client1 --key "$(key_of client1)" --aud "$URL/v1/token")")"
check_eq "signed with another key: refused" 401 "$(cc "$($TOK assertion --sub client1 --kid "$(keyid_of client1)" --key "$(key_of reader1)" --aud "$URL/v1/token")")"
check_eq "unknown principal: refused" 401 "$(cc "$($TOK assertion --sub ghost --key "$(key_of client1)" --aud "$URL/v1/token")")"
check_eq "expired assertion: refused" 401 "$(cc "$(assertion --iat-offset -400 --exp-in 60)")"
check_eq "exp - iat beyond the limit: refused" 401 "$(cc "$(assertion --exp-in 3600)")"
check_eq "iat in the future: refused" 401 "$(cc "$(assertion --iat-offset 600)")"
check_eq "wrong aud: refused" 401 "$(cc "$(assertion --aud http://elsewhere/v1/token)")"
check_eq "iss != sub: refused" 401 "$(cc "$(assertion --iss someone-else)")"
check_eq "no jti: refused" 401 "$(cc "$(assertion --no-jti)")"
check_eq "alg HS512 named: refused" 401 "$(cc "$(assertion --alg HS512)")"
check_eq "client_id naming someone else: refused" 401 "$(cc "$(assertion)" client_id=reader1)"
check_eq "a garbage assertion: refused" 401 "$(cc not.a.jwt)"
check_eq "missing assertion type: invalid_client" "401 invalid_client" \
    "$(post_form /v1/token grant_type=client_credentials "client_assertion=$(assertion)") $(field error)"
"$ADMIN" --json user rotate-key client1 --grace 60 >"$T/rot.json"
check_eq "after an HMAC key rotation the old key works in its grace period" 200 "$(cc "$(assertion)")"
sql "UPDATE principals SET disabled = true WHERE id = 'client1'" >/dev/null
check_eq "a disabled principal gets no token" 401 "$(cc "$(assertion)")"
check_eq "and its earlier token stops working" 401 "$(get_bearer /v1/jobs "$CT")"
sql "UPDATE principals SET disabled = false WHERE id = 'client1'" >/dev/null

# ---- revocation authenticated by a client assertion ----
rv() { post_form /v1/revoke "token=$1" \
    client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer "client_assertion=$2"; }
login admin "$ADMIN_PW" >/dev/null
AT4=$(field access_token)
check_eq "a client revoking someone else's token: 200" 200 "$(rv "$AT4" "$(assertion)")"
check_eq "but that token still works" 200 "$(get_bearer /v1/workers "$AT4")"
cc "$(assertion)" >/dev/null
CT2=$(field access_token)
A2=$(assertion)
check_eq "a client revoking its own token with an assertion: 200" 200 "$(rv "$CT2" "$A2")"
check_eq "and it is refused afterwards" 401 "$(get_bearer /v1/jobs "$CT2")"
check_eq "revoke with a replayed assertion: invalid_client" "401 invalid_client" "$(rv "$AT4" "$A2") $(field error)"
check_eq "revoke with an assertion signed by another key: 401" 401 \
    "$(rv "$AT4" "$($TOK assertion --sub client1 --kid "$(keyid_of client1)" --key "$(key_of reader1)" --aud "$URL/v1/token")")"
check_eq "after all that the admin token still works" 200 "$(get_bearer /v1/workers "$AT4")"

# ---- forged and broken access tokens ----
SEED=$(sql "SELECT encode(secret, 'hex') FROM signing_keys WHERE kid = '$KID1'")
PUB=$(sql "SELECT encode(public_key, 'hex') FROM signing_keys WHERE kid = '$KID1'")
NOW=$(date +%s)
GEN=$(sql "SELECT token_generation FROM principals WHERE id = 'admin'")
claims() { # ISS AUD EXP IAT (gen: the admin's current token generation)
    printf '{"iss":"%s","sub":"admin","aud":"%s","exp":%s,"iat":%s,"jti":"forged-%s","scope":"","role":"admin","gen":%s}' "$1" "$2" "$3" "$4" "$RANDOM" "$GEN"
}
forge() { node "$JS/forge-token.mjs" --seed "$SEED" --pub "$PUB" --kid "$KID1" "$@"; }
GOOD=$(forge --mode eddsa --claims "$(claims "$URL" jobcoord $((NOW + 300)) "$NOW")")
check_eq "control: a token made with the real key is accepted" 200 "$(get_bearer /v1/workers "$GOOD")"
check_eq "the right key but another token generation: 401" 401 \
    "$(get_bearer /v1/workers "$(forge --mode eddsa --claims "$(claims "$URL" jobcoord $((NOW + 300)) "$NOW" | sed "s/\"gen\":$GEN/\"gen\":$((GEN + 1000))/")")")"
check_eq "alg none: 401" 401 "$(get_bearer /v1/workers "$(forge --mode none --claims "$(claims "$URL" jobcoord $((NOW + 300)) "$NOW")")")"
check "the answer says why" grep -q 'EdDSA only' "$T/body"
check_eq "HS256 keyed with the public key: 401" 401 "$(get_bearer /v1/workers "$(forge --mode hs256-pub --claims "$(claims "$URL" jobcoord $((NOW + 300)) "$NOW")")")"
OTHER_SEED=$(python3 -c 'import os; print(os.urandom(32).hex())')
check_eq "unknown kid: 401" 401 "$(get_bearer /v1/workers "$(node "$JS/forge-token.mjs" --mode eddsa --seed "$OTHER_SEED" --pub "$PUB" --kid s000000000000 --claims "$(claims "$URL" jobcoord $((NOW + 300)) "$NOW")" 2>/dev/null || echo x.y.z)")"
check_eq "wrong aud: 401" 401 "$(get_bearer /v1/workers "$(forge --mode eddsa --claims "$(claims "$URL" other $((NOW + 300)) "$NOW")")")"
check_eq "wrong iss: 401" 401 "$(get_bearer /v1/workers "$(forge --mode eddsa --claims "$(claims http://evil jobcoord $((NOW + 300)) "$NOW")")")"
check_eq "expired (beyond the skew): 401" 401 "$(get_bearer /v1/workers "$(forge --mode eddsa --claims "$(claims "$URL" jobcoord $((NOW - 60)) $((NOW - 400)))")")"
check "the answer says expired" grep -q 'expired' "$T/body"
check_eq "issued in the future: 401" 401 "$(get_bearer /v1/workers "$(forge --mode eddsa --claims "$(claims "$URL" jobcoord $((NOW + 900)) $((NOW + 600)))")")"
# nbf (RFC 7519 section 4.1.5), with the same tokens.clock_skew_s (30 s)
nbf_claims() { printf '{"iss":"%s","sub":"admin","aud":"jobcoord","exp":%s,"iat":%s,"nbf":%s,"jti":"nbf-%s","scope":"","role":"admin","gen":%s}' "$URL" $((NOW + 900)) "$NOW" "$1" "$RANDOM" "$GEN"; }
check_eq "nbf in the future (beyond the skew): 401" 401 "$(get_bearer /v1/workers "$(forge --mode eddsa --claims "$(nbf_claims $((NOW + 600)))")")"
check "the answer names nbf" grep -q 'nbf' "$T/body"
check_eq "nbf just ahead, within the skew: 200" 200 "$(get_bearer /v1/workers "$(forge --mode eddsa --claims "$(nbf_claims $((NOW + 10)))")")"
check_eq "nbf in the past: 200" 200 "$(get_bearer /v1/workers "$(forge --mode eddsa --claims "$(nbf_claims $((NOW - 60)))")")"
check_eq "nbf that is not a number: 401" 401 "$(get_bearer /v1/workers "$(forge --mode eddsa --claims "$(nbf_claims '"soon"')")")"
TAMPERED=$(python3 -c '
import sys,base64,json
h,c,s=sys.argv[1].split(".")
cl=json.loads(base64.urlsafe_b64decode(c+"=="))
cl["role"]="admin"; cl["sub"]="client1"
print(h+"."+base64.urlsafe_b64encode(json.dumps(cl).encode()).rstrip(b"=").decode()+"."+s)' "$GOOD")
check_eq "tampered claims: 401" 401 "$(get_bearer /v1/workers "$TAMPERED")"
check_eq "garbage token: 401" 401 "$(get_bearer /v1/workers 'a.b')"
check_eq "no token: 401" 401 "$(curl -s -o "$T/body" -w '%{http_code}' "$URL/v1/workers")"
check "401 carries WWW-Authenticate" sh -c "curl -s -D - -o /dev/null '$URL/v1/workers' | grep -qi '^WWW-Authenticate: Bearer'"
check_eq "Basic auth is not a bearer token: 401" 401 "$(curl -s -o /dev/null -w '%{http_code}' -u admin:x "$URL/v1/workers")"

# ---- signing key rotation ----
login admin "$ADMIN_PW" >/dev/null
OLD=$(field access_token)
# a grace long enough for the checks below on a loaded machine (each login
# costs an Argon2id hash, each jose run starts node)
"$ADMIN" --json security rotate-signing-key --grace 15 >"$T/rot.json" || not_ok "rotate-signing-key failed"
KID2=$(sql "SELECT kid FROM signing_keys WHERE retired_at IS NULL")
check "a new active key" test -n "$KID2" -a "$KID2" != "$KID1"
sleep 0.5
check_eq "JWKS: new key first, the retired one still published" "$KID2 $KID1" \
    "$(curl -s "$URL/.well-known/jwks.json" | python3 -c 'import json,sys; print(" ".join(k["kid"] for k in json.load(sys.stdin)["keys"]))')"
login admin "$ADMIN_PW" >/dev/null
NEW=$(field access_token)
check_eq "new tokens carry the new kid" "$KID2" "$(hdr "$NEW" kid)"
check_eq "jose verifies the new token" "True $KID2" "$(jose "$NEW" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["ok"], j.get("kid"))')"
check_eq "jose still verifies the old token during the grace period" "True $KID1" "$(jose "$OLD" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["ok"], j.get("kid"))')"
check_eq "and so does the server" 200 "$(get_bearer /v1/workers "$OLD")"
wait_for 40 "the retired key leaves the JWKS" sh -c "[ \"\$(curl -s '$URL/.well-known/jwks.json' | grep -c '$KID1')\" = 0 ]"
check_eq "after the grace period the old key is gone from the JWKS" "$KID2" \
    "$(curl -s "$URL/.well-known/jwks.json" | python3 -c 'import json,sys; print(" ".join(k["kid"] for k in json.load(sys.stdin)["keys"]))')"
check_eq "the old token is refused by the server" 401 "$(get_bearer /v1/workers "$OLD")"
check_eq "and by jose" False "$(jose "$OLD" | python3 -c 'import json,sys; print(json.load(sys.stdin)["ok"])')"
check_eq "the new one still works" 200 "$(get_bearer /v1/workers "$NEW")"

# ---- malformed requests and limits ----
check_eq "JSON body to the token endpoint: 415" 415 \
    "$(curl -s -o "$T/body" -w '%{http_code}' -H 'Content-Type: application/json' --data '{"grant_type":"password"}' "$URL/v1/token")"
check_eq "no grant_type: invalid_request" "400 invalid_request" "$(post_form /v1/token username=admin) $(field error)"
check_eq "unknown grant: unsupported_grant_type" "400 unsupported_grant_type" "$(post_form /v1/token grant_type=implicit) $(field error)"
check_eq "broken percent-encoding does not crash the server" 400 \
    "$(curl -s -o "$T/body" -w '%{http_code}' --data 'grant_type=%zz%&password' "$URL/v1/token")"
check_eq "many fields: invalid_request" 400 \
    "$(curl -s -o "$T/body" -w '%{http_code}' --data "$(python3 -c 'print("&".join(f"f{i}=v" for i in range(40)))')&grant_type=password" "$URL/v1/token")"
check_eq "a body over http.max_body_bytes: 413" 413 \
    "$(curl -s -o "$T/body" -w '%{http_code}' --data "grant_type=password&username=$(head -c 20000 /dev/zero | tr '\0' a)" "$URL/v1/token")"
check_eq "413 says why" payload_too_large "$(field error)"
check_eq "a chunked form (size unknown in advance): 411" 411 \
    "$(head -c 40000 /dev/zero | tr '\0' a | curl -s -o "$T/body" -w '%{http_code}' -H 'Transfer-Encoding: chunked' -H 'Content-Type: application/x-www-form-urlencoded' --data-binary @- "$URL/v1/token")"
check_eq "411 says why" length_required "$(field error)"
check_eq "a body on a route that takes none: 413" 413 \
    "$(curl -s -o "$T/body" -w '%{http_code}' -X GET --data "$(head -c 20000 /dev/zero | tr '\0' a)" "$URL/healthz")"
check_eq "GET on the token endpoint: 405" 405 "$(curl -s -o /dev/null -w '%{http_code}' "$URL/v1/token")"
check "the server still answers" sh -c "[ \$(curl -s -o /dev/null -w '%{http_code}' '$URL/healthz') = 200 ]"
# a client that announces a body and never sends it is cut off by the timeout
exec 5<>/dev/tcp/127.0.0.1/$PORT
printf 'POST /v1/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: 100\r\n\r\ngrant_type' >&5
sleep 3.5
if read -r -t 1 line <&5 && [ -n "$line" ]; then not_ok "slow client still connected ($line)"; else ok "slow client closed after the connection timeout"; fi
exec 5>&-

# ---- the access log ----
check "access log line per request: method, path, status, duration, principal" \
    grep -Eq 'POST /v1/token 200 [0-9.]+ms principal=admin' "$T/coordinator.log"
check "bearer requests log the principal" grep -Eq 'GET /v1/workers 200 [0-9.]+ms principal=admin' "$T/coordinator.log"
check_eq "the admin password never reaches the log" 0 "$(grep -c "$ADMIN_PW" "$T/coordinator.log")"
check_eq "no token or refresh token reaches the log" 0 "$(grep -cE "$RT1|$RT2|${AT:0:40}|$SEED" "$T/coordinator.log")"
check_eq "the coordinator is still running" 0 "$(kill -0 "$COORD_PID"; echo $?)"

# ---- the SDK's token source (jobcoord-token) against the real endpoint ----
(umask 077; key_of client1 >"$T/client1.key")
cat >"$T/client1.conf" <<CONF
principal = client1
key.id = $(sql "SELECT key_id FROM principal_keys WHERE principal_id = 'client1' AND valid_until IS NULL")
key.file = $T/client1.key
bootstrap.file = $T/kafka.bootstrap
token.url = $URL
CONF
"$ADMIN" --json user rotate-key client1 --grace 0 >"$T/rot2.json"
python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key"])' "$T/rot2.json" >"$T/client1.key"
sed -i "s/^key.id = .*/key.id = $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["key_id"])' "$T/rot2.json")/" "$T/client1.conf"
SDKTOK=$("$BIN/worker-sdk/tools/jobcoord-token" --config "$T/client1.conf" 2>"$T/sdk-token.err")
check_eq "jobcoord-token gets a token from the coordinator" 0 $?
check_eq "which jose verifies, for client1" "True client1" \
    "$(jose "$SDKTOK" | python3 -c 'import json,sys; j=json.load(sys.stdin); print(j["ok"], j.get("payload", {}).get("sub"))')"
check_eq "and the status API accepts" 200 "$(get_bearer /v1/jobs "$SDKTOK")"
"$BIN/worker-sdk/tools/jobcoord-token" --config "$T/client1.conf" --json >"$T/sdk-token.json" 2>>"$T/sdk-token.err"
check_eq "jobcoord-token --json exits 0" 0 $?
check_eq "--json: one line, the token, its type, times and scope" \
    "1 True Bearer True True True" \
    "$(python3 -c '
import json, sys
lines = open(sys.argv[1]).read().splitlines()
d = json.loads(lines[0])
print(len(lines), d["access_token"].count(".") == 2, d["token_type"],
      type(d["expires_in"]) is int and 0 < d["expires_in"] <= 86400,
      type(d["expires_at_ms"]) is int and d["expires_at_ms"] > 1700000000000,
      d["scope"] is None or type(d["scope"]) is str)' "$T/sdk-token.json")"
printf 'principal = client1\nkey.id = nope\nkey.file = %s\nbootstrap.file = %s\ntoken.url = %s\n' "$T/client1.key" "$T/kafka.bootstrap" "$URL" >"$T/bad.conf"
"$BIN/worker-sdk/tools/jobcoord-token" --config "$T/bad.conf" >/dev/null 2>"$T/sdk-bad.err"
check_eq "a wrong key id: jobcoord-token exits 1" 1 $?
check "and says the coordinator refused" grep -q 'invalid_client' "$T/sdk-bad.err"

# ---- SASL/OAUTHBEARER: the coordinator's own Kafka clients ask it for tokens ----
# (the mock cluster speaks no SASL: this checks that librdkafka's refresh
# callback reaches the coordinator's signing key, not a broker's verdict)
PORT2=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$BIN/coordinator/jobcoord" --bootstrap-file "$T/kafka.bootstrap" --set instance.id=sasl \
    --set kafka.properties=security.protocol=SASL_PLAINTEXT,sasl.mechanism=OAUTHBEARER \
    >"$T/sasl.log" 2>&1 &
SASL_PID=$!
wait_for 20 "an OAUTHBEARER token minted" grep -q "SASL/OAUTHBEARER token .* minted for Kafka principal 'jobcoord'" "$T/sasl.log"
check "the coordinator mints its own SASL/OAUTHBEARER token" grep -q "SASL/OAUTHBEARER token .* minted" "$T/sasl.log"
t0=$EPOCHREALTIME
kill "$SASL_PID" 2>/dev/null
wait "$SASL_PID" 2>/dev/null
# the relay's first metadata requests go unanswered here (no SASL on the
# mock cluster): a stop must not wait for them (it took 10 s)
check "it stops within 3 s although the cluster never answered" \
    awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a < 3) }'
jc_done
