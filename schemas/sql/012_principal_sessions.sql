-- 012_principal_sessions: ending a principal's sessions when what its tokens
-- say about it changes (password, role, scopes, disabled) or on demand.
--
-- token_generation is copied into every access token (claim "gen") and
-- every refresh token a principal is issued; bearer verification and the
-- refresh grant accept a token only while it equals the principal's value.
-- Ending the sessions sets it to a new value of the sequence, which also
-- gives a principal created again under a deleted one's id a value its
-- predecessor's tokens never carried. Rows that exist before this migration
-- keep 0, as do tokens issued before it (no "gen" claim reads as 0), so
-- upgrading ends no session. sessions_ended_at / sessions_ended_why say
-- when and why it last happened (jobcoord-admin user show).
CREATE SEQUENCE principal_token_generation;

ALTER TABLE principals
    ADD COLUMN token_generation   bigint NOT NULL DEFAULT 0,
    ADD COLUMN sessions_ended_at  timestamptz,
    ADD COLUMN sessions_ended_why text;
ALTER TABLE principals
    ALTER COLUMN token_generation SET DEFAULT nextval('principal_token_generation');

ALTER TABLE refresh_tokens ADD COLUMN generation bigint NOT NULL DEFAULT 0;
