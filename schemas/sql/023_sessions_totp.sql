-- 023_sessions_totp: what operators and principals need to see and end
-- their sessions, and TOTP enrolment that is confirmed.
--
-- refresh_tokens.client_address: the HTTP client's address when the token
-- was issued (the login for a family's first token, the refresh for the
-- others), shown by `jobcoord-admin user sessions`. NULL for tokens issued
-- before this migration.
ALTER TABLE refresh_tokens
    ADD COLUMN client_address text CHECK (length(client_address) <= 64);
CREATE INDEX refresh_tokens_principal ON refresh_tokens (principal_id, family);

-- TOTP: `user totp enable` stores a secret as pending (totp_pending true,
-- totp_enabled false): it is not asked for at login until a valid code
-- confirms it (`user totp confirm`, POST /v1/me/totp), which sets
-- totp_enabled and clears totp_pending. Secrets enabled before this
-- migration stay enabled (they were never pending). totp_algorithm is the
-- HMAC of the codes: sha256 (the default) or sha1 (RFC 6238's original,
-- for authenticator apps that ignore the algorithm parameter).
ALTER TABLE principals
    ADD COLUMN totp_pending   boolean NOT NULL DEFAULT false,
    ADD COLUMN totp_algorithm text NOT NULL DEFAULT 'sha256'
        CHECK (totp_algorithm IN ('sha1', 'sha256'));
