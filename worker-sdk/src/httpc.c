/*
 * httpc.c - the token source's HTTP client over libcurl (see httpc.h).
 *
 * One easy handle per exchange, so nothing (connection, TLS session,
 * cookies) carries from one token request to the next, and no handle is
 * shared between threads. The options say what the token source may do
 * and nothing more:
 *   - http and https only (also for redirects, which are not followed);
 *   - HTTP/1.1 with "Connection: close": one request per connection, so
 *     there is nothing for keep-alive or HTTP/2 to gain;
 *   - certificates and host names verified (libcurl's defaults, set here
 *     so that they read as intended); a CA file replaces the system's
 *     store, so that it names exactly whom to trust; TLS 1.2 at least;
 *   - one total timeout (CURLOPT_TIMEOUT_MS) and the same bound on the
 *     connect phase (CURLOPT_CONNECTTIMEOUT_MS): libcurl counts name
 *     resolution in both, using its threaded resolver where it has one
 *     (Debian's has: CURL_VERSION_ASYNCHDNS);
 *   - no signals (CURLOPT_NOSIGNAL): the token source runs on application
 *     threads and on librdkafka's background thread;
 *   - proxies from the environment, as libcurl reads them (http_proxy,
 *     https_proxy, all_proxy, no_proxy; not upper-case HTTP_PROXY);
 *   - the answer (headers and body) bounded by JC_HTTP_MAX_ANSWER while it
 *     arrives: the header and write callbacks stop the transfer as soon as
 *     it is over, and an announced Content-Length over the bound is refused
 *     before the body (CURLOPT_MAXFILESIZE_LARGE).
 *
 * libcurl is initialised once per process, under pthread_once: libcurl
 * 7.84 and later say by CURL_VERSION_THREADSAFE that curl_global_init is
 * itself thread-safe; with an older one pthread_once still keeps this
 * library's threads from racing each other (an application that also uses
 * libcurl should then call curl_global_init before it starts threads).
 * curl_global_cleanup is never called: the application or another library
 * may still be using libcurl.
 */
#include "httpc.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <curl/curl.h>
#include <sodium.h>

/* ---- initialisation ---- */

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static CURLcode init_rc = CURLE_FAILED_INIT;

static void global_init(void) { init_rc = curl_global_init(CURL_GLOBAL_DEFAULT); }

int jc_http_init(char *errstr, size_t errstr_size)
{
    pthread_once(&init_once, global_init);
    if (init_rc != CURLE_OK) {
        snprintf(errstr, errstr_size, "cannot initialise libcurl: %s",
                 curl_easy_strerror(init_rc));
        return -1;
    }
    return 0;
}

/* ---- URLs ---- */

/* url_part copies part of h into out ("" when absent); -1 if too long. */
static int url_part(CURLU *h, CURLUPart what, char *out, size_t out_size)
{
    char *v = NULL;
    int rc = 0;
    out[0] = '\0';
    if (curl_url_get(h, what, &v, 0) == CURLUE_OK && v) {
        if (strlen(v) >= out_size)
            rc = -1;
        else
            memcpy(out, v, strlen(v) + 1);
    }
    curl_free(v);
    return rc;
}

/* url_has tells whether h has part what. */
static int url_has(CURLU *h, CURLUPart what)
{
    char *v = NULL;
    int has = curl_url_get(h, what, &v, 0) == CURLUE_OK && v != NULL;
    curl_free(v);
    return has;
}

int jc_http_url_parse(const char *url, jc_http_url *u, char *err, size_t err_size)
{
    char host[JC_HTTP_HOST_MAX + 3], port[8], path[JC_HTTP_PATH_MAX + 2];
    CURLU *h;
    CURLUcode rc;
    const char *authority;
    size_t n, authority_len;
    int ret = -1;

    memset(u, 0, sizeof *u);
    if (!url || !*url) {
        snprintf(err, err_size, "empty URL");
        return -1;
    }
    for (const char *p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            snprintf(err, err_size, "the URL has a space, control or non-ASCII character");
            return -1;
        }
    if (strncasecmp(url, "http://", 7) != 0 && strncasecmp(url, "https://", 8) != 0) {
        snprintf(err, err_size, "'%.200s' is not an http[s]://host[:port][/path] URL", url);
        return -1;
    }
    u->https = strncasecmp(url, "https://", 8) == 0;
    h = curl_url();
    if (!h) {
        snprintf(err, err_size, "out of memory");
        return -1;
    }
    rc = curl_url_set(h, CURLUPART_URL, url, 0);
    if (rc != CURLUE_OK) {
        snprintf(err, err_size, "bad URL: %s", curl_url_strerror(rc));
        goto out;
    }
    if (url_has(h, CURLUPART_USER) || url_has(h, CURLUPART_PASSWORD) ||
        url_has(h, CURLUPART_OPTIONS)) {
        snprintf(err, err_size, "user information in the URL is not supported");
        goto out;
    }
    if (url_has(h, CURLUPART_QUERY) || url_has(h, CURLUPART_FRAGMENT) || strpbrk(url, "?#")) {
        snprintf(err, err_size, "the URL may not have a query or fragment");
        goto out;
    }
    if (url_part(h, CURLUPART_HOST, host, sizeof host) < 0 ||
        strlen(host) > JC_HTTP_HOST_MAX + (host[0] == '[' ? 2 : 0)) {
        snprintf(err, err_size, "the URL's host is longer than %d bytes", JC_HTTP_HOST_MAX);
        goto out;
    }
    if (!host[0]) {
        snprintf(err, err_size, "the URL has no host");
        goto out;
    }
    url_part(h, CURLUPART_PORT, port, sizeof port);
    authority = url + (u->https ? 8 : 7);
    authority_len = strcspn(authority, "/");
    if (authority_len > 0 && authority[authority_len - 1] == ':') { /* libcurl: "h:" is "h" */
        snprintf(err, err_size, "bad port in the URL: empty");
        goto out;
    }
    if (port[0] && (atol(port) < 1 || atol(port) > 65535)) {
        snprintf(err, err_size, "port %s is out of range (1..65535)", port);
        goto out;
    }
    if (url_part(h, CURLUPART_PATH, path, sizeof path) < 0) {
        snprintf(err, err_size, "the URL's path is longer than %d bytes", JC_HTTP_PATH_MAX);
        goto out;
    }
    n = strlen(url);
    while (n > 0 && url[n - 1] == '/')
        n--;
    if (n >= sizeof u->base) {
        snprintf(err, err_size, "the URL is too long");
        goto out;
    }
    memcpy(u->base, url, n);
    if (host[0] == '[') { /* an IPv6 literal: without its brackets */
        n = strlen(host);
        memcpy(u->host, host + 1, n - 2);
    } else {
        memcpy(u->host, host, strlen(host) + 1);
    }
    ret = 0;
out:
    curl_url_cleanup(h);
    return ret;
}

/* ---- one exchange ---- */

typedef struct exchange {
    char *buf; /* the body so far; JC_HTTP_MAX_ANSWER + 1 bytes */
    size_t body_len, header_len;
    int too_large;
} exchange;

/* fits says whether len more bytes keep the answer within the bound, and
 * notes when they do not. */
static int fits(exchange *x, size_t len)
{
    if (len > JC_HTTP_MAX_ANSWER || x->header_len + x->body_len + len > JC_HTTP_MAX_ANSWER)
        x->too_large = 1;
    return !x->too_large;
}

static size_t on_header(char *data, size_t size, size_t n, void *arg)
{
    exchange *x = arg;
    (void)data;
    if (!fits(x, size * n))
        return 0; /* stops the transfer */
    x->header_len += size * n;
    return size * n;
}

static size_t on_body(char *data, size_t size, size_t n, void *arg)
{
    exchange *x = arg;
    if (!fits(x, size * n))
        return 0;
    memcpy(x->buf + x->body_len, data, size * n);
    x->body_len += size * n;
    return size * n;
}

/* failure turns a libcurl error into a jc_err_t and errstr. */
static jc_err_t failure(CURL *c, CURLcode rc, const jc_http_url *u, const jc_http_opts *o,
                        const exchange *x, const char *detail, char *errstr, size_t errstr_size)
{
    long os_errno = 0, sent = 0;
    char why[CURL_ERROR_SIZE + 64];

    curl_easy_getinfo(c, CURLINFO_OS_ERRNO, &os_errno);
    snprintf(why, sizeof why, "%s%s%s", detail[0] ? detail : curl_easy_strerror(rc),
             os_errno ? ": " : "", os_errno ? strerror((int)os_errno) : "");
    /* libcurl keeps a header line whole before it hands it over, up to its
     * own limit (CURL_MAX_HTTP_HEADER, 100 KiB), and says "out of memory"
     * for a longer one: after the request went out, that is the answer's
     * size (libcurl 8.6 says CURLE_TOO_LARGE) */
    curl_easy_getinfo(c, CURLINFO_REQUEST_SIZE, &sent);
    if (x->too_large || rc == CURLE_FILESIZE_EXCEEDED || (rc == CURLE_OUT_OF_MEMORY && sent > 0)) {
        snprintf(errstr, errstr_size, "the answer is larger than %d bytes", JC_HTTP_MAX_ANSWER);
        return JC_ERR_TOO_LARGE;
    }
    switch (rc) {
    case CURLE_OPERATION_TIMEDOUT:
        snprintf(errstr, errstr_size, "no answer in time (%d ms): %s", o->timeout_ms, why);
        return JC_ERR_TIMED_OUT;
    case CURLE_COULDNT_RESOLVE_HOST:
        snprintf(errstr, errstr_size, "cannot resolve %s: %s", u->host, why);
        return JC_ERR_TRANSPORT;
    case CURLE_COULDNT_RESOLVE_PROXY:
        snprintf(errstr, errstr_size, "cannot resolve the proxy: %s", why);
        return JC_ERR_TRANSPORT;
    case CURLE_COULDNT_CONNECT:
        snprintf(errstr, errstr_size, "cannot connect: %s", why);
        return JC_ERR_TRANSPORT;
    case CURLE_GOT_NOTHING:
        snprintf(errstr, errstr_size, "the server closed without an answer");
        return JC_ERR_TRANSPORT;
    case CURLE_PARTIAL_FILE:
        snprintf(errstr, errstr_size, "the connection closed before the end of the answer: %s",
                 why);
        return JC_ERR_TRANSPORT;
    case CURLE_PEER_FAILED_VERIFICATION:
        snprintf(errstr, errstr_size,
                 "TLS: the server's certificate is not trusted: %s (token.tls.ca.file names "
                 "the CAs to trust)",
                 why);
        return JC_ERR_TRANSPORT;
    case CURLE_SSL_CONNECT_ERROR:
        snprintf(errstr, errstr_size, "TLS handshake failed: %s", why);
        return JC_ERR_TRANSPORT;
    case CURLE_SSL_CACERT_BADFILE:
        snprintf(errstr, errstr_size, "token.tls.ca.file %s: %s", o->ca_file ? o->ca_file : "",
                 why);
        return JC_ERR_IO;
    case CURLE_WEIRD_SERVER_REPLY:
    case CURLE_UNSUPPORTED_PROTOCOL: /* an HTTP/0.9 answer */
    case CURLE_BAD_CONTENT_ENCODING:
        snprintf(errstr, errstr_size, "not an HTTP/1.x answer: %s", why);
        return JC_ERR_MALFORMED;
    case CURLE_OUT_OF_MEMORY:
        snprintf(errstr, errstr_size, "out of memory");
        return JC_ERR_NOMEM;
    default:
        snprintf(errstr, errstr_size, "%s", why);
        return JC_ERR_TRANSPORT;
    }
}

/* set fails the exchange (returns 1) when libcurl refuses an option. */
#define SET(c, opt, val) (curl_easy_setopt((c), (opt), (val)) != CURLE_OK)

jc_err_t jc_http_post_form(const jc_http_url *u, const char *path, const char *body,
                           size_t body_len, const jc_http_opts *o, jc_http_answer *out,
                           char *errstr, size_t errstr_size)
{
    char url[sizeof u->base + JC_HTTP_PATH_MAX], detail[CURL_ERROR_SIZE] = "";
    exchange x = {0};
    struct curl_slist *headers = NULL, *more;
    static const char *const header_lines[] = {
        "Accept: application/json", "Content-Type: application/x-www-form-urlencoded",
        "Connection: close",
        "Expect:", /* no "100-continue" wait before the body */
    };
    CURL *c = NULL;
    CURLcode rc;
    long status = 0;
    jc_err_t err = JC_ERR_NOMEM;

    memset(out, 0, sizeof out[0]);
    if (jc_http_init(errstr, errstr_size) < 0)
        return JC_ERR_TRANSPORT;
    if ((size_t)snprintf(url, sizeof url, "%s%s", u->base, path) >= sizeof url) {
        snprintf(errstr, errstr_size, "request path too long");
        return JC_ERR_INVALID_ARG;
    }
    x.buf = malloc(JC_HTTP_MAX_ANSWER + 1);
    c = curl_easy_init();
    for (size_t i = 0; i < sizeof header_lines / sizeof header_lines[0]; i++) {
        more = curl_slist_append(headers, header_lines[i]);
        if (!more)
            goto nomem;
        headers = more;
    }
    if (!x.buf || !c)
        goto nomem;
    if (SET(c, CURLOPT_ERRORBUFFER, detail) || SET(c, CURLOPT_URL, url) ||
        SET(c, CURLOPT_PROTOCOLS_STR, "http,https") ||
        SET(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https") || SET(c, CURLOPT_FOLLOWLOCATION, 0L) ||
        SET(c, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1) ||
        SET(c, CURLOPT_PATH_AS_IS, 1L) || /* the path as configured: it is the audience too */
        SET(c, CURLOPT_FORBID_REUSE, 1L) || SET(c, CURLOPT_NOSIGNAL, 1L) ||
        SET(c, CURLOPT_TIMEOUT_MS, (long)o->timeout_ms) ||
        SET(c, CURLOPT_CONNECTTIMEOUT_MS, (long)o->timeout_ms) ||
        SET(c, CURLOPT_SSL_VERIFYPEER, 1L) || SET(c, CURLOPT_SSL_VERIFYHOST, 2L) ||
        SET(c, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2) ||
        SET(c, CURLOPT_USERAGENT, "libjobcoord/" JC_VERSION_STR) ||
        SET(c, CURLOPT_HTTPHEADER, headers) || SET(c, CURLOPT_POST, 1L) ||
        SET(c, CURLOPT_POSTFIELDS, body) ||
        SET(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len) ||
        SET(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)JC_HTTP_MAX_ANSWER) ||
        SET(c, CURLOPT_HEADERFUNCTION, on_header) || SET(c, CURLOPT_HEADERDATA, &x) ||
        SET(c, CURLOPT_WRITEFUNCTION, on_body) || SET(c, CURLOPT_WRITEDATA, &x)) {
        snprintf(errstr, errstr_size, "libcurl refused an option: %s", detail);
        err = JC_ERR_TRANSPORT;
        goto done;
    }
    if (o->ca_file && (SET(c, CURLOPT_CAINFO, o->ca_file) || SET(c, CURLOPT_CAPATH, NULL))) {
        snprintf(errstr, errstr_size, "libcurl refused token.tls.ca.file: %s", detail);
        err = JC_ERR_TRANSPORT;
        goto done;
    }
    rc = curl_easy_perform(c);
    if (rc != CURLE_OK) {
        err = failure(c, rc, u, o, &x, detail, errstr, errstr_size);
        goto done;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    x.buf[x.body_len] = '\0';
    out->status = (int)status;
    out->body = x.buf;
    out->body_len = x.body_len;
    x.buf = NULL;
    err = JC_OK;
    goto done;
nomem:
    snprintf(errstr, errstr_size, "out of memory");
done:
    if (x.buf) {
        sodium_memzero(x.buf, x.body_len); /* the caller wipes the body it gets; so do we */
        free(x.buf);
    }
    curl_slist_free_all(headers);
    if (c)
        curl_easy_cleanup(c);
    return err;
}

void jc_http_answer_free(jc_http_answer *a)
{
    if (!a)
        return;
    free(a->body);
    a->body = NULL;
    a->body_len = 0;
}
