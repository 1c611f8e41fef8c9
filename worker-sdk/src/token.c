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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sodium.h>

#include "httpc.h"
#include "jcproto/json.h"
#include "jcproto/jwt.h"
#include "kafka.h"
#include "token.h"

#define TOKEN_PATH "/v1/token"
#define ASSERTION_TTL_S 60
#define DEFAULT_MARGIN_MS 60000
#define DEFAULT_TIMEOUT_MS 10000
#define RETRY_AFTER_FAILURE_MS 1000
#define STALE_MIN_MS 1000         /* a cached token closer to expiry is not handed out */
#define MAX_EXPIRES_IN_S 31536000 /* a year: anything longer is a mistake */
#define ANSWER_TOKENS 256
#define ASSERTION_TYPE "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"

struct jc_token_source_s {
    jc_identity id;
    jc_http_url url;
    char audience[sizeof(((jc_http_url *)0)->base) + sizeof TOKEN_PATH];
    char scope[JC_TOKEN_SCOPE_MAX + 1]; /* "" asks for the default */
    int64_t margin_ms;
    int timeout_ms;
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
    const char *url, *scope, *aud;
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
    if (!url) {
        snprintf(errstr, errstr_size,
                 "token.url is required (the coordinator's base URL, http://host:port)");
        return JC_ERR_INVALID_CONF;
    }
    if (jc_token_check_url(url, errstr, errstr_size) < 0 ||
        (scope && jc_token_check_scope(scope, errstr, errstr_size) < 0) ||
        (aud && jc_token_check_audience(aud, errstr, errstr_size) < 0))
        return JC_ERR_INVALID_CONF;
    ts = calloc(1, sizeof *ts);
    if (!ts) {
        snprintf(errstr, errstr_size, "out of memory");
        return JC_ERR_NOMEM;
    }
    err = jc_sdk_identity(conf, &ts->id, errstr, errstr_size);
    if (err) {
        jc_identity_destroy(&ts->id);
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

/* clean_text makes server text safe to show: printable ASCII, cut. */
static void clean_text(char *s, size_t max)
{
    size_t n = strlen(s);
    if (n > max)
        s[max] = '\0';
    for (; *s; s++)
        if ((unsigned char)*s < 0x20 || (unsigned char)*s > 0x7e)
            *s = '?';
}

/* bearer_token_ok: RFC 6750 2.1 b64token, so the token can go into an
 * Authorization header as it is. */
static int bearer_token_ok(const char *t)
{
    size_t i = 0;
    while (t[i] && (strchr("-._~+/", t[i]) || (t[i] >= 'A' && t[i] <= 'Z') ||
                    (t[i] >= 'a' && t[i] <= 'z') || (t[i] >= '0' && t[i] <= '9')))
        i++;
    if (i == 0)
        return 0;
    while (t[i] == '=')
        i++;
    return t[i] == '\0';
}

/* jwt_exp_ms reads the exp claim of token (not verified: it is only a hint
 * for when to refresh, used when the answer has no expires_in). */
static int jwt_exp_ms(const char *token, int64_t *exp_ms)
{
    jc_jws *j = malloc(sizeof *j);
    int64_t exp;
    char why[128];
    int rc = -1;

    if (!j)
        return -1;
    if (jc_jws_parse(token, strlen(token), j, why, sizeof why) == 0 &&
        jc_json_int64(&j->cl, jc_json_find(&j->cl, 0, "exp"), &exp) == 0 && exp > 0 &&
        exp < INT64_MAX / 1000) {
        *exp_ms = exp * 1000;
        rc = 0;
    }
    free(j);
    return rc;
}

/* judge reads an answer of the token endpoint into the cache (under mu). */
static jc_err_t judge(jc_token_source_t *ts, const jc_http_answer *a, int64_t sent_ms,
                      char *errstr, size_t errstr_size)
{
    jc_json doc;
    jc_json_tok toks[ANSWER_TOKENS];
    char jerr[128] = "empty body", code[80] = "", desc[256] = "", type[32];
    char token[JC_TOKEN_MAX_LEN + 1], scope[JC_TOKEN_SCOPE_MAX + 1] = "";
    int parsed, i;
    int64_t expires_in, expires_at;
    jc_err_t err = JC_ERR_MALFORMED;

    parsed = a->body_len > 0 &&
             jc_json_parse(&doc, a->body, a->body_len, toks, ANSWER_TOKENS, jerr, sizeof jerr) ==
                 0;
    if (parsed && toks[0].type != JC_JSON_OBJECT) {
        parsed = 0;
        snprintf(jerr, sizeof jerr, "not a JSON object");
    }
    if (a->status != 200) {
        if (parsed) {
            jc_json_member_string(&doc, 0, "error", code, sizeof code);
            if (jc_json_member_string(&doc, 0, "error_description", desc, sizeof desc) < 0)
                jc_json_member_string(&doc, 0, "message", desc, sizeof desc);
        }
        clean_text(code, 60);
        clean_text(desc, 200);
        if (a->status >= 500 || a->status == 429 || a->status == 408)
            err = JC_ERR_TRANSPORT; /* the coordinator's trouble, not ours: retry */
        else if ((code[0] && a->status == 400) || a->status == 401 || a->status == 403)
            err = JC_ERR_AUTH; /* RFC 6749 5.2 errors, or a proxy's refusal */
        snprintf(errstr, errstr_size, "%s (HTTP %d)%s%s%s%s%s",
                 err == JC_ERR_AUTH ? "refused" : "unexpected answer", a->status,
                 code[0] ? ": " : "", code, desc[0] ? ": " : "", desc,
                 a->status == 404
                     ? " (is token.url the coordinator's public base URL, with its HTTP "
                       "listener on?)"
                     : "");
        return err;
    }
    if (!parsed) {
        snprintf(errstr, errstr_size, "the answer is not a JSON object (%s)", jerr);
        return JC_ERR_MALFORMED;
    }
    if (jc_json_member_string(&doc, 0, "access_token", token, sizeof token) <= 0 ||
        !bearer_token_ok(token)) {
        snprintf(errstr, errstr_size,
                 "the answer has no usable access_token (a string of up to %d token characters)",
                 JC_TOKEN_MAX_LEN);
        goto out;
    }
    if (jc_json_member_string(&doc, 0, "token_type", type, sizeof type) < 0 ||
        strcasecmp(type, "Bearer") != 0) {
        snprintf(errstr, errstr_size, "the answer's token_type is missing or not Bearer");
        goto out;
    }
    i = jc_json_find(&doc, 0, "expires_in");
    if (i >= 0) {
        if (jc_json_int64(&doc, i, &expires_in) < 0 || expires_in < 1 ||
            expires_in > MAX_EXPIRES_IN_S) {
            snprintf(errstr, errstr_size, "the answer's expires_in is not 1..%d seconds",
                     MAX_EXPIRES_IN_S);
            goto out;
        }
        expires_at = sent_ms + expires_in * 1000;
    } else if (i == -1 && jwt_exp_ms(token, &expires_at) == 0) {
        if (expires_at > sent_ms + (int64_t)MAX_EXPIRES_IN_S * 1000)
            expires_at = sent_ms + (int64_t)MAX_EXPIRES_IN_S * 1000;
        if (expires_at <= sent_ms) {
            snprintf(errstr, errstr_size, "the answer's token has already expired");
            goto out;
        }
    } else {
        snprintf(errstr, errstr_size, "the answer has no (single) expires_in");
        goto out;
    }
    i = jc_json_find(&doc, 0, "scope");
    if (i != -1 && jc_json_string(&doc, i, scope, sizeof scope) < 0) {
        snprintf(errstr, errstr_size, "the answer's scope is not a string of up to %d bytes",
                 JC_TOKEN_SCOPE_MAX);
        goto out;
    }
    clean_text(scope, JC_TOKEN_SCOPE_MAX);
    {
        int64_t margin = ts->margin_ms, half = (expires_at - sent_ms) / 2;
        memcpy(ts->token, token, sizeof token);
        snprintf(ts->granted, sizeof ts->granted, "%s", scope);
        ts->expires_at_ms = expires_at;
        ts->refresh_at_ms = expires_at - (margin < half ? margin : half);
        ts->retry_at_ms = 0;
    }
    err = JC_OK;
out:
    sodium_memzero(token, sizeof token);
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
    err = jc_http_post_form(&ts->url, TOKEN_PATH, form, o, ts->timeout_ms, &answer, why,
                            sizeof why);
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
