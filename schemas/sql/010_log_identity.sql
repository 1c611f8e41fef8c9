-- Stored consumer positions name the log they point into. A position is an
-- offset in one partition of one topic on one cluster; when the cluster is
-- replaced (a restarted embedded cluster, another bootstrap address) or a
-- topic is deleted and recreated, the same number means something else.
-- cluster_id is the cluster the position was stored for; reset_* record the
-- last time ingest found that the log was not the one the position belongs
-- to and started the partition from its beginning; lost_* count records that
-- left the log (retention, or the embedded cluster's size cap) before ingest
-- read them. Both are shown by `jobcoord-admin status`.
ALTER TABLE consumer_offsets
    ADD COLUMN cluster_id   text,
    ADD COLUMN reset_at     timestamptz,
    ADD COLUMN reset_reason text,
    ADD COLUMN lost_records bigint NOT NULL DEFAULT 0,
    ADD COLUMN lost_at      timestamptz;
