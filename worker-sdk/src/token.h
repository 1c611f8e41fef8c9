/*
 * token.h - what the SDK's Kafka setup (kafka.c) and configuration checks
 * (conf.c) need of the token source beyond the public API, and the reader
 * of the token endpoint's answers (token_answer.c), kept apart from the
 * HTTP exchange so that it can be tested and fuzzed alone.
 */
#ifndef JC_SDK_TOKEN_H
#define JC_SDK_TOKEN_H

#include <stddef.h>
#include <stdint.h>

#include "jobcoord/jobcoord.h"

#define JC_TOKEN_SCOPE_MAX 1023 /* token.scope, and the scope granted */

/* jc_token_refresh is jc_token_get for librdkafka's refresh callback, which
 * asks only when it wants a new token: it fetches one even if the cached
 * token is fresh (falling back on the cached one, as jc_token_get does, if
 * the fetch fails while it is still valid). */
jc_err_t jc_token_refresh(jc_token_source_t *ts, char *out, size_t out_size,
                          int64_t *expires_at_ms, char *errstr, size_t errstr_size);

/* jc_token_source_principal returns the principal id the tokens are for. */
const char *jc_token_source_principal(const jc_token_source_t *ts);

/* Value checks for conf.c: 0, or -1 with errstr. */
int jc_token_check_url(const char *value, char *errstr, size_t errstr_size);
int jc_token_check_scope(const char *value, char *errstr, size_t errstr_size);
int jc_token_check_audience(const char *value, char *errstr, size_t errstr_size);

/* What a token endpoint's 200 answer gives. */
typedef struct jc_token_answer {
    char token[JC_TOKEN_MAX_LEN + 1];
    char scope[JC_TOKEN_SCOPE_MAX + 1]; /* "" when the answer names none; printable ASCII */
    int64_t expires_at_ms;              /* wall clock, > sent_ms */
} jc_token_answer;

/* jc_token_read_answer judges an answer of the token endpoint: its HTTP
 * status and body (body_len bytes, which need not end in a NUL), for a
 * request sent at sent_ms (wall-clock ms). JC_OK with *out filled (the
 * token passes jc_token_bearer_ok); otherwise JC_ERR_AUTH (refused),
 * JC_ERR_TRANSPORT (the server's trouble: 5xx, 408, 429) or
 * JC_ERR_MALFORMED, with errstr in printable ASCII, and *out zeroed. No
 * I/O, no state: any thread. */
jc_err_t jc_token_read_answer(int status, const char *body, size_t body_len, int64_t sent_ms,
                              jc_token_answer *out, char *errstr, size_t errstr_size);

/* jc_token_bearer_ok: t is an RFC 6750 2.1 b64token, so it can go into an
 * Authorization header as it is. */
int jc_token_bearer_ok(const char *t);

#endif
