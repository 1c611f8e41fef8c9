-- 013_job_lifecycle: what a job's life needs beyond its attempts.
--
-- Refusals. A worker that cannot take an assignment answers its assign
-- command with command.ack ok:false. That is not an attempt to run the job:
-- jobs.refusals counts them separately (attempt - refusals is the number of
-- attempts that count against max_attempts; attempt stays the fencing token
-- and keeps growing), and jobs.max_refusals bounds them. job_refusals
-- remembers which worker refused which job, with its reason, until when the
-- scheduler skips that worker for that job (jobs.refusal_skip_s); expired
-- rows are pruned by the janitor, and the rows of a job go with it.
ALTER TABLE jobs ADD COLUMN refusals integer NOT NULL DEFAULT 0;

CREATE TABLE job_refusals (
    job_id      uuid NOT NULL,
    worker_id   text NOT NULL,
    refused_at  timestamptz NOT NULL DEFAULT now(),
    skip_until  timestamptz NOT NULL,
    error       text,
    PRIMARY KEY (job_id, worker_id)
);
CREATE INDEX job_refusals_until ON job_refusals (skip_until);

-- Unschedulable jobs. job_types_seen records, per job type, the last time an
-- online (or draining) worker advertised it, refreshed by the janitor from
-- workers.capabilities on each pass. A pending job whose type no online
-- worker advertises fails once that has been so for
-- jobs.unschedulable_after_s (0: it waits), counted from the later of the
-- type's last advertisement and the time the job became pending.
CREATE TABLE job_types_seen (
    type                text PRIMARY KEY,
    last_advertised_at  timestamptz NOT NULL
);
