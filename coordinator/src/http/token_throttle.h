/*
 * token_throttle.h - per-address throttling of POST /v1/token, besides the
 * per-account lockout: one address spraying passwords (or assertions)
 * across many accounts is slowed to auth.token_rate_per_min requests a
 * minute after a burst of auth.token_burst, while every other address
 * keeps its own allowance. A token bucket per client address, in a
 * bounded in-memory table of this instance (token_throttle.c): each
 * coordinator instance throttles on its own.
 */
#ifndef JC_HTTP_TOKEN_THROTTLE_H
#define JC_HTTP_TOKEN_THROTTLE_H

#include <stdint.h>

#include "core/config.h"

#define JC_THROTTLE_SLOTS 4096 /* addresses remembered at once */

/* jc_token_throttle_take takes one request from address's bucket at
 * now_ms (a monotonic clock). Returns 0 when allowed; -1 when the bucket is
 * empty, with *retry_after_s the whole seconds until it holds one again.
 * auth.token_rate_per_min 0 turns throttling off. Thread-safe. */
int jc_token_throttle_take(const jc_config *cfg, const char *address, int64_t now_ms,
                           int *retry_after_s);

/* jc_token_throttled_total: requests refused (429) since start. */
uint64_t jc_token_throttled_total(void);

#endif
