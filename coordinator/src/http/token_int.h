/*
 * token_int.h - what the token endpoint's files share (http_token.c,
 * token_common.c, token_client.c, token_password.c, token_refresh.c).
 * Private to them.
 */
#ifndef JC_HTTP_TOKEN_INT_H
#define JC_HTTP_TOKEN_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>

#include "core/config.h"
#include "http/http_int.h"

#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
#define REFRESH_PREFIX "jcr_"
#define GENERIC_LOGIN_ERROR "invalid username or password"

/* revokes refresh-token family $1 and the access tokens minted from it
 * ($2: tokens.clock_skew_s); see token_common.c */
extern const char tok_revoke_family_sql[];

int tok_pg_ok(PGresult *res);
void tok_exec(PGconn *db, const char *sql);
/* tok_unavailable clears res (NULL: nothing to clear) and answers 503 for a
 * failed statement. */
enum MHD_Result tok_unavailable(jc_req *r, PGresult *res);
/* tok_abandon clears res and rolls back the grant's transaction. */
void tok_abandon(PGconn *db, PGresult *res);
/* tok_begin_select starts the grant's transaction and runs sql, a SELECT of one
 * parameter locking its rows. Returns its rows, or NULL when PostgreSQL
 * failed (rolled back). */
PGresult *tok_begin_select(PGconn *db, const char *sql, const char *const *vals,
                              const int *lens, const int *fmts);
/* tok_mint_and_commit mints the access token of sub (role, scope, token
 * generation gen) into access (jti gets its id), records it as a token of
 * refresh-token family (when not NULL) so that revoking the family revokes
 * it, commits the grant's transaction and marks the caller authenticated.
 * Returns 0; or -1 after answering 503 (*ret): no signing key (rolled
 * back), or COMMIT refused ("PostgreSQL refused the <what>"). */
int tok_mint_and_commit(jc_req *r, PGconn *db, const char *sub, const char *role,
                           const char *scope, int64_t gen, const char *family, char *access,
                           size_t access_size, char *jti, const char *what, enum MHD_Result *ret);
/* tok_answer writes the RFC 6749 5.1 success answer. */
enum MHD_Result tok_answer(jc_req *r, const char *access, int ttl, const char *scope,
                                    const char *refresh);
/* tok_grant_scope computes the scope to grant: the principal's scopes (a
 * PostgreSQL text[] literal) when nothing is requested, else the requested
 * space-separated scopes, each of which must be among them (or the
 * principal has "*"). Returns 0, -1 when a requested scope is not allowed. */
int tok_grant_scope(const char *allowed_pg, const char *requested, char *out, size_t out_size);
/* tok_effective_pg writes the scopes a principal of role with stored scopes
 * (comma-separated, optionally in braces: a text[] literal; empty: the
 * role's defaults) holds, as a text[] literal for tok_grant_scope. Returns
 * their mask (0: none usable). */
unsigned tok_effective_pg(const char *role, const char *stored, char *out, size_t out_size);
int tok_role_may_login(const char *role);
/* tok_issue_refresh stores a new refresh token of family (a uuid text) for
 * the principal's token generation gen, issued to the client at address
 * (NULL: unknown), and writes it to out. Runs inside the caller's
 * transaction. */
int tok_issue_refresh(PGconn *db, const jc_config *cfg, const char *family, const char *sub,
                      const char *scope, int64_t gen, const char *address, char *out,
                      size_t out_size);
/* tok_grant_password_deferred is the password grant as it runs on a hashing
 * thread (jc_req_defer), with that thread's own PostgreSQL connection. */
enum MHD_Result tok_grant_password_deferred(jc_req *r);
enum MHD_Result tok_grant_refresh(jc_req *r, PGconn *db);
/* tok_client_auth authenticates the client_assertion of the form. Returns 0
 * with sub/role/scopes/gen filled, or -1 after answering. */
int tok_client_auth(jc_req *r, PGconn *db, char *sub, size_t sub_size, char *role,
                       size_t role_size, char *scopes, size_t scopes_size, int64_t *gen,
                       enum MHD_Result *ret);
enum MHD_Result tok_grant_client_credentials(jc_req *r, PGconn *db);

#endif
