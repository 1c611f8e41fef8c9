/*
 * test_sdk_https.c - the token source over https and what else libcurl
 * brings it, against token endpoints played by this test: a TLS server
 * (OpenSSL, in a thread on loopback) with a certificate from a throw-away
 * CA that the test makes with the openssl command, and a plain one.
 *
 * Checked: a token over https when token.tls.ca.file names the CA; no
 * request at all (so no client assertion) reaches a server whose
 * certificate does not verify: without the CA, with another CA, with a
 * host name the certificate does not name; a self-signed certificate given
 * as the CA file, and refused otherwise; an unreadable or broken CA
 * file; https to a plain server; a TLS server that never does its
 * handshake hits the timeout; a chunked and an oversized answer over TLS;
 * redirects are not followed; proxies are taken from the environment
 * (http_proxy, no_proxy), as libcurl reads them. test_sdk_token.c covers
 * the token source itself and plain-HTTP answers.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <sodium.h>

#include "check.h"
#include "jobcoord/jobcoord.h"
#include "jcproto/jwt.h"

#define PRINCIPAL "worker-9"
#define KEY_ID "k9"

/* ---- the token endpoints ---- */

typedef struct server {
    int lfd, port, tls;
    SSL_CTX *ctx;
    pthread_t thread;
    pthread_mutex_t mu;
    int stop;
    /* the script, under mu */
    char *reply; /* sent as it is; NULL: a token answer */
    size_t reply_len;
    int silent; /* accept the connection, then neither handshake nor answer */
    /* what came, under mu */
    int requests, handshakes_failed, hung_up; /* hung_up: after a handshake */
    char last[16384];
} server;

static server tls_srv, plain_srv, self_srv; /* self_srv: a self-signed certificate */
static char dir[64], key_b64[64];
static uint8_t key[32];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* conn_read and conn_write: over TLS when ssl is set. */
static int conn_read(int fd, SSL *ssl, char *buf, size_t n)
{
    return ssl ? SSL_read(ssl, buf, (int)n) : (int)recv(fd, buf, n, 0);
}

static void conn_write(int fd, SSL *ssl, const char *p, size_t n)
{
    while (n > 0) {
        int w = ssl ? SSL_write(ssl, p, (int)n) : (int)send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
    }
}

/* read_request reads one request: headers and a Content-Length body.
 * Returns how many bytes came. */
static size_t read_request(int fd, SSL *ssl, char *buf, size_t size)
{
    size_t len = 0;
    buf[0] = '\0';
    while (len < size - 1) {
        int n = conn_read(fd, ssl, buf + len, size - 1 - len);
        char *end;
        if (n <= 0)
            break;
        len += (size_t)n;
        buf[len] = '\0';
        end = strstr(buf, "\r\n\r\n");
        if (end) {
            const char *cl = strstr(buf, "Content-Length: ");
            size_t want = cl ? strtoul(cl + 16, NULL, 10) : 0;
            if (len >= (size_t)(end + 4 - buf) + want)
                break;
        }
    }
    return len;
}

static int stopping(server *s)
{
    int stop;
    pthread_mutex_lock(&s->mu);
    stop = s->stop;
    pthread_mutex_unlock(&s->mu);
    return stop;
}

/* hold keeps fd open, silent, until the client closes it or the test
 * ends (what the client sends is read and dropped). */
static void hold(server *s, int fd)
{
    while (!stopping(s)) {
        struct pollfd p = {fd, POLLIN, 0};
        char b[512];
        if (poll(&p, 1, 20) > 0 && recv(fd, b, sizeof b, 0) <= 0)
            return;
    }
}

static void serve(server *s, int fd)
{
    char req[16384], *reply = NULL;
    size_t reply_len = 0;
    SSL *ssl = NULL;
    int silent;
    struct timeval tv = {3, 0};

    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    pthread_mutex_lock(&s->mu);
    silent = s->silent;
    pthread_mutex_unlock(&s->mu);
    if (silent) {
        hold(s, fd);
        return;
    }
    if (s->tls) {
        ssl = SSL_new(s->ctx);
        SSL_set_fd(ssl, fd);
        if (SSL_accept(ssl) != 1) {
            pthread_mutex_lock(&s->mu);
            s->handshakes_failed++;
            pthread_mutex_unlock(&s->mu);
            ERR_clear_error();
            SSL_free(ssl);
            return;
        }
    }
    if (read_request(fd, ssl, req, sizeof req) == 0) { /* the client hung up */
        pthread_mutex_lock(&s->mu);
        s->hung_up++;
        pthread_mutex_unlock(&s->mu);
        goto out;
    }
    pthread_mutex_lock(&s->mu);
    s->requests++;
    snprintf(s->last, sizeof s->last, "%s", req);
    if (s->reply) {
        reply = malloc(s->reply_len);
        memcpy(reply, s->reply, s->reply_len);
        reply_len = s->reply_len;
    } else {
        static const char body[] = "{\"access_token\":\"tls-token\",\"token_type\":\"Bearer\","
                                   "\"expires_in\":900}";
        reply = malloc(512);
        reply_len = (size_t)snprintf(reply, 512,
                                     "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                     "Content-Length: %zu\r\n\r\n%s",
                                     strlen(body), body);
    }
    pthread_mutex_unlock(&s->mu);
    conn_write(fd, ssl, reply, reply_len);
    free(reply);
out:
    if (ssl) {
        SSL_shutdown(ssl);
        SSL_free(ssl);
    }
}

static void *server_main(void *arg)
{
    server *s = arg;
    while (!stopping(s)) {
        struct pollfd p = {s->lfd, POLLIN, 0};
        int fd;
        if (poll(&p, 1, 50) <= 0)
            continue;
        fd = accept(s->lfd, NULL, NULL);
        if (fd < 0)
            continue;
        serve(s, fd);
        close(fd);
    }
    return NULL;
}

/* server_start starts s: over TLS with the certificate cert (server or
 * self-signed: <cert>.pem, <cert>.key in dir), or plain when cert is NULL. */
static void server_start(server *s, const char *cert)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int one = 1;
    char path[128];

    memset(s, 0, sizeof *s);
    s->tls = cert != NULL;
    pthread_mutex_init(&s->mu, NULL);
    if (cert) {
        s->ctx = SSL_CTX_new(TLS_server_method());
        snprintf(path, sizeof path, "%s/%s.pem", dir, cert);
        CHECK(SSL_CTX_use_certificate_chain_file(s->ctx, path) == 1);
        snprintf(path, sizeof path, "%s/%s.key", dir, cert);
        CHECK(SSL_CTX_use_PrivateKey_file(s->ctx, path, SSL_FILETYPE_PEM) == 1);
    }
    s->lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(s->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(s->lfd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(s->lfd, 16) == 0);
    getsockname(s->lfd, (struct sockaddr *)&a, &len);
    s->port = ntohs(a.sin_port);
    pthread_create(&s->thread, NULL, server_main, s);
}

static void server_stop(server *s)
{
    pthread_mutex_lock(&s->mu);
    s->stop = 1;
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thread, NULL);
    close(s->lfd);
    free(s->reply);
    SSL_CTX_free(s->ctx);
    pthread_mutex_destroy(&s->mu);
}

/* script sets what s answers next (raw bytes; NULL: a token) and resets
 * its counters. */
static void script(server *s, const char *raw, size_t n, int silent)
{
    pthread_mutex_lock(&s->mu);
    free(s->reply);
    s->reply = NULL;
    s->reply_len = n;
    if (raw) {
        s->reply = malloc(n + 1);
        memcpy(s->reply, raw, n);
    }
    s->silent = silent;
    s->requests = s->handshakes_failed = s->hung_up = 0;
    s->last[0] = '\0';
    pthread_mutex_unlock(&s->mu);
}

static int requests(server *s)
{
    int n;
    pthread_mutex_lock(&s->mu);
    n = s->requests;
    pthread_mutex_unlock(&s->mu);
    return n;
}

/* ---- the throw-away CAs ---- */

/* make_pki writes into dir, with the openssl command: ca.pem (the CA that
 * signs server.pem, for IP 127.0.0.1 only), other-ca.pem (a CA that signed
 * nothing here), server.pem/server.key, self-signed.pem/.key (a
 * self-signed certificate for 127.0.0.1, not a CA), empty.pem and
 * broken.pem. 0 when it all worked. */
static int make_pki(void)
{
    char cmd[2048];
    int rc = 0;

    for (int i = 0; i < 2; i++) {
        const char *name = i ? "other-ca" : "ca";
        snprintf(cmd, sizeof cmd,
                 "cd %s && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
                 "-keyout %s.key -out %s.pem -days 2 -subj /CN=jobcoord-test-%s "
                 "-addext basicConstraints=critical,CA:TRUE "
                 "-addext keyUsage=critical,keyCertSign >/dev/null 2>&1",
                 dir, name, name, name);
        rc |= system(cmd);
    }
    snprintf(cmd, sizeof cmd,
             "cd %s && printf 'subjectAltName=IP:127.0.0.1\\nbasicConstraints=CA:FALSE\\n"
             "extendedKeyUsage=serverAuth\\n' >server.ext && "
             "openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout server.key "
             "-out server.csr -subj /CN=127.0.0.1 >/dev/null 2>&1 && "
             "openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial "
             "-days 2 -extfile server.ext -out server.pem >/dev/null 2>&1 && "
             "openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes "
             "-keyout self-signed.key -out self-signed.pem -days 2 -subj /CN=127.0.0.1 "
             "-addext subjectAltName=IP:127.0.0.1 -addext basicConstraints=critical,CA:FALSE "
             ">/dev/null 2>&1 && "
             ": >empty.pem && echo 'not a certificate' >broken.pem",
             dir);
    rc |= system(cmd);
    return rc;
}

/* ---- helpers ---- */

static jc_token_source_t *source(const char *url, const char *ca, const char *timeout_ms,
                                 jc_err_t want, char *err, size_t err_size)
{
    jc_conf_t *c = jc_conf_new();
    jc_token_source_t *ts = NULL;
    char path[128];
    jc_err_t got;

    CHECK(jc_conf_set(c, "principal", PRINCIPAL, err, err_size) == JC_OK);
    CHECK(jc_conf_set(c, "key.id", KEY_ID, err, err_size) == JC_OK);
    CHECK(jc_conf_set(c, "key", key_b64, err, err_size) == JC_OK);
    CHECK_MSG(jc_conf_set(c, "token.url", url, err, err_size) == JC_OK, "%s: %s", url, err);
    if (ca) {
        snprintf(path, sizeof path, "%s/%s", dir, ca);
        CHECK(jc_conf_set(c, "token.tls.ca.file", path, err, err_size) == JC_OK);
    }
    if (timeout_ms)
        CHECK(jc_conf_set(c, "token.timeout.ms", timeout_ms, err, err_size) == JC_OK);
    got = jc_token_source_new(c, &ts, err, err_size);
    CHECK_MSG(got == want, "source for %s: got %s, want %s: %s", url, jc_err_name(got),
              jc_err_name(want), err);
    jc_conf_destroy(c);
    return ts;
}

/* get fetches a token from url (CA file ca in dir, or none) and checks the
 * error and its text; returns the token source's answer in tok. */
static void get(const char *url, const char *ca, const char *timeout_ms, jc_err_t want,
                const char *text, char *tok, size_t tok_size)
{
    char err[1024] = "";
    jc_token_source_t *ts = source(url, ca, timeout_ms, JC_OK, err, sizeof err);
    jc_err_t got;

    snprintf(tok, tok_size, "unchanged");
    if (!ts)
        return;
    got = jc_token_get(ts, tok, tok_size, NULL, err, sizeof err);
    CHECK_MSG(got == want, "%s (CA %s): got %s, want %s: %s", url, ca ? ca : "none",
              jc_err_name(got), jc_err_name(want), err);
    CHECK_MSG(strstr(err, text) != NULL, "%s: '%s' lacks '%s'", url, err, text);
    jc_token_source_destroy(ts);
}

/* ---- the tests ---- */

/* test_libcurl checks what docs/sdk.md says of the libcurl linked: its
 * curl_global_init is thread-safe, and it resolves names in a thread of
 * its own, so that token.timeout.ms bounds name resolution without
 * signals. */
static void test_libcurl(void)
{
    const curl_version_info_data *v = curl_version_info(CURLVERSION_NOW);
    CHECK_MSG(v->version_num >= 0x075500, "libcurl %s is older than 7.85", v->version);
    CHECK_MSG(v->features & CURL_VERSION_THREADSAFE, "libcurl %s: no CURL_VERSION_THREADSAFE",
              v->version);
    CHECK_MSG(v->features & CURL_VERSION_ASYNCHDNS, "libcurl %s: no CURL_VERSION_ASYNCHDNS",
              v->version);
    CHECK_MSG(v->features & CURL_VERSION_SSL, "libcurl %s: no TLS", v->version);
}

static void test_https(void)
{
    char url[128], tok[JC_TOKEN_MAX_LEN + 1], err[512], aud[160];
    jc_jws *j = malloc(sizeof *j);
    const char *body;

    /* the CA given: verified, and the request is the token request */
    snprintf(url, sizeof url, "https://127.0.0.1:%d", tls_srv.port);
    script(&tls_srv, NULL, 0, 0);
    get(url, "ca.pem", NULL, JC_OK, "", tok, sizeof tok);
    CHECK_EQ_STR(tok, "tls-token");
    CHECK_EQ_INT(requests(&tls_srv), 1);
    pthread_mutex_lock(&tls_srv.mu);
    CHECK_MSG(strncmp(tls_srv.last, "POST /v1/token HTTP/1.1\r\n", 25) == 0, "%.60s", tls_srv.last);
    body = strstr(tls_srv.last, "client_assertion=");
    CHECK(body != NULL);
    if (body) {
        char assertion[JC_JWT_MAX + 1], why[128];
        size_t n = strcspn(body + 17, "&\r\n");
        snprintf(assertion, sizeof assertion, "%.*s", (int)n, body + 17);
        CHECK(jc_jws_parse(assertion, strlen(assertion), j, why, sizeof why) == 0);
        CHECK(jc_jws_verify_hs256(j, key) == 0);
        snprintf(aud, sizeof aud, "https://127.0.0.1:%d/v1/token", tls_srv.port);
        CHECK(jc_json_member_string(j->cl, "aud", err, sizeof err) > 0);
        CHECK_EQ_STR(err, aud);
        jc_jws_free(j);
    }
    pthread_mutex_unlock(&tls_srv.mu);
    free(j);

    /* chunked and oversized answers over TLS */
    {
        static const char chunked[] =
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
            "10\r\n{\"access_token\":\r\n"
            "2f\r\n\"chunky\",\"token_type\":\"Bearer\",\"expires_in\":60}\r\n0\r\n\r\n";
        size_t n = 100 * 1024;
        char *big = malloc(n);
        int o;
        script(&tls_srv, chunked, sizeof chunked - 1, 0);
        get(url, "ca.pem", NULL, JC_OK, "", tok, sizeof tok);
        CHECK_EQ_STR(tok, "chunky");
        o = sprintf(big, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%zx\r\n",
                    n - 200);
        memset(big + o, ' ', n - 200);
        o += (int)(n - 200);
        o += sprintf(big + o, "\r\n0\r\n\r\n");
        script(&tls_srv, big, (size_t)o, 0);
        get(url, "ca.pem", NULL, JC_ERR_TOO_LARGE, "larger than 65536", tok, sizeof tok);
        CHECK_EQ_STR(tok, "unchanged");
        free(big);
    }

    /* not verified: no request reaches the server, so no assertion leaves
     * (the certificate's chain fails in the handshake; its host name is
     * checked by libcurl after it, and the client hangs up) */
    script(&tls_srv, NULL, 0, 0);
    get(url, NULL, NULL, JC_ERR_TRANSPORT, "certificate is not trusted", tok, sizeof tok);
    CHECK_EQ_STR(tok, "unchanged");
    get(url, "other-ca.pem", NULL, JC_ERR_TRANSPORT, "certificate is not trusted", tok,
        sizeof tok);
    snprintf(url, sizeof url, "https://localhost:%d", tls_srv.port); /* not in the certificate */
    get(url, "ca.pem", NULL, JC_ERR_TRANSPORT, "certificate is not trusted", tok, sizeof tok);
    for (int i = 0, seen = 0; seen < 3 && i < 500; i++) { /* the server's side of the last one */
        struct timespec ms10 = {0, 10000000};
        pthread_mutex_lock(&tls_srv.mu);
        seen = tls_srv.handshakes_failed + tls_srv.hung_up + tls_srv.requests;
        pthread_mutex_unlock(&tls_srv.mu);
        nanosleep(&ms10, NULL);
    }
    CHECK_EQ_INT(requests(&tls_srv), 0);
    pthread_mutex_lock(&tls_srv.mu);
    CHECK_MSG(tls_srv.handshakes_failed + tls_srv.hung_up == 3, "%d + %d",
              tls_srv.handshakes_failed, tls_srv.hung_up);
    pthread_mutex_unlock(&tls_srv.mu);

    /* a self-signed certificate, trusted by giving it as the CA file (for
     * tests; a server with it is refused otherwise) */
    snprintf(url, sizeof url, "https://127.0.0.1:%d", self_srv.port);
    script(&self_srv, NULL, 0, 0);
    get(url, "self-signed.pem", NULL, JC_OK, "", tok, sizeof tok);
    CHECK_EQ_STR(tok, "tls-token");
    get(url, NULL, NULL, JC_ERR_TRANSPORT, "certificate is not trusted", tok, sizeof tok);
    get(url, "ca.pem", NULL, JC_ERR_TRANSPORT, "certificate is not trusted", tok, sizeof tok);
    CHECK_EQ_INT(requests(&self_srv), 1);

    /* CA files that are not */
    snprintf(url, sizeof url, "https://127.0.0.1:%d", tls_srv.port);
    CHECK(source(url, "missing.pem", NULL, JC_ERR_IO, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "token.tls.ca.file") && strstr(err, "missing.pem"), "%s", err);
    get(url, "broken.pem", NULL, JC_ERR_IO, "token.tls.ca.file", tok, sizeof tok);
    get(url, "empty.pem", NULL, JC_ERR_IO, "token.tls.ca.file", tok, sizeof tok);
    CHECK_EQ_INT(requests(&tls_srv), 0);

    /* https to a plain server */
    snprintf(url, sizeof url, "https://127.0.0.1:%d", plain_srv.port);
    script(&plain_srv, NULL, 0, 0);
    get(url, "ca.pem", NULL, JC_ERR_TRANSPORT, "TLS handshake failed", tok, sizeof tok);
}

static void test_timeout(void)
{
    char url[128], tok[64];
    int64_t t0;

    /* connected, and the TLS handshake never comes */
    snprintf(url, sizeof url, "https://127.0.0.1:%d", tls_srv.port);
    script(&tls_srv, NULL, 0, 1);
    t0 = now_ms();
    get(url, "ca.pem", "400", JC_ERR_TIMED_OUT, "no answer in time (400 ms)", tok, sizeof tok);
    CHECK_MSG(now_ms() - t0 < 3000, "took %lld ms", (long long)(now_ms() - t0));
    CHECK(now_ms() - t0 >= 380);
    script(&tls_srv, NULL, 0, 0);
    /* the same over plain HTTP: the request is taken, no answer comes */
    snprintf(url, sizeof url, "http://127.0.0.1:%d", plain_srv.port);
    script(&plain_srv, NULL, 0, 1);
    t0 = now_ms();
    get(url, NULL, "400", JC_ERR_TIMED_OUT, "no answer in time", tok, sizeof tok);
    CHECK_MSG(now_ms() - t0 < 3000, "took %lld ms", (long long)(now_ms() - t0));
    script(&plain_srv, NULL, 0, 0);
}

static void test_redirect_not_followed(void)
{
    char url[128], tok[64], raw[512];
    static const int codes[] = {301, 302, 303, 307, 308};

    snprintf(url, sizeof url, "http://127.0.0.1:%d", plain_srv.port);
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        char want[32];
        int n = snprintf(raw, sizeof raw,
                         "HTTP/1.1 %d Moved\r\nLocation: http://127.0.0.1:%d/elsewhere/v1/token\r\n"
                         "Content-Length: 0\r\n\r\n",
                         codes[i], plain_srv.port);
        script(&plain_srv, raw, (size_t)n, 0);
        snprintf(want, sizeof want, "HTTP %d", codes[i]);
        get(url, NULL, NULL, JC_ERR_MALFORMED, want, tok, sizeof tok);
        CHECK_EQ_INT(requests(&plain_srv), 1); /* the Location was not asked */
    }
    /* nor to another protocol */
    {
        int n = snprintf(raw, sizeof raw,
                         "HTTP/1.1 302 Found\r\nLocation: file:///etc/passwd\r\nContent-Length: "
                         "0\r\n\r\n");
        script(&plain_srv, raw, (size_t)n, 0);
        get(url, NULL, NULL, JC_ERR_MALFORMED, "HTTP 302", tok, sizeof tok);
        CHECK_EQ_INT(requests(&plain_srv), 1);
    }
    script(&plain_srv, NULL, 0, 0);
}

static void test_proxy_from_environment(void)
{
    static const char via_proxy[] = "POST http://token.invalid:9/jc/v1/token HTTP/1.1\r\n";
    char proxy[64], tok[64];

    /* http_proxy names the plain server: it gets the request in absolute
     * form, for a host that does not resolve */
    snprintf(proxy, sizeof proxy, "http://127.0.0.1:%d", plain_srv.port);
    setenv("http_proxy", proxy, 1);
    script(&plain_srv, NULL, 0, 0);
    get("http://token.invalid:9/jc", NULL, NULL, JC_OK, "", tok, sizeof tok);
    CHECK_EQ_STR(tok, "tls-token");
    CHECK_EQ_INT(requests(&plain_srv), 1);
    pthread_mutex_lock(&plain_srv.mu);
    CHECK_MSG(strncmp(plain_srv.last, via_proxy, strlen(via_proxy)) == 0, "%.80s", plain_srv.last);
    pthread_mutex_unlock(&plain_srv.mu);
    /* no_proxy exempts the host: then it has to resolve */
    setenv("no_proxy", "token.invalid", 1);
    get("http://token.invalid:9/jc", NULL, NULL, JC_ERR_TRANSPORT, "cannot resolve token.invalid",
        tok, sizeof tok);
    CHECK_EQ_INT(requests(&plain_srv), 1);
    unsetenv("no_proxy");
    unsetenv("http_proxy");
    get("http://token.invalid:9/jc", NULL, NULL, JC_ERR_TRANSPORT, "cannot resolve token.invalid",
        tok, sizeof tok);
    CHECK_EQ_INT(requests(&plain_srv), 1);
}

int main(void)
{
    static const char *const proxy_vars[] = {"http_proxy", "https_proxy", "HTTPS_PROXY",
                                             "all_proxy",  "ALL_PROXY",   "no_proxy",
                                             "NO_PROXY"};
    char rm[128];

    signal(SIGPIPE, SIG_IGN); /* the TLS server writes to clients that hung up */
    /* the machine's proxies are not this test's */
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
        unsetenv(proxy_vars[i]);
    CHECK(sodium_init() >= 0);
    randombytes_buf(key, sizeof key);
    sodium_bin2base64(key_b64, sizeof key_b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    snprintf(dir, sizeof dir, "/tmp/jc-https-XXXXXX");
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp: %s", strerror(errno));
        return check_done("test_sdk_https");
    }
    if (make_pki() != 0) {
        CHECK_MSG(0, "cannot make the test CA with the openssl command (Debian package openssl)");
    } else {
        test_libcurl();
        server_start(&tls_srv, "server");
        server_start(&plain_srv, NULL);
        server_start(&self_srv, "self-signed");
        test_https();
        test_timeout();
        test_redirect_not_followed();
        test_proxy_from_environment();
        server_stop(&tls_srv);
        server_stop(&plain_srv);
        server_stop(&self_srv);
    }
    snprintf(rm, sizeof rm, "rm -rf %s", dir);
    CHECK(system(rm) == 0);
    return check_done("test_sdk_https");
}
