-- One sentence-embedding vector per claim, for /ask's dense retrieval. Written with the claim (and on
-- every edit) in the same transaction; claims without one, or with one from another model, are
-- backfilled when the bot opens the store, since SQL alone cannot compute a vector.
CREATE TABLE claim_vectors (
    claim_id INTEGER PRIMARY KEY REFERENCES claims(id),
    model    TEXT NOT NULL,           -- e.g. 'wordllama-0.4.0.post1:l2_supercat:256'
    dim      INTEGER NOT NULL,
    vector   BLOB NOT NULL            -- dim little-endian float32 values, unit length
);
