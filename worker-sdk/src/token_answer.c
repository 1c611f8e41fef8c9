/*
 * token_answer.c - reading the token endpoint's answer (HTTP status and
 * body, as libcurl delivered them) into a token, its lifetime and the
 * granted scope, or into an error that says what the server said.
 *
 * It is apart from token.c because it is what a hostile or broken server
 * controls: it takes bytes and returns a verdict, with no I/O and no state,
 * so that the fuzz target (tests/fuzz/fuzz_token_answer.c) and its corpus
 * replay compile it alone, with the JSON and JWS readers under it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <sodium.h>

#include "jcproto/json.h"
#include "jcproto/jwt.h"
#include "token.h"

#define MAX_EXPIRES_IN_S 31536000 /* a year: anything longer is a mistake */

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

int jc_token_bearer_ok(const char *t)
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
    if (jc_jws_parse(token, strlen(token), j, why, sizeof why) == 0) {
        if (jc_json_int64(json_object_get(j->cl, "exp"), &exp) == 0 && exp > 0 &&
            exp < INT64_MAX / 1000) {
            *exp_ms = exp * 1000;
            rc = 0;
        }
        jc_jws_free(j);
    }
    free(j);
    return rc;
}

/* refusal describes a non-200 answer in errstr and classifies it. */
static jc_err_t refusal(int status, const json_t *doc, char *errstr, size_t errstr_size)
{
    char code[80] = "", desc[256] = "";
    jc_err_t err = JC_ERR_MALFORMED;

    if (doc) {
        jc_json_member_string(doc, "error", code, sizeof code);
        if (jc_json_member_string(doc, "error_description", desc, sizeof desc) < 0)
            jc_json_member_string(doc, "message", desc, sizeof desc);
    }
    clean_text(code, 60);
    clean_text(desc, 200);
    if (status >= 500 || status == 429 || status == 408)
        err = JC_ERR_TRANSPORT; /* the coordinator's trouble, not ours: retry */
    else if ((code[0] && status == 400) || status == 401 || status == 403)
        err = JC_ERR_AUTH; /* RFC 6749 5.2 errors, or a proxy's refusal */
    snprintf(errstr, errstr_size, "%s (HTTP %d)%s%s%s%s%s",
             err == JC_ERR_AUTH ? "refused" : "unexpected answer", status, code[0] ? ": " : "",
             code, desc[0] ? ": " : "", desc,
             status == 404 ? " (is token.url the coordinator's public base URL, with its HTTP "
                             "listener on?)"
                           : "");
    return err;
}

jc_err_t jc_token_read_answer(int status, const char *body, size_t body_len, int64_t sent_ms,
                              jc_token_answer *out, char *errstr, size_t errstr_size)
{
    json_t *doc = NULL;
    const json_t *v;
    char jerr[160] = "empty body", type[32];
    int64_t expires_in, expires_at;
    jc_err_t err = JC_ERR_MALFORMED;

    memset(out, 0, sizeof *out);
    if (body_len > 0)
        doc = jc_json_parse(body, body_len, jerr, sizeof jerr);
    if (doc && !json_is_object(doc)) {
        json_decref(doc);
        doc = NULL;
        snprintf(jerr, sizeof jerr, "not a JSON object");
    }
    if (status != 200) {
        err = refusal(status, doc, errstr, errstr_size);
        json_decref(doc);
        return err;
    }
    if (!doc) {
        snprintf(errstr, errstr_size, "the answer is not a JSON object (%s)", jerr);
        return JC_ERR_MALFORMED;
    }
    if (jc_json_member_string(doc, "access_token", out->token, sizeof out->token) <= 0 ||
        !jc_token_bearer_ok(out->token)) {
        snprintf(errstr, errstr_size,
                 "the answer has no usable access_token (a string of up to %d token characters)",
                 JC_TOKEN_MAX_LEN);
        goto out;
    }
    if (jc_json_member_string(doc, "token_type", type, sizeof type) < 0 ||
        strcasecmp(type, "Bearer") != 0) {
        snprintf(errstr, errstr_size, "the answer's token_type is missing or not Bearer");
        goto out;
    }
    v = json_object_get(doc, "expires_in");
    if (v) {
        if (jc_json_int64(v, &expires_in) < 0 || expires_in < 1 || expires_in > MAX_EXPIRES_IN_S) {
            snprintf(errstr, errstr_size, "the answer's expires_in is not 1..%d seconds",
                     MAX_EXPIRES_IN_S);
            goto out;
        }
        expires_at = sent_ms + expires_in * 1000;
    } else if (jwt_exp_ms(out->token, &expires_at) == 0) {
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
    v = json_object_get(doc, "scope");
    if (v && jc_json_string(v, out->scope, sizeof out->scope) < 0) {
        snprintf(errstr, errstr_size, "the answer's scope is not a string of up to %d bytes",
                 JC_TOKEN_SCOPE_MAX);
        goto out;
    }
    clean_text(out->scope, JC_TOKEN_SCOPE_MAX);
    out->expires_at_ms = expires_at;
    err = JC_OK;
out:
    json_decref(doc);
    if (err)
        sodium_memzero(out, sizeof *out);
    return err;
}
