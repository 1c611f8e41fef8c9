/*
 * test_sdk_token.c - the SDK's token source and its HTTP client (over
 * libcurl) against a token endpoint played by this test (a thread on
 * loopback that records each request and answers from a script), and
 * SASL/OAUTHBEARER: the SDK's Kafka handles and the coordinator's
 * jc_kafka_oauth_setup against the librdkafka mock cluster (which has no
 * SASL: what is checked is that the refresh callback runs and librdkafka
 * accepts the token).
 *
 * Checked: the request (POST form, headers, an HS256 client assertion that
 * verifies with the principal's key, its aud/iss/sub/lifetime, a new jti
 * each time), caching, refresh before expiry, invalidation, scopes, error
 * answers (OAuth errors with their description, HTTP 5xx, 404) and broken
 * ones (not JSON, missing fields, truncated, oversized, bad framing that
 * libcurl refuses and framing it reads leniently but that carries no token,
 * a server slower than the timeout, no server), concurrency,
 * configuration. test_sdk_https.c covers https, redirects and proxies.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>
#include <sodium.h>

#include "check.h"
#include "httpc.h"
#include "jobcoord/jobcoord.h"
#include "jcproto/jwt.h"
#include "kafka.h"
#include "kafka/kafka_oauth.h"
#include "token.h"

#define PRINCIPAL "worker-7"
#define KEY_ID "k7"
#define MAX_REQ 64
#define REPLY_MAX (200 * 1024)

/* ---- the token endpoint ---- */

typedef struct server {
    int lfd, port;
    pthread_t thread;
    pthread_mutex_t mu;
    int stop;
    /* the script, under mu */
    int auto_expires_in;  /* > 0: answer a new token "tok-N" valid this long; 0: reply */
    char *reply;          /* raw bytes sent as they are */
    size_t reply_len;
    int delay_ms;         /* before answering */
    int close_early;      /* close without answering */
    int dribble;          /* send the answer a few bytes at a time */
    /* what came, under mu */
    int requests;
    char last[16384];
    char jti[MAX_REQ][160];
} server;

static server srv;
static uint8_t key[32];
static char key_b64[64];

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* read_request reads one request (headers and Content-Length body). */
static size_t read_request(int fd, char *buf, size_t size)
{
    size_t len = 0;
    for (;;) {
        struct pollfd p = {fd, POLLIN, 0};
        char *end;
        ssize_t n;
        if (poll(&p, 1, 2000) <= 0)
            break;
        n = recv(fd, buf + len, size - 1 - len, 0);
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
        if (len == size - 1)
            break;
    }
    buf[len] = '\0';
    return len;
}

/* form_value copies the url-decoded value of field name of a form body. */
static int form_value(const char *body, const char *name, char *out, size_t size)
{
    size_t nl = strlen(name);
    const char *p = body;
    while (p && *p) {
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t o = 0;
            for (p += nl + 1; *p && *p != '&' && o + 1 < size; p++) {
                if (*p == '%' && p[1] && p[2]) {
                    char hex[3] = {p[1], p[2], 0};
                    out[o++] = (char)strtol(hex, NULL, 16);
                    p += 2;
                } else {
                    out[o++] = *p == '+' ? ' ' : *p;
                }
            }
            out[o] = '\0';
            return 0;
        }
        p = strchr(p, '&');
        if (p)
            p++;
    }
    return -1;
}

static void send_all(int fd, const char *p, size_t n, int dribble)
{
    while (n > 0) {
        size_t chunk = dribble ? (n < 7 ? n : 7) : n;
        ssize_t w = send(fd, p, chunk, MSG_NOSIGNAL);
        if (w <= 0)
            return;
        p += w;
        n -= (size_t)w;
        if (dribble)
            sleep_ms(1);
    }
}

static void *server_main(void *arg)
{
    (void)arg;
    for (;;) {
        struct pollfd p = {srv.lfd, POLLIN, 0};
        char req[16384], *reply = NULL, jti[160] = "";
        size_t reply_len = 0;
        int fd, delay, close_early, dribble, n;

        pthread_mutex_lock(&srv.mu);
        if (srv.stop) {
            pthread_mutex_unlock(&srv.mu);
            return NULL;
        }
        pthread_mutex_unlock(&srv.mu);
        if (poll(&p, 1, 50) <= 0)
            continue;
        fd = accept(srv.lfd, NULL, NULL);
        if (fd < 0)
            continue;
        read_request(fd, req, sizeof req);
        {
            const char *body = strstr(req, "\r\n\r\n");
            char assertion[JC_JWT_MAX + 1];
            jc_jws *j = malloc(sizeof *j);
            char why[128];
            if (body &&
                form_value(body + 4, "client_assertion", assertion, sizeof assertion) == 0 &&
                jc_jws_parse(assertion, strlen(assertion), j, why, sizeof why) == 0) {
                jc_json_member_string(j->cl, "jti", jti, sizeof jti);
                jc_jws_free(j);
            }
            free(j);
        }
        pthread_mutex_lock(&srv.mu);
        n = srv.requests++;
        snprintf(srv.last, sizeof srv.last, "%s", req);
        if (n < MAX_REQ)
            snprintf(srv.jti[n], sizeof srv.jti[n], "%s", jti);
        delay = srv.delay_ms;
        close_early = srv.close_early;
        dribble = srv.dribble;
        if (srv.auto_expires_in > 0) {
            char body[256];
            int bl = snprintf(body, sizeof body,
                              "{\"access_token\":\"tok-%d\",\"token_type\":\"Bearer\","
                              "\"expires_in\":%d,\"scope\":\"jobs:submit jobs:read\"}",
                              n + 1, srv.auto_expires_in);
            reply = malloc(512);
            reply_len = (size_t)snprintf(reply, 512,
                                         "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                                         "Cache-Control: no-store\r\nContent-Length: %d\r\n\r\n%s",
                                         bl, body);
        } else if (srv.reply) {
            reply = malloc(srv.reply_len);
            memcpy(reply, srv.reply, srv.reply_len);
            reply_len = srv.reply_len;
        }
        pthread_mutex_unlock(&srv.mu);
        for (int waited = 0; waited < delay; waited += 10) {
            struct pollfd c = {fd, POLLIN, 0};
            char b;
            int stop;
            pthread_mutex_lock(&srv.mu);
            stop = srv.stop;
            pthread_mutex_unlock(&srv.mu);
            if (stop)
                break;
            if (poll(&c, 1, 10) > 0 && recv(fd, &b, 1, MSG_PEEK) <= 0)
                break; /* the client gave up: next */
        }
        if (!close_early && reply)
            send_all(fd, reply, reply_len, dribble);
        free(reply);
        close(fd);
    }
}

static void server_start(void)
{
    struct sockaddr_in a;
    socklen_t len = sizeof a;
    int one = 1;

    memset(&srv, 0, sizeof srv);
    pthread_mutex_init(&srv.mu, NULL);
    srv.lfd = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(srv.lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    CHECK(bind(srv.lfd, (struct sockaddr *)&a, sizeof a) == 0);
    CHECK(listen(srv.lfd, 64) == 0);
    getsockname(srv.lfd, (struct sockaddr *)&a, &len);
    srv.port = ntohs(a.sin_port);
    pthread_create(&srv.thread, NULL, server_main, NULL);
}

static void server_stop(void)
{
    pthread_mutex_lock(&srv.mu);
    srv.stop = 1;
    pthread_mutex_unlock(&srv.mu);
    pthread_join(srv.thread, NULL);
    close(srv.lfd);
    free(srv.reply);
    pthread_mutex_destroy(&srv.mu);
}

/* script sets the next answers: raw bytes (n < 0: strlen), or with
 * auto_expires_in > 0 fresh tokens; resets the counters. */
static void script_raw(const char *raw, long n)
{
    pthread_mutex_lock(&srv.mu);
    free(srv.reply);
    srv.reply = NULL;
    srv.reply_len = 0;
    if (raw) {
        srv.reply_len = n < 0 ? strlen(raw) : (size_t)n;
        srv.reply = malloc(srv.reply_len + 1);
        memcpy(srv.reply, raw, srv.reply_len);
    }
    srv.auto_expires_in = 0;
    srv.delay_ms = srv.close_early = srv.dribble = 0;
    srv.requests = 0;
    memset(srv.jti, 0, sizeof srv.jti);
    pthread_mutex_unlock(&srv.mu);
}

/* script_answer scripts "HTTP/1.1 status" with a JSON body and its length. */
static void script_answer(int status, const char *body)
{
    char *raw = malloc(strlen(body) + 256);
    int n = sprintf(raw, "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n\r\n%s",
                    status, strlen(body), body);
    script_raw(raw, n);
    free(raw);
}

static void script_tokens(int expires_in)
{
    script_raw(NULL, 0);
    pthread_mutex_lock(&srv.mu);
    srv.auto_expires_in = expires_in;
    pthread_mutex_unlock(&srv.mu);
}

static int requests(void)
{
    int n;
    pthread_mutex_lock(&srv.mu);
    n = srv.requests;
    pthread_mutex_unlock(&srv.mu);
    return n;
}

/* ---- helpers ---- */

static jc_conf_t *make_conf(const char *k1, const char *v1, const char *k2, const char *v2)
{
    jc_conf_t *c = jc_conf_new();
    char url[64], err[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d", srv.port);
    CHECK(jc_conf_set(c, "principal", PRINCIPAL, err, sizeof err) == JC_OK);
    CHECK(jc_conf_set(c, "key.id", KEY_ID, err, sizeof err) == JC_OK);
    CHECK(jc_conf_set(c, "key", key_b64, err, sizeof err) == JC_OK);
    CHECK(jc_conf_set(c, "token.url", url, err, sizeof err) == JC_OK);
    if (k1)
        CHECK_MSG(jc_conf_set(c, k1, v1, err, sizeof err) == JC_OK, "%s: %s", k1, err);
    if (k2)
        CHECK_MSG(jc_conf_set(c, k2, v2, err, sizeof err) == JC_OK, "%s: %s", k2, err);
    return c;
}

static jc_token_source_t *make_source(const char *k1, const char *v1, const char *k2,
                                      const char *v2)
{
    jc_conf_t *c = make_conf(k1, v1, k2, v2);
    jc_token_source_t *ts = NULL;
    char err[256];
    CHECK_MSG(jc_token_source_new(c, &ts, err, sizeof err) == JC_OK, "%s", err);
    jc_conf_destroy(c); /* the source copied what it needs */
    return ts;
}

/* check_request checks the last request as the token endpoint sees it and
 * returns its assertion's jti in jti_out. */
static void check_request(const char *path, const char *aud, const char *scope)
{
    char req[16384], line[256], field[JC_JWT_MAX + 1], v[256];
    const char *body;
    jc_jws *j = malloc(sizeof *j);
    int64_t iat = 0, exp = 0;
    char why[160];

    pthread_mutex_lock(&srv.mu);
    snprintf(req, sizeof req, "%s", srv.last);
    pthread_mutex_unlock(&srv.mu);
    snprintf(line, sizeof line, "POST %s HTTP/1.1\r\n", path);
    CHECK_MSG(strncmp(req, line, strlen(line)) == 0, "request line: %.60s", req);
    snprintf(line, sizeof line, "\r\nHost: 127.0.0.1:%d\r\n", srv.port);
    CHECK(strstr(req, line) != NULL);
    CHECK(strstr(req, "\r\nContent-Type: application/x-www-form-urlencoded\r\n") != NULL);
    CHECK(strstr(req, "\r\nConnection: close\r\n") != NULL);
    body = strstr(req, "\r\n\r\n");
    if (!body) {
        CHECK(body != NULL);
        free(j);
        return;
    }
    body += 4;
    snprintf(line, sizeof line, "\r\nContent-Length: %zu\r\n", strlen(body));
    CHECK(strstr(req, line) != NULL);
    CHECK(form_value(body, "grant_type", v, sizeof v) == 0 && strcmp(v, "client_credentials") == 0);
    CHECK(form_value(body, "client_assertion_type", v, sizeof v) == 0 &&
          strcmp(v, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") == 0);
    if (scope)
        CHECK(form_value(body, "scope", v, sizeof v) == 0 && strcmp(v, scope) == 0);
    else
        CHECK(form_value(body, "scope", v, sizeof v) == -1);
    CHECK(form_value(body, "client_secret", v, sizeof v) == -1); /* the key is never sent */
    CHECK(strstr(req, key_b64) == NULL);
    if (form_value(body, "client_assertion", field, sizeof field) < 0 ||
        jc_jws_parse(field, strlen(field), j, why, sizeof why) < 0) {
        CHECK_MSG(0, "no parsable client_assertion: %s", why);
        free(j);
        return;
    }
    CHECK_EQ_INT(jc_jws_verify_hs256(j, key), 0);
    CHECK_EQ_STR(j->alg, "HS256");
    CHECK_EQ_STR(j->typ, "JWT");
    CHECK_EQ_STR(j->kid, KEY_ID);
    CHECK(jc_json_member_string(j->cl, "iss", v, sizeof v) > 0 && strcmp(v, PRINCIPAL) == 0);
    CHECK(jc_json_member_string(j->cl, "sub", v, sizeof v) > 0 && strcmp(v, PRINCIPAL) == 0);
    CHECK(jc_json_member_string(j->cl, "aud", v, sizeof v) > 0);
    CHECK_EQ_STR(v, aud);
    CHECK(jc_json_member_string(j->cl, "jti", v, sizeof v) >= 16);
    CHECK(jc_json_int64(json_object_get(j->cl, "iat"), &iat) == 0);
    CHECK(jc_json_int64(json_object_get(j->cl, "exp"), &exp) == 0);
    CHECK_EQ_INT(exp - iat, 60);
    CHECK(llabs(iat - now_ms() / 1000) <= 5);
    jc_jws_free(j);
    free(j);
}

/* ---- the token source ---- */

static void test_fetch_cache_invalidate(void)
{
    jc_token_source_t *ts = make_source(NULL, NULL, NULL, NULL);
    char tok[JC_TOKEN_MAX_LEN + 1], err[512], url[128], scope[128];
    int64_t exp = 0, before = now_ms();

    script_tokens(900);
    CHECK_MSG(jc_token_get(ts, tok, sizeof tok, &exp, err, sizeof err) == JC_OK, "%s", err);
    CHECK_EQ_STR(tok, "tok-1");
    CHECK(exp >= before + 900000 - 50 && exp <= now_ms() + 900000);
    CHECK_EQ_INT(requests(), 1);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/token", srv.port);
    check_request("/v1/token", url, NULL);
    CHECK(jc_token_scope(ts, scope, sizeof scope) == JC_OK);
    CHECK_EQ_STR(scope, "jobs:submit jobs:read");
    CHECK_EQ_INT(jc_token_scope(ts, scope, 5), JC_ERR_TOO_LARGE);

    /* cached: no second request */
    for (int i = 0; i < 5; i++) {
        CHECK(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK);
        CHECK_EQ_STR(tok, "tok-1");
    }
    CHECK_EQ_INT(requests(), 1);
    /* out too small */
    CHECK_EQ_INT(jc_token_get(ts, tok, 5, NULL, err, sizeof err), JC_ERR_TOO_LARGE);
    CHECK_EQ_INT(jc_token_get(ts, tok, 6, NULL, err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_token_get(NULL, tok, 6, NULL, err, sizeof err), JC_ERR_INVALID_ARG);

    /* invalidated: a new request, with a new jti */
    jc_token_invalidate(ts);
    CHECK(jc_token_scope(ts, scope, sizeof scope) == JC_OK && scope[0] == '\0');
    CHECK(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK);
    CHECK_EQ_STR(tok, "tok-2");
    CHECK_EQ_INT(requests(), 2);
    check_request("/v1/token", url, NULL);
    /* the Kafka path always fetches */
    CHECK(jc_token_refresh(ts, tok, sizeof tok, &exp, err, sizeof err) == JC_OK);
    CHECK_EQ_STR(tok, "tok-3");
    CHECK_EQ_STR(jc_token_source_principal(ts), PRINCIPAL);
    pthread_mutex_lock(&srv.mu);
    CHECK(srv.jti[0][0] && srv.jti[1][0] && srv.jti[2][0]);
    CHECK(strcmp(srv.jti[0], srv.jti[1]) != 0 && strcmp(srv.jti[1], srv.jti[2]) != 0 &&
          strcmp(srv.jti[0], srv.jti[2]) != 0);
    pthread_mutex_unlock(&srv.mu);
    jc_token_source_destroy(ts);
    jc_token_source_destroy(NULL);
}

static void test_refresh_before_expiry(void)
{
    /* a 2 s token, margin 1 s: refreshed after 1 s, before it expires */
    jc_token_source_t *ts = make_source("token.refresh.margin.ms", "1000", NULL, NULL);
    char tok[JC_TOKEN_MAX_LEN + 1], err[512];
    int64_t exp1 = 0, exp2 = 0;

    script_tokens(2);
    CHECK(jc_token_get(ts, tok, sizeof tok, &exp1, err, sizeof err) == JC_OK);
    CHECK_EQ_STR(tok, "tok-1");
    sleep_ms(500);
    CHECK(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK);
    CHECK_EQ_STR(tok, "tok-1");
    CHECK_EQ_INT(requests(), 1);
    sleep_ms(700); /* 1.2 s: inside the margin, not expired */
    CHECK(now_ms() < exp1);
    CHECK(jc_token_get(ts, tok, sizeof tok, &exp2, err, sizeof err) == JC_OK);
    CHECK_EQ_STR(tok, "tok-2");
    CHECK(exp2 > exp1);
    CHECK_EQ_INT(requests(), 2);
    pthread_mutex_lock(&srv.mu);
    CHECK(strcmp(srv.jti[0], srv.jti[1]) != 0);
    pthread_mutex_unlock(&srv.mu);

    jc_token_source_destroy(ts);

    /* the coordinator goes down while the token is still valid: the
     * cached token is handed out, and the next try waits a second. A 4 s
     * token, margin 3 s capped at 2 s: refresh due at 2 s. */
    ts = make_source("token.refresh.margin.ms", "3000", NULL, NULL);
    script_tokens(4);
    CHECK(jc_token_get(ts, tok, sizeof tok, &exp1, err, sizeof err) == JC_OK);
    CHECK_EQ_STR(tok, "tok-1");
    sleep_ms(1500);
    CHECK(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK);
    CHECK_EQ_INT(requests(), 1); /* 3 s margin would have refreshed by now */
    sleep_ms(700);
    script_answer(503, "{\"error\":\"unavailable\",\"message\":\"database down\"}");
    CHECK(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK);
    CHECK_EQ_STR(tok, "tok-1");
    CHECK_EQ_INT(requests(), 1);
    CHECK(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK);
    CHECK_EQ_INT(requests(), 1); /* no retry within the second */
    while (now_ms() < exp1 + 100)
        sleep_ms(50);
    CHECK_EQ_INT(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err), JC_ERR_TRANSPORT);
    CHECK_MSG(strstr(err, "HTTP 503") && strstr(err, "database down"), "%s", err);
    CHECK_EQ_INT(requests(), 2);
    jc_token_source_destroy(ts);

    /* short tokens and a big margin: the margin is capped at half the
     * lifetime, so every call does not fetch */
    ts = make_source(NULL, NULL, NULL, NULL); /* margin 60 s */
    script_tokens(4);
    CHECK(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK);
    CHECK(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK);
    CHECK_EQ_INT(requests(), 1);
    jc_token_source_destroy(ts);
}

static void test_scope_audience_prefix(void)
{
    jc_conf_t *c = make_conf("token.scope", "jobs:submit workers:read", NULL, NULL);
    jc_token_source_t *ts = NULL;
    char tok[JC_TOKEN_MAX_LEN + 1], err[512], url[128], aud[160];

    snprintf(url, sizeof url, "http://127.0.0.1:%d/jobcoord/api//", srv.port);
    CHECK(jc_conf_set(c, "token.url", url, err, sizeof err) == JC_OK);
    CHECK(jc_token_source_new(c, &ts, err, sizeof err) == JC_OK);
    script_tokens(60);
    CHECK_MSG(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK, "%s", err);
    snprintf(aud, sizeof aud, "http://127.0.0.1:%d/jobcoord/api/v1/token", srv.port);
    check_request("/jobcoord/api/v1/token", aud, "jobs:submit workers:read");
    jc_token_source_destroy(ts);

    CHECK(jc_conf_set(c, "token.audience", "https://coordinator.example/v1/token", err,
                      sizeof err) == JC_OK);
    CHECK(jc_token_source_new(c, &ts, err, sizeof err) == JC_OK);
    CHECK(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK);
    check_request("/jobcoord/api/v1/token", "https://coordinator.example/v1/token",
                  "jobs:submit workers:read");
    jc_token_source_destroy(ts);
    jc_conf_destroy(c);
}

static void test_expiry_from_jwt(void)
{
    jc_token_source_t *ts = make_source(NULL, NULL, NULL, NULL);
    char tok[JC_TOKEN_MAX_LEN + 1], err[512], claims[128], body[1024];
    uint8_t sk[64], pk[32];
    int64_t exp_s = now_ms() / 1000 + 300, exp = 0;
    char access[600];

    crypto_sign_keypair(pk, sk);
    snprintf(claims, sizeof claims, "{\"sub\":\"" PRINCIPAL "\",\"exp\":%lld}", (long long)exp_s);
    CHECK(jc_jws_sign(JC_JWS_EDDSA, "{\"alg\":\"EdDSA\",\"typ\":\"at+jwt\"}", claims, sk, access,
                      sizeof access) > 0);
    snprintf(body, sizeof body, "{\"access_token\":\"%s\",\"token_type\":\"bearer\"}", access);
    script_answer(200, body);
    CHECK_MSG(jc_token_get(ts, tok, sizeof tok, &exp, err, sizeof err) == JC_OK, "%s", err);
    CHECK_EQ_STR(tok, access);
    CHECK_EQ_INT(exp, exp_s * 1000);
    jc_token_source_destroy(ts);
}

/* expect_error scripts raw and checks jc_token_get's error and text. */
static void expect_error(const char *raw, long n, jc_err_t want, const char *text)
{
    jc_token_source_t *ts = make_source("token.timeout.ms", "2000", NULL, NULL);
    char tok[JC_TOKEN_MAX_LEN + 1] = "unchanged", err[512] = "";
    jc_err_t got;

    script_raw(raw, n);
    got = jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err);
    CHECK_MSG(got == want, "got %s, want %s (%s) for: %.60s", jc_err_name(got), jc_err_name(want),
              err, raw ? raw : "(nothing)");
    CHECK_MSG(strstr(err, text) != NULL, "'%s' lacks '%s'", err, text);
    CHECK_MSG(strstr(err, "/v1/token") != NULL, "'%s' does not name the endpoint", err);
    CHECK_EQ_STR(tok, "unchanged");
    jc_token_source_destroy(ts);
}

static void expect_answer_error(int status, const char *body, jc_err_t want, const char *text)
{
    char *raw = malloc(strlen(body) + 256);
    int n = sprintf(raw, "HTTP/1.1 %d X\r\nContent-Length: %zu\r\n\r\n%s", status, strlen(body),
                    body);
    expect_error(raw, n, want, text);
    free(raw);
}

static void test_error_answers(void)
{
    /* OAuth errors: refused, with the server's words */
    expect_answer_error(401, "{\"error\":\"invalid_client\",\"error_description\":\"unknown key id k7\"}",
                        JC_ERR_AUTH, "invalid_client: unknown key id k7");
    expect_answer_error(400, "{\"error\":\"invalid_scope\",\"error_description\":\"a requested "
                             "scope is not granted\"}",
                        JC_ERR_AUTH, "invalid_scope: a requested scope is not granted");
    expect_answer_error(400, "{\"error\":\"invalid_request\"}", JC_ERR_AUTH,
                        "refused (HTTP 400): invalid_request");
    expect_answer_error(401, "", JC_ERR_AUTH, "HTTP 401");
    /* the description is shown cleaned: control bytes never reach a log */
    expect_answer_error(400, "{\"error\":\"invalid_grant\",\"error_description\":\"x\\u001b[31my\\n\"}",
                        JC_ERR_AUTH, "invalid_grant: x?[31my?");
    /* the coordinator's trouble: retriable */
    expect_answer_error(500, "{\"error\":\"internal\",\"message\":\"oops\"}", JC_ERR_TRANSPORT,
                        "HTTP 500): internal: oops");
    expect_answer_error(503, "<html>busy</html>", JC_ERR_TRANSPORT, "HTTP 503");
    expect_answer_error(429, "", JC_ERR_TRANSPORT, "HTTP 429");
    CHECK(jc_error_is_retriable(JC_ERR_TRANSPORT) && !jc_error_is_retriable(JC_ERR_AUTH));
    CHECK_EQ_STR(jc_err_name(JC_ERR_AUTH), "JC_ERR_AUTH");
    /* not a token endpoint */
    expect_answer_error(404, "{\"error\":\"not_found\",\"message\":\"no such route\"}",
                        JC_ERR_MALFORMED, "not_found: no such route (is token.url");
    expect_answer_error(405, "{\"error\":\"method_not_allowed\"}", JC_ERR_MALFORMED,
                        "unexpected answer (HTTP 405): method_not_allowed");
    expect_answer_error(404, "nothing here", JC_ERR_MALFORMED, "token.url");
    expect_answer_error(302, "", JC_ERR_MALFORMED, "HTTP 302");
    expect_answer_error(204, "", JC_ERR_MALFORMED, "HTTP 204");

    /* 200, but not a token answer */
    expect_answer_error(200, "not json", JC_ERR_MALFORMED, "not a JSON object");
    expect_answer_error(200, "", JC_ERR_MALFORMED, "not a JSON object");
    expect_answer_error(200, "[\"access_token\"]", JC_ERR_MALFORMED, "not a JSON object");
    expect_answer_error(200, "{\"access_token\":\"a\",\"token_type\":\"Bearer\",\"expires_in\":9}x",
                        JC_ERR_MALFORMED, "not a JSON object");
    expect_answer_error(200, "{\"token_type\":\"Bearer\",\"expires_in\":900}", JC_ERR_MALFORMED,
                        "no usable access_token");
    expect_answer_error(200, "{\"access_token\":\"\",\"token_type\":\"Bearer\",\"expires_in\":900}",
                        JC_ERR_MALFORMED, "no usable access_token");
    expect_answer_error(200, "{\"access_token\":42,\"token_type\":\"Bearer\",\"expires_in\":900}",
                        JC_ERR_MALFORMED, "no usable access_token");
    expect_answer_error(200, "{\"access_token\":\"a b\",\"token_type\":\"Bearer\",\"expires_in\":900}",
                        JC_ERR_MALFORMED, "no usable access_token");
    expect_answer_error(200, "{\"access_token\":\"a\\r\\nX-Evil: 1\",\"token_type\":\"Bearer\","
                             "\"expires_in\":900}",
                        JC_ERR_MALFORMED, "no usable access_token");
    /* a member twice: the whole answer is refused */
    expect_answer_error(200,
                        "{\"access_token\":\"a\",\"access_token\":\"b\",\"token_type\":\"Bearer\","
                        "\"expires_in\":900}",
                        JC_ERR_MALFORMED, "a duplicate member");
    expect_answer_error(200, "{\"access_token\":\"abc\",\"expires_in\":900}", JC_ERR_MALFORMED,
                        "token_type");
    expect_answer_error(200, "{\"access_token\":\"abc\",\"token_type\":\"mac\",\"expires_in\":900}",
                        JC_ERR_MALFORMED, "token_type");
    expect_answer_error(200, "{\"access_token\":\"abc\",\"token_type\":\"Bearer\"}", JC_ERR_MALFORMED,
                        "expires_in");
    expect_answer_error(200, "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":0}",
                        JC_ERR_MALFORMED, "expires_in");
    expect_answer_error(200, "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":-5}",
                        JC_ERR_MALFORMED, "expires_in");
    expect_answer_error(200, "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":\"900\"}",
                        JC_ERR_MALFORMED, "expires_in");
    expect_answer_error(200,
                        "{\"access_token\":\"abc\",\"token_type\":\"Bearer\","
                        "\"expires_in\":99999999999999999999}",
                        JC_ERR_MALFORMED, "invalid JSON"); /* beyond int64: not read at all */
    expect_answer_error(200,
                        "{\"access_token\":\"abc\",\"token_type\":\"Bearer\","
                        "\"expires_in\":1e12}",
                        JC_ERR_MALFORMED, "expires_in");
    expect_answer_error(200, "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":900,"
                             "\"scope\":7}",
                        JC_ERR_MALFORMED, "scope");
    {
        /* a token longer than JC_TOKEN_MAX_LEN */
        size_t n = JC_TOKEN_MAX_LEN + 100;
        char *body = malloc(n + 128);
        int o = sprintf(body, "{\"access_token\":\"");
        memset(body + o, 'a', JC_TOKEN_MAX_LEN + 1);
        sprintf(body + o + JC_TOKEN_MAX_LEN + 1, "\",\"token_type\":\"Bearer\",\"expires_in\":9}");
        expect_answer_error(200, body, JC_ERR_MALFORMED, "no usable access_token");
        free(body);
    }
}

static void test_broken_http(void)
{
    static const char ok_body[] =
        "{\"access_token\":\"abc\",\"token_type\":\"Bearer\",\"expires_in\":900}";
    char raw[1024];
    char *big;
    jc_token_source_t *ts;
    char tok[JC_TOKEN_MAX_LEN + 1], err[512];
    int64_t t0;

    /* framing that works: chunked, read to the end, interim 100, split */
    snprintf(raw, sizeof raw,
             "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
             "5;ext=1\r\n%.5s\r\n%zx\r\n%s\r\n0\r\nX-Trailer: t\r\n\r\n",
             ok_body, strlen(ok_body + 5), ok_body + 5);
    ts = make_source(NULL, NULL, NULL, NULL);
    script_raw(raw, -1);
    CHECK_MSG(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK, "chunked: %s", err);
    CHECK_EQ_STR(tok, "abc");
    jc_token_invalidate(ts);
    snprintf(raw, sizeof raw, "HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n%s",
             ok_body);
    script_raw(raw, -1);
    CHECK_MSG(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK, "to EOF: %s", err);
    jc_token_invalidate(ts);
    snprintf(raw, sizeof raw,
             "HTTP/1.1 200 OK\r\ncontent-length: %zu\r\nContent-Length:  %zu \r\n\r\n%s",
             strlen(ok_body), strlen(ok_body), ok_body);
    script_raw(raw, -1);
    pthread_mutex_lock(&srv.mu);
    srv.dribble = 1;
    pthread_mutex_unlock(&srv.mu);
    CHECK_MSG(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err) == JC_OK, "dribble: %s", err);
    jc_token_source_destroy(ts);

    /* answers libcurl refuses */
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{\"access_token\":", -1,
                 JC_ERR_TRANSPORT, "before the end of the answer");
    expect_error("", 0, JC_ERR_TRANSPORT, "closed without an answer");
    expect_error("FOO 200 OK\r\n\r\n{}", -1, JC_ERR_MALFORMED, "not an HTTP/1.x answer");
    expect_error("HTTP/1.1 2000 OK\r\n\r\n{}", -1, JC_ERR_MALFORMED, "not an HTTP/1.x answer");
    expect_error("HTTP/1.1 099 OK\r\n\r\n{}", -1, JC_ERR_MALFORMED, "not an HTTP/1.x answer");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: -2\r\n\r\n{}", -1, JC_ERR_MALFORMED,
                 "Content-Length");
    {
        static const char nul_header[] = "HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n{}";
        expect_error(nul_header, sizeof nul_header - 1, JC_ERR_MALFORMED, "Nul byte in header");
    }
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n\r\n", -1,
                 JC_ERR_TRANSPORT, "chunked");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}xx0\r\n\r\n", -1,
                 JC_ERR_TRANSPORT, "chunked");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{}", -1,
                 JC_ERR_TRANSPORT, "before the end");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nffffffff\r\n", -1,
                 JC_ERR_TRANSPORT, "before the end");
    expect_error("HTTP/1.1 101 Switching\r\n\r\n", -1, JC_ERR_TRANSPORT,
                 "closed without an answer");
    /* answers libcurl reads leniently (one request per connection, so no
     * smuggling): what they deliver is judged as a body, and none of them
     * carries a token */
    expect_error("HTTP/1.1 200 OK\r\nContent-Le", -1, JC_ERR_MALFORMED, "not a JSON object");
    expect_error("HTTP/2 200\r\n\r\n{}", -1, JC_ERR_MALFORMED, "no usable access_token");
    expect_error("HTTP/1.1 200 OK\nX: 1\r\n\r\n{}", -1, JC_ERR_MALFORMED, "no usable access_token");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\n{}x", -1,
                 JC_ERR_MALFORMED, "not a JSON object");
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\n{}", -1, JC_ERR_MALFORMED,
                 "no usable access_token");
    expect_error("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", -1,
                 JC_ERR_MALFORMED, "not a JSON object");
    expect_error("HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n{}", -1, JC_ERR_MALFORMED,
                 "no usable access_token");
    expect_error("HTTP/1.1 200 OK\r\nBad Header: a\r\nX-A\x01: a\r\nX: a\x01b\r\n\r\n{}", -1,
                 JC_ERR_MALFORMED, "no usable access_token");

    /* oversized: announced, or just sent (body, a header line, many lines) */
    expect_error("HTTP/1.1 200 OK\r\nContent-Length: 70000\r\n\r\n{", -1, JC_ERR_TOO_LARGE,
                 "larger than 65536");
    big = malloc(100 * 1024);
    {
        int n = sprintf(big, "HTTP/1.1 200 OK\r\n\r\n{\"pad\":\"");
        memset(big + n, 'x', 90 * 1024);
        expect_error(big, n + 90 * 1024, JC_ERR_TOO_LARGE, "larger than 65536");
        n = sprintf(big, "HTTP/1.1 200 OK\r\nX-Pad: ");
        memset(big + n, 'x', 90 * 1024);
        n += 90 * 1024;
        n += sprintf(big + n, "\r\nContent-Length: 2\r\n\r\n{}");
        expect_error(big, n, JC_ERR_TOO_LARGE, "larger than 65536");
        n = sprintf(big, "HTTP/1.1 200 OK\r\n");
        while (n < 90 * 1024)
            n += sprintf(big + n, "X-Pad: %d\r\n", n);
        n += sprintf(big + n, "Content-Length: 2\r\n\r\n{}");
        expect_error(big, n, JC_ERR_TOO_LARGE, "larger than 65536");
        /* one header line longer than libcurl keeps */
        big = realloc(big, 300 * 1024);
        n = sprintf(big, "HTTP/1.1 200 OK\r\nX-Pad: ");
        memset(big + n, 'x', 250 * 1024);
        expect_error(big, n + 250 * 1024, JC_ERR_TOO_LARGE, "larger than 65536");
        /* the body alone within the bound, with the headers over it */
        n = sprintf(big, "HTTP/1.1 200 OK\r\nX-Pad: ");
        memset(big + n, 'x', 40 * 1024);
        n += 40 * 1024;
        n += sprintf(big + n, "\r\nContent-Length: %d\r\n\r\n", 30 * 1024);
        memset(big + n, ' ', 30 * 1024);
        expect_error(big, n + 30 * 1024, JC_ERR_TOO_LARGE, "larger than 65536");
    }
    free(big);

    /* the server takes a request and never answers (in time) */
    ts = make_source("token.timeout.ms", "300", NULL, NULL);
    script_tokens(900);
    pthread_mutex_lock(&srv.mu);
    srv.delay_ms = 3000;
    pthread_mutex_unlock(&srv.mu);
    t0 = now_ms();
    CHECK_EQ_INT(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err), JC_ERR_TIMED_OUT);
    CHECK_MSG(now_ms() - t0 < 1500, "took %lld ms", (long long)(now_ms() - t0));
    CHECK_MSG(strstr(err, "no answer in time"), "%s", err);
    jc_token_source_destroy(ts);
    /* reads the request and closes without a word */
    ts = make_source(NULL, NULL, NULL, NULL);
    script_tokens(900);
    pthread_mutex_lock(&srv.mu);
    srv.close_early = 1;
    pthread_mutex_unlock(&srv.mu);
    CHECK_EQ_INT(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err), JC_ERR_TRANSPORT);
    CHECK_MSG(strstr(err, "closed without an answer"), "%s", err);
    CHECK_EQ_INT(requests(), 1);
    jc_token_source_destroy(ts);
    script_raw(NULL, 0);
}

static void test_no_server(void)
{
    jc_conf_t *c = make_conf(NULL, NULL, NULL, NULL);
    jc_token_source_t *ts = NULL;
    char tok[64], err[512], url[64];
    int fd = socket(AF_INET, SOCK_STREAM, 0), port;
    struct sockaddr_in a;
    socklen_t len = sizeof a;

    /* a port nobody listens on: bind one, note it, close it */
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    port = ntohs(a.sin_port);
    close(fd);
    snprintf(url, sizeof url, "http://127.0.0.1:%d", port);
    CHECK(jc_conf_set(c, "token.url", url, err, sizeof err) == JC_OK);
    CHECK(jc_token_source_new(c, &ts, err, sizeof err) == JC_OK);
    CHECK_EQ_INT(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err), JC_ERR_TRANSPORT);
    CHECK_MSG(strstr(err, "cannot connect") && strstr(err, "refused"), "%s", err);
    jc_token_source_destroy(ts);
    CHECK(jc_conf_set(c, "token.url", "http://no-such-host.invalid:8080", err, sizeof err) ==
          JC_OK);
    CHECK(jc_token_source_new(c, &ts, err, sizeof err) == JC_OK);
    CHECK_EQ_INT(jc_token_get(ts, tok, sizeof tok, NULL, err, sizeof err), JC_ERR_TRANSPORT);
    CHECK_MSG(strstr(err, "cannot resolve no-such-host.invalid"), "%s", err);
    jc_token_source_destroy(ts);
    jc_conf_destroy(c);
}

typedef struct getter {
    jc_token_source_t *ts;
    jc_err_t err;
    char tok[64];
} getter;

static void *get_main(void *arg)
{
    getter *g = arg;
    char err[256];
    g->err = jc_token_get(g->ts, g->tok, sizeof g->tok, NULL, err, sizeof err);
    return NULL;
}

static void test_threads(void)
{
    jc_token_source_t *ts = make_source(NULL, NULL, NULL, NULL);
    pthread_t th[8];
    getter g[8];

    script_tokens(900);
    pthread_mutex_lock(&srv.mu);
    srv.delay_ms = 200; /* all eight arrive during the first fetch */
    pthread_mutex_unlock(&srv.mu);
    for (int i = 0; i < 8; i++) {
        g[i].ts = ts;
        pthread_create(&th[i], NULL, get_main, &g[i]);
    }
    for (int i = 0; i < 8; i++) {
        pthread_join(th[i], NULL);
        CHECK(g[i].err == JC_OK);
        CHECK_EQ_STR(g[i].tok, "tok-1");
    }
    CHECK_EQ_INT(requests(), 1);
    jc_token_source_destroy(ts);
}

static void test_conf(void)
{
    jc_conf_t *c = jc_conf_new();
    jc_token_source_t *ts = (jc_token_source_t *)&ts;
    char err[512];
    static const struct {
        const char *url, *why;
    } bad_urls[] = {
        {"ftp://coordinator", "not an http[s]://"},
        {"file:///etc/passwd", "not an http[s]://"},
        {"coordinator:8080", "not an http[s]://"},
        {"http://", "No host part"},
        {"http://:8080", "No host part"},
        {"http://h:", "bad port"},
        {"http://h:0", "out of range"},
        {"http://h:65536", "Port number"},
        {"http://h:123456", "Port number"},
        {"http://h:8o", "Port number"},
        {"http://user:pw@h", "user information"},
        {"https://user@h", "user information"},
        {"http://h/p?x=1", "query or fragment"},
        {"http://h/p#f", "query or fragment"},
        {"http://h a/", "space"},
        {"http://h/\x7f", "control"},
        {"http://h\xc3\xa9/", "non-ASCII"},
        {"http://[::1/", "IPv6"},
        {"http://[]/", "IPv6"},
        {"http://[::g]/", "IPv6"},
        {"http://[::1]x/", "Port number"},
        {"http://h!/", "Bad hostname"},
        {"", "empty"},
    };

    for (size_t i = 0; i < sizeof bad_urls / sizeof bad_urls[0]; i++) {
        err[0] = '\0';
        CHECK_EQ_INT(jc_conf_set(c, "token.url", bad_urls[i].url, err, sizeof err),
                     JC_ERR_INVALID_CONF);
        CHECK_MSG(strstr(err, bad_urls[i].why) && strstr(err, "token.url"), "%s: '%s'",
                  bad_urls[i].url, err);
    }
    {
        jc_http_url u;
        CHECK(jc_http_url_parse("http://[::1]:8080/a/", &u, err, sizeof err) == 0);
        CHECK(strcmp(u.host, "::1") == 0 && strcmp(u.base, "http://[::1]:8080/a") == 0 &&
              !u.https);
        CHECK(jc_http_url_parse("HTTP://Coord.example", &u, err, sizeof err) == 0);
        CHECK(strcmp(u.host, "Coord.example") == 0 && !u.https);
        CHECK(jc_http_url_parse("http://h:00080/", &u, err, sizeof err) == 0 &&
              strcmp(u.base, "http://h:00080") == 0);
        CHECK(jc_http_url_parse("HTTPS://coordinator.example:8443/jc/", &u, err, sizeof err) == 0);
        CHECK(u.https && strcmp(u.host, "coordinator.example") == 0 &&
              strcmp(u.base, "HTTPS://coordinator.example:8443/jc") == 0);
    }
    CHECK_EQ_INT(jc_conf_set(c, "token.url", "https://coordinator:8443", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_conf_set(c, "token.url", "http://coordinator:8080/", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_conf_set(c, "token.scope", "jobs:submit", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_conf_set(c, "token.scope", "a b", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_conf_set(c, "token.scope", "", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.scope", "a  b", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.scope", " a", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.scope", "a\"b", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.scope", "a\\b", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.scope", "a\tb", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_MSG(strstr(err, "token.scope"), "%s", err);
    CHECK_EQ_INT(jc_conf_set(c, "token.audience", "a b", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.audience", "", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.refresh.margin.ms", "-1", err, sizeof err),
                 JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.refresh.margin.ms", "0", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_conf_set(c, "token.timeout.ms", "99", err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.timeout.ms", "600001", err, sizeof err),
                 JC_ERR_INVALID_CONF);
    CHECK_EQ_INT(jc_conf_set(c, "token.timeout.ms", "100", err, sizeof err), JC_OK);
    CHECK_EQ_INT(jc_conf_set(c, "token.refresh_margin_ms", "1", err, sizeof err),
                 JC_ERR_UNKNOWN_CONF);

    /* the source needs the identity and token.url */
    CHECK_EQ_INT(jc_token_source_new(c, &ts, err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK(ts == NULL);
    CHECK_MSG(strstr(err, "principal"), "%s", err);
    jc_conf_set(c, "principal", PRINCIPAL, err, sizeof err);
    jc_conf_set(c, "key.id", KEY_ID, err, sizeof err);
    CHECK_EQ_INT(jc_token_source_new(c, &ts, err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_MSG(strstr(err, "key"), "%s", err);
    jc_conf_set(c, "key.file", "/nonexistent/key", err, sizeof err);
    CHECK_EQ_INT(jc_token_source_new(c, &ts, err, sizeof err), JC_ERR_IO);
    jc_conf_set(c, "key", "c2hvcnQ=", err, sizeof err);
    CHECK_EQ_INT(jc_token_source_new(c, &ts, err, sizeof err), JC_ERR_INVALID_CONF);
    jc_conf_set(c, "key", key_b64, err, sizeof err);
    CHECK_EQ_INT(jc_token_source_new(c, &ts, err, sizeof err), JC_OK);
    jc_token_source_destroy(ts);
    jc_conf_destroy(c);
    c = jc_conf_new();
    jc_conf_set(c, "principal", PRINCIPAL, err, sizeof err);
    jc_conf_set(c, "key.id", KEY_ID, err, sizeof err);
    jc_conf_set(c, "key", key_b64, err, sizeof err);
    CHECK_EQ_INT(jc_token_source_new(c, &ts, err, sizeof err), JC_ERR_INVALID_CONF);
    CHECK_MSG(strstr(err, "token.url is required"), "%s", err);
    CHECK_EQ_INT(jc_token_source_new(NULL, &ts, err, sizeof err), JC_ERR_INVALID_ARG);
    jc_conf_destroy(c);
}

/* ---- SASL/OAUTHBEARER ---- */

static rd_kafka_mock_cluster_t *mock_start(rd_kafka_t **host)
{
    rd_kafka_conf_t *hc = rd_kafka_conf_new();
    char err[256];
    rd_kafka_conf_set(hc, "log_level", "0", err, sizeof err);
    *host = rd_kafka_new(RD_KAFKA_PRODUCER, hc, err, sizeof err);
    return rd_kafka_mock_cluster_new(*host, 1);
}

/* wait_counts polls until rk's refresh callback handed over a token or
 * failed, up to 10 s. */
static void wait_counts(rd_kafka_t *rk, uint64_t *set, uint64_t *failed)
{
    for (int i = 0; i < 200; i++) {
        jc_sdk_kafka_oauth_counts(rk, set, failed);
        if (*set || *failed)
            return;
        sleep_ms(50);
    }
}

static void noop_dr(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
    (void)rk;
    (void)m;
    (void)opaque;
}

static void test_sdk_oauthbearer(void)
{
    rd_kafka_t *host, *rk;
    rd_kafka_mock_cluster_t *mc = mock_start(&host);
    jc_conf_t *c = make_conf("kafka.security.protocol", "SASL_PLAINTEXT", "kafka.sasl.mechanism",
                             "OAUTHBEARER");
    char err[512], url[128];
    uint64_t set = 0, failed = 0;
    jc_worker_t *w;

    jc_conf_set(c, "kafka.bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                sizeof err);
    jc_conf_set(c, "kafka.log_level", "0", err, sizeof err);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/token", srv.port);

    /* a producer: the callback fetches a token, librdkafka takes it, with
     * nobody polling the handle (the background thread serves it) */
    script_tokens(900);
    rk = jc_sdk_producer(c, "5", NULL, noop_dr, err, sizeof err);
    CHECK_MSG(rk != NULL, "%s", err);
    if (rk) {
        wait_counts(rk, &set, &failed);
        CHECK_EQ_INT(set, 1);
        CHECK_EQ_INT(failed, 0);
        CHECK_EQ_INT(requests(), 1);
        check_request("/v1/token", url, NULL);
        jc_sdk_kafka_destroy(rk);
    }

    /* the token endpoint refuses: librdkafka is told why */
    script_answer(401, "{\"error\":\"invalid_client\",\"error_description\":\"key retired\"}");
    rk = jc_sdk_producer(c, "5", NULL, noop_dr, err, sizeof err);
    CHECK(rk != NULL);
    if (rk) {
        wait_counts(rk, &set, &failed);
        CHECK_EQ_INT(set, 0);
        CHECK_EQ_INT(failed, 1);
        jc_sdk_kafka_destroy(rk);
    }

    /* a broken answer (its token expired long ago): a failure too */
    script_answer(200, "{\"access_token\":\"eyJhbGciOiJub25lIn0.eyJleHAiOjF9.\","
                       "\"token_type\":\"Bearer\"}");
    rk = jc_sdk_producer(c, "5", NULL, noop_dr, err, sizeof err);
    if (rk) {
        wait_counts(rk, &set, &failed);
        CHECK_EQ_INT(set, 0);
        CHECK_EQ_INT(failed, 1);
        jc_sdk_kafka_destroy(rk);
    }

    /* a worker: its producer at jc_worker_new, its command consumer at
     * jc_worker_start each get their token */
    script_tokens(900);
    w = jc_worker_new(jc_conf_dup(c), err, sizeof err);
    CHECK_MSG(w != NULL, "%s", err);
    if (w) {
        CHECK(jc_worker_start(w, err, sizeof err) == JC_OK);
        for (int i = 0; i < 200 && requests() < 2; i++)
            sleep_ms(50);
        CHECK_EQ_INT(requests(), 2);
        check_request("/v1/token", url, NULL);
        jc_worker_stop(w, 100);
        jc_worker_destroy(w);
    }

    /* OAUTHBEARER without token.url: refused at creation, clearly */
    {
        jc_conf_t *d = jc_conf_dup(c);
        jc_conf_t *e = jc_conf_new();
        const char *names[] = {"principal", "key.id", "key", "kafka.bootstrap.servers",
                               "kafka.security.protocol", "kafka.sasl.mechanism"};
        for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
            jc_conf_set(e, names[i], jc_conf_get(d, names[i]), err, sizeof err);
        CHECK(jc_sdk_producer(e, "5", NULL, noop_dr, err, sizeof err) == NULL);
        CHECK_MSG(strstr(err, "OAUTHBEARER") && strstr(err, "token.url"), "%s", err);
        CHECK(jc_worker_new(e, err, sizeof err) == NULL);
        jc_conf_destroy(e);
        jc_conf_destroy(d);
    }
    /* librdkafka's own OIDC client is left alone */
    {
        jc_conf_t *d = jc_conf_dup(c);
        jc_conf_set(d, "kafka.sasl.oauthbearer.method", "oidc", err, sizeof err);
        jc_conf_set(d, "kafka.sasl.oauthbearer.client.id", "x", err, sizeof err);
        jc_conf_set(d, "kafka.sasl.oauthbearer.client.secret", "y", err, sizeof err);
        jc_conf_set(d, "kafka.sasl.oauthbearer.token.endpoint.url", url, err, sizeof err);
        script_tokens(900);
        rk = jc_sdk_producer(d, "5", NULL, noop_dr, err, sizeof err);
        /* (librdkafka may be built without OIDC: then it refuses the key) */
        CHECK_MSG(rk != NULL || strstr(err, "not supported in this build"), "%s", err);
        if (rk) {
            jc_sdk_kafka_oauth_counts(rk, &set, &failed);
            CHECK(set == 0 && failed == 0);
            jc_sdk_kafka_destroy(rk);
        }
        jc_conf_destroy(d);
    }
    jc_conf_destroy(c);
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
}

/* The coordinator's side: a mint function instead of HTTP. */
typedef struct minter {
    pthread_mutex_t mu;
    int calls, fail;
    int64_t lifetime_ms;
} minter;

static int test_mint(void *opaque, char *token, size_t size, int64_t *exp_ms, char *principal,
                     size_t psize, char *err, size_t errsz)
{
    minter *m = opaque;
    int n, fail;
    int64_t life;
    pthread_mutex_lock(&m->mu);
    n = ++m->calls;
    fail = m->fail;
    life = m->lifetime_ms;
    pthread_mutex_unlock(&m->mu);
    if (fail) {
        snprintf(err, errsz, "no signing key loaded");
        return -1;
    }
    snprintf(token, size, "minted-%d", n);
    snprintf(principal, psize, "coordinator");
    *exp_ms = now_ms() + life;
    return 0;
}

static int mint_calls(minter *m)
{
    int n;
    pthread_mutex_lock(&m->mu);
    n = m->calls;
    pthread_mutex_unlock(&m->mu);
    return n;
}

static rd_kafka_conf_t *coord_conf(rd_kafka_mock_cluster_t *mc, const char *mechanism)
{
    rd_kafka_conf_t *kc = rd_kafka_conf_new();
    char err[256];
    rd_kafka_conf_set(kc, "bootstrap.servers", rd_kafka_mock_cluster_bootstraps(mc), err,
                      sizeof err);
    rd_kafka_conf_set(kc, "log_level", "0", err, sizeof err);
    rd_kafka_conf_set(kc, "security.protocol", "SASL_PLAINTEXT", err, sizeof err);
    rd_kafka_conf_set(kc, "sasl.mechanism", mechanism, err, sizeof err);
    if (strcmp(mechanism, "PLAIN") == 0) {
        rd_kafka_conf_set(kc, "sasl.username", "u", err, sizeof err);
        rd_kafka_conf_set(kc, "sasl.password", "p", err, sizeof err);
    }
    return kc;
}

static void test_coordinator_oauthbearer(void)
{
    rd_kafka_t *host, *rk;
    rd_kafka_mock_cluster_t *mc = mock_start(&host);
    minter m = {PTHREAD_MUTEX_INITIALIZER, 0, 0, 3600000};
    /* a module's conf opaque, which starts with a jc_kafka_client */
    struct {
        jc_kafka_client kafka;
        int own;
    } module = {{test_mint, &m}, 42};
    const jc_kafka_client no_mint = {NULL, NULL};
    rd_kafka_conf_t *kc;
    char err[256];

    /* only when asked for */
    kc = coord_conf(mc, "PLAIN");
    CHECK_EQ_INT(jc_kafka_oauth_setup(kc), 0);
    rd_kafka_conf_destroy(kc);
    kc = coord_conf(mc, "OAUTHBEARER");
    if (rd_kafka_conf_set(kc, "sasl.oauthbearer.method", "oidc", err, sizeof err) ==
        RD_KAFKA_CONF_OK) /* (a librdkafka built without OIDC refuses it) */
        CHECK_EQ_INT(jc_kafka_oauth_setup(kc), 0);
    rd_kafka_conf_destroy(kc);
    kc = coord_conf(mc, "OAUTHBEARER");
    rd_kafka_conf_set(kc, "enable.sasl.oauthbearer.unsecure.jwt", "true", err, sizeof err);
    CHECK_EQ_INT(jc_kafka_oauth_setup(kc), 0);
    rd_kafka_conf_destroy(kc);

    /* a polled handle: the callback runs inside rd_kafka_poll and finds the
     * mint function through the module's own conf opaque */
    kc = coord_conf(mc, "OAUTHBEARER");
    CHECK_EQ_INT(jc_kafka_oauth_setup(kc), 1);
    rd_kafka_conf_set_opaque(kc, &module);
    rk = rd_kafka_new(RD_KAFKA_PRODUCER, kc, err, sizeof err);
    CHECK_MSG(rk != NULL, "%s", err);
    if (rk) {
        for (int i = 0; i < 100 && mint_calls(&m) == 0; i++)
            rd_kafka_poll(rk, 50);
        CHECK_EQ_INT(mint_calls(&m), 1);
        CHECK(rd_kafka_opaque(rk) == &module);
        /* the callback's body, again: librdkafka takes the token */
        CHECK_EQ_INT(jc_kafka_oauth_refresh(rk, &module.kafka), 0);
        CHECK_EQ_INT(mint_calls(&m), 2);
        /* an expired token is refused by librdkafka, a failed mint reported */
        pthread_mutex_lock(&m.mu);
        m.lifetime_ms = -1000;
        pthread_mutex_unlock(&m.mu);
        CHECK_EQ_INT(jc_kafka_oauth_refresh(rk, &module.kafka), -1);
        pthread_mutex_lock(&m.mu);
        m.lifetime_ms = 3600000;
        m.fail = 1;
        pthread_mutex_unlock(&m.mu);
        CHECK_EQ_INT(jc_kafka_oauth_refresh(rk, &module.kafka), -1);
        CHECK_EQ_INT(jc_kafka_oauth_refresh(rk, &no_mint), -1);
        CHECK_EQ_INT(jc_kafka_oauth_refresh(rk, NULL), -1);
        pthread_mutex_lock(&m.mu);
        m.fail = 0;
        pthread_mutex_unlock(&m.mu);
        CHECK_EQ_INT(jc_kafka_oauth_refresh(rk, &module.kafka), 0);
        rd_kafka_destroy(rk);
    }

    /* a consumer served by rd_kafka_consumer_poll (as the ingest loop is):
     * librdkafka calls again at 80% of a short token's lifetime, which it
     * would not do had it refused the token (it retries refused ones after
     * 10 s) */
    pthread_mutex_lock(&m.mu);
    m.calls = 0;
    m.lifetime_ms = 1500;
    pthread_mutex_unlock(&m.mu);
    kc = coord_conf(mc, "OAUTHBEARER");
    rd_kafka_conf_set(kc, "group.id", "coordinator", err, sizeof err);
    CHECK_EQ_INT(jc_kafka_oauth_setup(kc), 1);
    rd_kafka_conf_set_opaque(kc, &module);
    rk = rd_kafka_new(RD_KAFKA_CONSUMER, kc, err, sizeof err);
    CHECK_MSG(rk != NULL, "%s", err);
    if (rk) {
        rd_kafka_poll_set_consumer(rk);
        for (int i = 0; i < 100 && mint_calls(&m) < 2; i++) {
            rd_kafka_message_t *msg = rd_kafka_consumer_poll(rk, 50);
            if (msg)
                rd_kafka_message_destroy(msg);
        }
        CHECK_MSG(mint_calls(&m) >= 2, "mint called %d times", mint_calls(&m));
        rd_kafka_consumer_close(rk);
        rd_kafka_destroy(rk);
    }
    rd_kafka_mock_cluster_destroy(mc);
    rd_kafka_destroy(host);
}

int main(void)
{
    static const char *const proxy_vars[] = {"http_proxy", "all_proxy", "ALL_PROXY"};

    /* libcurl takes proxies from the environment: this test's endpoint is
     * on loopback, not behind the machine's proxy */
    for (size_t i = 0; i < sizeof proxy_vars / sizeof proxy_vars[0]; i++)
        unsetenv(proxy_vars[i]);
    CHECK(sodium_init() >= 0);
    randombytes_buf(key, sizeof key);
    sodium_bin2base64(key_b64, sizeof key_b64, key, sizeof key, sodium_base64_VARIANT_ORIGINAL);
    server_start();
    test_conf();
    test_fetch_cache_invalidate();
    test_refresh_before_expiry();
    test_scope_audience_prefix();
    test_expiry_from_jwt();
    test_error_answers();
    test_broken_http();
    test_no_server();
    test_threads();
    test_sdk_oauthbearer();
    test_coordinator_oauthbearer();
    server_stop();
    return check_done("test_sdk_token");
}
