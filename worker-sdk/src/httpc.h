/*
 * httpc.h - the smallest HTTP/1.1 client that the token source needs: one
 * POST of a form to an http:// URL, over plain TCP, with one deadline for
 * the whole exchange and a bound on the answer. No TLS (a proxy on the same
 * host or network terminates it), no redirects, no keep-alive.
 */
#ifndef JC_HTTPC_H
#define JC_HTTPC_H

#include <stddef.h>

#include "jobcoord/jobcoord.h"

#define JC_HTTP_MAX_ANSWER (64 * 1024) /* status line, headers and body */
#define JC_HTTP_HOST_MAX 255
#define JC_HTTP_PATH_MAX 1024

/* An http:// URL, split. */
typedef struct jc_http_url {
    char host[JC_HTTP_HOST_MAX + 1]; /* a name, IPv4 or IPv6 address (without brackets) */
    char port[6];                    /* "80" unless given */
    char path[JC_HTTP_PATH_MAX + 1]; /* "" or "/prefix", never ending in '/' */
    char base[JC_HTTP_HOST_MAX + JC_HTTP_PATH_MAX + 32]; /* the URL as given, minus trailing '/' */
    int ipv6;
} jc_http_url;

/* jc_http_url_parse splits url ("http://host[:port][/path]"; no user info,
 * query or fragment). https:// is refused with a message saying to put a
 * TLS-terminating proxy in front. Returns 0, or -1 with err. */
int jc_http_url_parse(const char *url, jc_http_url *out, char *err, size_t err_size);

/* An answer. body is malloc'd and NUL-terminated (body_len excludes the
 * NUL); free it with jc_http_answer_free. */
typedef struct jc_http_answer {
    int status;
    char *body;
    size_t body_len;
} jc_http_answer;

/* jc_http_post_form sends body (application/x-www-form-urlencoded) to
 * u->path + path on u's host and reads the whole answer, all within
 * timeout_ms (name resolution excepted: getaddrinfo cannot be bounded).
 * Errors: JC_ERR_TRANSPORT (resolve, connect, reset, closed early),
 * JC_ERR_TIMED_OUT, JC_ERR_TOO_LARGE (answer over JC_HTTP_MAX_ANSWER),
 * JC_ERR_MALFORMED (not HTTP/1.x, bad framing), JC_ERR_NOMEM; errstr says
 * which. Any status is a success here: the caller judges it. Thread-safe. */
jc_err_t jc_http_post_form(const jc_http_url *u, const char *path, const char *body,
                           size_t body_len, int timeout_ms, jc_http_answer *out, char *errstr,
                           size_t errstr_size);

void jc_http_answer_free(jc_http_answer *a);

#endif
