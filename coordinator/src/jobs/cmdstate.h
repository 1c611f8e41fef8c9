/*
 * cmdstate.h - the delivery status of an outbox row (commands.status) as a
 * table, like the job state machine (jobstate.h).
 *
 *   pending -> sent     produced, an acknowledgement awaited (re-sent with
 *                       backoff while sent)
 *   pending -> done     a one-way message (job.update, answers) produced
 *   pending|sent -> acked   acknowledged by its worker, or answered by a job
 *                           event that implies it
 *   pending|sent -> failed  refused by its worker, out of tries, unbuildable,
 *                           or its recipient deleted
 *
 * acked, failed and done are final. The names are macros so that SQL text is
 * assembled from them at compile time; JC_SQL_CMD_OPEN and
 * JC_SQL_CMD_FINAL are the lists the relay, the acknowledgement paths and
 * the janitor test with IN, and test_states checks them, and the
 * migration's CHECK constraint, against the table.
 */
#ifndef JC_CMDSTATE_H
#define JC_CMDSTATE_H

#define JC_CMD_PENDING "pending"
#define JC_CMD_SENT "sent"
#define JC_CMD_ACKED "acked"
#define JC_CMD_FAILED "failed"
#define JC_CMD_DONE "done"
/* the same, quoted for SQL text */
#define JC_SQL_CMD_PENDING "'" JC_CMD_PENDING "'"
#define JC_SQL_CMD_SENT "'" JC_CMD_SENT "'"
#define JC_SQL_CMD_ACKED "'" JC_CMD_ACKED "'"
#define JC_SQL_CMD_FAILED "'" JC_CMD_FAILED "'"
#define JC_SQL_CMD_DONE "'" JC_CMD_DONE "'"

/* "status IN " JC_SQL_CMD_OPEN: rows still to deliver or to be answered */
#define JC_SQL_CMD_OPEN "('" JC_CMD_PENDING "', '" JC_CMD_SENT "')"
/* "status IN " JC_SQL_CMD_FINAL: rows whose delivery is over */
#define JC_SQL_CMD_FINAL "('" JC_CMD_ACKED "', '" JC_CMD_FAILED "', '" JC_CMD_DONE "')"
/* Every status, in the order the views list them, as an SQL array body. */
#define JC_SQL_CMD_STATUSES                                                        \
    "'" JC_CMD_PENDING "', '" JC_CMD_SENT "', '" JC_CMD_ACKED "', '" JC_CMD_FAILED \
    "', '" JC_CMD_DONE "'"

typedef enum jc_cmd_status {
    CS_PENDING = 0,
    CS_SENT,
    CS_ACKED,
    CS_FAILED,
    CS_DONE,
    CS__COUNT,
    CS_INVALID = -1
} jc_cmd_status;

typedef enum jc_cmd_input {
    CI_PRODUCED = 0, /* the relay produced a command that awaits an acknowledgement */
    CI_DELIVERED,    /* the relay produced a one-way message */
    CI_ACKED,        /* acknowledged (or implied by a job event) */
    CI_REFUSED,      /* acknowledged with an error */
    CI_GIVEN_UP,     /* out of tries, unbuildable, or the recipient deleted */
    CI__COUNT
} jc_cmd_input;

/* jc_cmd_next returns the status input leads to from status, or CS_INVALID. */
jc_cmd_status jc_cmd_next(jc_cmd_status status, jc_cmd_input input);

const char *jc_cmd_status_name(jc_cmd_status s);
jc_cmd_status jc_cmd_status_parse(const char *s);
int jc_cmd_status_final(jc_cmd_status s);

#endif
