-- 019_protocol_version: the protocol version the coordinator speaks to each
-- principal (PROTOCOL.md section 14).
--
-- principals.proto_version: the envelope "v" of the latest message the
-- coordinator accepted from the principal; commands, job updates and
-- refusals sent to it are written in that version. 1 until a message says
-- otherwise. proto_version_ts_ms: the signed ts of the message that set it.
-- "Latest" is by that ts, so a message delayed on another topic does not
-- switch the version back. Written by ingest, in the transaction that
-- accepts the message, and only when the version changes.
ALTER TABLE principals
    ADD COLUMN proto_version smallint NOT NULL DEFAULT 1 CHECK (proto_version IN (1, 2)),
    ADD COLUMN proto_version_ts_ms bigint NOT NULL DEFAULT 0;
