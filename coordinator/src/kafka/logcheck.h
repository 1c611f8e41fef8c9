/*
 * logcheck.h - does a stored consumer position still point into the log it
 * was stored for? See logcheck.c.
 */
#ifndef JC_LOGCHECK_H
#define JC_LOGCHECK_H

#include <stdint.h>

typedef enum jc_log_verdict {
    JC_LOG_SAME = 0,    /* start at the stored position */
    JC_LOG_NEW_CLUSTER, /* another cluster: start from the beginning */
    JC_LOG_BEYOND_END,  /* the position is past the log's end: a new log */
    JC_LOG_TRUNCATED,   /* records between the position and the log start are gone */
} jc_log_verdict;

/* jc_log_verdict_name is the stable name of v (metrics, logs, status). */
const char *jc_log_verdict_name(jc_log_verdict v);

/* jc_log_judge decides where a partition starts. pos is the stored position
 * (next offset to read), stored_cluster the cluster id stored with it (NULL
 * or "" when unknown: positions written before cluster ids were stored),
 * cluster the id of the cluster now (NULL or "" when the broker did not say),
 * lo and hi the partition's low and high watermarks (-1 when unknown).
 * *start gets the offset to start at, -2 meaning "from the beginning"; *lost
 * the number of records known to be gone unread (JC_LOG_TRUNCATED). */
jc_log_verdict jc_log_judge(int64_t pos, const char *stored_cluster, const char *cluster,
                            int64_t lo, int64_t hi, int64_t *start, int64_t *lost);

#endif
