-- The log of reaction votes, one row per batch the vote writer applied (a burst of thousands of
-- reactions writes a few rows here, not one per vote). vote_log keeps single changes: commands,
-- clears and reconciliations, whose row ids are handed back as acknowledgements.

CREATE TABLE vote_runs (
    id      INTEGER PRIMARY KEY,
    at      TEXT NOT NULL,
    -- The effective changes in order, as a JSON array of ints in flat triples:
    -- poll_id, user_id, position * 4 + kind (0 add, 1 removal, 2 removal because the vote moved).
    changes TEXT NOT NULL CHECK (json_valid(changes) AND json_array_length(changes) % 3 = 0)
);

-- Every vote change, one row each, from both logs (for audits and the sqlite3 shell):
-- run changes are numbered (run_id, seq); single changes have a log_id.
CREATE VIEW vote_history AS
SELECT NULL AS log_id, run_id, seq, poll_id, user_id, code >> 2 AS position,
       iif(code & 3 = 0, 'add', 'remove') AS action, iif(code & 3 = 2, 'move', 'reaction') AS source, at
FROM (
    SELECT r.id AS run_id, r.at AS at, j.key AS k, j.key / 3 AS seq, j.value AS poll_id,
           lead(j.value, 1) OVER w AS user_id, lead(j.value, 2) OVER w AS code
    FROM vote_runs AS r, json_each(r.changes) AS j
    WINDOW w AS (PARTITION BY r.id ORDER BY j.key)
)
WHERE k % 3 = 0
UNION ALL
SELECT id, NULL, NULL, poll_id, user_id, position, action, source, at FROM vote_log;
