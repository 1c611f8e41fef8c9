-- The message id of the job.submit that created each job. A job id seen
-- again is the same request repeated (answered with the job's state) unless
-- it is that very message read again, which is a replay (PROTOCOL.md
-- section 11). Jobs from before this migration have none: for them every
-- repeat counts as a repeated request.
ALTER TABLE jobs ADD COLUMN submit_msg_id uuid;
