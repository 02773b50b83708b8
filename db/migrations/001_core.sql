-- Core fact store: stories, claims, sources, append-only history and change events.
-- Timestamps are ISO 8601 UTC strings ('2026-01-01T00:00:00+00:00'); dates are 'YYYY-MM-DD'.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE guild_config (
    guild_id        INTEGER PRIMARY KEY,
    curator_role_id INTEGER
);

CREATE TABLE stories (
    id         INTEGER PRIMARY KEY,
    slug       TEXT NOT NULL UNIQUE,
    title      TEXT NOT NULL,
    summary    TEXT NOT NULL,
    is_default INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    created_at TEXT NOT NULL
);
-- At most one default story.
CREATE UNIQUE INDEX stories_one_default ON stories(is_default) WHERE is_default = 1;

CREATE TABLE claims (
    id             INTEGER PRIMARY KEY,
    story_id       INTEGER NOT NULL REFERENCES stories(id),
    key            TEXT,              -- stable handle for seeded claims, e.g. 'format-awards-show'
    text           TEXT NOT NULL,
    status         TEXT NOT NULL CHECK (status IN (
                       'rumored', 'reported', 'corroborated', 'confirmed',
                       'denied', 'launched', 'cancelled', 'retracted')),
    first_reported TEXT,              -- date the claim was first reported, when known
    created_at     TEXT NOT NULL,
    updated_at     TEXT NOT NULL,
    UNIQUE (story_id, key)
);
CREATE INDEX claims_story_status ON claims(story_id, status);

CREATE TABLE claim_tags (
    claim_id INTEGER NOT NULL REFERENCES claims(id),
    tag      TEXT NOT NULL,
    PRIMARY KEY (claim_id, tag)
) WITHOUT ROWID;
CREATE INDEX claim_tags_tag ON claim_tags(tag);

CREATE TABLE claim_entities (
    claim_id INTEGER NOT NULL REFERENCES claims(id),
    entity   TEXT NOT NULL,
    PRIMARY KEY (claim_id, entity)
) WITHOUT ROWID;

CREATE TABLE sources (
    id          INTEGER PRIMARY KEY,
    claim_id    INTEGER NOT NULL REFERENCES claims(id),
    outlet      TEXT NOT NULL,
    url         TEXT,
    published   TEXT,                 -- date, when known
    cites       TEXT,                 -- the outlet this source relays, e.g. The Wall Street Journal
    reliability TEXT NOT NULL CHECK (reliability IN ('A', 'B', 'C', 'D')),
    added_at    TEXT NOT NULL,
    UNIQUE (claim_id, outlet, url)
);

-- Append-only: every change to a claim, with who, when, what from what to what, why and evidence.
CREATE TABLE claim_history (
    id           INTEGER PRIMARY KEY,
    claim_id     INTEGER NOT NULL REFERENCES claims(id),
    at           TEXT NOT NULL,
    actor_id     INTEGER,
    actor_name   TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('created', 'status', 'edit', 'source', 'retract')),
    old_value    TEXT,
    new_value    TEXT,
    reason       TEXT NOT NULL,
    evidence_url TEXT
);
CREATE INDEX claim_history_claim ON claim_history(claim_id, id);

CREATE TRIGGER claim_history_no_update BEFORE UPDATE ON claim_history
BEGIN SELECT RAISE(ABORT, 'claim history is append-only'); END;
CREATE TRIGGER claim_history_no_delete BEFORE DELETE ON claim_history
BEGIN SELECT RAISE(ABORT, 'claim history is append-only'); END;
CREATE TRIGGER claims_no_delete BEFORE DELETE ON claims
BEGIN SELECT RAISE(ABORT, 'claims are retracted, never deleted'); END;

-- What the update posts are made from: one row per change, written in the same transaction.
CREATE TABLE change_events (
    id         INTEGER PRIMARY KEY,
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    claim_id   INTEGER REFERENCES claims(id),
    history_id INTEGER REFERENCES claim_history(id),
    kind       TEXT NOT NULL,         -- claim_added, status_changed, claim_edited, source_added, claim_retracted, ...
    summary    TEXT NOT NULL,
    detail     TEXT NOT NULL DEFAULT '{}',   -- JSON
    created_at TEXT NOT NULL
);
CREATE INDEX change_events_story ON change_events(story_id, id);

-- Word search with a prefix index (partial words); typos are corrected against fts vocabulary.
CREATE VIRTUAL TABLE claims_fts USING fts5(
    text, tags, entities,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);
CREATE VIRTUAL TABLE claims_fts_vocab USING fts5vocab(claims_fts, 'row');
