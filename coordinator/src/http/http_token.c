/*
 * http_token.c - the token endpoint (POST /v1/token): which grant runs.
 *
 * Grants (RFC 6749; answers and errors in its section 5 form):
 *   client_credentials  the principal authenticates with a JWT it signs
 *                       HS256 with its HMAC key (client_secret_jwt, RFC 7523
 *                       section 2.2); each assertion's jti is stored until
 *                       it expires, so it is accepted once, on any instance.
 *   password            admins and readers: Argon2id hash, lockout after
 *                       auth.login_max_failures for auth.lockout_s, TOTP
 *                       when enabled. Unknown users, wrong passwords and
 *                       locked accounts cost the same hash and get the same
 *                       answer. Hashes run on auth.max_concurrent_hashes
 *                       threads of their own (64 MiB each), never on the
 *                       HTTP threads, after a queue of auth.max_queued_logins
 *                       (jc_req_defer; full: 503).
 *   refresh_token       rotating refresh tokens, stored as BLAKE2b hashes;
 *                       presenting a used one (or revoking one) revokes its
 *                       whole family and the access tokens minted from it
 *                       (family_access_tokens -> revoked_tokens).
 *
 * Before any grant, the client's address must have allowance left
 * (token_throttle.c: auth.token_rate_per_min after auth.token_burst; 429
 * with Retry-After otherwise), besides the per-account lockout.
 *
 * The grants live beside it: token_client.c (client authentication and
 * client_credentials), token_password.c, token_refresh.c (with revocation,
 * POST /v1/revoke); what they share in token_common.c (token_int.h); bearer
 * authentication of the other routes in http_bearer.c.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "principals/passwords.h"
#include "http/http_int.h"
#include "jcproto/jwt.h"
#include "secrets/keyring.h"
#include "core/log.h"
#include "http/token_int.h"
#include "http/token_throttle.h"
#include "principals/principals.h"
#include "principals/scopes.h"
#include "tokens/access_tokens.h"


/* throttled answers 429 when the client's address has spent its
 * allowance (token_throttle.h). Returns 1 when it answered. */
static int throttled(jc_req *r, enum MHD_Result *ret)
{
    char address[64], retry[16], body[200];
    const char *headers[] = {"Retry-After", retry, "Cache-Control", "no-store", "Pragma",
                             "no-cache",    NULL};
    struct timespec ts;
    int retry_s = 1, n;

    jc_req_address(r, address, sizeof address);
    clock_gettime(CLOCK_MONOTONIC, &ts);
    if (jc_token_throttle_take(jc_http_config(r->h), address,
                               (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000, &retry_s) == 0)
        return 0;
    snprintf(retry, sizeof retry, "%d", retry_s);
    n = snprintf(body, sizeof body,
                 "{\"error\":\"too_many_requests\",\"error_description\":\"too many token"
                 " requests from this address; retry in %d s\"}\n",
                 retry_s);
    *ret = jc_reply_with_headers(r, 429, "application/json", body, (size_t)n, headers);
    return 1;
}

enum MHD_Result jc_http_token(jc_req *r)
{
    char grant[64];
    int g;
    PGconn *db;
    enum MHD_Result ret;

    if (throttled(r, &ret))
        return ret;
    g = jc_req_form(r, "grant_type", grant, sizeof grant);

    if (g < 0)
        return jc_reply_oauth_error(r, 400, "invalid_request",
                                    "the form is malformed (a parameter repeated, too long, or"
                                    " too many)");
    if (g == 0)
        return jc_reply_oauth_error(r, 400, "invalid_request", "grant_type is required");
    if (strcmp(grant, "client_credentials") != 0 && strcmp(grant, "password") != 0 &&
        strcmp(grant, "refresh_token") != 0)
        return jc_reply_oauth_error(r, 400, "unsupported_grant_type",
                                    "grant_type must be client_credentials, password or"
                                    " refresh_token");
    if (strcmp(grant, "password") == 0)
        return jc_req_defer(r, tok_grant_password_deferred);
    db = jc_http_db(r->h);
    if (!db)
        return jc_reply_error(r, 503, "unavailable", "PostgreSQL is not reachable");
    jc_signkeys_refresh(jc_http_signkeys(r->h), db, 0);
    if (strcmp(grant, "refresh_token") == 0)
        return tok_grant_refresh(r, db);
    return tok_grant_client_credentials(r, db);
}
