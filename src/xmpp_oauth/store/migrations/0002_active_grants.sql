-- Schema version 2: a user's active grants, newest first, without touching revoked ones.
-- The account page lists these a page at a time; a partial index keeps that cost flat
-- however many revoked grants a user has collected.  Also remember why a client was
-- deny-listed (shown in admin listings).

CREATE INDEX grants_active_by_jid ON grants (jid, created_at, grant_id) WHERE revoked_at IS NULL;

ALTER TABLE revoked_clients ADD COLUMN reason TEXT NOT NULL DEFAULT '';
