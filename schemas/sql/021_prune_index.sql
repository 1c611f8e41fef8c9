-- 021_prune_index: lets the janitor's prune find the outbox rows that no
-- job takes along without reading the whole outbox.
--
-- Each prune pass (once a minute) deletes, besides the finished jobs past
-- jobs.retention_s with their rows, the sent outbox rows that belong to no
-- job (job_id NULL: drain, undrain, config) or answer a request
-- (answers_type set: the job id they name may never have existed) once
-- they are older than the same retention. Those rows are few next to the
-- assign commands and job updates every job leaves, but nothing indexed
-- them by age, so the pass read every row of commands: with 1,000,000
-- finished jobs kept that is 2,000,000 rows a minute (docs/performance.md,
-- "Queries with a long history"). This partial index holds only those rows,
-- by creation time; the janitor deletes them in a statement of their own
-- whose condition repeats the index's predicate.
CREATE INDEX commands_unowned_created ON commands (created_at)
    WHERE job_id IS NULL OR answers_type IS NOT NULL;
