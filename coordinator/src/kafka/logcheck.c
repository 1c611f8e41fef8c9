/*
 * logcheck.c - stored positions belong to one log.
 *
 * Ingest keeps its consumer positions in PostgreSQL, next to the effects of
 * the messages before them. A position is only meaningful in the log it was
 * taken from: when the embedded cluster restarts empty, when the coordinator
 * is pointed at another cluster, or when a topic is deleted and recreated,
 * offset 40 of the new log is not offset 40 of the old one, and seeking to it
 * would skip everything before it without a sign.
 *
 * So every position is stored with the id of the cluster it was read from,
 * and on assignment each stored position is judged against the cluster's id
 * and the partition's watermarks:
 *   - another cluster id: the log is new; start from its beginning;
 *   - a position past the high watermark: the log is shorter than what was
 *     read from it, so it is another log (a recreated topic); start from its
 *     beginning;
 *   - a position below the low watermark: the log is the same but records
 *     were removed before ingest read them (retention, or the embedded
 *     cluster's size cap under a flood); they are lost, which is said loudly,
 *     and reading goes on from the first record still there.
 * A new log read from its beginning may hold messages already applied from
 * the old one (a client re-sending to a new cluster): the replay and
 * idempotency checks, not positions, keep those from being applied twice.
 *
 * librdkafka 2.0.2 does not expose topic ids, so a topic recreated on the
 * same cluster that already holds more records than the stored position is
 * not detected here; the runtime gap check in ingest (a batch starting past
 * the position it expected) still reports records that vanished.
 */
#include "kafka/logcheck.h"

#include <string.h>

const char *jc_log_verdict_name(jc_log_verdict v)
{
    switch (v) {
    case JC_LOG_SAME:
        return "same";
    case JC_LOG_NEW_CLUSTER:
        return "new_cluster";
    case JC_LOG_BEYOND_END:
        return "beyond_end";
    case JC_LOG_TRUNCATED:
        return "truncated";
    }
    return "unknown";
}

static int known(const char *s) { return s && *s; }

jc_log_verdict jc_log_judge(int64_t pos, const char *stored_cluster, const char *cluster,
                            int64_t lo, int64_t hi, int64_t *start, int64_t *lost)
{
    *lost = 0;
    *start = pos;
    if (pos < 0) {
        *start = -2;
        return JC_LOG_SAME; /* nothing stored: the beginning is the right place */
    }
    if (known(stored_cluster) && known(cluster) && strcmp(stored_cluster, cluster) != 0) {
        *start = -2;
        return JC_LOG_NEW_CLUSTER;
    }
    if (hi >= 0 && pos > hi) {
        *start = -2;
        return JC_LOG_BEYOND_END;
    }
    if (lo >= 0 && pos < lo) {
        *start = lo;
        *lost = lo - pos;
        return JC_LOG_TRUNCATED;
    }
    return JC_LOG_SAME;
}
