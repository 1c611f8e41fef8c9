/*
 * http.c - the HTTP surface's server: libmicrohttpd with explicit limits, the
 * route table, request bodies (forms only, bounded), answers, the access log
 * and per-thread PostgreSQL connections. The routes themselves live in
 * http_meta.c, http_token.c, http_status.c, http_metrics.c and http_ui.c.
 *
 * libmicrohttpd's defaults have no connection timeout and no per-IP limit,
 * so every limit is set explicitly: connection timeout, a deadline for each
 * request to arrive whole (http_conns.c; the timeout alone lets a client
 * that trickles bytes hold a slot forever), total and per-IP connections, memory per connection (request line and headers), a thread
 * pool, and http.max_body_bytes for bodies, checked against Content-Length
 * before anything is read and again as data arrives (413 at once, then the
 * connection is closed). Bodies are parsed by libmicrohttpd's post
 * processor, only for the routes that take a form.
 *
 * Password logins do not run on the thread pool: jc_req_defer suspends the
 * connection and queues the handler for the hashing threads (http_defer.c),
 * so health, readiness and metrics answer whatever the token endpoint does.
 *
 * Longer than most files here (about 700 lines) on purpose: the server, the
 * per-request state and the answers queued on that state belong together;
 * the routes, JSON writing (core/json_out.c), the connection deadlines and
 * the hashing queue live in files of their own.
 */
#include "http/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <sodium.h>

#include "core/db.h"
#include "http/http_conns.h"
#include "http/http_defer.h"
#include "http/http_int.h"
#include "jobcoord/jobcoord.h"
#include "core/log.h"
#include "core/metrics.h"
#include "tokens/access_tokens.h"

#define FORM_FIELDS_MAX 16
#define DEFER_MAX_WAIT_MS 10000 /* a login queued longer is answered 503 */
#define FORM_NAME_MAX 64

struct jc_http {
    const jc_config *cfg;
    jc_runtime *rt;
    const jc_keyring *kr;
    jc_signkeys *keys;
    struct MHD_Daemon *d;
    jc_defer *defer;      /* password hashing, off the HTTP threads */
    jc_conns *conns;      /* request deadlines */
    pthread_key_t db_key; /* this thread's PGconn */
    char public_url[512];
    char issuer[512];
};

enum route_flags { TAKES_FORM = 1 };

typedef struct route {
    const char *method;
    const char *pattern; /* "{id}" matches one path segment */
    jc_route_fn fn;
    unsigned flags;
} route;

static const route routes[] = {
    {"GET", "/healthz", jc_http_healthz, 0},
    {"GET", "/readyz", jc_http_readyz, 0},
    {"GET", "/metrics", jc_http_metrics, 0},
    {"GET", "/.well-known/jwks.json", jc_http_jwks, 0},
    {"GET", "/v1/jwks", jc_http_jwks, 0},
    {"GET", "/.well-known/oauth-authorization-server", jc_http_oauth_metadata, 0},
    {"POST", "/v1/token", jc_http_token, TAKES_FORM},
    {"POST", "/v1/revoke", jc_http_revoke, TAKES_FORM},
    {"GET", "/v1/status", jc_http_status, 0},
    {"GET", "/v1/workers", jc_http_workers, 0},
    {"GET", "/v1/workers/{id}", jc_http_worker, 0},
    {"GET", "/v1/jobs", jc_http_jobs, 0},
    {"GET", "/v1/jobs/stats", jc_http_job_stats, 0},
    {"GET", "/v1/jobs/{id}", jc_http_job, 0},
    {"GET", "/v1/jobs/{id}/events", jc_http_job_events, 0},
    {"GET", "/v1/audit", jc_http_audit, 0},
    {"GET", "/v1/me", jc_http_me, 0},
    {"POST", "/v1/me/password", jc_http_me_password, TAKES_FORM},
    {"POST", "/v1/me/totp", jc_http_me_totp, TAKES_FORM},
    {"GET", "/v1/commands", jc_http_commands, 0},
    {"GET", "/v1/commands/{id}", jc_http_command, 0},
    {"GET", "/", jc_http_ui, 0},
    {"GET", "/ui/{id}", jc_http_ui_asset, 0},
};
#define ROUTES_COUNT (sizeof routes / sizeof routes[0])

/* Per request state, from the first callback to the completion callback. */
typedef struct reqstate {
    jc_req req;
    const route *rt;
    char arg[256];
    struct timespec t0;
    struct MHD_PostProcessor *pp;
    int nfields;
    char names[FORM_FIELDS_MAX][FORM_NAME_MAX];
    jc_buf values[FORM_FIELDS_MAX];
    int form_bad; /* a name given twice, too many fields, too long */
    size_t body_seen;
    int too_large;
    int answered;
    /* deferred work (jc_req_defer): the handler runs on a jc_defer thread
     * while the connection is suspended, and its answer waits in pending
     * until libmicrohttpd calls on_request again after the resume */
    jc_route_fn deferred_fn;
    int deferred;
    struct MHD_Response *pending;
    unsigned pending_status;
} reqstate;

/* ---- accessors ---- */

const jc_config *jc_http_config(const jc_http *h) { return h->cfg; }
jc_runtime *jc_http_runtime(const jc_http *h) { return h->rt; }
jc_signkeys *jc_http_signkeys(const jc_http *h) { return h->keys; }
const jc_keyring *jc_http_keyring(const jc_http *h) { return h->kr; }
jc_conns *jc_http_conns(const jc_http *h)
{
    return h->conns;
}
const char *jc_http_issuer(const jc_http *h) { return h->issuer; }
const char *jc_http_public_url(const jc_http *h) { return h->public_url; }

static void db_close(void *p)
{
    PQfinish(p);
}

PGconn *jc_http_db(jc_http *h)
{
    char err[256];
    PGconn *c = pthread_getspecific(h->db_key);
    if (c && PQstatus(c) != CONNECTION_OK) {
        PQreset(c);
        if (PQstatus(c) != CONNECTION_OK) {
            PQfinish(c);
            c = NULL;
            pthread_setspecific(h->db_key, NULL);
        }
    }
    if (!c) {
        c = jc_db_connect(h->cfg->db_conninfo, err, sizeof err);
        if (!c) {
            LOG_WARN("http", "PostgreSQL: %s", err);
            return NULL;
        }
        pthread_setspecific(h->db_key, c);
    }
    return c;
}

/* ---- inputs ---- */

const char *jc_req_query(jc_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_GET_ARGUMENT_KIND, name);
}

const char *jc_req_header(jc_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->c, MHD_HEADER_KIND, name);
}

int jc_req_form(jc_req *r, const char *name, char *out, size_t out_size)
{
    reqstate *s = (reqstate *)r; /* req is the first member */
    if (s->form_bad)
        return -1;
    for (int i = 0; i < s->nfields; i++)
        if (strcmp(s->names[i], name) == 0) {
            if (s->values[i].failed || s->values[i].len >= out_size ||
                memchr(jc_buf_str(&s->values[i]), '\0', s->values[i].len))
                return -1;
            memcpy(out, jc_buf_str(&s->values[i]), s->values[i].len);
            out[s->values[i].len] = '\0';
            return 1;
        }
    return 0;
}

static enum MHD_Result form_field(void *cls, enum MHD_ValueKind kind, const char *key,
                                  const char *filename, const char *content_type,
                                  const char *transfer_encoding, const char *data, uint64_t off,
                                  size_t size)
{
    reqstate *s = cls;
    int i;
    (void)kind;
    (void)content_type;
    (void)transfer_encoding;
    if (filename || strlen(key) >= FORM_NAME_MAX) {
        s->form_bad = 1;
        return MHD_YES;
    }
    for (i = 0; i < s->nfields; i++)
        if (strcmp(s->names[i], key) == 0)
            break;
    if (i < s->nfields && off == 0) {
        s->form_bad = 1; /* RFC 6749 3.1: parameters must not be included more than once */
        return MHD_YES;
    }
    if (i == s->nfields) {
        if (s->nfields == FORM_FIELDS_MAX) {
            s->form_bad = 1;
            return MHD_YES;
        }
        snprintf(s->names[i], FORM_NAME_MAX, "%s", key);
        jc_buf_init(&s->values[i], (size_t)s->req.h->cfg->http_max_body + 1);
        s->nfields++;
    }
    if (size)
        jc_buf_add(&s->values[i], data, size);
    return MHD_YES;
}

/* ---- answers ---- */

static enum MHD_Result queue(jc_req *r, unsigned status, struct MHD_Response *resp)
{
    enum MHD_Result ret;
    reqstate *s = (reqstate *)r;
    if (!resp)
        return MHD_NO;
    if (s->deferred) { /* not on a libmicrohttpd thread: keep it for on_request */
        if (s->pending)
            MHD_destroy_response(s->pending);
        s->pending = resp;
        s->pending_status = status;
        r->status = status;
        s->answered = 1;
        return MHD_YES;
    }
    jc_conns_received(r->c); /* whatever is left of the request is discarded */
    ret = MHD_queue_response(r->c, status, resp);
    MHD_destroy_response(resp);
    r->status = status;
    s->answered = 1;
    return ret;
}

static struct MHD_Response *make(const char *type, const char *body, size_t len)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(len, (void *)body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return NULL;
    MHD_add_response_header(resp, "Content-Type", type);
    MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
    return resp;
}

enum MHD_Result jc_reply(jc_req *r, unsigned status, const char *content_type, const char *body,
                         size_t len)
{
    struct MHD_Response *resp = make(content_type, body, len);
    if (resp)
        MHD_add_response_header(resp, "Cache-Control", "no-store");
    return queue(r, status, resp);
}

enum MHD_Result jc_reply_with_headers(jc_req *r, unsigned status, const char *content_type,
                                      const char *body, size_t len,
                                      const char *const *headers)
{
    struct MHD_Response *resp = make(content_type, body, len);
    if (resp)
        for (size_t i = 0; headers && headers[i] && headers[i + 1]; i += 2)
            MHD_add_response_header(resp, headers[i], headers[i + 1]);
    return queue(r, status, resp);
}

enum MHD_Result jc_reply_json(jc_req *r, unsigned status, const jc_buf *b)
{
    if (b->failed)
        return jc_reply_error(r, 500, "internal", "the answer does not fit");
    return jc_reply(r, status, "application/json", jc_buf_str(b), b->len);
}

static enum MHD_Result reply_error_v(jc_req *r, unsigned status, const char *code, int oauth,
                                     const char *fmt, va_list ap)
{
    char msg[512];
    json_t *doc;
    jc_buf b;
    struct MHD_Response *resp;
    enum MHD_Result ret;

    vsnprintf(msg, sizeof msg, fmt, ap);
    doc = json_object();
    if (json_object_set_new(doc, "error", jc_json_text(code)) != 0 ||
        json_object_set_new(doc, oauth ? "error_description" : "message", jc_json_text(msg)) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    jc_buf_init(&b, 4096);
    if (jc_json_dump(&b, doc) != 0 || jc_buf_addstr(&b, "\n") != 0) {
        /* out of memory: a body that needs none */
        static const char nomem[] = "{\"error\":\"internal\",\"message\":\"out of memory\"}\n";
        resp = make("application/json", nomem, sizeof nomem - 1);
    } else {
        resp = make("application/json", jc_buf_str(&b), b.len);
    }
    jc_buf_free(&b);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header(resp, "Cache-Control", "no-store");
    if (oauth)
        MHD_add_response_header(resp, "Pragma", "no-cache");
    if (status == 401 && !oauth)
        MHD_add_response_header(resp, "WWW-Authenticate",
                                jc_req_header(r, MHD_HTTP_HEADER_AUTHORIZATION)
                                    ? "Bearer realm=\"jobcoord\", error=\"invalid_token\""
                                    : "Bearer realm=\"jobcoord\"");
    if (status == 401 && oauth)
        MHD_add_response_header(resp, "WWW-Authenticate", "Bearer realm=\"jobcoord\"");
    if (status == 405) {
        char allow[64] = "";
        for (size_t i = 0; i < ROUTES_COUNT; i++) {
            if (((reqstate *)r)->rt && routes[i].fn == ((reqstate *)r)->rt->fn &&
                !strstr(allow, routes[i].method)) {
                if (allow[0])
                    strcat(allow, ", ");
                strcat(allow, routes[i].method);
                if (strcmp(routes[i].method, "GET") == 0)
                    strcat(allow, ", HEAD");
            }
        }
        MHD_add_response_header(resp, "Allow", allow[0] ? allow : "GET, HEAD");
    }
    ret = queue(r, status, resp);
    return ret;
}

enum MHD_Result jc_reply_error(jc_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    va_list ap;
    enum MHD_Result ret;
    va_start(ap, fmt);
    ret = reply_error_v(r, status, code, 0, fmt, ap);
    va_end(ap);
    return ret;
}

enum MHD_Result jc_reply_oauth_error(jc_req *r, unsigned status, const char *error,
                                     const char *fmt, ...)
{
    va_list ap;
    enum MHD_Result ret;
    va_start(ap, fmt);
    ret = reply_error_v(r, status, error, 1, fmt, ap);
    va_end(ap);
    return ret;
}

int jc_caller_sees_all(const jc_caller *c)
{
    return c->authenticated && (strcmp(c->role, "admin") == 0 || strcmp(c->role, "reader") == 0);
}

/* ---- dispatch ---- */

/* match compares path with pattern; a "{id}" segment matches one non-empty
 * segment, copied to arg. */
static int match(const char *pattern, const char *path, char *arg, size_t arg_size)
{
    while (*pattern && *path) {
        if (strncmp(pattern, "{id}", 4) == 0) {
            size_t n = strcspn(path, "/");
            if (n == 0 || n >= arg_size)
                return 0;
            memcpy(arg, path, n);
            arg[n] = '\0';
            path += n;
            pattern += 4;
            continue;
        }
        if (*pattern != *path)
            return 0;
        pattern++;
        path++;
    }
    return *pattern == '\0' && *path == '\0';
}

static double elapsed_s(const struct timespec *t0)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)(t.tv_sec - t0->tv_sec) + (double)(t.tv_nsec - t0->tv_nsec) / 1e9;
}

static void on_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    reqstate *s = *con_cls;
    double secs;
    (void)cls;
    jc_conns_done(c);
    if (!s)
        return;
    secs = elapsed_s(&s->t0);
    jc_metrics_http_request(s->req.route ? s->req.route : "other", s->req.status, secs);
    LOG_INFO("http", "%s %s %u %.1fms principal=%s%s", s->req.method, s->req.path, s->req.status,
             secs * 1000.0, s->req.caller.authenticated ? s->req.caller.sub : "-",
             toe == MHD_REQUEST_TERMINATED_COMPLETED_OK ? ""
             : toe == MHD_REQUEST_TERMINATED_TIMEOUT_REACHED ? " (timed out)"
                                                              : " (aborted)");
    if (s->pp)
        MHD_destroy_post_processor(s->pp);
    if (s->pending)
        MHD_destroy_response(s->pending);
    for (int i = 0; i < s->nfields; i++) {
        if (s->values[i].data)
            sodium_memzero(s->values[i].data, s->values[i].cap); /* passwords, assertions */
        jc_buf_free(&s->values[i]);
    }
    free(s);
    *con_cls = NULL;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload_data, size_t *upload_data_size,
                                  void **con_cls)
{
    jc_http *h = cls;
    reqstate *s = *con_cls;
    (void)version;

    if (!s) { /* first call: headers only */
        const char *cl;
        int path_known = 0;
        s = calloc(1, sizeof *s);
        if (!s)
            return MHD_NO;
        *con_cls = s;
        clock_gettime(CLOCK_MONOTONIC, &s->t0);
        s->req.h = h;
        s->req.c = c;
        s->req.method = method;
        s->req.path = url;
        for (size_t i = 0; i < ROUTES_COUNT; i++) {
            if (!match(routes[i].pattern, url, s->arg, sizeof s->arg))
                continue;
            path_known = 1;
            if (!s->rt)
                s->rt = &routes[i]; /* for Allow */
            if (strcmp(routes[i].method, method) == 0 ||
                (strcmp(method, "HEAD") == 0 && strcmp(routes[i].method, "GET") == 0)) {
                s->rt = &routes[i];
                s->req.route = routes[i].pattern;
                break;
            }
        }
        if (s->req.route && strstr(s->req.route, "{id}"))
            s->req.arg = s->arg;
        if (!path_known) {
            s->rt = NULL;
            return jc_reply_error(&s->req, 404, "not_found", "no such route");
        }
        if (!s->req.route) {
            s->req.route = s->rt->pattern;
            return jc_reply_error(&s->req, 405, "method_not_allowed", "%s is not served here",
                                  method);
        }
        cl = jc_req_header(&s->req, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > (unsigned long long)h->cfg->http_max_body)
            return jc_reply_error(&s->req, 413, "payload_too_large",
                                  "the body is larger than %d bytes", h->cfg->http_max_body);
        if ((s->rt->flags & TAKES_FORM) && !cl &&
            jc_req_header(&s->req, MHD_HTTP_HEADER_TRANSFER_ENCODING))
            /* the size must be known before reading: no chunked forms */
            return jc_reply_error(&s->req, 411, "length_required",
                                  "send the form with a Content-Length");
        if (s->rt->flags & TAKES_FORM) {
            s->pp = MHD_create_post_processor(c, 4096, form_field, s);
            if (!s->pp)
                return jc_reply_error(&s->req, 415, "unsupported_media_type",
                                      "the body must be application/x-www-form-urlencoded");
        }
        return MHD_YES;
    }
    if (*upload_data_size != 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (s->answered || s->too_large)
            return MHD_YES; /* discard */
        s->body_seen += n;
        /* Content-Length was checked at the first call and libmicrohttpd
         * reads no further than it: a body beyond the limit here is a
         * protocol violation, and ends the connection */
        if (s->body_seen > (size_t)h->cfg->http_max_body) {
            s->too_large = 1;
            s->req.status = 413;
            return MHD_NO;
        }
        if (!(s->rt->flags & TAKES_FORM))
            return MHD_YES; /* a body where none is expected: ignored */
        if (MHD_post_process(s->pp, upload_data, n) != MHD_YES)
            s->form_bad = 1;
        return MHD_YES;
    }
    jc_conns_received(c); /* the request is whole */
    if (s->pending) { /* the answer of deferred work, after the resume */
        struct MHD_Response *resp = s->pending;
        s->pending = NULL;
        enum MHD_Result ret = MHD_queue_response(c, s->pending_status, resp);
        MHD_destroy_response(resp);
        return ret;
    }
    if (s->answered)
        return MHD_YES;
    return s->rt->fn(&s->req);
}

/* ---- deferred work ---- */

static void defer_accepted(void *item)
{
    MHD_suspend_connection(((reqstate *)item)->req.c);
}

/* defer_finish makes sure the deferred request has an answer and hands the
 * connection back to libmicrohttpd, which calls on_request again. */
static void defer_finish(reqstate *s)
{
    if (!s->pending)
        jc_reply_error(&s->req, 500, "internal", "the request could not be answered");
    s->deferred = 0;
    MHD_resume_connection(s->req.c);
}

static void defer_run(void *item)
{
    reqstate *s = item;
    s->deferred = 1;
    s->deferred_fn(&s->req);
    defer_finish(s);
}

static void defer_refuse(void *item)
{
    reqstate *s = item;
    static const char *const headers[] = {"Retry-After", "1", "Cache-Control", "no-store",
                                          NULL};
    static const char body[] = "{\"error\":\"unavailable\",\"message\":\"too many logins at"
                               " once; retry\"}\n";
    s->deferred = 1;
    jc_reply_with_headers(&s->req, 503, "application/json", body, sizeof body - 1, headers);
    defer_finish(s);
}

enum MHD_Result jc_req_defer(jc_req *r, jc_route_fn fn)
{
    reqstate *s = (reqstate *)r;
    s->deferred_fn = fn;
    if (jc_defer_submit(r->h->defer, s, defer_accepted) == 0)
        return MHD_YES; /* suspended; answered from the worker */
    {
        static const char *const headers[] = {"Retry-After", "1", "Cache-Control", "no-store",
                                              NULL};
        static const char body[] = "{\"error\":\"unavailable\",\"message\":\"too many logins"
                                   " at once; retry\"}\n";
        return jc_reply_with_headers(r, 503, "application/json", body, sizeof body - 1,
                                     headers);
    }
}

static void log_mhd(void *cls, const char *fmt, va_list ap)
{
    char msg[512];
    (void)cls;
    vsnprintf(msg, sizeof msg, fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    LOG_DEBUG("http", "libmicrohttpd: %s", msg);
}

jc_http *jc_http_start(const jc_config *cfg, jc_runtime *rt, const jc_keyring *kr, char *errstr,
                       size_t errstr_size)
{
    jc_http *h = calloc(1, sizeof *h);
    struct sockaddr_in addr;
    char host[64];
    const char *colon = strrchr(cfg->http_listen, ':');
    int port;

    if (!h) {
        snprintf(errstr, errstr_size, "out of memory");
        return NULL;
    }
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    port = colon ? atoi(colon + 1) : 0;
    snprintf(host, sizeof host, "%.*s", colon ? (int)(colon - cfg->http_listen) : 0,
             cfg->http_listen);
    if (!colon || port <= 0 || port > 65535 || inet_pton(AF_INET, host, &addr.sin_addr) != 1) {
        snprintf(errstr, errstr_size, "http.listen must be IPv4-address:port, not '%s'",
                 cfg->http_listen);
        free(h);
        return NULL;
    }
    addr.sin_port = htons((uint16_t)port);
    h->cfg = cfg;
    h->rt = rt;
    h->kr = kr;
    if (cfg->http_public_url[0])
        snprintf(h->public_url, sizeof h->public_url, "%s", cfg->http_public_url);
    else
        snprintf(h->public_url, sizeof h->public_url, "http://%s", cfg->http_listen);
    while (h->public_url[0] && h->public_url[strlen(h->public_url) - 1] == '/')
        h->public_url[strlen(h->public_url) - 1] = '\0';
    jc_token_issuer(cfg, h->issuer, sizeof h->issuer);
    if (pthread_key_create(&h->db_key, db_close) != 0) {
        snprintf(errstr, errstr_size, "pthread_key_create failed");
        free(h);
        return NULL;
    }
    h->keys = jc_signkeys_new(cfg, kr, errstr, errstr_size);
    if (!h->keys) {
        pthread_key_delete(h->db_key);
        free(h);
        return NULL;
    }
    h->defer = jc_defer_start(cfg->max_concurrent_hashes, cfg->max_queued_logins,
                              DEFER_MAX_WAIT_MS, defer_run, defer_refuse);
    if (!h->defer) {
        snprintf(errstr, errstr_size, "cannot start the password hashing threads");
        jc_signkeys_free(h->keys);
        pthread_key_delete(h->db_key);
        free(h);
        return NULL;
    }
    h->conns = jc_conns_start(cfg->http_max_connections, cfg->http_request_deadline_s * 1000,
                              cfg->http_busy_deadline_ms);
    if (!h->conns) {
        snprintf(errstr, errstr_size, "cannot start the HTTP deadline thread");
        jc_defer_stop(h->defer);
        jc_signkeys_free(h->keys);
        pthread_key_delete(h->db_key);
        free(h);
        return NULL;
    }
    h->d = MHD_start_daemon(
        MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG | MHD_ALLOW_SUSPEND_RESUME, 0, NULL, NULL, on_request, h,
        MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&addr,
        MHD_OPTION_THREAD_POOL_SIZE, (unsigned int)cfg->http_threads,
        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)cfg->http_timeout_s,
        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)cfg->http_max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)cfg->http_max_per_ip,
        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)cfg->http_memory_limit,
        MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, jc_conns_notify, h->conns,
        MHD_OPTION_EXTERNAL_LOGGER, log_mhd, h, MHD_OPTION_END);
    if (!h->d) {
        snprintf(errstr, errstr_size, "cannot listen on %s", cfg->http_listen);
        jc_conns_stop(h->conns);
        jc_conns_free(h->conns);
        jc_defer_stop(h->defer);
        jc_signkeys_free(h->keys);
        pthread_key_delete(h->db_key);
        free(h);
        return NULL;
    }
    LOG_INFO("http", "listening on %s (issuer %s)", cfg->http_listen, h->issuer);
    return h;
}

int jc_http_signing_ready(const jc_http *h)
{
    return h && jc_signkeys_ready(h->keys);
}

void jc_http_stop(jc_http *h)
{
    if (!h)
        return;
    /* every suspended connection is resumed (answered or refused) before
     * the daemon stops, as libmicrohttpd requires */
    jc_defer_stop(h->defer);
    jc_conns_stop(h->conns);
    MHD_stop_daemon(h->d);
    jc_conns_free(h->conns);
    jc_signkeys_free(h->keys);
    pthread_key_delete(h->db_key);
    free(h);
}
