-- 014_answers: answers to clients' requests (PROTOCOL.md sections 7.9 and
-- 11). A job.submit or job.cancel that names a job and is signed with a key
-- the coordinator knows is answered on the signer's partition of
-- job-updates: with a job.refusal carrying the reason when it was refused,
-- with a job.update carrying the job's state when a repeated submission or
-- a cancel was accepted. Answers travel through the outbox like job updates.

-- A new outbox kind: the refusal.
ALTER TABLE commands DROP CONSTRAINT commands_kind_check;
ALTER TABLE commands ADD CONSTRAINT commands_kind_check
    CHECK (kind IN ('assign', 'cancel', 'drain', 'undrain', 'config', 'job.update', 'job.refusal'));

-- answers_type: the type of the request this row answers ('job.submit' or
-- 'job.cancel'); NULL for every other row. answers_msg: that request's
-- message id (the refusal's "req"). answer_key_id: the key id the request
-- was signed with; the answer is signed with that key (the one key the
-- signer has shown it holds, even when it was rotated out or its principal
-- is disabled). detail: the refusal's human text ("reason" holds its code).
ALTER TABLE commands
    ADD COLUMN answers_type  text CHECK (answers_type IN ('job.submit', 'job.cancel')),
    ADD COLUMN answers_msg   uuid,
    ADD COLUMN answer_key_id text,
    ADD COLUMN detail        text;

-- The rate bound of answers reads a principal's recent answers: at most one
-- per (principal, job, request type) and answers.max_per_interval per
-- principal within answers.interval_s.
CREATE INDEX commands_answers ON commands (recipient, created_at) WHERE answers_type IS NOT NULL;

-- submit_digest: BLAKE2b-256 of a submission's content (type, payload and
-- options; see coordinator/src/answers.c), so that a repeated submission of
-- a known job id can be told apart: the same content is answered with the
-- job's state, other content is refused (job_exists). NULL for jobs created
-- before this migration: a repeated submission of one of those is refused.
ALTER TABLE jobs ADD COLUMN submit_digest bytea;
