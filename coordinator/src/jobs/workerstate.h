/*
 * workerstate.h - a worker's status (workers.status) as a table, like the
 * job state machine (jobstate.h).
 *
 *   online <-> draining     a drain asked by an operator, or announced by
 *                           the worker's heartbeats, and its end
 *   online|draining -> offline   no heartbeat within workers.offline_after_s
 *   offline -> online|draining   a heartbeat again
 *
 * The names are macros so that SQL text is assembled from them at compile
 * time ("... status <> " JC_SQL_WORKER_OFFLINE): the statements that read
 * or write the column (heartbeats, janitor, scheduler, admin CLI, status
 * views) spell no status themselves. test_states checks the table and the
 * migration's CHECK constraint against each other.
 */
#ifndef JC_WORKERSTATE_H
#define JC_WORKERSTATE_H

#define JC_WORKER_ONLINE "online"
#define JC_WORKER_DRAINING "draining"
#define JC_WORKER_OFFLINE "offline"
/* the same, quoted for SQL text */
#define JC_SQL_WORKER_ONLINE "'" JC_WORKER_ONLINE "'"
#define JC_SQL_WORKER_DRAINING "'" JC_WORKER_DRAINING "'"
#define JC_SQL_WORKER_OFFLINE "'" JC_WORKER_OFFLINE "'"

/* Every status, in the order the views list them, as an SQL array body. */
#define JC_SQL_WORKER_STATUSES \
    "'" JC_WORKER_ONLINE "', '" JC_WORKER_OFFLINE "', '" JC_WORKER_DRAINING "'"

/* The offline records the fleet views leave out unless asked for all of
 * them (`jobcoord-admin worker list --all`, GET /v1/workers?all=true): an
 * offline worker whose last heartbeat (or, without one, the creation of
 * its record: workers.last_seen_at holds either) is more than a day old.
 * One definition for the CLI and the status API, so that they cannot
 * drift. JC_SQL_WORKER_HIDDEN(t) is the condition on the workers row t. */
#define JC_WORKER_HIDDEN_AFTER_S "86400"
#define JC_SQL_WORKER_HIDDEN(t)                        \
    "(" t ".status = " JC_SQL_WORKER_OFFLINE " AND " t \
    ".last_seen_at < now() - " JC_WORKER_HIDDEN_AFTER_S "::bigint * interval '1 s')"

typedef enum jc_worker_status {
    WS_ONLINE = 0,
    WS_DRAINING,
    WS_OFFLINE,
    WS__COUNT,
    WS_INVALID = -1
} jc_worker_status;

typedef enum jc_worker_input {
    WI_HEARTBEAT = 0,   /* a heartbeat, no drain announced or requested */
    WI_HEARTBEAT_DRAIN, /* a heartbeat announcing a drain, or with a drain requested */
    WI_DRAIN,           /* an operator asks the worker to drain */
    WI_UNDRAIN,         /* an operator ends the drain */
    WI_SILENT,          /* no heartbeat for workers.offline_after_s (janitor) */
    WI__COUNT
} jc_worker_input;

/* jc_worker_next returns the status input leads to from status, or
 * WS_INVALID (the input does not apply: a silent worker already offline). */
jc_worker_status jc_worker_next(jc_worker_status status, jc_worker_input input);

const char *jc_worker_status_name(jc_worker_status s);
jc_worker_status jc_worker_status_parse(const char *s);

#endif
