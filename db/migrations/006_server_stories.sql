-- Every story belongs to one server (guild). Claims and change events carry the server too, so every
-- read filters on it directly. Stories gain an archive flag, an updated_at and their own append-only
-- history; claims gain a kind (the rumor itself, or background context) and an optional project with a
-- horizon date. The search index gains a scope column, so a match never leaves the server.
--
-- A database written by an earlier version served one global store. The servers that used it are the
-- ones named in any per-server table. The first of them (lowest id) keeps the stored rows and their
-- ids; every other one gets its own copy of every story, claim, source, history row and change event,
-- with ids shifted by a fixed offset per server, and its polls, subscriptions (and their cursors), feeds,
-- triage items and proposals are pointed at its copy. A database no server used keeps its stories under
-- server 0: the first server that runs a command adopts them (see FactStore.ensure_guild).
-- The migration runner turns foreign keys off around a migration and checks them before committing.

CREATE TEMP TABLE m_guilds AS
    SELECT guild_id, row_number() OVER (ORDER BY guild_id) - 1 AS rank
    FROM (
        SELECT guild_id FROM guild_config
        UNION SELECT guild_id FROM polls
        UNION SELECT guild_id FROM subscriptions
        UNION SELECT guild_id FROM feeds
        UNION SELECT guild_id FROM triage
    );
CREATE TEMP TABLE m_off AS
    SELECT (SELECT coalesce(max(id), 0) FROM stories) AS s,
           (SELECT coalesce(max(id), 0) FROM claims) AS c,
           (SELECT coalesce(max(id), 0) FROM sources) AS src,
           (SELECT coalesce(max(id), 0) FROM claim_history) AS h,
           (SELECT coalesce(max(id), 0) FROM change_events) AS e;
-- Rank 0 is the owner of the original rows; with no server at all, the rows stay with server 0.
CREATE TEMP TABLE m_owner AS
    SELECT coalesce((SELECT guild_id FROM m_guilds WHERE rank = 0), 0) AS guild_id;

-- stories: rebuilt for the per-server slug and default
CREATE TABLE stories_new (
    id          INTEGER PRIMARY KEY,
    guild_id    INTEGER NOT NULL,
    slug        TEXT NOT NULL,
    title       TEXT NOT NULL,
    summary     TEXT NOT NULL,
    is_default  INTEGER NOT NULL DEFAULT 0 CHECK (is_default IN (0, 1)),
    archived_at TEXT,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    UNIQUE (guild_id, slug)
);
INSERT INTO stories_new(id, guild_id, slug, title, summary, is_default, archived_at, created_at, updated_at)
    SELECT s.id, (SELECT guild_id FROM m_owner), s.slug, s.title, s.summary, s.is_default, NULL, s.created_at,
           s.created_at
    FROM stories s;
INSERT INTO stories_new(id, guild_id, slug, title, summary, is_default, archived_at, created_at, updated_at)
    SELECT s.id + g.rank * o.s, g.guild_id, s.slug, s.title, s.summary, s.is_default, NULL, s.created_at,
           s.created_at
    FROM stories s, m_guilds g, m_off o
    WHERE g.rank > 0;
DROP TABLE stories;
ALTER TABLE stories_new RENAME TO stories;
CREATE UNIQUE INDEX stories_one_default ON stories(guild_id) WHERE is_default = 1;

CREATE TABLE story_history (
    id         INTEGER PRIMARY KEY,
    story_id   INTEGER NOT NULL REFERENCES stories(id),
    at         TEXT NOT NULL,
    actor_id   INTEGER,
    actor_name TEXT NOT NULL,
    action     TEXT NOT NULL CHECK (action IN ('created', 'edit', 'archive', 'unarchive', 'default')),
    field      TEXT,
    old_value  TEXT,
    new_value  TEXT,
    reason     TEXT NOT NULL
);
CREATE INDEX story_history_story ON story_history(story_id, id);
CREATE TRIGGER story_history_no_update BEFORE UPDATE ON story_history
BEGIN SELECT RAISE(ABORT, 'story history is append-only'); END;
CREATE TRIGGER story_history_no_delete BEFORE DELETE ON story_history
BEGIN SELECT RAISE(ABORT, 'story history is append-only'); END;
CREATE TRIGGER stories_no_delete BEFORE DELETE ON stories
BEGIN SELECT RAISE(ABORT, 'stories are archived, never deleted'); END;
INSERT INTO story_history(story_id, at, actor_id, actor_name, action, field, old_value, new_value, reason)
    SELECT id, created_at, NULL, 'Rumor Mill', 'created', NULL, NULL, title, 'Story existed before stories had history'
    FROM stories ORDER BY id;

-- claims: server, kind and project
ALTER TABLE claims ADD COLUMN guild_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE claims ADD COLUMN kind TEXT NOT NULL DEFAULT 'rumor' CHECK (kind IN ('rumor', 'context'));
ALTER TABLE claims ADD COLUMN project TEXT;   -- a short name when the claim is something that may launch
ALTER TABLE claims ADD COLUMN horizon TEXT;   -- the date a launch is expected by, when known
UPDATE claims SET guild_id = (SELECT guild_id FROM m_owner);
-- The seeded story's own curation: background facts are context; the four formats are projects.
UPDATE claims SET kind = 'context'
    WHERE key IN ('netflix-live-record', 'building-the-band', 'star-search', 'spotify-video',
                  'netflix-gain', 'spotify-gain', 'sarandos-board')
      AND story_id IN (SELECT id FROM stories WHERE slug = 'netflix-spotify');
UPDATE claims SET project = CASE key
        WHEN 'format-awards-show' THEN 'Netflix × Spotify music awards show'
        WHEN 'format-concert-series' THEN 'Netflix × Spotify live concert series'
        WHEN 'format-celebrity-interviews' THEN 'Netflix × Spotify celebrity interview series'
        WHEN 'format-music-documentaries' THEN 'Netflix × Spotify music documentaries'
    END
    WHERE key LIKE 'format-%' AND story_id IN (SELECT id FROM stories WHERE slug = 'netflix-spotify');
INSERT INTO claims(id, story_id, key, text, status, first_reported, created_at, updated_at, guild_id, kind,
                   project, horizon)
    SELECT c.id + g.rank * o.c, c.story_id + g.rank * o.s, c.key, c.text, c.status, c.first_reported,
           c.created_at, c.updated_at, g.guild_id, c.kind, c.project, c.horizon
    FROM claims c, m_guilds g, m_off o
    WHERE g.rank > 0 AND c.id <= o.c;
DROP INDEX claims_story_status;
CREATE INDEX claims_story_status ON claims(story_id, status);
CREATE INDEX claims_guild_recent ON claims(guild_id, updated_at, id);
CREATE INDEX claims_story ON claims(story_id, id);

INSERT INTO claim_tags(claim_id, tag)
    SELECT t.claim_id + g.rank * o.c, t.tag FROM claim_tags t, m_guilds g, m_off o
    WHERE g.rank > 0 AND t.claim_id <= o.c;
INSERT INTO claim_entities(claim_id, entity)
    SELECT t.claim_id + g.rank * o.c, t.entity FROM claim_entities t, m_guilds g, m_off o
    WHERE g.rank > 0 AND t.claim_id <= o.c;
INSERT INTO sources(id, claim_id, outlet, url, published, cites, reliability, added_at)
    SELECT s.id + g.rank * o.src, s.claim_id + g.rank * o.c, s.outlet, s.url, s.published, s.cites,
           s.reliability, s.added_at
    FROM sources s, m_guilds g, m_off o
    WHERE g.rank > 0 AND s.id <= o.src;

-- claim_history: rebuilt for the new 'mark' action (kind or project changed)
CREATE TABLE claim_history_new (
    id           INTEGER PRIMARY KEY,
    claim_id     INTEGER NOT NULL REFERENCES claims(id),
    at           TEXT NOT NULL,
    actor_id     INTEGER,
    actor_name   TEXT NOT NULL,
    action       TEXT NOT NULL CHECK (action IN ('created', 'status', 'edit', 'source', 'retract', 'mark')),
    old_value    TEXT,
    new_value    TEXT,
    reason       TEXT NOT NULL,
    evidence_url TEXT
);
INSERT INTO claim_history_new SELECT * FROM claim_history;
INSERT INTO claim_history_new(id, claim_id, at, actor_id, actor_name, action, old_value, new_value, reason,
                              evidence_url)
    SELECT h.id + g.rank * o.h, h.claim_id + g.rank * o.c, h.at, h.actor_id, h.actor_name, h.action, h.old_value,
           h.new_value, h.reason, h.evidence_url
    FROM claim_history h, m_guilds g, m_off o
    WHERE g.rank > 0;
DROP TABLE claim_history;
ALTER TABLE claim_history_new RENAME TO claim_history;
CREATE INDEX claim_history_claim ON claim_history(claim_id, id);
CREATE TRIGGER claim_history_no_update BEFORE UPDATE ON claim_history
BEGIN SELECT RAISE(ABORT, 'claim history is append-only'); END;
CREATE TRIGGER claim_history_no_delete BEFORE DELETE ON claim_history
BEGIN SELECT RAISE(ABORT, 'claim history is append-only'); END;

-- change events: the server, and the copies
ALTER TABLE change_events ADD COLUMN guild_id INTEGER NOT NULL DEFAULT 0;
UPDATE change_events SET guild_id = (SELECT guild_id FROM m_owner);
INSERT INTO change_events(id, story_id, claim_id, history_id, kind, summary, detail, created_at, guild_id)
    SELECT e.id + g.rank * o.e, e.story_id + g.rank * o.s, e.claim_id + g.rank * o.c,
           e.history_id + g.rank * o.h, e.kind,
           -- summaries name the claim ('#3 reworded: ...'): name the copy instead
           replace(replace(e.summary, '#' || e.claim_id || ' ', '#' || (e.claim_id + g.rank * o.c) || ' '),
                   '#' || e.claim_id || ':', '#' || (e.claim_id + g.rank * o.c) || ':'),
           e.detail, e.created_at, g.guild_id
    FROM change_events e, m_guilds g, m_off o
    WHERE g.rank > 0 AND e.id <= o.e;
CREATE INDEX change_events_guild ON change_events(guild_id, id);

-- every per-server row that points into the store points at its own server's copy
UPDATE polls SET claim_id = claim_id + (SELECT g.rank * o.c FROM m_guilds g, m_off o WHERE g.guild_id = polls.guild_id)
    WHERE claim_id IS NOT NULL;
UPDATE poll_proposals SET event_id = event_id + (
        SELECT g.rank * o.e FROM polls p JOIN m_guilds g ON g.guild_id = p.guild_id, m_off o
        WHERE p.id = poll_proposals.poll_id);
UPDATE subscriptions SET
        story_id = story_id + (SELECT g.rank * o.s FROM m_guilds g, m_off o WHERE g.guild_id = subscriptions.guild_id),
        cursor = cursor + iif(cursor > 0,
            (SELECT g.rank * o.e FROM m_guilds g, m_off o WHERE g.guild_id = subscriptions.guild_id), 0);
UPDATE outbox SET
        first_event = first_event + (SELECT g.rank * o.e FROM subscriptions s JOIN m_guilds g ON g.guild_id = s.guild_id,
                                     m_off o WHERE s.id = outbox.subscription_id),
        last_event = last_event + (SELECT g.rank * o.e FROM subscriptions s JOIN m_guilds g ON g.guild_id = s.guild_id,
                                   m_off o WHERE s.id = outbox.subscription_id)
    WHERE first_event IS NOT NULL;
UPDATE feeds SET story_id = story_id + (SELECT g.rank * o.s FROM m_guilds g, m_off o WHERE g.guild_id = feeds.guild_id);
UPDATE triage SET
        story_id = story_id + (SELECT g.rank * o.s FROM m_guilds g, m_off o WHERE g.guild_id = triage.guild_id),
        claim_id = claim_id + (SELECT g.rank * o.c FROM m_guilds g, m_off o WHERE g.guild_id = triage.guild_id);

-- search: rebuilt with a scope column holding the server as one token ('g123'), matched with every query
DROP TABLE claims_fts_vocab;
DROP TABLE claims_fts;
CREATE VIRTUAL TABLE claims_fts USING fts5(
    text, tags, entities, scope,
    tokenize = 'porter unicode61 remove_diacritics 2',
    prefix = '2 3 4'
);
CREATE VIRTUAL TABLE claims_fts_vocab USING fts5vocab(claims_fts, 'row');
INSERT INTO claims_fts(rowid, text, tags, entities, scope)
    SELECT c.id, c.text,
           coalesce((SELECT group_concat(tag, ' ') FROM claim_tags WHERE claim_id = c.id), ''),
           coalesce((SELECT group_concat(entity, ' ') FROM claim_entities WHERE claim_id = c.id), ''),
           'g' || c.guild_id
    FROM claims c ORDER BY c.id;

-- The old version seeded once per database; every server that has a copy now has its seed.
INSERT INTO meta(key, value)
    SELECT 'seed:netflix-spotify:' || guild_id, '1' FROM m_guilds
    WHERE EXISTS (SELECT 1 FROM meta WHERE key = 'seed:netflix-spotify');

-- Writes made by a Discord interaction record its id in the same transaction: a replayed interaction
-- writes nothing twice.
CREATE TABLE applied_requests (
    id       INTEGER PRIMARY KEY,   -- the interaction id
    guild_id INTEGER NOT NULL,
    at       TEXT NOT NULL
);

DROP TABLE m_guilds;
DROP TABLE m_off;
DROP TABLE m_owner;
