-- Reactions the bot owes Discord a removal of: a moved vote's old reaction, a reaction in an
-- anonymous poll, a surplus reaction found by reconciliation. Written in the same transaction as the
-- vote change that makes them owed, so a stop before Discord confirms the removal (a 429 with a long
-- retry, SIGTERM, SIGKILL) cannot turn the old reaction back into a vote: reconciliation treats an owed
-- reaction as not a vote and removes it again. A row goes once the reaction is gone, or when the member
-- picks that option again.

CREATE TABLE owed_removals (
    poll_id  INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    position INTEGER NOT NULL,
    PRIMARY KEY (poll_id, user_id, position)
) WITHOUT ROWID;
