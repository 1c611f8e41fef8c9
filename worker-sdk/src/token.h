/*
 * token.h - what the SDK's Kafka setup (kafka.c) and configuration checks
 * (conf.c) need of the token source beyond the public API.
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

#endif
