/*
 * token_throttle.c - the per-address token buckets of POST /v1/token (see
 * token_throttle.h).
 *
 * The table is open addressing over JC_THROTTLE_SLOTS slots, probed 8 at
 * a time from the address's hash (BLAKE2b keyed with a random key made at
 * start, so a client cannot aim its addresses at one slot). A new address
 * takes an empty probed slot, else the probed slot whose bucket would be
 * fullest now: a full bucket holds nothing worth remembering, so the
 * addresses evicted first are the ones that are not being throttled. One
 * mutex guards the table; each request holds it for a few probes.
 */
#include "http/token_throttle.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include <sodium.h>

#define PROBES 8
#define ADDR_MAX 64

typedef struct slot {
    char address[ADDR_MAX]; /* "" when empty */
    double tokens;          /* requests left, at last_ms */
    int64_t last_ms;
} slot;

static slot table[JC_THROTTLE_SLOTS];
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static unsigned char hash_key[crypto_generichash_KEYBYTES];
static atomic_uint_fast64_t throttled;

static void make_key(void)
{
    randombytes_buf(hash_key, sizeof hash_key);
}

/* refill gives s the tokens earned since its last use, up to burst. */
static double refill(const slot *s, int64_t now_ms, double per_ms, double burst)
{
    double t = s->tokens + (double)(now_ms - s->last_ms) * per_ms;
    return t > burst ? burst : t;
}

int jc_token_throttle_take(const jc_config *cfg, const char *address, int64_t now_ms,
                           int *retry_after_s)
{
    double per_ms = cfg->token_rate_per_min / 60000.0, burst = cfg->token_burst;
    unsigned char h[8];
    uint64_t start = 0;
    slot *s = NULL, *victim = NULL;
    double victim_tokens = -1;
    int rc = 0;

    if (cfg->token_rate_per_min <= 0 || !address || !address[0])
        return 0;
    pthread_once(&key_once, make_key);
    crypto_generichash(h, sizeof h, (const unsigned char *)address, strlen(address), hash_key,
                       sizeof hash_key);
    for (int i = 0; i < 8; i++)
        start = start << 8 | h[i];
    pthread_mutex_lock(&lock);
    for (int p = 0; p < PROBES && !s; p++) {
        slot *c = &table[(start + (uint64_t)p) % JC_THROTTLE_SLOTS];
        double t;
        if (strcmp(c->address, address) == 0) {
            s = c;
            break;
        }
        t = c->address[0] ? refill(c, now_ms, per_ms, burst) : burst + 1; /* empty: best */
        if (t > victim_tokens) {
            victim_tokens = t;
            victim = c;
        }
    }
    if (!s) {
        s = victim;
        snprintf(s->address, sizeof s->address, "%s", address);
        s->tokens = burst;
        s->last_ms = now_ms;
    }
    s->tokens = refill(s, now_ms, per_ms, burst);
    s->last_ms = now_ms;
    if (s->tokens >= 1.0) {
        s->tokens -= 1.0;
    } else {
        double wait_ms = (1.0 - s->tokens) / per_ms;
        *retry_after_s = (int)((wait_ms + 999.0) / 1000.0); /* whole seconds, rounded up */
        if (*retry_after_s < 1)
            *retry_after_s = 1;
        rc = -1;
    }
    pthread_mutex_unlock(&lock);
    if (rc)
        atomic_fetch_add(&throttled, 1);
    return rc;
}

uint64_t jc_token_throttled_total(void)
{
    return atomic_load(&throttled);
}
