-- 027_state_counts: how many jobs are in each state and how many outbox rows
-- in each status, kept as the rows change, so that /v1/status, /metrics and
-- `jobcoord-admin status` answer in the same time whatever the history.
--
-- Before, all three counted with `count(*) ... GROUP BY` over the whole of
-- `jobs` and `commands`: two sequential scans, about 0.8 s a request with
-- 1,000,000 finished jobs kept (docs/performance.md, "Queries with a long
-- history"), and a Prometheus scrape every 15 s paid it each time.
--
-- state_counts holds signed deltas: a statement trigger on each table adds,
-- per statement (not per row), one row for each state whose count the
-- statement changed, in the same transaction as the change; so the counts
-- are exact in every snapshot, whoever writes the table (the coordinator,
-- the admin CLI, the janitor's prune, a hand-written statement). Inserts
-- only: concurrent writers never wait for each other on a counter row. The
-- janitor folds the deltas into one row per state every pass (each second
-- by default), so a read sums a few dozen rows.
CREATE TABLE state_counts (
    tbl   text   NOT NULL CHECK (tbl IN ('jobs', 'commands')),
    state text   NOT NULL,
    n     bigint NOT NULL
);
-- the janitor deletes and re-inserts these rows every second: vacuum early
ALTER TABLE state_counts SET (autovacuum_vacuum_scale_factor = 0,
                              autovacuum_vacuum_threshold = 1000,
                              autovacuum_vacuum_cost_delay = 0);

-- TG_ARGV[0]: the column that holds the state (jobs.state, commands.status)
CREATE FUNCTION state_counts_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO state_counts (tbl, state, n)'
                   ' SELECT %L, %I, count(*) FROM new_rows GROUP BY 2',
                   TG_TABLE_NAME, TG_ARGV[0]);
    RETURN NULL;
END $$;

CREATE FUNCTION state_counts_delete() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO state_counts (tbl, state, n)'
                   ' SELECT %L, %I, -count(*) FROM old_rows GROUP BY 2',
                   TG_TABLE_NAME, TG_ARGV[0]);
    RETURN NULL;
END $$;

-- an update that leaves the state as it was adds nothing
CREATE FUNCTION state_counts_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE format('INSERT INTO state_counts (tbl, state, n)'
                   ' SELECT %L, s, sum(d) FROM (SELECT %I AS s, 1 AS d FROM new_rows'
                   '                            UNION ALL SELECT %I, -1 FROM old_rows) x'
                   ' GROUP BY s HAVING sum(d) <> 0',
                   TG_TABLE_NAME, TG_ARGV[0], TG_ARGV[0]);
    RETURN NULL;
END $$;

CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION state_counts_insert('state');
CREATE TRIGGER jobs_count_update AFTER UPDATE ON jobs
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION state_counts_update('state');
CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION state_counts_delete('state');
CREATE TRIGGER commands_count_insert AFTER INSERT ON commands REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION state_counts_insert('status');
CREATE TRIGGER commands_count_update AFTER UPDATE ON commands
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION state_counts_update('status');
CREATE TRIGGER commands_count_delete AFTER DELETE ON commands REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION state_counts_delete('status');

-- the rows already there (one scan each, once); the migration runs in one
-- transaction and the lock keeps writers out until the counts are in
LOCK TABLE jobs, commands IN SHARE MODE;
INSERT INTO state_counts (tbl, state, n) SELECT 'jobs', state, count(*) FROM jobs GROUP BY state;
INSERT INTO state_counts (tbl, state, n)
    SELECT 'commands', status, count(*) FROM commands GROUP BY status;
