-- 024_principal_fleet: what operators record about a principal and see of
-- its keys.
--
-- description: a free text an operator keeps with a principal ("render
-- farm node 12", "the billing service"), at most 256 bytes of UTF-8, set by
-- `jobcoord-admin user update`; it changes nothing the principal may do, so changing
-- it does not end the principal's sessions.
--
-- last_used_at: when a message signed with the key was last accepted by
-- ingest (or a client assertion signed with it was last accepted by the
-- token endpoint). Ingest writes it at most once a minute per key, in the
-- statement that already records the key a principal last proved it holds
-- (reply_key.c), never once per message; NULL: not used since this column
-- exists.
ALTER TABLE principals ADD COLUMN description text NOT NULL DEFAULT ''
    CHECK (octet_length(description) <= 256);
ALTER TABLE principal_keys ADD COLUMN last_used_at timestamptz;
