/*
 * httpc.c - a minimal HTTP/1.1 client (see httpc.h).
 *
 * One exchange per connection: resolve, connect (non-blocking, so the
 * deadline holds), send "POST ... Connection: close", read until the answer
 * is complete by its framing (Content-Length, chunked, or the end of the
 * connection), never more than JC_HTTP_MAX_ANSWER bytes. Interim 1xx
 * answers are skipped. The parser is strict where leniency has been used
 * to smuggle or confuse (obs-fold, conflicting lengths, unknown transfer
 * codings) and refuses rather than guesses.
 */
#include "httpc.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#ifndef MSG_NOSIGNAL
#define MSG_NOSIGNAL 0
#endif

enum { PARSE_DONE = 0, PARSE_MORE = -1 }; /* else a jc_err_t */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int jc_http_url_parse(const char *url, jc_http_url *u, char *err, size_t err_size)
{
    const char *p, *auth_end, *host_end, *path;
    size_t n, base_len;

    memset(u, 0, sizeof *u);
    if (!url || !*url) {
        snprintf(err, err_size, "empty URL");
        return -1;
    }
    for (p = url; *p; p++)
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f) {
            snprintf(err, err_size, "the URL has a space, control or non-ASCII character");
            return -1;
        }
    if (strncasecmp(url, "https://", 8) == 0) {
        snprintf(err, err_size,
                 "https URLs are not supported: libjobcoord speaks plain HTTP; terminate TLS "
                 "in a proxy on the same host or network and give its http:// address");
        return -1;
    }
    if (strncasecmp(url, "http://", 7) != 0) {
        snprintf(err, err_size, "'%.200s' is not an http://host[:port][/path] URL", url);
        return -1;
    }
    p = url + 7;
    auth_end = p + strcspn(p, "/?#");
    if (memchr(p, '@', (size_t)(auth_end - p))) {
        snprintf(err, err_size, "user information in the URL is not supported");
        return -1;
    }
    if (*p == '[') { /* IPv6 literal */
        const char *close = memchr(p, ']', (size_t)(auth_end - p));
        if (!close || close == p + 1) {
            snprintf(err, err_size, "bad IPv6 address in the URL");
            return -1;
        }
        for (const char *c = p + 1; c < close; c++)
            if (!isxdigit((unsigned char)*c) && *c != ':' && *c != '.') {
                snprintf(err, err_size, "bad IPv6 address in the URL");
                return -1;
            }
        n = (size_t)(close - p - 1);
        if (n > JC_HTTP_HOST_MAX)
            goto long_host;
        memcpy(u->host, p + 1, n);
        u->ipv6 = 1;
        host_end = close + 1;
        if (host_end < auth_end && *host_end != ':') {
            snprintf(err, err_size, "bad characters after the IPv6 address in the URL");
            return -1;
        }
    } else {
        host_end = p;
        while (host_end < auth_end && *host_end != ':') {
            unsigned char c = (unsigned char)*host_end;
            if (!isalnum(c) && c != '.' && c != '-' && c != '_' && c != '~') {
                snprintf(err, err_size, "bad character '%c' in the URL's host", c);
                return -1;
            }
            host_end++;
        }
        n = (size_t)(host_end - p);
        if (n == 0) {
            snprintf(err, err_size, "the URL has no host");
            return -1;
        }
        if (n > JC_HTTP_HOST_MAX)
            goto long_host;
        memcpy(u->host, p, n);
    }
    if (host_end < auth_end) { /* ":port" */
        const char *d = host_end + 1;
        long port = 0;
        n = (size_t)(auth_end - d);
        if (n == 0 || n > 5) {
            snprintf(err, err_size, "bad port in the URL");
            return -1;
        }
        for (size_t i = 0; i < n; i++) {
            if (!isdigit((unsigned char)d[i])) {
                snprintf(err, err_size, "bad port in the URL");
                return -1;
            }
            port = port * 10 + (d[i] - '0');
        }
        if (port < 1 || port > 65535) {
            snprintf(err, err_size, "port %ld is out of range (1..65535)", port);
            return -1;
        }
        snprintf(u->port, sizeof u->port, "%ld", port);
    } else {
        snprintf(u->port, sizeof u->port, "80");
    }
    path = auth_end;
    if (strpbrk(path, "?#")) {
        snprintf(err, err_size, "the URL may not have a query or fragment");
        return -1;
    }
    n = strlen(path);
    while (n > 0 && path[n - 1] == '/')
        n--;
    if (n > JC_HTTP_PATH_MAX) {
        snprintf(err, err_size, "the URL's path is longer than %d bytes", JC_HTTP_PATH_MAX);
        return -1;
    }
    memcpy(u->path, path, n);
    base_len = (size_t)(path - url) + n;
    if (base_len >= sizeof u->base) {
        snprintf(err, err_size, "the URL is too long");
        return -1;
    }
    memcpy(u->base, url, base_len);
    return 0;
long_host:
    snprintf(err, err_size, "the URL's host is longer than %d bytes", JC_HTTP_HOST_MAX);
    return -1;
}

/* wait_fd waits until fd is ready for events or the deadline passes:
 * 1 ready (or in error: the next call says which), 0 deadline. */
static int wait_fd(int fd, short events, int64_t deadline)
{
    for (;;) {
        struct pollfd pfd = {fd, events, 0};
        int64_t left = deadline - mono_ms();
        int r;
        if (left <= 0)
            return 0;
        r = poll(&pfd, 1, left > INT32_MAX ? INT32_MAX : (int)left);
        if (r > 0)
            return 1;
        if (r == 0)
            return 0;
        if (errno != EINTR)
            return 1;
    }
}

/* dial connects to one of host's addresses before the deadline. */
static jc_err_t dial(const jc_http_url *u, int64_t deadline, int *fd_out, char *errstr,
                     size_t errstr_size)
{
    struct addrinfo hints, *res = NULL, *ai;
    int rc, last = ECONNREFUSED, fd = -1;
    jc_err_t err = JC_ERR_TRANSPORT;

    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    rc = getaddrinfo(u->host, u->port, &hints, &res);
    if (rc != 0) {
        snprintf(errstr, errstr_size, "cannot resolve %s: %s", u->host,
                 rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return JC_ERR_TRANSPORT;
    }
    for (ai = res; ai; ai = ai->ai_next) {
        int soerr = 0;
        socklen_t len = sizeof soerr;
        fd = socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
        if (fd < 0) {
            last = errno;
            continue;
        }
        if (fcntl(fd, F_SETFD, FD_CLOEXEC) < 0 ||
            fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) < 0) {
            last = errno;
            goto next;
        }
        if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
            break;
        if (errno != EINPROGRESS && errno != EINTR) {
            last = errno;
            goto next;
        }
        if (!wait_fd(fd, POLLOUT, deadline)) {
            err = JC_ERR_TIMED_OUT;
            close(fd);
            fd = -1;
            break; /* no time left for other addresses either */
        }
        if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) == 0 && soerr == 0)
            break;
        last = soerr ? soerr : errno;
    next:
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0) {
        if (err == JC_ERR_TIMED_OUT)
            snprintf(errstr, errstr_size, "connecting to %s port %s timed out", u->host, u->port);
        else
            snprintf(errstr, errstr_size, "cannot connect to %s port %s: %s", u->host, u->port,
                     strerror(last));
        return err;
    }
    *fd_out = fd;
    return JC_OK;
}

/* send_all writes len bytes before the deadline. */
static jc_err_t send_all(int fd, const char *p, size_t len, int64_t deadline, char *errstr,
                         size_t errstr_size)
{
    while (len > 0) {
        ssize_t n = send(fd, p, len, MSG_NOSIGNAL);
        if (n > 0) {
            p += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            if (!wait_fd(fd, POLLOUT, deadline)) {
                snprintf(errstr, errstr_size, "sending the request timed out");
                return JC_ERR_TIMED_OUT;
            }
            continue;
        }
        snprintf(errstr, errstr_size, "sending the request failed: %s", strerror(errno));
        return JC_ERR_TRANSPORT;
    }
    return JC_OK;
}

/* The parser's state across reads: where the current answer starts, and
 * once its header block is read, how its body is framed. */
typedef struct framing {
    size_t start;      /* of the current (non-1xx) answer */
    size_t scan;       /* where to look for the end of the header block */
    size_t body_start; /* 0 until the header block is read */
    int status;
    int chunked, has_length;
    size_t length;
} framing;

static int is_tchar(unsigned char c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* parse_head reads the status line and headers in buf[f->start, end). */
static int parse_head(const char *buf, size_t end, framing *f, char *errstr, size_t errstr_size)
{
    const char *p = buf + f->start, *e = buf + end, *line_end;

    if (e - p < 13 || memcmp(p, "HTTP/1.", 7) != 0 || (p[7] != '0' && p[7] != '1') ||
        p[8] != ' ' || !isdigit((unsigned char)p[9]) || !isdigit((unsigned char)p[10]) ||
        !isdigit((unsigned char)p[11]) || (p[12] != ' ' && p[12] != '\r')) {
        snprintf(errstr, errstr_size, "the answer is not HTTP/1.x (status line '%.20s')", p);
        return JC_ERR_MALFORMED;
    }
    f->status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    if (f->status < 100 || f->status > 599) {
        snprintf(errstr, errstr_size, "HTTP status %d is out of range", f->status);
        return JC_ERR_MALFORMED;
    }
    f->chunked = f->has_length = 0;
    f->length = 0;
    line_end = strstr(p, "\r\n"); /* buf is NUL-terminated after the bytes read */
    for (const char *c = p + 12; c < line_end; c++)
        if ((unsigned char)*c < 0x20 && *c != '\t') {
            snprintf(errstr, errstr_size, "control character in the answer's status line");
            return JC_ERR_MALFORMED;
        }
    for (p = line_end + 2; p < e; p = line_end + 2) {
        const char *colon, *v, *ve;
        line_end = strstr(p, "\r\n");
        if (line_end == p)
            break; /* the empty line */
        if (*p == ' ' || *p == '\t') {
            snprintf(errstr, errstr_size, "obsolete header line folding in the answer");
            return JC_ERR_MALFORMED;
        }
        for (colon = p; colon < line_end && is_tchar((unsigned char)*colon); colon++)
            ;
        if (colon == p || colon == line_end || *colon != ':') {
            snprintf(errstr, errstr_size, "malformed header line in the answer");
            return JC_ERR_MALFORMED;
        }
        for (v = colon + 1; v < line_end && (*v == ' ' || *v == '\t'); v++)
            ;
        for (ve = line_end; ve > v && (ve[-1] == ' ' || ve[-1] == '\t'); ve--)
            ;
        for (const char *c = v; c < ve; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t') {
                snprintf(errstr, errstr_size, "control character in a header of the answer");
                return JC_ERR_MALFORMED;
            }
        if ((size_t)(colon - p) == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            size_t len = 0;
            if (v == ve || ve - v > 10) {
                snprintf(errstr, errstr_size, "bad Content-Length in the answer");
                return JC_ERR_MALFORMED;
            }
            for (const char *c = v; c < ve; c++) {
                if (!isdigit((unsigned char)*c)) {
                    snprintf(errstr, errstr_size, "bad Content-Length in the answer");
                    return JC_ERR_MALFORMED;
                }
                len = len * 10 + (size_t)(*c - '0');
            }
            if (f->has_length && f->length != len) {
                snprintf(errstr, errstr_size, "conflicting Content-Length headers in the answer");
                return JC_ERR_MALFORMED;
            }
            f->has_length = 1;
            f->length = len;
        } else if ((size_t)(colon - p) == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
            if (ve - v != 7 || strncasecmp(v, "chunked", 7) != 0 || f->chunked) {
                snprintf(errstr, errstr_size, "unsupported Transfer-Encoding '%.*s' in the answer",
                         (int)(ve - v > 40 ? 40 : ve - v), v);
                return JC_ERR_MALFORMED;
            }
            f->chunked = 1;
        }
    }
    return PARSE_DONE;
}

/* decode_chunked decodes a chunked body (RFC 9112 7.1) from p[0, n). */
static int decode_chunked(const char *p, size_t n, jc_http_answer *out, char *errstr,
                          size_t errstr_size)
{
    char *body = malloc(n + 1);
    size_t i = 0, o = 0;

    if (!body) {
        snprintf(errstr, errstr_size, "out of memory");
        return JC_ERR_NOMEM;
    }
    for (;;) {
        size_t size = 0, digits = 0;
        const char *crlf;
        while (i < n && isxdigit((unsigned char)p[i])) {
            if (++digits > 7)
                goto bad; /* more than the whole answer may hold */
            size = size * 16 + (size_t)(isdigit((unsigned char)p[i]) ? p[i] - '0'
                                                                      : (p[i] | 0x20) - 'a' + 10);
            i++;
        }
        if (i == n)
            goto more;
        if (!digits || (p[i] != '\r' && p[i] != ';' && p[i] != ' ' && p[i] != '\t'))
            goto bad;
        crlf = memchr(p + i, '\n', n - i); /* chunk extensions are skipped */
        if (!crlf)
            goto more;
        if (crlf == p + i || crlf[-1] != '\r')
            goto bad;
        for (const char *c = p + i; c < crlf - 1; c++)
            if ((unsigned char)*c < 0x20 && *c != '\t')
                goto bad;
        i = (size_t)(crlf + 1 - p);
        if (size == 0) { /* the last chunk; then trailer lines up to an empty line */
            for (;;) {
                const char *le = memchr(p + i, '\n', n - i);
                if (!le)
                    goto more;
                if (le == p + i || le[-1] != '\r')
                    goto bad;
                if (le == p + i + 1) {
                    body[o] = '\0';
                    out->body = body;
                    out->body_len = o;
                    return PARSE_DONE;
                }
                i = (size_t)(le + 1 - p);
            }
        }
        if (n - i < size + 2)
            goto more;
        memcpy(body + o, p + i, size);
        o += size;
        i += size;
        if (p[i] != '\r' || p[i + 1] != '\n')
            goto bad;
        i += 2;
    }
more:
    free(body);
    return PARSE_MORE;
bad:
    free(body);
    snprintf(errstr, errstr_size, "bad chunked encoding in the answer");
    return JC_ERR_MALFORMED;
}

/* parse_answer looks at buf[0, len): PARSE_DONE with out filled, PARSE_MORE,
 * or an error. eof: nothing more will come. */
static int parse_answer(const char *buf, size_t len, int eof, framing *f, jc_http_answer *out,
                        char *errstr, size_t errstr_size)
{
    for (;;) {
        size_t avail;
        if (!f->body_start) {
            const char *end;
            size_t from = f->scan > f->start + 3 ? f->scan - 3 : f->start;
            int rc;
            end = strstr(buf + from, "\r\n\r\n");
            if (!end || (size_t)(end - buf) >= len) {
                f->scan = len;
                if (memchr(buf + from, '\0', len - from)) {
                    snprintf(errstr, errstr_size, "NUL byte in the answer's headers");
                    return JC_ERR_MALFORMED;
                }
                return PARSE_MORE;
            }
            rc = parse_head(buf, (size_t)(end - buf) + 4, f, errstr, errstr_size);
            if (rc != PARSE_DONE)
                return rc;
            f->body_start = (size_t)(end - buf) + 4;
            if (f->status < 200) {
                if (f->status == 101) {
                    snprintf(errstr, errstr_size, "the server switched protocols");
                    return JC_ERR_MALFORMED;
                }
                f->start = f->scan = f->body_start; /* an interim answer: the real one follows */
                f->body_start = 0;
                continue;
            }
            if (f->has_length && !f->chunked && f->length > JC_HTTP_MAX_ANSWER - f->body_start) {
                snprintf(errstr, errstr_size, "the answer is larger than %d bytes",
                         JC_HTTP_MAX_ANSWER);
                return JC_ERR_TOO_LARGE;
            }
        }
        avail = len - f->body_start;
        out->status = f->status;
        if (f->status == 204 || f->status == 304 || (f->has_length && !f->chunked)) {
            size_t want = f->status == 204 || f->status == 304 ? 0 : f->length;
            if (avail < want)
                return PARSE_MORE;
            out->body = malloc(want + 1);
            if (!out->body) {
                snprintf(errstr, errstr_size, "out of memory");
                return JC_ERR_NOMEM;
            }
            memcpy(out->body, buf + f->body_start, want);
            out->body[want] = '\0';
            out->body_len = want;
            return PARSE_DONE;
        }
        if (f->chunked) {
            /* decode when the body may be complete: at the end of the
             * connection or when the bytes end like a last chunk would */
            if (!eof && (avail < 5 || memcmp(buf + len - 4, "\r\n\r\n", 4) != 0))
                return PARSE_MORE;
            return decode_chunked(buf + f->body_start, avail, out, errstr, errstr_size);
        }
        if (!eof)
            return PARSE_MORE; /* the body is what comes until the server closes */
        out->body = malloc(avail + 1);
        if (!out->body) {
            snprintf(errstr, errstr_size, "out of memory");
            return JC_ERR_NOMEM;
        }
        memcpy(out->body, buf + f->body_start, avail);
        out->body[avail] = '\0';
        out->body_len = avail;
        return PARSE_DONE;
    }
}

/* read_answer reads and parses until the answer is complete. */
static jc_err_t read_answer(int fd, int64_t deadline, jc_http_answer *out, char *errstr,
                            size_t errstr_size)
{
    /* one byte more than allowed, to tell "exactly the maximum" from "more",
     * and one for the NUL that keeps the string functions inside */
    char *buf = malloc(JC_HTTP_MAX_ANSWER + 2);
    size_t len = 0;
    framing f;
    int eof = 0, rc;

    if (!buf) {
        snprintf(errstr, errstr_size, "out of memory");
        return JC_ERR_NOMEM;
    }
    memset(&f, 0, sizeof f);
    for (;;) {
        ssize_t n;
        if (!wait_fd(fd, POLLIN, deadline)) {
            if (len)
                snprintf(errstr, errstr_size,
                         "the answer did not complete in time (%zu bytes came)", len);
            else
                snprintf(errstr, errstr_size, "no answer in time");
            rc = JC_ERR_TIMED_OUT;
            break;
        }
        n = recv(fd, buf + len, JC_HTTP_MAX_ANSWER + 1 - len, 0);
        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN || errno == EWOULDBLOCK)
                continue;
            snprintf(errstr, errstr_size, "reading the answer failed after %zu bytes: %s", len,
                     strerror(errno));
            rc = JC_ERR_TRANSPORT;
            break;
        }
        if (n == 0)
            eof = 1;
        len += (size_t)n;
        buf[len] = '\0';
        if (len > JC_HTTP_MAX_ANSWER) {
            snprintf(errstr, errstr_size, "the answer is larger than %d bytes", JC_HTTP_MAX_ANSWER);
            rc = JC_ERR_TOO_LARGE;
            break;
        }
        rc = parse_answer(buf, len, eof, &f, out, errstr, errstr_size);
        if (rc != PARSE_MORE)
            break;
        if (eof) {
            if (!len)
                snprintf(errstr, errstr_size, "the connection closed without an answer");
            else
                snprintf(errstr, errstr_size,
                         "the connection closed after %zu bytes, before the end of the answer%s",
                         len, f.body_start ? "" : "'s headers");
            rc = JC_ERR_TRANSPORT;
            break;
        }
    }
    free(buf);
    return rc == PARSE_DONE ? JC_OK : (jc_err_t)rc;
}

jc_err_t jc_http_post_form(const jc_http_url *u, const char *path, const char *body,
                           size_t body_len, int timeout_ms, jc_http_answer *out, char *errstr,
                           size_t errstr_size)
{
    int64_t deadline = mono_ms() + (timeout_ms > 0 ? timeout_ms : 0);
    char head[JC_HTTP_HOST_MAX + 2 * JC_HTTP_PATH_MAX + 512];
    int head_len, fd = -1;
    jc_err_t err, send_err;
    char send_why[256] = "";

    memset(out, 0, sizeof out[0]);
    head_len = snprintf(head, sizeof head,
                        "POST %s%s HTTP/1.1\r\n"
                        "Host: %s%s%s%s%s\r\n"
                        "User-Agent: libjobcoord/" JC_VERSION_STR "\r\n"
                        "Accept: application/json\r\n"
                        "Content-Type: application/x-www-form-urlencoded\r\n"
                        "Content-Length: %zu\r\n"
                        "Connection: close\r\n"
                        "\r\n",
                        u->path, path, u->ipv6 ? "[" : "", u->host, u->ipv6 ? "]" : "",
                        strcmp(u->port, "80") ? ":" : "", strcmp(u->port, "80") ? u->port : "",
                        body_len);
    if (head_len < 0 || (size_t)head_len >= sizeof head) {
        snprintf(errstr, errstr_size, "request path too long");
        return JC_ERR_INVALID_ARG;
    }
    err = dial(u, deadline, &fd, errstr, errstr_size);
    if (err)
        return err;
    send_err = send_all(fd, head, (size_t)head_len, deadline, send_why, sizeof send_why);
    if (!send_err)
        send_err = send_all(fd, body, body_len, deadline, send_why, sizeof send_why);
    /* a server may answer (413, say) and close before reading everything:
     * its answer is worth more than our send error */
    err = read_answer(fd, deadline, out, errstr, errstr_size);
    close(fd);
    if (err && send_err) {
        snprintf(errstr, errstr_size, "%s", send_why);
        err = send_err;
    }
    if (err)
        jc_http_answer_free(out);
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
