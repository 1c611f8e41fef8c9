/*
 * httpc.h - the HTTP client the token source needs, over libcurl's easy
 * interface: one POST of a form to an http:// or https:// URL (certificates
 * and host names verified), one deadline for the whole exchange (name
 * resolution, connect and TLS handshake included), a bound on the answer,
 * no redirects, no keep-alive. libcurl does the protocol work (HTTP/1.1
 * framing, chunked answers, TLS, proxies from the environment); this layer
 * chooses its options, bounds what it keeps and turns its errors into
 * jc_err_t.
 */
#ifndef JC_HTTPC_H
#define JC_HTTPC_H

#include <stddef.h>

#include "jobcoord/jobcoord.h"

#define JC_HTTP_MAX_ANSWER (64 * 1024) /* status line, headers and body */
#define JC_HTTP_HOST_MAX 255
#define JC_HTTP_PATH_MAX 1024

/* An http:// or https:// URL, checked. */
typedef struct jc_http_url {
    char host[JC_HTTP_HOST_MAX + 1]; /* a name, IPv4 or IPv6 address (without brackets) */
    char base[JC_HTTP_HOST_MAX + JC_HTTP_PATH_MAX + 32]; /* the URL as given, minus trailing '/' */
    int https;
} jc_http_url;

/* jc_http_url_parse checks url ("http[s]://host[:port][/path]"; no user
 * info, query or fragment) with libcurl's URL parser. Returns 0, or -1 with
 * err. */
int jc_http_url_parse(const char *url, jc_http_url *out, char *err, size_t err_size);

/* How to make a request. */
typedef struct jc_http_opts {
    int timeout_ms;      /* the whole exchange, name resolution included */
    const char *ca_file; /* PEM file of the CAs to trust for https (instead of
                          * the system's store); NULL: the system's store */
} jc_http_opts;

/* An answer. body is malloc'd and NUL-terminated (body_len excludes the
 * NUL); free it with jc_http_answer_free. */
typedef struct jc_http_answer {
    int status;
    char *body;
    size_t body_len;
} jc_http_answer;

/* jc_http_init initialises libcurl once per process (thread-safe; the
 * first call does it). Returns 0, or -1 with errstr. jc_http_post_form
 * calls it too. */
int jc_http_init(char *errstr, size_t errstr_size);

/* jc_http_post_form sends body (application/x-www-form-urlencoded) to
 * u->base + path and reads the whole answer, all within opts->timeout_ms.
 * Errors: JC_ERR_TRANSPORT (resolve, connect, TLS handshake or
 * certificate, reset, closed early), JC_ERR_TIMED_OUT, JC_ERR_TOO_LARGE
 * (answer over JC_HTTP_MAX_ANSWER), JC_ERR_MALFORMED (not an HTTP/1.x
 * answer), JC_ERR_IO (the CA file cannot be read), JC_ERR_NOMEM; errstr
 * says which. Any status is a success here: the caller judges it.
 * Thread-safe. */
jc_err_t jc_http_post_form(const jc_http_url *u, const char *path, const char *body,
                           size_t body_len, const jc_http_opts *opts, jc_http_answer *out,
                           char *errstr, size_t errstr_size);

void jc_http_answer_free(jc_http_answer *a);

#endif
