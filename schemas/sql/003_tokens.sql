-- 003_tokens: what the HTTP surface needs to issue and check tokens
-- (docs/http-api.md, DESIGN section 5): the reader role, admin passwords
-- with lockout and TOTP, the token signing keys, refresh tokens, the replay
-- store of client assertions and revoked access tokens.

-- reader: a principal that may read the status API (dashboards, scrapers)
-- and send nothing over Kafka.
ALTER TABLE principals DROP CONSTRAINT principals_role_check;
ALTER TABLE principals ADD CONSTRAINT principals_role_check
    CHECK (role IN ('client', 'worker', 'admin', 'reader'));

-- password_hash: crypto_pwhash_str (Argon2id) output; NULL = no password
-- login. failed_logins counts consecutive failures; locked_until is set when
-- it reaches http.login_max_failures. totp_secret is 20 random bytes sealed
-- like HMAC keys (associated data "jobcoord:totp:v1\0<principal>"), or plain
-- when totp_enc_key_id is NULL; totp_last_step stops a code being used twice.
ALTER TABLE principals
    ADD COLUMN password_hash       text,
    ADD COLUMN password_changed_at timestamptz,
    ADD COLUMN failed_logins       integer NOT NULL DEFAULT 0,
    ADD COLUMN locked_until        timestamptz,
    ADD COLUMN totp_secret         bytea,
    ADD COLUMN totp_enc_key_id     text,
    ADD COLUMN totp_enabled        boolean NOT NULL DEFAULT false,
    ADD COLUMN totp_last_step      bigint NOT NULL DEFAULT 0;

-- Ed25519 keys that sign access tokens. secret is the 32-byte seed, sealed
-- with the keys-file key enc_key_id (associated data
-- "jobcoord:signing_key:v1\0<kid>") or plain when enc_key_id is NULL. One
-- active key (retired_at NULL); a retired key is still published in the
-- JWKS, and still verifies, until valid_until.
CREATE TABLE signing_keys (
    kid         text PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9._:@-]{1,64}$'),
    alg         text NOT NULL DEFAULT 'EdDSA' CHECK (alg = 'EdDSA'),
    public_key  bytea NOT NULL CHECK (length(public_key) = 32),
    secret      bytea NOT NULL,
    enc_key_id  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz,
    valid_until timestamptz,
    CHECK ((retired_at IS NULL) = (valid_until IS NULL))
);
CREATE UNIQUE INDEX signing_keys_one_active ON signing_keys ((true)) WHERE retired_at IS NULL;

-- Refresh tokens, stored as a BLAKE2b-256 hash of the token. Each use
-- rotates: the used row gets used_at and a new row of the same family is
-- issued. Presenting a used token again revokes the whole family.
CREATE TABLE refresh_tokens (
    token_hash   bytea PRIMARY KEY CHECK (length(token_hash) = 32),
    family       uuid NOT NULL,
    principal_id text NOT NULL REFERENCES principals (id) ON DELETE CASCADE,
    scope        text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz NOT NULL,
    used_at      timestamptz,
    revoked_at   timestamptz
);
CREATE INDEX refresh_tokens_family ON refresh_tokens (family);
CREATE INDEX refresh_tokens_expires ON refresh_tokens (expires_at);

-- client_secret_jwt assertions seen, kept until they expire, so one cannot
-- be used twice (on any coordinator instance).
CREATE TABLE token_assertions (
    principal_id text NOT NULL,
    jti          text NOT NULL,
    expires_at   timestamptz NOT NULL,
    PRIMARY KEY (principal_id, jti)
);
CREATE INDEX token_assertions_expires ON token_assertions (expires_at);

-- Access tokens revoked before their expiry (RFC 7009), kept until expiry.
CREATE TABLE revoked_tokens (
    jti          text PRIMARY KEY,
    principal_id text NOT NULL,
    expires_at   timestamptz NOT NULL,
    revoked_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX revoked_tokens_expires ON revoked_tokens (expires_at);

-- Job statistics (GET /v1/jobs/stats, jobcoord-admin job stats) read the
-- jobs finished within a window.
CREATE INDEX jobs_finished ON jobs (finished_at) WHERE finished_at IS NOT NULL;
