-- Outlets' track records are computed from claim history and sources; these two tables hold only what a
-- curator decided on top of that, each as its own append-only history.
--
-- outcome_marks: a curator's reading of one claim's outcome where its status alone would say otherwise.
-- The latest row of a claim is in force; 'auto' hands the claim back to its status.
CREATE TABLE outcome_marks (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    claim_id   INTEGER NOT NULL REFERENCES claims(id),
    at         TEXT NOT NULL,
    actor_id   INTEGER,
    actor_name TEXT NOT NULL,
    outcome    TEXT NOT NULL CHECK (outcome IN ('held', 'failed', 'pending', 'auto')),
    reason     TEXT NOT NULL
);
CREATE INDEX outcome_marks_guild ON outcome_marks(guild_id, id);
CREATE TRIGGER outcome_marks_no_update BEFORE UPDATE ON outcome_marks
BEGIN SELECT RAISE(ABORT, 'outcome marks are append-only'); END;
CREATE TRIGGER outcome_marks_no_delete BEFORE DELETE ON outcome_marks
BEGIN SELECT RAISE(ABORT, 'outcome marks are append-only'); END;

-- outlet_merges: a curator counting one outlet name as another ('merge'), or undoing that ('split').
-- Names are stored normalised (see docs/outlets.md); replaying the rows in order gives the names in force.
CREATE TABLE outlet_merges (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    at          TEXT NOT NULL,
    actor_id    INTEGER,
    actor_name  TEXT NOT NULL,
    action      TEXT NOT NULL CHECK (action IN ('merge', 'split')),
    outlet      TEXT NOT NULL,
    into_outlet TEXT,
    reason      TEXT NOT NULL,
    CHECK ((action = 'merge') = (into_outlet IS NOT NULL))
);
CREATE INDEX outlet_merges_guild ON outlet_merges(guild_id, id);
CREATE TRIGGER outlet_merges_no_update BEFORE UPDATE ON outlet_merges
BEGIN SELECT RAISE(ABORT, 'outlet merges are append-only'); END;
CREATE TRIGGER outlet_merges_no_delete BEFORE DELETE ON outlet_merges
BEGIN SELECT RAISE(ABORT, 'outlet merges are append-only'); END;
