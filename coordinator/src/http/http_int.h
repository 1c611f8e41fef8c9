/*
 * http_int.h - what the HTTP surface's route handlers share: the request, the
 * caller it authenticated, answers, a PostgreSQL connection per thread and
 * the JSON writing helpers.
 *
 * http.c owns the libmicrohttpd daemon, the route table, body limits, the
 * access log and per-route counters. Handlers live by subject:
 *   http_meta.c    /healthz /readyz /metrics /.well-known/... /v1/jwks
 *   http_token.c   POST /v1/token, POST /v1/revoke
 *   http_status.c  /v1/status /v1/workers[/{id}] /v1/jobs[...]
 *   http_query.c   the status API's query strings (names, numbers, ids, the
 *                  filters, times and cursor of /v1/jobs)
 *   http_ui.c      / and /ui/<file>: the status dashboard (static files)
 *   http_audit.c   GET /v1/audit, and the audit entries of the HTTP surface
 *   http_me.c      /v1/me, /v1/me/password: the caller's own
 * A handler answers exactly once through one of the jc_reply_* functions
 * and returns what it returned.
 */
#ifndef JC_HTTP_INT_H
#define JC_HTTP_INT_H

#include <stddef.h>
#include <stdint.h>

#include <libpq-fe.h>
#include <microhttpd.h>

#include "core/audit.h"
#include "core/buf.h"
#include "core/config.h"
#include "core/json_out.h"
#include "core/runtime.h"
#include "http/http_conns.h"

typedef struct jc_http jc_http;
typedef struct jc_signkeys jc_signkeys;
typedef struct jc_keyring jc_keyring;

/* Roles of principals (principals.role). */
#define JC_HTTP_ROLE_MAX 16
#define JC_HTTP_SUB_MAX 64
#define JC_HTTP_SCOPE_MAX 512

/* jc_caller is who a bearer token says the caller is. */
typedef struct jc_caller {
    int authenticated;
    char sub[JC_HTTP_SUB_MAX + 1];
    char role[JC_HTTP_ROLE_MAX];  /* client | worker | admin | reader */
    char scope[JC_HTTP_SCOPE_MAX]; /* space-separated */
    char jti[80];
    int64_t exp;
} jc_caller;

typedef struct jc_req {
    jc_http *h;
    struct MHD_Connection *c;
    const char *method;
    const char *path;  /* URL path, without the query string */
    const char *route; /* the matched pattern ("/v1/jobs/{id}"), for logs and metrics */
    const char *arg;   /* the {id} segment of the path, NUL-terminated; NULL if none */
    const char *body;  /* request body (NUL-terminated copy), NULL if none */
    size_t body_len;
    jc_caller caller;
    unsigned status; /* set by the jc_reply_* functions */
} jc_req;

/* What the handlers can reach. */
const jc_config *jc_http_config(const jc_http *h);
jc_runtime *jc_http_runtime(const jc_http *h);
jc_signkeys *jc_http_signkeys(const jc_http *h);
const jc_keyring *jc_http_keyring(const jc_http *h);
/* the open connections and their request deadlines (http_conns.h) */
jc_conns *jc_http_conns(const jc_http *h);
/* jc_http_issuer / jc_http_public_url: tokens.issuer / http.public_url, or
 * "http://" + http.listen when empty. No trailing slash. */
const char *jc_http_issuer(const jc_http *h);
const char *jc_http_public_url(const jc_http *h);

/* jc_http_db returns this thread's connection to PostgreSQL (opened on first
 * use, reopened when broken), NULL when PostgreSQL cannot be reached. Never
 * shared between threads; closed when the thread ends. */
PGconn *jc_http_db(jc_http *h);

/* Request inputs. */
const char *jc_req_query(jc_req *r, const char *name);  /* decoded ?name=, NULL if absent */
const char *jc_req_header(jc_req *r, const char *name); /* NULL if absent */
/* jc_req_form finds name in an application/x-www-form-urlencoded body and
 * decodes it into out. Returns 1 found, 0 absent, -1 malformed (bad %XX,
 * value too long for out, or the name given twice, which RFC 6749 forbids). */
int jc_req_form(jc_req *r, const char *name, char *out, size_t out_size);

/* Answers. Each sets r->status. Bodies are copied. */
enum MHD_Result jc_reply(jc_req *r, unsigned status, const char *content_type, const char *body,
                         size_t len);
enum MHD_Result jc_reply_json(jc_req *r, unsigned status, const jc_buf *b);
/* jc_reply_with_headers: like jc_reply, with extra headers given as a
 * NULL-terminated list of name, value pairs (no Cache-Control added). */
enum MHD_Result jc_reply_with_headers(jc_req *r, unsigned status, const char *content_type,
                                      const char *body, size_t len,
                                      const char *const *headers);
/* {"error": code, "message": ...}; 401 adds WWW-Authenticate, 405 Allow. */
enum MHD_Result jc_reply_error(jc_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* RFC 6749 section 5.2: {"error": error, "error_description": ...}. */
enum MHD_Result jc_reply_oauth_error(jc_req *r, unsigned status, const char *error,
                                     const char *fmt, ...) __attribute__((format(printf, 4, 5)));

/* jc_req_authenticate checks the bearer token (signature with a published
 * signing key, alg pinned to EdDSA, typ, iss, aud, exp/iat with
 * tokens.clock_skew_s, not revoked, principal not disabled) and fills
 * r->caller. Returns 0; or -1 after answering 401 (*ret holds the answer's
 * result, to be returned by the handler). */
int jc_req_authenticate(jc_req *r, enum MHD_Result *ret);

typedef enum MHD_Result (*jc_route_fn)(jc_req *r);

/* jc_req_defer runs fn(r) on one of the auth.max_concurrent_hashes threads
 * kept apart from the HTTP threads (password hashing), after at most
 * auth.max_queued_logins others; the connection is suspended meanwhile.
 * fn answers with the jc_reply_* functions as usual. When the queue is full
 * (or a request waited more than 10 s) the answer is 503 with Retry-After.
 * The handler returns what this returns. */
enum MHD_Result jc_req_defer(jc_req *r, jc_route_fn fn);

/* jc_req_address writes the client's IP address as text into out ("" when
 * unknown). */
void jc_req_address(jc_req *r, char *out, size_t out_size);

/* jc_req_audit appends an audit entry (core/audit.h) of actor kind
 * "principal" with the client's address; a failure is logged, never
 * answered (http_audit.c). */
void jc_req_audit(jc_req *r, PGconn *db, const char *actor, const char *action, const char *target,
                  jc_audit_outcome outcome, const char *detail);

/* jc_caller_sees_all: admin or reader. */
int jc_caller_sees_all(const jc_caller *c);

/* Query strings (http_query.c). */
#define JC_UUID_TEXT 37      /* a UUID as text, with its NUL */
#define JC_CURSOR_US_TEXT 24 /* a cursor's microseconds as decimal text, with its NUL */
/* jc_query_check_or_reply answers 400 when the query has a parameter that
 * is not in allowed (NULL-terminated), is repeated or is empty. Returns 0,
 * or -1 after answering (*ret holds the answer's result). */
int jc_query_check_or_reply(jc_req *r, const char *const *allowed, enum MHD_Result *ret);
/* jc_query_uint reads a decimal of 1..10 digits within [lo, hi] into *out;
 * -1 otherwise. */
int jc_query_uint(const char *s, long lo, long hi, long *out);
/* jc_query_bool reads exactly "true" (1) or "false" (0) into *out; -1
 * otherwise. */
int jc_query_bool(const char *s, int *out);
/* jc_query_time reads an RFC 3339 time or epoch seconds into microseconds
 * since the epoch. Returns 0 or -1. */
int jc_query_time(const char *s, int64_t *us);
/* jc_query_name_valid: a job type, worker or principal id (1..64 of
 * [A-Za-z0-9._:@-], as the protocol's names). */
int jc_query_name_valid(const char *s);
/* jc_query_cursor_encode writes the /v1/jobs cursor after the job created at
 * us (microseconds since the epoch) with id uuid (text) into out. */
void jc_query_cursor_encode(int64_t us, const char *uuid, char *out, size_t out_size);
/* jc_jobs_query holds the texts jc_query_jobs_or_reply points params at. */
typedef struct jc_jobs_query {
    long limit;                         /* 1..500, 50 when not given */
    char since_us[JC_CURSOR_US_TEXT];   /* microseconds since the epoch */
    char cursor_us[JC_CURSOR_US_TEXT];
    char cursor_id[JC_UUID_TEXT];
    char limit_text[16];
} jc_jobs_query;
/* jc_query_jobs_or_reply reads the query of GET /v1/jobs into params[2..9]
 * ($3..$10 of its statement): the filters state, type, worker, submitter,
 * since (as microseconds), the cursor (microseconds, job id) and limit;
 * params[0..1] are left alone, absent parameters stay as they were (NULL).
 * q keeps the texts and must outlive params. Returns 0, or -1 after
 * answering 400 for the first bad value. */
int jc_query_jobs_or_reply(jc_req *r, const char *params[10], jc_jobs_query *q,
                           enum MHD_Result *ret);

/* SQL expression turning a timestamptz column into the API's RFC 3339 UTC
 * text with milliseconds, e.g. JC_SQL_TS("created_at"). */
#define JC_SQL_TS(col) "to_char((" col ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"')"

/* Route handlers (each file's own; jc_route_fn is declared above). */

enum MHD_Result jc_http_healthz(jc_req *r);
enum MHD_Result jc_http_readyz(jc_req *r);
enum MHD_Result jc_http_metrics(jc_req *r);
enum MHD_Result jc_http_jwks(jc_req *r);
enum MHD_Result jc_http_oauth_metadata(jc_req *r);
enum MHD_Result jc_http_token(jc_req *r);
enum MHD_Result jc_http_revoke(jc_req *r);
enum MHD_Result jc_http_status(jc_req *r);
enum MHD_Result jc_http_workers(jc_req *r);
enum MHD_Result jc_http_worker(jc_req *r);
enum MHD_Result jc_http_jobs(jc_req *r);
enum MHD_Result jc_http_job(jc_req *r);
enum MHD_Result jc_http_job_events(jc_req *r);
enum MHD_Result jc_http_job_stats(jc_req *r);
enum MHD_Result jc_http_audit(jc_req *r);    /* http_audit.c */
enum MHD_Result jc_http_me(jc_req *r);       /* http_me.c */
enum MHD_Result jc_http_me_password(jc_req *r); /* http_me.c */
enum MHD_Result jc_http_me_totp(jc_req *r);     /* http_me.c */
enum MHD_Result jc_http_commands(jc_req *r);    /* http_commands.c */
enum MHD_Result jc_http_command(jc_req *r);
enum MHD_Result jc_http_ui(jc_req *r);       /* http_ui.c: the dashboard page */
enum MHD_Result jc_http_ui_asset(jc_req *r); /* http_ui.c: /ui/<file> */

#endif
