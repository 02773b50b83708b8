-- Discord's own polls as a second way to vote (SQLite migration 009): the same poll rows and votes,
-- marked native; a native poll's options carry the answer id Discord gave each answer.

ALTER TABLE polls ADD COLUMN native integer NOT NULL DEFAULT 0 CHECK (native IN (0, 1));
ALTER TABLE poll_options ADD COLUMN answer_id integer CHECK (answer_id IS NULL OR answer_id BETWEEN 1 AND 10);
