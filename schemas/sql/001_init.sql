-- 001_init: principals and their keys, workers, heartbeats, consumer
-- offsets, coordinator instances, rejection counters.
-- Applied by the coordinator at start and by `jobcoord-admin db migrate`
-- (see coordinator/src/db.c); never edit a released migration, add one.

CREATE TABLE principals (
    id          text PRIMARY KEY CHECK (id ~ '^[A-Za-z0-9._:@-]{1,64}$'),
    role        text NOT NULL CHECK (role IN ('client', 'worker', 'admin')),
    scopes      text[] NOT NULL DEFAULT '{}',
    disabled    boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now()
);

-- One row per HMAC key. The current key has valid_until NULL; a rotated-out
-- key keeps working for messages Kafka received before valid_until.
-- secret is the 32-byte key, sealed with the keys-file key enc_key_id
-- (nonce || ciphertext || tag, associated data bound to principal and key
-- id), or plain when enc_key_id is NULL (no keys file configured).
CREATE TABLE principal_keys (
    principal_id text NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    key_id       text NOT NULL CHECK (key_id ~ '^[A-Za-z0-9._:@-]{1,64}$'),
    secret       bytea NOT NULL,
    enc_key_id   text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    valid_until  timestamptz,
    PRIMARY KEY (principal_id, key_id)
);
CREATE UNIQUE INDEX principal_keys_one_current ON principal_keys (principal_id)
    WHERE valid_until IS NULL;

CREATE TABLE workers (
    id                   text PRIMARY KEY REFERENCES principals (id) ON DELETE CASCADE,
    status               text NOT NULL CHECK (status IN ('online', 'offline', 'draining')),
    capabilities         text[] NOT NULL DEFAULT '{}',
    slots                integer NOT NULL DEFAULT 0,
    running_jobs         integer NOT NULL DEFAULT 0,
    version              text NOT NULL DEFAULT '',
    host                 text NOT NULL DEFAULT '',
    uptime_s             bigint NOT NULL DEFAULT 0,
    config_version       bigint,
    heartbeat_seq        bigint NOT NULL DEFAULT 0,
    first_seen_at        timestamptz NOT NULL DEFAULT now(),
    -- the worker's own clock (signed ts) of the last applied heartbeat; the
    -- replay check keeps it strictly increasing
    last_heartbeat_ts_ms bigint NOT NULL,
    -- when the coordinator applied that heartbeat (its clock; the janitor
    -- judges silence by this, immune to worker clock skew)
    last_seen_at         timestamptz NOT NULL DEFAULT now(),
    status_changed_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX workers_status ON workers (status, last_seen_at);

-- Every applied heartbeat, pruned by janitor.heartbeat_retention_s.
CREATE TABLE heartbeats (
    msg_id          uuid NOT NULL,
    worker_id       text NOT NULL,
    seq             bigint NOT NULL,
    sent_at         timestamptz NOT NULL,
    received_at     timestamptz NOT NULL DEFAULT now(),
    slots           integer NOT NULL,
    running_jobs    integer NOT NULL,
    kafka_partition integer NOT NULL,
    kafka_offset    bigint NOT NULL
);
CREATE INDEX heartbeats_worker_sent ON heartbeats (worker_id, sent_at);
CREATE INDEX heartbeats_received_brin ON heartbeats USING brin (received_at);

-- The source of truth for consumer positions: written in the same
-- transaction as the effects of the messages before next_offset.
CREATE TABLE consumer_offsets (
    consumer_group text NOT NULL,
    topic          text NOT NULL,
    kpartition     integer NOT NULL,
    next_offset    bigint NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, kpartition)
);

-- Live coordinator processes; the janitor marks workers offline only while
-- every live instance has been caught up with its partitions for a whole
-- offline threshold, so an outage of the coordinator is not taken for an
-- outage of the fleet.
CREATE TABLE coordinator_instances (
    id            text PRIMARY KEY,
    host          text NOT NULL,
    pid           integer NOT NULL,
    version       text NOT NULL,
    started_at    timestamptz NOT NULL,
    last_seen_at  timestamptz NOT NULL,
    caught_up_at  timestamptz
);

-- Messages that failed a check, counted by topic and reason.
CREATE TABLE rejections (
    topic        text NOT NULL,
    reason       text NOT NULL,
    count        bigint NOT NULL DEFAULT 0,
    last_at      timestamptz NOT NULL DEFAULT now(),
    last_detail  text NOT NULL DEFAULT '',
    PRIMARY KEY (topic, reason)
);
