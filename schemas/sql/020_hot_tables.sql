-- 020_hot_tables: autovacuum settings for the tables every job writes to.
--
-- A job leaves dead row versions behind in jobs (assigned, then ended) and
-- in commands (the assign and the job update, each inserted and then
-- marked sent, acknowledged or done), and appends to job_events. At
-- PostgreSQL's defaults a table is vacuumed once a fifth of it is dead
-- (autovacuum_vacuum_scale_factor 0.2): with a million finished jobs kept
-- that is 200,000 dead versions before anything is cleaned, and meanwhile
-- the scheduler's scan of jobs_pending, the lease scan and the relay's scan
-- of commands_due walk their dead index entries (docs/performance.md: after
-- a backlog, the dead rows cost as much latency again).
--
-- So these tables are vacuumed after 1% of them (plus 1,000 rows) died,
-- analyzed after 2% changed, and their vacuum is not slowed down by the
-- cost-based delay (they are small per row and hot: a slow vacuum only
-- lets the dead rows pile up again). job_events is insert-only: vacuumed
-- after 5% new rows, its pages are marked all-visible and frozen a little
-- at a time instead of in one long pass much later. Updates of jobs and commands cannot be HOT (each
-- changes a column an index needs: state in the partial indexes'
-- predicates, worker_id, lease_expires_at, finished_at; status and
-- next_send_at), so no fillfactor is set: free space kept in every page
-- would only make the tables larger.
ALTER TABLE jobs SET (autovacuum_vacuum_scale_factor = 0.01, autovacuum_vacuum_threshold = 1000,
                      autovacuum_analyze_scale_factor = 0.02, autovacuum_vacuum_cost_delay = 0);
ALTER TABLE commands SET (autovacuum_vacuum_scale_factor = 0.01,
                          autovacuum_vacuum_threshold = 1000,
                          autovacuum_analyze_scale_factor = 0.02,
                          autovacuum_vacuum_cost_delay = 0);
ALTER TABLE job_events SET (autovacuum_vacuum_insert_scale_factor = 0.05,
                            autovacuum_analyze_scale_factor = 0.05);
