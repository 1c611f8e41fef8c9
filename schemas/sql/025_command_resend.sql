-- 025_command_resend: which command an operator's resend copies.
--
-- `jobcoord-admin command resend ID` sends a failed worker command again
-- as a new outbox row (a new command id: a worker that already saw the old
-- id would drop it as a duplicate) with the same kind, recipient and
-- content; resent_from names the row it copies, so `command show` can link
-- the two. NULL for every command the coordinator decides itself.
ALTER TABLE commands ADD COLUMN resent_from uuid;
