-- 011_key_rotation: what a key rotation with a grace period needs so that
-- it works in both directions, and what keeps a worker that cannot read its
-- commands from burning every job's attempts.
--
-- principals.reply_key_id: the newest key the principal has proven it
-- holds (the key id of a message the coordinator accepted). Commands and
-- job updates sent to the principal are signed with it while it is valid,
-- else with the current key. Written by ingest only when it changes; it
-- never moves to an older key (messages on different topics arrive out of
-- order). NULL: nothing accepted yet (the current key is used).
ALTER TABLE principals ADD COLUMN reply_key_id text;

-- workers.unacked_assigns: assign commands in a row whose job was taken
-- back (jobs.assign_timeout_ms) without the worker acknowledging them.
-- At jobs.unacked_assign_limit the scheduler stops choosing the worker
-- (held_back_since) until it acknowledges a command or reports a job
-- event, proves a new key, or restarts.
ALTER TABLE workers
    ADD COLUMN unacked_assigns integer NOT NULL DEFAULT 0,
    ADD COLUMN held_back_since timestamptz;
