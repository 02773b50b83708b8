-- Reaction polls and launch forecasts.
-- Times are ISO 8601 UTC strings; Discord ids are INTEGER.

CREATE TABLE polls (
    id                 INTEGER PRIMARY KEY,
    guild_id           INTEGER NOT NULL,
    channel_id         INTEGER NOT NULL,
    message_id         INTEGER UNIQUE,
    author_id          INTEGER NOT NULL,
    question           TEXT NOT NULL,
    kind               TEXT NOT NULL DEFAULT 'poll' CHECK (kind IN ('poll', 'forecast')),
    multi              INTEGER NOT NULL DEFAULT 0 CHECK (multi IN (0, 1)),
    anonymous          INTEGER NOT NULL DEFAULT 0 CHECK (anonymous IN (0, 1)),
    hide_counts        INTEGER NOT NULL DEFAULT 0 CHECK (hide_counts IN (0, 1)),
    claim_id           INTEGER REFERENCES claims(id),
    project            TEXT,
    closes_at          TEXT,
    status             TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
    closed_at          TEXT,
    close_reason       TEXT CHECK (close_reason IN ('deadline', 'manual', 'message_deleted', 'resolved')),
    results_message_id INTEGER,           -- set once the closing results are posted
    outcome            TEXT CHECK (outcome IN ('yes', 'no')),
    evidence           TEXT,
    resolved_at        TEXT,
    resolved_by        INTEGER,
    created_at         TEXT NOT NULL
);
CREATE INDEX polls_open_deadline ON polls(status, closes_at);
CREATE INDEX polls_claim ON polls(claim_id) WHERE claim_id IS NOT NULL;

CREATE TABLE poll_options (
    poll_id     INTEGER NOT NULL REFERENCES polls(id),
    position    INTEGER NOT NULL,
    emoji       TEXT NOT NULL,            -- unicode emoji, or name:id for a custom emoji
    label       TEXT NOT NULL,
    probability REAL CHECK (probability IS NULL OR probability BETWEEN 0 AND 1),
    PRIMARY KEY (poll_id, position),
    UNIQUE (poll_id, emoji)
) WITHOUT ROWID;

-- Current votes: one row per (poll, member, option held).
CREATE TABLE votes (
    poll_id  INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    position INTEGER NOT NULL,
    voted_at TEXT NOT NULL,
    PRIMARY KEY (poll_id, user_id, position)
) WITHOUT ROWID;
CREATE INDEX votes_tally ON votes(poll_id, position);

-- Append-only log of every effective vote change (its id is the acknowledgement handed back).
CREATE TABLE vote_log (
    id       INTEGER PRIMARY KEY,
    poll_id  INTEGER NOT NULL,
    user_id  INTEGER NOT NULL,
    position INTEGER NOT NULL,
    action   TEXT NOT NULL CHECK (action IN ('add', 'remove')),
    source   TEXT NOT NULL CHECK (source IN ('reaction', 'move', 'clear', 'reconcile', 'command')),
    at       TEXT NOT NULL
);

-- Brier scores, written once when a forecast poll is resolved.
CREATE TABLE forecast_scores (
    poll_id     INTEGER NOT NULL REFERENCES polls(id),
    user_id     INTEGER NOT NULL,
    probability REAL NOT NULL,
    brier       REAL NOT NULL,
    PRIMARY KEY (poll_id, user_id)
) WITHOUT ROWID;

-- Resolutions the bot proposed to curators after a linked claim changed.
CREATE TABLE poll_proposals (
    id          INTEGER PRIMARY KEY,
    poll_id     INTEGER NOT NULL REFERENCES polls(id),
    event_id    INTEGER NOT NULL,
    outcome     TEXT NOT NULL CHECK (outcome IN ('yes', 'no')),
    evidence    TEXT NOT NULL,
    message_id  INTEGER,
    state       TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'accepted', 'dismissed', 'superseded')),
    created_at  TEXT NOT NULL,
    UNIQUE (poll_id, event_id)
);
