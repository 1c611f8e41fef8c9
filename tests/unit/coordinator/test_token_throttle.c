/*
 * test_token_throttle.c - the per-address token buckets of POST /v1/token
 * (http/token_throttle.c) with a clock the test moves: the burst, the
 * refill rate and Retry-After, addresses kept apart, throttling off at
 * rate 0, and the table staying bounded under more addresses than it has
 * slots, forgetting idle (full) buckets before throttled ones.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "core/config.h"
#include "http/token_throttle.h"

static int take(const jc_config *cfg, const char *a, int64_t now_ms, int *ra)
{
    return jc_token_throttle_take(cfg, a, now_ms, ra);
}

int main(void)
{
    jc_config cfg;
    int ra = 0, refused = 0;
    int64_t t = 1000000;
    char addr[32];

    memset(&cfg, 0, sizeof cfg);
    cfg.token_rate_per_min = 6; /* one every 10 s */
    cfg.token_burst = 3;

    /* the burst, then refusals with Retry-After */
    for (int i = 0; i < 3; i++)
        CHECK_EQ_INT(take(&cfg, "10.0.0.1", t, &ra), 0);
    CHECK_EQ_INT(take(&cfg, "10.0.0.1", t, &ra), -1);
    CHECK_EQ_INT(ra, 10);
    CHECK_EQ_INT(take(&cfg, "10.0.0.1", t + 4000, &ra), -1);
    CHECK_EQ_INT(ra, 6);
    /* another address has its own bucket */
    CHECK_EQ_INT(take(&cfg, "10.0.0.2", t, &ra), 0);
    /* one request earned per 10 s, never more than the burst */
    CHECK_EQ_INT(take(&cfg, "10.0.0.1", t + 10000, &ra), 0);
    CHECK_EQ_INT(take(&cfg, "10.0.0.1", t + 10000, &ra), -1);
    CHECK_EQ_INT(take(&cfg, "10.0.0.1", t + 10000000, &ra), 0);
    CHECK_EQ_INT(take(&cfg, "10.0.0.1", t + 10000000, &ra), 0);
    CHECK_EQ_INT(take(&cfg, "10.0.0.1", t + 10000000, &ra), 0);
    CHECK_EQ_INT(take(&cfg, "10.0.0.1", t + 10000000, &ra), -1);
    CHECK(jc_token_throttled_total() == 4);

    /* rate 0: off; no address: not throttled */
    cfg.token_rate_per_min = 0;
    for (int i = 0; i < 100; i++)
        CHECK_EQ_INT(take(&cfg, "10.0.0.1", t + 10000000, &ra), 0);
    cfg.token_rate_per_min = 6;
    CHECK_EQ_INT(take(&cfg, "", t, &ra), 0);

    /* bounded: a throttled address stays throttled while 3x the table's
     * slots of other addresses come once each */
    t += 20000000;
    for (int i = 0; i < 3; i++)
        take(&cfg, "192.0.2.1", t, &ra);
    CHECK_EQ_INT(take(&cfg, "192.0.2.1", t, &ra), -1);
    for (int i = 0; i < 3 * JC_THROTTLE_SLOTS; i++) {
        snprintf(addr, sizeof addr, "198.51.%d.%d", i / 256, i % 256);
        refused += take(&cfg, addr, t, &ra) != 0;
    }
    CHECK_EQ_INT(refused, 0);
    CHECK_EQ_INT(take(&cfg, "192.0.2.1", t, &ra), -1);
    return check_done("test_token_throttle");
}
