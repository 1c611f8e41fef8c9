/*
 * rejlog.h - the rate limit of rejection log lines: one line per rejection
 * reason and principal per interval, in a bounded table, with a count of
 * the lines that were not written (see rejlog.c).
 */
#ifndef JC_REJLOG_H
#define JC_REJLOG_H

#include <stdint.h>

#include "jcproto/proto.h"

#define JC_REJLOG_SLOTS 256 /* (reason, principal) pairs remembered at once */

typedef struct jc_rejlog_slot {
    uint32_t hash; /* of reason and principal; 0: free slot */
    char reason[32];
    char principal[JC_MAX_PRINCIPAL_LEN + 1];
    int64_t since_ms;       /* the current interval started with a logged line */
    unsigned long suppressed; /* lines not written since */
} jc_rejlog_slot;

typedef struct jc_rejlog {
    int64_t interval_ms;
    jc_rejlog_slot slots[JC_REJLOG_SLOTS];
    /* pairs that found the table full share one interval and one count */
    int64_t overflow_since_ms; /* -1: no overflow interval open */
    unsigned long overflow;
} jc_rejlog;

/* jc_rejlog_init empties rl; a line per pair per interval_s seconds. */
void jc_rejlog_init(jc_rejlog *rl, int interval_s);

/* jc_rejlog_admit says whether a rejection (reason, principal; principal
 * may be "" when the message named none) is logged at now_ms: 1 yes, 0 no
 * (it is counted). When it returns 1 for a pair whose previous interval
 * suppressed lines, *suppressed_out is their number (the caller says so
 * on the line), else 0. */
int jc_rejlog_admit(jc_rejlog *rl, const char *reason, const char *principal, int64_t now_ms,
                    unsigned long *suppressed_out);

/* jc_rejlog_report is told of the lines a finished interval suppressed;
 * reason and principal are NULL for the pairs that found the table full. */
typedef void (*jc_rejlog_report)(const char *reason, const char *principal,
                                 unsigned long suppressed, int64_t interval_ms, void *arg);

/* jc_rejlog_expire frees the slots whose interval ended by now_ms, calling
 * report for each that suppressed lines (and for the overflow count). */
void jc_rejlog_expire(jc_rejlog *rl, int64_t now_ms, jc_rejlog_report report, void *arg);

#endif
