-- Scheduled update posts (subscriptions + outbox) and curated news feeds (feeds, seen items, triage).
-- Timestamps are ISO 8601 UTC strings, as in 001_core.sql.

-- A channel following a story. `cursor` is the last change_events.id already turned into outbox rows:
-- the producer advances it in the same transaction that inserts the rows, so no event is posted twice
-- or skipped. Digest modes keep their next slot (UTC) in `next_due`.
CREATE TABLE subscriptions (
    id             INTEGER PRIMARY KEY,
    guild_id       INTEGER NOT NULL,
    channel_id     INTEGER NOT NULL,
    story_id       INTEGER NOT NULL REFERENCES stories(id),
    mode           TEXT NOT NULL CHECK (mode IN ('instant', 'daily', 'weekly')),
    local_time     TEXT,              -- 'HH:MM' for digests
    weekday        INTEGER CHECK (weekday BETWEEN 0 AND 6),  -- Monday = 0, weekly only
    timezone       TEXT NOT NULL DEFAULT 'UTC',
    cursor         INTEGER NOT NULL DEFAULT 0,
    next_due       TEXT,
    origin_channel INTEGER,           -- where /updates subscribe was run: pause notes go there
    created_by     INTEGER,
    created_at     TEXT NOT NULL,
    paused_at      TEXT,
    paused_reason  TEXT,
    UNIQUE (channel_id, story_id)
);
CREATE INDEX subscriptions_guild ON subscriptions(guild_id);

-- One row per Discord message to send. The nonce is sent with enforce_nonce, and the row id is shown in
-- the embed footer, so a retry after a crash finds or dedupes the message it already created.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY,
    subscription_id INTEGER NOT NULL REFERENCES subscriptions(id) ON DELETE CASCADE,
    channel_id      INTEGER NOT NULL,
    nonce           TEXT NOT NULL UNIQUE,
    payload         TEXT NOT NULL,    -- JSON: {"content": ..., "embeds": [...]}
    first_event     INTEGER,
    last_event      INTEGER,
    slot            TEXT,             -- digest slot this row belongs to (UTC), NULL for instant posts
    part            INTEGER NOT NULL DEFAULT 1,
    parts           INTEGER NOT NULL DEFAULT 1,
    late            INTEGER NOT NULL DEFAULT 0,
    state           TEXT NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sent', 'held')),
    attempts        INTEGER NOT NULL DEFAULT 0,
    attempted_at    TEXT,             -- set (and committed) before each send
    next_attempt_at TEXT NOT NULL,
    last_error      TEXT,
    message_id      INTEGER,
    created_at      TEXT NOT NULL,
    sent_at         TEXT,
    UNIQUE (subscription_id, slot, part)
);
CREATE INDEX outbox_due ON outbox(state, next_attempt_at, id);
-- The sender takes the oldest pending row per channel, so posts to one channel keep their order.
CREATE INDEX outbox_channel ON outbox(channel_id, state, id);

CREATE TABLE feeds (
    id            INTEGER PRIMARY KEY,
    guild_id      INTEGER NOT NULL,
    story_id      INTEGER NOT NULL REFERENCES stories(id),
    url           TEXT NOT NULL,
    title         TEXT,
    keywords      TEXT NOT NULL DEFAULT '[]',   -- JSON list; an item must mention all of them
    etag          TEXT,
    last_modified TEXT,
    failures      INTEGER NOT NULL DEFAULT 0,
    next_fetch_at TEXT NOT NULL,
    last_fetch_at TEXT,
    last_result   TEXT,
    paused_reason TEXT,
    added_by      INTEGER,
    created_at    TEXT NOT NULL,
    UNIQUE (guild_id, url)
);

CREATE TABLE feed_items (
    feed_id    INTEGER NOT NULL REFERENCES feeds(id) ON DELETE CASCADE,
    item_key   TEXT NOT NULL,
    first_seen TEXT NOT NULL,
    PRIMARY KEY (feed_id, item_key)
) WITHOUT ROWID;

-- Matching items wait here for a curator; nothing reaches a channel before a curator accepts it.
CREATE TABLE triage (
    id         INTEGER PRIMARY KEY,
    guild_id   INTEGER NOT NULL,
    feed_id    INTEGER REFERENCES feeds(id) ON DELETE SET NULL,
    item_key   TEXT NOT NULL,
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    outlet     TEXT NOT NULL,
    title      TEXT NOT NULL,
    link       TEXT,
    summary    TEXT NOT NULL DEFAULT '',
    published  TEXT,
    matched    TEXT NOT NULL DEFAULT '',
    state      TEXT NOT NULL DEFAULT 'open' CHECK (state IN ('open', 'attached', 'created', 'dismissed')),
    claim_id   INTEGER REFERENCES claims(id),
    decided_by INTEGER,
    decided_at TEXT,
    created_at TEXT NOT NULL,
    UNIQUE (guild_id, item_key)
);
CREATE INDEX triage_open ON triage(guild_id, state, id);
