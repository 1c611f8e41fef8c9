/*
 * rejlog.c - one log line per rejection reason and principal per interval.
 *
 * A flood of rejected messages (a misconfigured worker with a wrong key, an
 * attacker) must not flood the log, and must not hide a different problem
 * either: limiting lines per second globally lets one noisy sender drown
 * every other reason. So each (reason, principal) pair gets its first line
 * written, then nothing until its interval ends, when the number of lines
 * not written is logged. The table is bounded (JC_REJLOG_SLOTS pairs):
 * senders that invent principal names cannot make it grow, and pairs that
 * find it full share one line per interval and one count. Counting every
 * rejection is the metrics' and the rejections table's job, not the log's.
 */
#include "ingest/rejlog.h"

#include <stdio.h>
#include <string.h>

void jc_rejlog_init(jc_rejlog *rl, int interval_s)
{
    memset(rl, 0, sizeof *rl);
    rl->interval_ms = (int64_t)(interval_s > 0 ? interval_s : 1) * 1000;
    rl->overflow_since_ms = -1;
}

// pair_hash is FNV-1a over reason, a separator and principal; never 0.
static uint32_t pair_hash(const char *reason, const char *principal)
{
    uint32_t h = 2166136261u;
    for (const char *p = reason; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    h = (h ^ 0xffu) * 16777619u;
    for (const char *p = principal; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u;
    return h ? h : 1;
}

int jc_rejlog_admit(jc_rejlog *rl, const char *reason, const char *principal, int64_t now_ms,
                    unsigned long *suppressed_out)
{
    uint32_t h;
    jc_rejlog_slot *free_slot = NULL;

    *suppressed_out = 0;
    if (!principal)
        principal = "";
    h = pair_hash(reason, principal);
    for (int i = 0; i < JC_REJLOG_SLOTS; i++) {
        jc_rejlog_slot *s = &rl->slots[i];
        if (s->hash == 0) {
            if (!free_slot)
                free_slot = s;
            continue;
        }
        if (s->hash != h || strcmp(s->reason, reason) != 0 || strcmp(s->principal, principal) != 0)
            continue;
        if (now_ms - s->since_ms < rl->interval_ms) {
            s->suppressed++;
            return 0;
        }
        /* its interval ended: this line opens the next one */
        *suppressed_out = s->suppressed;
        s->suppressed = 0;
        s->since_ms = now_ms;
        return 1;
    }
    if (free_slot) {
        free_slot->hash = h;
        snprintf(free_slot->reason, sizeof free_slot->reason, "%s", reason);
        snprintf(free_slot->principal, sizeof free_slot->principal, "%s", principal);
        free_slot->since_ms = now_ms;
        free_slot->suppressed = 0;
        return 1;
    }
    /* the table is full: one line per interval for all the others */
    if (rl->overflow_since_ms >= 0 && now_ms - rl->overflow_since_ms < rl->interval_ms) {
        rl->overflow++;
        return 0;
    }
    *suppressed_out = rl->overflow;
    rl->overflow = 0;
    rl->overflow_since_ms = now_ms;
    return 1;
}

void jc_rejlog_expire(jc_rejlog *rl, int64_t now_ms, jc_rejlog_report report, void *arg)
{
    for (int i = 0; i < JC_REJLOG_SLOTS; i++) {
        jc_rejlog_slot *s = &rl->slots[i];
        if (s->hash == 0 || now_ms - s->since_ms < rl->interval_ms)
            continue;
        if (s->suppressed && report)
            report(s->reason, s->principal, s->suppressed, rl->interval_ms, arg);
        s->hash = 0;
    }
    if (rl->overflow_since_ms >= 0 && now_ms - rl->overflow_since_ms >= rl->interval_ms) {
        if (rl->overflow && report)
            report(NULL, NULL, rl->overflow, rl->interval_ms, arg);
        rl->overflow = 0;
        rl->overflow_since_ms = -1;
    }
}
