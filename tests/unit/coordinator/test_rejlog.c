/*
 * test_rejlog.c - the rate limit of rejection log lines: one line per
 * reason and principal per interval, the count of lines left out, the
 * bounded table and the shared line of the pairs that found it full.
 */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "ingest/rejlog.h"

typedef struct reports {
    int n;
    unsigned long total, overflow;
    char last[128];
} reports;

static void on_report(const char *reason, const char *principal, unsigned long n,
                      int64_t interval_ms, void *arg)
{
    reports *r = arg;
    (void)interval_ms;
    r->n++;
    r->total += n;
    if (!reason)
        r->overflow += n;
    snprintf(r->last, sizeof r->last, "%s/%s/%lu", reason ? reason : "-",
             principal ? principal : "-", n);
}

int main(void)
{
    static jc_rejlog rl;
    unsigned long before = 99;
    reports rep;
    char name[32];
    int logged = 0;

    jc_rejlog_init(&rl, 10);
    memset(&rep, 0, sizeof rep);

    /* the first line of a pair is written, the rest of its interval counted */
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "bad_signature", "w1", 1000, &before), 1);
    CHECK_EQ_INT(before, 0);
    for (int i = 0; i < 50; i++)
        CHECK_EQ_INT(jc_rejlog_admit(&rl, "bad_signature", "w1", 1000 + i, &before), 0);
    /* another principal, another reason, no principal: each its own line */
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "bad_signature", "w2", 1100, &before), 1);
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "replay", "w1", 1100, &before), 1);
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "malformed", "", 1100, &before), 1);
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "malformed", NULL, 1200, &before), 0);
    /* the interval is per pair: nothing expires before 10 s */
    jc_rejlog_expire(&rl, 10999, on_report, &rep);
    CHECK_EQ_INT(rep.n, 0);
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "bad_signature", "w1", 10999, &before), 0);
    /* the pair's next line after its interval says how many were left out */
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "bad_signature", "w1", 11000, &before), 1);
    CHECK_EQ_INT(before, 51);
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "bad_signature", "w1", 11001, &before), 0);
    /* or expire reports them, and forgets the quiet pairs */
    jc_rejlog_expire(&rl, 11100, on_report, &rep);
    CHECK_EQ_INT(rep.n, 1); /* malformed from nobody: 1 left out; w2 and replay had none */
    CHECK(strcmp(rep.last, "malformed//1") == 0);
    jc_rejlog_expire(&rl, 21000, on_report, &rep);
    CHECK_EQ_INT(rep.n, 2);
    CHECK(strcmp(rep.last, "bad_signature/w1/1") == 0);
    for (int i = 0; i < JC_REJLOG_SLOTS; i++)
        CHECK_EQ_INT(rl.slots[i].hash, 0u);
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "bad_signature", "w1", 21000, &before), 1);
    CHECK_EQ_INT(before, 0);

    /* invented principals cannot grow the table: past its size they share
     * one line per interval and one count */
    jc_rejlog_init(&rl, 10);
    memset(&rep, 0, sizeof rep);
    for (int i = 0; i < JC_REJLOG_SLOTS + 100; i++) {
        snprintf(name, sizeof name, "ghost-%d", i);
        logged += jc_rejlog_admit(&rl, "unknown_principal", name, 5000, &before);
    }
    CHECK_EQ_INT(logged, JC_REJLOG_SLOTS + 1);
    CHECK_EQ_INT(rl.overflow, 99ul);
    /* known pairs keep their own limit meanwhile */
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "unknown_principal", "ghost-3", 5001, &before), 0);
    jc_rejlog_expire(&rl, 15000, on_report, &rep);
    CHECK_EQ_INT(rep.overflow, 99ul);
    CHECK_EQ_INT(rep.total, 100ul);
    CHECK_EQ_INT(rl.overflow, 0ul);
    CHECK_EQ_INT(jc_rejlog_admit(&rl, "unknown_principal", "ghost-999", 15000, &before), 1);

    /* an interval below a second is a second */
    jc_rejlog_init(&rl, 0);
    CHECK_EQ_INT(rl.interval_ms, 1000);
    return check_done("test_rejlog");
}
