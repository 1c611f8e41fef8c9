-- 016_reconcile: what heartbeat reconciliation must remember between
-- heartbeats, and pruning of outbox rows that answer jobs the coordinator
-- does not have.
--
-- A worker's heartbeat may stop listing a job before the job's final event
-- (which travels on another topic) has been applied. The coordinator
-- therefore takes a running job back only once it has been missing from
-- the heartbeats of the worker holding it for jobs.reconcile_grace_ms:
-- unlisted_since is when that attempt (unlisted_attempt) was first found
-- missing; it counts only while unlisted_attempt equals the job's attempt,
-- and is cleared when a heartbeat lists the job again.
ALTER TABLE jobs
    ADD COLUMN unlisted_attempt integer,
    ADD COLUMN unlisted_since   timestamptz;

-- Cancels answering heartbeats that list jobs the worker does not hold are
-- few, and those for jobs the coordinator does not have are deleted by the
-- janitor once finished (no job row takes them along when it is pruned):
-- this index finds them without reading every outbox row.
CREATE INDEX commands_cancel_created ON commands (created_at) WHERE kind = 'cancel';

-- A worker event is applied once: its message id (unique per sender,
-- PROTOCOL.md section 11) is kept with it, and a message id already stored
-- for that worker is a replay. Rows stored before this migration have none.
ALTER TABLE worker_events ADD COLUMN msg_id uuid;
CREATE UNIQUE INDEX worker_events_msg ON worker_events (worker_id, msg_id);
