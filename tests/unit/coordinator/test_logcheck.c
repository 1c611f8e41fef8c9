/*
 * test_logcheck.c - jc_log_judge: where a partition starts from a stored
 * position, the cluster id stored with it, and the log's watermarks.
 */
#include "check.h"
#include "kafka/logcheck.h"

static jc_log_verdict judge(int64_t pos, const char *stored, const char *now, int64_t lo,
                            int64_t hi, int64_t *start, int64_t *lost)
{
    return jc_log_judge(pos, stored, now, lo, hi, start, lost);
}

int main(void)
{
    int64_t start, lost;

    /* nothing stored: from the beginning, nothing to say */
    CHECK_EQ_INT(judge(-1, NULL, "c1", 0, 10, &start, &lost), JC_LOG_SAME);
    CHECK_EQ_INT(start, -2);
    /* the same cluster, a position inside the log */
    CHECK_EQ_INT(judge(40, "c1", "c1", 0, 60, &start, &lost), JC_LOG_SAME);
    CHECK_EQ_INT(start, 40);
    CHECK_EQ_INT(lost, 0);
    /* at the end exactly: the same log, nothing new */
    CHECK_EQ_INT(judge(60, "c1", "c1", 0, 60, &start, &lost), JC_LOG_SAME);
    CHECK_EQ_INT(start, 60);
    /* another cluster that holds more than the position: the case that
     * skipped records silently */
    CHECK_EQ_INT(judge(40, "c1", "c2", 0, 60, &start, &lost), JC_LOG_NEW_CLUSTER);
    CHECK_EQ_INT(start, -2);
    /* a position past the end: another log (recreated topic) */
    CHECK_EQ_INT(judge(40, "c1", "c1", 0, 7, &start, &lost), JC_LOG_BEYOND_END);
    CHECK_EQ_INT(start, -2);
    /* positions stored before cluster ids were: judged by the watermarks */
    CHECK_EQ_INT(judge(40, "", "c1", 0, 60, &start, &lost), JC_LOG_SAME);
    CHECK_EQ_INT(judge(40, NULL, "c1", 0, 7, &start, &lost), JC_LOG_BEYOND_END);
    /* the broker did not say its id: judged by the watermarks */
    CHECK_EQ_INT(judge(40, "c1", "", 0, 60, &start, &lost), JC_LOG_SAME);
    /* records removed below the position: lost, reading goes on at the start */
    CHECK_EQ_INT(judge(40, "c1", "c1", 55, 90, &start, &lost), JC_LOG_TRUNCATED);
    CHECK_EQ_INT(start, 55);
    CHECK_EQ_INT(lost, 15);
    /* watermarks unknown: the position is trusted */
    CHECK_EQ_INT(judge(40, "c1", "c1", -1, -1, &start, &lost), JC_LOG_SAME);
    CHECK_EQ_INT(start, 40);
    /* names are stable (metrics, status) */
    CHECK(strcmp(jc_log_verdict_name(JC_LOG_NEW_CLUSTER), "new_cluster") == 0);
    CHECK(strcmp(jc_log_verdict_name(JC_LOG_BEYOND_END), "beyond_end") == 0);
    CHECK(strcmp(jc_log_verdict_name(JC_LOG_TRUNCATED), "truncated") == 0);
    return check_done("test_logcheck");
}
