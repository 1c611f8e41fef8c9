-- 017_family_access_tokens: access tokens minted from a refresh-token
-- family (password logins and their refreshes), so that revoking the family
-- (reuse of a rotated refresh token, or RFC 7009 revocation of one of its
-- refresh tokens) also revokes every access token it produced that has not
-- expired yet: their ids are copied into revoked_tokens, which bearer
-- authentication consults. Rows are kept until the access token expires.
CREATE TABLE family_access_tokens (
    jti          text PRIMARY KEY,
    family       uuid NOT NULL,
    principal_id text NOT NULL,
    expires_at   timestamptz NOT NULL
);
CREATE INDEX family_access_tokens_family ON family_access_tokens (family);
CREATE INDEX family_access_tokens_expires ON family_access_tokens (expires_at);
