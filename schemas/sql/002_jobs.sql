-- 002_jobs: jobs and their events, the command outbox, worker settings and
-- worker events, drain. Applied like every migration (see 001_init.sql).

-- A job. State machine (coordinator/src/jobstate.c is the transition table):
--   pending -> assigned -> running -> succeeded | failed
--   pending|assigned|running -> canceling -> canceled   (pending cancels at once)
--   assigned|running -> pending   (requeue: lease expired, worker offline or
--                                  lost, retryable failure with backoff)
-- attempt counts assignments; it is the fencing token: a job event is
-- applied only for the current attempt by the worker holding the job.
CREATE TABLE jobs (
    id                uuid PRIMARY KEY,
    submitter         text NOT NULL,
    ikey              text,
    type              text NOT NULL,
    payload           bytea NOT NULL,
    priority          integer NOT NULL DEFAULT 0,
    max_attempts      integer NOT NULL DEFAULT 3,
    attempt           integer NOT NULL DEFAULT 0,
    state             text NOT NULL CHECK (state IN ('pending', 'assigned', 'running', 'succeeded',
                                                     'failed', 'canceling', 'canceled')),
    run_after         timestamptz NOT NULL DEFAULT now(),
    timeout_ms        integer NOT NULL,
    worker_id         text,
    lease_expires_at  timestamptz,
    progress          integer,
    result            bytea,
    error             text,
    cancel_reason     text,
    last_event_ts_ms  bigint NOT NULL DEFAULT 0,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now(),
    assigned_at       timestamptz,
    started_at        timestamptz,
    finished_at       timestamptz
);
CREATE UNIQUE INDEX jobs_submitter_ikey ON jobs (submitter, ikey) WHERE ikey IS NOT NULL;
CREATE INDEX jobs_pending ON jobs (type, priority DESC, created_at) WHERE state = 'pending';
CREATE INDEX jobs_live_by_worker ON jobs (worker_id)
    WHERE state IN ('assigned', 'running', 'canceling');
CREATE INDEX jobs_lease ON jobs (lease_expires_at)
    WHERE state IN ('assigned', 'running', 'canceling');
CREATE INDEX jobs_created ON jobs (created_at);

-- The history of a job: every transition (kind 'state', with from/to state)
-- and the worker's progress and log lines.
CREATE TABLE job_events (
    id          bigserial PRIMARY KEY,
    job_id      uuid NOT NULL,
    attempt     integer NOT NULL,
    kind        text NOT NULL,      -- state | progress | log
    from_state  text,
    to_state    text,
    worker_id   text,
    stream      text,
    progress    integer,
    text        text,
    at          timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX job_events_job ON job_events (job_id, id);

-- The outbox: messages the coordinator decided to send, inserted in the
-- transaction that decided them and produced by the relay after commit.
-- Commands (topic "commands", recipient a worker) are re-sent with backoff
-- until acknowledged, and fail after outbox.max_tries; job updates (topic
-- "job-updates", recipient the submitter) are sent once.
CREATE TABLE commands (
    id              uuid PRIMARY KEY,   -- the command id ("cmd"); for job updates the message id
    seq             bigserial UNIQUE,   -- relay order
    kind            text NOT NULL CHECK (kind IN ('assign', 'cancel', 'drain', 'undrain', 'config',
                                                  'job.update')),
    recipient       text NOT NULL,      -- principal whose key signs it
    job_id          uuid,
    attempt         integer,
    state           text,               -- job.update: the job's state it reports
    reason          text,               -- cancel
    config_version  bigint,             -- config
    settings        text[],             -- config: key1, value1, key2, value2, ...
    status          text NOT NULL DEFAULT 'pending'
                    CHECK (status IN ('pending', 'sent', 'acked', 'failed', 'done')),
    tries           integer NOT NULL DEFAULT 0,
    next_send_at    timestamptz NOT NULL DEFAULT now(),
    created_at      timestamptz NOT NULL DEFAULT now(),
    sent_at         timestamptz,
    acked_at        timestamptz,
    error           text
);
CREATE INDEX commands_due ON commands (next_send_at) WHERE status IN ('pending', 'sent');
CREATE INDEX commands_job ON commands (job_id);

-- Drain, and per-worker settings sent as config commands.
ALTER TABLE workers ADD COLUMN drain_requested boolean NOT NULL DEFAULT false;
ALTER TABLE workers ADD COLUMN desired_config_version bigint NOT NULL DEFAULT 0;

CREATE TABLE worker_settings (
    worker_id  text NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    key        text NOT NULL,
    value      text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (worker_id, key)
);

-- Events a worker reports that belong to no job (disk.low, ...).
CREATE TABLE worker_events (
    id          bigserial PRIMARY KEY,
    worker_id   text NOT NULL,
    level       text NOT NULL CHECK (level IN ('debug', 'info', 'warn', 'error')),
    kind        text NOT NULL,
    text        text NOT NULL,
    meta_keys   text[] NOT NULL DEFAULT '{}',
    meta_values text[] NOT NULL DEFAULT '{}',
    sent_at     timestamptz NOT NULL,
    received_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX worker_events_worker ON worker_events (worker_id, id);
