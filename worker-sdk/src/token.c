/*
 * token.c - the token source: OAuth 2 client credentials against the
 * coordinator's token endpoint, authenticated with client_secret_jwt
 * (RFC 7523 2.2): an HS256 JWT signed with the principal's HMAC key, so the
 * key never leaves the process.
 *
 * The cache: one token per source, handed out until less than the refresh
 * margin remains. The margin is capped at half the token's lifetime, so a
 * coordinator that issues short tokens does not make every call fetch. A
 * failed refresh while the cached token is still valid is not an error for
 * the caller (the old token still works); the next attempt waits a second,
 * so a down coordinator is not hammered by a busy caller. One mutex
 * serialises everything, fetches included: callers that arrive during a
 * fetch get its token instead of starting their own.
 *
 * Times are wall-clock milliseconds, since that is what the token's expiry
 * and librdkafka's md_lifetime_ms are. The expiry counts from when the
 * request was sent, so a slow answer errs on the early side.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "httpc.h"
#include "jcproto/jwt.h"
#include "kafka.h"
#include "token.h"

#define TOKEN_PATH "/v1/token"
#define ASSERTION_TTL_S 60
#define DEFAULT_MARGIN_MS 60000
#define DEFAULT_TIMEOUT_MS 10000
#define RETRY_AFTER_FAILURE_MS 1000
#define STALE_MIN_MS 1000 /* a cached token closer to expiry is not handed out */
#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct jc_token_source_s {
    jc_identity id;
    jc_http_url url;
    char audience[sizeof(((jc_http_url *)0)->base) + sizeof TOKEN_PATH];
    char scope[JC_TOKEN_SCOPE_MAX + 1]; /* "" asks for the default */
    int64_t margin_ms;
    int timeout_ms;
    char *ca_file; /* token.tls.ca.file, or NULL */
    pthread_mutex_t mu;
    /* the cache, under mu */
    char token[JC_TOKEN_MAX_LEN + 1]; /* "" when none */
    char granted[JC_TOKEN_SCOPE_MAX + 1];
    int64_t expires_at_ms, refresh_at_ms, retry_at_ms;
};

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int jc_token_check_url(const char *value, char *errstr, size_t errstr_size)
{
    jc_http_url u;
    char why[256];
    if (jc_http_url_parse(value, &u, why, sizeof why) < 0) {
        snprintf(errstr, errstr_size, "token.url: %s", why);
        return -1;
    }
    return 0;
}

/* scope_char: RFC 6749 3.3 scope-token characters. */
static int scope_char(unsigned char c)
{
    return c == 0x21 || (c >= 0x23 && c <= 0x5b) || (c >= 0x5d && c <= 0x7e);
}

int jc_token_check_scope(const char *value, char *errstr, size_t errstr_size)
{
    size_t n = strlen(value);
    int ok = n > 0 && n <= JC_TOKEN_SCOPE_MAX && value[0] != ' ' && value[n - 1] != ' ';
    for (size_t i = 0; ok && i < n; i++)
        ok = scope_char((unsigned char)value[i]) ||
             (value[i] == ' ' && value[i + 1] != ' ');
    if (!ok) {
        snprintf(errstr, errstr_size,
                 "token.scope must be scopes separated by single spaces (printable ASCII, no "
                 "'\"' or '\\\\'), at most %d bytes",
                 JC_TOKEN_SCOPE_MAX);
        return -1;
    }
    return 0;
}

int jc_token_check_audience(const char *value, char *errstr, size_t errstr_size)
{
    size_t n = strlen(value);
    int ok = n > 0 && n < sizeof(((jc_token_source_t *)0)->audience);
    for (size_t i = 0; ok && i < n; i++)
        ok = (unsigned char)value[i] > 0x20 && (unsigned char)value[i] < 0x7f;
    if (!ok) {
        snprintf(errstr, errstr_size, "token.audience must be 1 to %zu printable ASCII bytes",
                 sizeof(((jc_token_source_t *)0)->audience) - 1);
        return -1;
    }
    return 0;
}

/* conf_int reads an integer key that jc_conf_set has range-checked. */
static long conf_int(const jc_conf_t *conf, const char *name, long dflt)
{
    const char *v = jc_conf_get(conf, name);
    return v ? strtol(v, NULL, 10) : dflt;
}

jc_err_t jc_token_source_new(const jc_conf_t *conf, jc_token_source_t **out, char *errstr,
                             size_t errstr_size)
{
    jc_token_source_t *ts;
    const char *url, *scope, *aud, *ca_file;
    char why[256];
    jc_err_t err;

    if (!conf || !out) {
        snprintf(errstr, errstr_size, "jc_token_source_new: NULL argument");
        return JC_ERR_INVALID_ARG;
    }
    *out = NULL;
    url = jc_conf_get(conf, "token.url");
    scope = jc_conf_get(conf, "token.scope");
    aud = jc_conf_get(conf, "token.audience");
    ca_file = jc_conf_get(conf, "token.tls.ca.file");
    if (!url) {
        snprintf(errstr, errstr_size,
                 "token.url is required (the coordinator's base URL, http[s]://host[:port])");
        return JC_ERR_INVALID_CONF;
    }
    if (jc_token_check_url(url, errstr, errstr_size) < 0 ||
        (scope && jc_token_check_scope(scope, errstr, errstr_size) < 0) ||
        (aud && jc_token_check_audience(aud, errstr, errstr_size) < 0))
        return JC_ERR_INVALID_CONF;
    /* read at every https request (so a renewed CA file is taken), but a
     * file that cannot be read is a mistake worth saying now */
    if (ca_file && access(ca_file, R_OK) < 0) {
        snprintf(errstr, errstr_size, "token.tls.ca.file: cannot read %s: %s", ca_file,
                 strerror(errno));
        return JC_ERR_IO;
    }
    if (jc_http_init(errstr, errstr_size) < 0)
        return JC_ERR_IO;
    ts = calloc(1, sizeof *ts);
    if (ts && ca_file)
        ts->ca_file = strdup(ca_file);
    if (!ts || (ca_file && !ts->ca_file)) {
        free(ts);
        snprintf(errstr, errstr_size, "out of memory");
        return JC_ERR_NOMEM;
    }
    err = jc_sdk_identity(conf, &ts->id, errstr, errstr_size);
    if (err) {
        jc_identity_destroy(&ts->id);
        free(ts->ca_file);
        free(ts);
        return err;
    }
    jc_http_url_parse(url, &ts->url, why, sizeof why);
    snprintf(ts->audience, sizeof ts->audience, "%s%s", aud ? aud : ts->url.base,
             aud ? "" : TOKEN_PATH);
    snprintf(ts->scope, sizeof ts->scope, "%s", scope ? scope : "");
    ts->margin_ms = conf_int(conf, "token.refresh.margin.ms", DEFAULT_MARGIN_MS);
    ts->timeout_ms = (int)conf_int(conf, "token.timeout.ms", DEFAULT_TIMEOUT_MS);
    pthread_mutex_init(&ts->mu, NULL);
    *out = ts;
    return JC_OK;
}

void jc_token_source_destroy(jc_token_source_t *ts)
{
    if (!ts)
        return;
    pthread_mutex_destroy(&ts->mu);
    jc_identity_destroy(&ts->id);
    free(ts->ca_file);
    sodium_memzero(ts, sizeof *ts); /* the HMAC key and the token */
    free(ts);
}

const char *jc_token_source_principal(const jc_token_source_t *ts) { return ts->id.principal; }

/* json_str writes s as a JSON string (quoted, escaped) into out. */
static void json_str(char *out, size_t out_size, const char *s)
{
    size_t o = 0;
    if (out_size < 3) {
        if (out_size)
            out[0] = '\0';
        return;
    }
    out[o++] = '"';
    for (; *s && o + 8 < out_size; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            out[o++] = '\\';
            out[o++] = (char)c;
        } else if (c < 0x20) {
            o += (size_t)snprintf(out + o, out_size - o, "\\u%04x", c);
        } else {
            out[o++] = (char)c;
        }
    }
    out[o++] = '"';
    out[o] = '\0';
}

/* form_escape appends s, form-urlencoded, at out + *o. -1 if it does not fit. */
static int form_escape(char *out, size_t out_size, size_t *o, const char *s)
{
    static const char hex[] = "0123456789ABCDEF";
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (*o + 4 >= out_size)
            return -1;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '.' || c == '_' || c == '~') {
            out[(*o)++] = (char)c;
        } else {
            out[(*o)++] = '%';
            out[(*o)++] = hex[c >> 4];
            out[(*o)++] = hex[c & 15];
        }
    }
    out[*o] = '\0';
    return 0;
}

/* judge reads an answer of the token endpoint into the cache (under mu). */
static jc_err_t judge(jc_token_source_t *ts, const jc_http_answer *a, int64_t sent_ms,
                      char *errstr, size_t errstr_size)
{
    jc_token_answer *got = malloc(sizeof *got);
    int64_t margin = ts->margin_ms, half;
    jc_err_t err;

    if (!got) {
        snprintf(errstr, errstr_size, "out of memory");
        return JC_ERR_NOMEM;
    }
    err = jc_token_read_answer(a->status, a->body, a->body_len, sent_ms, got, errstr,
                               errstr_size);
    if (!err) {
        half = (got->expires_at_ms - sent_ms) / 2;
        memcpy(ts->token, got->token, sizeof ts->token);
        memcpy(ts->granted, got->scope, sizeof ts->granted);
        ts->expires_at_ms = got->expires_at_ms;
        ts->refresh_at_ms = got->expires_at_ms - (margin < half ? margin : half);
        ts->retry_at_ms = 0;
    }
    sodium_memzero(got, sizeof *got);
    free(got);
    return err;
}

/* fetch asks the token endpoint for a new token (under mu). */
static jc_err_t fetch(jc_token_source_t *ts, char *errstr, size_t errstr_size)
{
    char header[256], claims[4096], iss[160], aud[2 * sizeof ts->audience + 16], kid[96];
    char assertion[JC_JWT_MAX + 1], jti[32], form[JC_JWT_MAX + 3 * JC_TOKEN_SCOPE_MAX + 256];
    char why[512], key_id[JC_MAX_KEY_ID_LEN + 1];
    uint8_t jti_raw[16], key[JC_KEY_LEN];
    int64_t sent_ms = wall_ms(), now_s = sent_ms / 1000;
    jc_http_answer answer;
    jc_http_opts opts = {ts->timeout_ms, ts->ca_file};
    size_t o;
    jc_err_t err;

    randombytes_buf(jti_raw, sizeof jti_raw);
    jc_b64url_encode(jti_raw, sizeof jti_raw, jti, sizeof jti);
    jc_identity_signer(&ts->id, key_id, key); /* a rotated key.file is taken here too */
    json_str(kid, sizeof kid, key_id);
    json_str(iss, sizeof iss, ts->id.principal);
    json_str(aud, sizeof aud, ts->audience);
    snprintf(header, sizeof header, "{\"alg\":\"HS256\",\"typ\":\"JWT\",\"kid\":%s}", kid);
    snprintf(claims, sizeof claims,
             "{\"iss\":%s,\"sub\":%s,\"aud\":%s,\"jti\":\"%s\",\"iat\":%lld,\"exp\":%lld}", iss,
             iss, aud, jti, (long long)now_s, (long long)(now_s + ASSERTION_TTL_S));
    if (jc_jws_sign(JC_JWS_HS256, header, claims, key, assertion, sizeof assertion) < 0) {
        sodium_memzero(key, sizeof key);
        snprintf(errstr, errstr_size, "cannot sign the client assertion");
        return JC_ERR_INVALID_ARG;
    }
    sodium_memzero(key, sizeof key);
    o = (size_t)snprintf(form, sizeof form,
                         "grant_type=client_credentials&client_assertion_type=");
    form_escape(form, sizeof form, &o, ASSERTION_TYPE);
    o += (size_t)snprintf(form + o, sizeof form - o, "&client_assertion=%s", assertion);
    if (ts->scope[0]) {
        o += (size_t)snprintf(form + o, sizeof form - o, "&scope=");
        form_escape(form, sizeof form, &o, ts->scope);
    }
    err = jc_http_post_form(&ts->url, TOKEN_PATH, form, o, &opts, &answer, why, sizeof why);
    sodium_memzero(assertion, sizeof assertion);
    sodium_memzero(form, sizeof form);
    if (err) {
        snprintf(errstr, errstr_size, "token endpoint %s%s: %s", ts->url.base, TOKEN_PATH, why);
        return err;
    }
    err = judge(ts, &answer, sent_ms, why, sizeof why);
    if (err)
        snprintf(errstr, errstr_size, "token endpoint %s%s: %s", ts->url.base, TOKEN_PATH, why);
    if (answer.body)
        sodium_memzero(answer.body, answer.body_len);
    jc_http_answer_free(&answer);
    return err;
}

/* token_get is jc_token_get; force fetches even when the cache is fresh. */
static jc_err_t token_get(jc_token_source_t *ts, int force, char *out, size_t out_size,
                          int64_t *expires_at_ms, char *errstr, size_t errstr_size)
{
    jc_err_t err = JC_OK;
    int64_t now;
    size_t len;

    if (!ts || !out) {
        snprintf(errstr, errstr_size, "jc_token_get: NULL argument");
        return JC_ERR_INVALID_ARG;
    }
    pthread_mutex_lock(&ts->mu);
    now = wall_ms();
    if (!ts->token[0] || force || now >= ts->refresh_at_ms) {
        int usable = ts->token[0] && now < ts->expires_at_ms - STALE_MIN_MS;
        if (!usable || force || now >= ts->retry_at_ms) {
            err = fetch(ts, errstr, errstr_size);
            if (err && usable) {
                ts->retry_at_ms = now + RETRY_AFTER_FAILURE_MS;
                err = JC_OK; /* the cached token still works */
            }
        }
    }
    if (!err) {
        len = strlen(ts->token);
        if (len + 1 > out_size) {
            snprintf(errstr, errstr_size, "the token has %zu bytes: out is too small", len);
            err = JC_ERR_TOO_LARGE;
        } else {
            memcpy(out, ts->token, len + 1);
            if (expires_at_ms)
                *expires_at_ms = ts->expires_at_ms;
        }
    }
    pthread_mutex_unlock(&ts->mu);
    return err;
}

jc_err_t jc_token_get(jc_token_source_t *ts, char *out, size_t out_size, int64_t *expires_at_ms,
                      char *errstr, size_t errstr_size)
{
    return token_get(ts, 0, out, out_size, expires_at_ms, errstr, errstr_size);
}

jc_err_t jc_token_refresh(jc_token_source_t *ts, char *out, size_t out_size,
                          int64_t *expires_at_ms, char *errstr, size_t errstr_size)
{
    return token_get(ts, 1, out, out_size, expires_at_ms, errstr, errstr_size);
}

jc_err_t jc_token_scope(jc_token_source_t *ts, char *out, size_t out_size)
{
    jc_err_t err = JC_OK;
    if (!ts || !out || !out_size)
        return JC_ERR_INVALID_ARG;
    pthread_mutex_lock(&ts->mu);
    if (strlen(ts->granted) >= out_size)
        err = JC_ERR_TOO_LARGE;
    else
        memcpy(out, ts->granted, strlen(ts->granted) + 1);
    pthread_mutex_unlock(&ts->mu);
    return err;
}

void jc_token_invalidate(jc_token_source_t *ts)
{
    if (!ts)
        return;
    pthread_mutex_lock(&ts->mu);
    sodium_memzero(ts->token, sizeof ts->token);
    ts->granted[0] = '\0';
    ts->expires_at_ms = ts->refresh_at_ms = ts->retry_at_ms = 0;
    pthread_mutex_unlock(&ts->mu);
}
