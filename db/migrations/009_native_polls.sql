-- Discord's own polls as a second way to vote: the same poll rows and the same votes, marked native.
-- A native poll's options carry the answer id Discord gave each answer (its vote events name that id).

ALTER TABLE polls ADD COLUMN native INTEGER NOT NULL DEFAULT 0 CHECK (native IN (0, 1));
ALTER TABLE poll_options ADD COLUMN answer_id INTEGER CHECK (answer_id IS NULL OR answer_id BETWEEN 1 AND 10);
