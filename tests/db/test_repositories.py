"""UpdateStore, FeedStore and PollStore on a migrated database, on SQLite and on PostgreSQL (the `backend`
fixture); rows written through one backend read back identically through the other (`other_backend`);
and the shard filter of the periodic work's queries (db/shards.py) on both engines.

The vote writer (db/votes/) is not here: PollStore's vote reads are fed by inserting `votes` rows directly.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest

from db import clock
from db.errors import InvalidChange, NotFound
from db.facts import Actor, FactStore, change_events_since, export_facts, import_facts
from db.feeds import FeedStore
from db.guilds import GuildConfig, active_story_count
from db.polls import NewPoll, PollOption, PollStore
from db.shards import ShardFilter, shard_clause
from db.updates import Produced, UpdateStore, new_nonce

CURATOR = Actor(42, "carol")
NOW = datetime.fromisoformat("2026-03-01T12:00:00+00:00")
AT = "2026-03-01T12:00:00+00:00"
# Real-looking snowflakes on shard 0 and shard 1 of 2: (guild_id >> 22) % 2.
SHARD0_GUILD = (1_000_000 << 22) | 12345
SHARD1_GUILD = (1_000_001 << 22) | 12345
SHARD0 = ShardFilter(2, (0,))


@dataclass(frozen=True)
class Item:  # what FeedStore.record_items reads of bot.feeds.FeedItem
    key: str
    title: str
    link: str | None = None
    summary: str = ""
    published: str | None = None


async def _story(db: Any, guild_id: int) -> int:
    story = await FactStore(db, guild_id).add_story(f"Story of {guild_id}", "what it is about", default=True)
    return story.id


async def _subscribe(store: UpdateStore, guild_id: int, story_id: int, channel_id: int, **kw: Any):
    args = dict(
        guild_id=guild_id,
        channel_id=channel_id,
        story_id=story_id,
        mode="instant",
        local_time=None,
        weekday=None,
        timezone="UTC",
        next_due=None,
        origin_channel=None,
        created_by=7,
        now=NOW,
    )
    args.update(kw)
    sub, created = await store.subscribe(**args)
    return sub, created


def _render(sub, title, events, slot):  # noqa: ANN001, ARG001
    return Produced([json.dumps({"content": f"{title}: {len(events)}"})], [new_nonce()], None)


async def _add_feed(store: FeedStore, guild_id: int, story_id: int, url: str, *, due: datetime = NOW):
    return await store.add(
        guild_id=guild_id,
        story_id=story_id,
        url=url,
        title=None,
        keywords=["netflix"],
        added_by=7,
        now=NOW - timedelta(hours=1),
        next_fetch_at=due,
        etag='"v1"',
        last_modified=None,
        item_keys=["old-1", "old-2", "old-1"],
    )


# -- UpdateStore ---------------------------------------------------------------------------------------
async def test_subscriptions_and_the_outbox(backend) -> None:  # noqa: ANN001
    store = UpdateStore(backend)
    facts = FactStore(backend, SHARD0_GUILD)
    story = await _story(backend, SHARD0_GUILD)
    await facts.add_claim(story, "Written before the subscription", actor=CURATOR, reason="r")
    sub, created = await _subscribe(store, SHARD0_GUILD, story, 10)
    assert created and sub.cursor > 0  # starts after the latest change
    again, created = await _subscribe(store, SHARD0_GUILD, story, 10, mode="daily", local_time="09:00")
    assert not created and again.id == sub.id and again.mode == "daily"
    await _subscribe(store, SHARD0_GUILD, story, 10)  # back to instant
    assert await store.find(10, story) == await store.get(sub.id)
    assert [s.id for s in await store.for_guild(SHARD0_GUILD)] == [sub.id]
    assert await store.produce(sub.id, NOW, _render) == 0  # nothing new

    await facts.add_claim(story, "The first new claim", actor=CURATOR, reason="r")
    await facts.add_claim(story, "The second new claim", actor=CURATOR, reason="r")
    assert await store.produce(sub.id, NOW, _render) == 1
    queued = await store.queued(sub.id)
    assert len(queued) == 1 and queued[0].payload == {"content": f"Story of {SHARD0_GUILD}: 2"}
    assert queued[0].late is False and queued[0].state == "pending"
    assert await store.pending_counts(SHARD0_GUILD) == {sub.id: (1, 0)}
    assert await store.wake_times() == (True, None, AT)
    assert [r.id for r in await store.due(NOW)] == [queued[0].id]
    assert await store.due(NOW - timedelta(seconds=1)) == []

    await store.mark_attempt(queued[0].id, NOW)
    await store.retry_later(queued[0].id, NOW + timedelta(minutes=1), "503")
    assert await store.due(NOW) == []
    await store.mark_sent(queued[0].id, 555, NOW + timedelta(minutes=1))
    sent = await store.sent_rows(sub.id)
    assert [(r.message_id, r.attempts, r.last_error) for r in sent] == [(555, 1, None)]
    assert await store.pending_counts(SHARD0_GUILD) == {}

    await facts.add_claim(story, "A third claim", actor=CURATOR, reason="r")
    assert await store.produce(sub.id, NOW, _render) == 1
    held = (await store.queued(sub.id))[0]
    await store.hold(held.id, "Missing Access")
    assert await store.pending_counts(SHARD0_GUILD) == {sub.id: (0, 1)}

    paused = await store.pause(sub.id, "channel gone", NOW)
    assert paused is not None and paused.paused_reason == "channel gone"
    assert await store.pause(sub.id, "again", NOW) is None  # paused once
    assert await store.active() == []
    assert await store.unsubscribe(SHARD0_GUILD, 10, story)
    assert not await store.unsubscribe(SHARD0_GUILD, 10, story)


async def test_digest_slots(backend) -> None:  # noqa: ANN001
    store = UpdateStore(backend)
    story = await _story(backend, SHARD0_GUILD)
    slot = NOW + timedelta(hours=1)
    sub, _ = await _subscribe(store, SHARD0_GUILD, story, 11, mode="daily", local_time="13:00", next_due=slot)
    assert await store.wake_times() == (False, clock.iso(slot), None)
    assert await store.produce(sub.id, NOW, _render) == 0  # not due yet

    def render(sub, title, events, at):  # noqa: ANN001
        return Produced([json.dumps({"slot": clock.iso(at)})], [new_nonce()], at + timedelta(days=1), late=True)

    assert await store.produce(sub.id, slot, render) == 1
    row = (await store.queued(sub.id))[0]
    assert row.slot == clock.iso(slot) and row.late is True and row.first_event is None
    assert (await store.get(sub.id)).next_due == clock.iso(slot + timedelta(days=1))


async def test_a_production_that_moved_while_rendering_is_not_queued_twice(backend) -> None:  # noqa: ANN001
    """Two producers render the same events (render runs outside the write); only the first one's rows are
    queued, because the second sees, inside its write, that the cursor moved."""
    facts = FactStore(backend, 1)
    story = await facts.add_story("A story", "what it is about", default=True)
    store = UpdateStore(backend)
    now = clock.now()
    sub, _ = await _subscribe(store, 1, story.id, 10, now=now)
    claim = await facts.add_claim(story.id, "The first claim", actor=CURATOR, reason="reported")
    rendered: list[list[int]] = []

    def render(sub, title, events, slot):  # noqa: ANN001, ARG001
        rendered.append([e.id for e in events])
        return Produced([json.dumps({"content": title})], [new_nonce()], None)

    # Both producers read before either writes: deterministic on both backends (on PostgreSQL a read is
    # its own round trip on a pooled connection, so left alone the second often reads after the commit).
    read_first = asyncio.Barrier(2)
    first_reads = 0
    due_batch = store._due_batch

    async def both_read_first(q, sub_id, now, *, events=True):  # noqa: ANN001, ANN202
        nonlocal first_reads
        batch = await due_batch(q, sub_id, now, events=events)
        if events and first_reads < 2:
            first_reads += 1
            await read_first.wait()
        return batch

    store._due_batch = both_read_first  # type: ignore[method-assign]
    made = await asyncio.gather(store.produce(sub.id, now, render), store.produce(sub.id, now, render))
    assert sorted(made) == [0, 1]
    assert len(rendered) == 2 and rendered[0] == rendered[1]  # both rendered the same event
    rows = await store.queued(sub.id)
    assert [(r.first_event, r.last_event) for r in rows] == [(rendered[0][0], rendered[0][0])]
    assert (await store.get(sub.id)).cursor == rendered[0][0]
    assert claim.id and await store.produce(sub.id, now, render) == 0  # nothing left to produce


# -- FeedStore -----------------------------------------------------------------------------------------
async def test_feeds_items_and_triage(backend) -> None:  # noqa: ANN001
    store = FeedStore(backend)
    story = await _story(backend, SHARD0_GUILD)
    feed = await _add_feed(store, SHARD0_GUILD, story, "https://news.example/rss")
    assert feed.keywords == ("netflix",) and feed.last_result == "added: 3 existing items marked as seen"
    with pytest.raises(InvalidChange, match="already follows"):
        await _add_feed(store, SHARD0_GUILD, story, "https://news.example/rss")
    assert await store.list(SHARD0_GUILD) == [feed]
    assert await store.get(SHARD0_GUILD, feed.id) == feed
    with pytest.raises(NotFound):
        await store.get(SHARD1_GUILD, feed.id)  # another server's feed
    assert [f.id for f in await store.due(NOW)] == [feed.id]
    assert await store.next_fetch_at() == AT

    def matcher(item: Item) -> tuple[bool, list[str]]:
        return ("netflix" in item.title.lower(), [] if "netflix" in item.title.lower() else ["netflix"])

    items = [Item("old-1", "Netflix old"), Item("new-1", "Netflix news", "https://n/1"), Item("new-2", "Other")]
    report = await store.record_items(
        feed, items, matcher, now=NOW, next_fetch_at=NOW + timedelta(minutes=30), etag='"v2"',
        last_modified=None, title="News", outlet="News",
    )  # fmt: skip
    assert [(r.key, r.new, r.matched, r.missing) for r in report] == [
        ("old-1", False, False, ()),
        ("new-1", True, True, ()),
        ("new-2", True, False, ("netflix",)),
    ]
    fetched = await store.get(SHARD0_GUILD, feed.id)
    assert (
        fetched.title == "News"
        and fetched.etag == '"v2"'
        and fetched.last_result == "3 items, 2 new, 1 sent to triage"
    )
    assert await store.open_count(SHARD0_GUILD) == 1
    item = await store.next_open(SHARD0_GUILD)
    assert item is not None and item.title == "Netflix news" and item.matched == "netflix"
    assert await store.triage_item(SHARD0_GUILD, item.id) == item
    assert await store.decide(SHARD0_GUILD, item.id, "dismissed", by=7, now=NOW)
    assert not await store.decide(SHARD0_GUILD, item.id, "accepted", by=8, now=NOW)  # the first decision stands
    await store.reopen(SHARD0_GUILD, item.id)
    assert (await store.next_open(SHARD0_GUILD)).id == item.id
    claim = await FactStore(backend, SHARD0_GUILD).add_claim(story, "From triage", actor=CURATOR, reason="r")
    await store.set_claim(item.id, claim.id)
    assert (await store.triage_item(SHARD0_GUILD, item.id)).claim_id == claim.id

    await store.record_not_modified(fetched, now=NOW, next_fetch_at=NOW + timedelta(hours=1))
    failed = await store.record_failure(fetched, "timeout", now=NOW, next_fetch_at=NOW, pause_after=2)
    assert failed.failures == 1 and failed.paused_reason is None
    failed = await store.record_failure(failed, "timeout", now=NOW, next_fetch_at=NOW, pause_after=2)
    assert failed.failures == 2 and failed.paused_reason.startswith("paused after 2 failed fetches")
    assert await store.due(NOW) == [] and await store.next_fetch_at() is None
    assert (await store.remove(SHARD0_GUILD, feed.id)).id == feed.id
    assert await store.list(SHARD0_GUILD) == []


# -- PollStore -----------------------------------------------------------------------------------------
async def _poll(store: PollStore, guild_id: int, question: str, **kw: Any):
    options = [PollOption(0, "1️⃣", "yes", 0.8), PollOption(1, "2️⃣", "no", 0.2)]
    return await store.create(NewPoll(guild_id, 2, None, 9, question, options, AT, **kw))


async def test_polls_reads_lifecycle_and_forecasts(backend) -> None:  # noqa: ANN001
    store = PollStore(backend)
    launch = await _poll(store, 1, "When is the LAUNCH?", kind="forecast", closes_at=AT)
    other = await _poll(store, 1, "Other question", multi=True, anonymous=True)
    assert launch.options[0] == PollOption(0, "1️⃣", "yes", 0.8) and other.multi and other.anonymous
    assert [p.id for p in await store.search(1, "launch")] == [launch.id]  # case-insensitive on both
    assert [p.id for p in await store.search(1, f"#{other.id}")] == [other.id]
    assert [p.id for p in await store.search(1, "")] == [other.id, launch.id]
    assert await store.search(2, "launch") == []
    assert await store.count_open(1) == 2
    assert await store.count_by_author_since(1, 9, AT) == 2
    assert [p.id for p in await store.open_in_guild(1)] == [other.id, launch.id]
    assert [p.id for p in await store.due(AT)] == [launch.id]
    assert await store.next_deadline() == datetime.fromisoformat(AT)

    async with backend.transaction() as tx:  # what the vote writer stores (seconds since 1970)
        await tx.executemany(
            "INSERT INTO votes(poll_id, user_id, position, voted_at) VALUES (?, ?, ?, ?)",
            [(launch.id, 5, 0, 1772366400), (launch.id, 6, 1, 1772366401), (other.id, 5, 1, 1772366402)],
        )
        await tx.executemany(
            "INSERT INTO poll_counts(poll_id, position, votes) VALUES (?, ?, ?)",
            [(launch.id, 0, 1), (launch.id, 1, 1)],
        )
    assert await store.votes_of(launch.id, 5) == [(0, "2026-03-01T12:00:00+00:00")]
    assert await store.export_rows(launch.id) == [
        (0, 5, "2026-03-01T12:00:00+00:00"),
        (1, 6, "2026-03-01T12:00:01+00:00"),
    ]
    assert await store.tally(launch.id) == {0: 1, 1: 1}
    assert await store.voter_count(launch.id) == 2
    assert await store.held_forecasts(launch.id) == {5: 0.8, 6: 0.2}
    assert not await store.owes_removal(launch.id, 5, 0)

    assert await store.close(launch.id, "deadline", AT)
    assert not await store.close(launch.id, "deadline", AT)  # closing happens once
    assert [p.id for p in await store.results_pending()] == [launch.id]
    await store.set_results_message(launch.id, 77)
    assert await store.results_pending() == []

    proposal = await store.add_proposal(launch.id, 1, "yes", "announced", AT)
    assert proposal is not None and await store.add_proposal(launch.id, 1, "yes", "again", AT) is None
    assert await store.unsent_proposals() == [proposal]
    await store.set_proposal_message(proposal.id, 88)
    assert await store.unsent_proposals() == []
    assert (await store.get_proposal(proposal.id)).message_id == 88
    assert [p.id for p in await store.unresolved_for_claim(0)] == []
    await store.store_resolution(launch.id, "yes", "announced", 42, AT, {5: (0.8, 0.04), 6: (0.2, 0.64)})
    with pytest.raises(InvalidChange, match="already resolved"):
        await store.store_resolution(launch.id, "no", "x", 42, AT, {})
    assert await store.scores(launch.id) == {5: (0.8, 0.04), 6: (0.2, 0.64)}
    assert sorted(await store.leaderboard_rows(1)) == [(5, 0.04), (6, 0.64)]
    assert not await store.set_proposal_state(proposal.id, "accepted")  # superseded by the resolution
    await store.discard(other.id)
    with pytest.raises(NotFound):
        await store.get(other.id)


async def test_guild_config_and_the_story_count(backend) -> None:  # noqa: ANN001
    config = GuildConfig(backend)
    assert await config.curator_role(SHARD0_GUILD) is None
    await config.set_curator_role(SHARD0_GUILD, 99)
    await config.set_curator_role(SHARD0_GUILD, 100)  # an upsert
    assert await config.curator_role(SHARD0_GUILD) == 100
    await config.set_curator_role(SHARD0_GUILD, None)
    assert await config.curator_role(SHARD0_GUILD) is None
    await _story(backend, SHARD0_GUILD)
    await _story(backend, SHARD1_GUILD)
    assert await active_story_count(backend) == 2


# -- the shard filter of the periodic work --------------------------------------------------------------
def test_shard_filter_sql_and_ownership() -> None:
    assert shard_clause(None) == ("", ())
    assert shard_clause(ShardFilter(4, (1, 3)), "s.guild_id") == (
        " AND ((s.guild_id >> 22) % ?) IN (?,?)",
        (4, 1, 3),
    )
    assert SHARD0.owns(SHARD0_GUILD) and not SHARD0.owns(SHARD1_GUILD)
    with pytest.raises(ValueError, match="do not fit"):
        ShardFilter(2, (2,))


async def test_periodic_queries_take_only_this_process_servers(backend) -> None:  # noqa: ANN001
    """With shard_count=2 and shard ids {0}, every periodic query returns only shard-0 servers' rows; without
    a filter, every server's."""
    updates, feeds, polls = UpdateStore(backend), FeedStore(backend), PollStore(backend)
    subs, feed_ids, poll_ids, rows = {}, {}, {}, {}
    for n, guild in enumerate((SHARD0_GUILD, SHARD1_GUILD)):
        story = await _story(backend, guild)
        subs[guild], _ = await _subscribe(updates, guild, story, 100 + n)
        digest, _ = await _subscribe(
            updates, guild, story, 200 + n, mode="daily", local_time="10:00", next_due=NOW + timedelta(hours=n + 1)
        )
        await FactStore(backend, guild).add_claim(story, f"News in {guild}", actor=CURATOR, reason="r")
        assert await updates.produce(subs[guild].id, NOW + timedelta(minutes=n), _render) == 1
        rows[guild] = (await updates.queued(subs[guild].id))[0].id
        feed_ids[guild] = (
            await _add_feed(feeds, guild, story, f"https://{n}.example/rss", due=NOW - timedelta(minutes=n))
        ).id
        poll_ids[guild] = (
            await _poll(polls, guild, f"Poll {n}?", closes_at=clock.iso(NOW + timedelta(minutes=n)))
        ).id

    later = NOW + timedelta(hours=3)
    assert [r.id for r in await updates.due(later, shards=SHARD0)] == [rows[SHARD0_GUILD]]
    assert sorted(r.id for r in await updates.due(later)) == sorted(rows.values())
    assert {s.guild_id for s in await updates.active(shards=SHARD0)} == {SHARD0_GUILD}
    assert {s.guild_id for s in await updates.active()} == {SHARD0_GUILD, SHARD1_GUILD}
    assert await updates.wake_times(shards=SHARD0) == (True, clock.iso(NOW + timedelta(hours=1)), AT)
    assert await updates.wake_times(shards=ShardFilter(2, (1,))) == (
        True,
        clock.iso(NOW + timedelta(hours=2)),
        clock.iso(NOW + timedelta(minutes=1)),
    )

    assert [f.id for f in await feeds.due(later, shards=SHARD0)] == [feed_ids[SHARD0_GUILD]]
    assert [f.id for f in await feeds.due(later)] == [feed_ids[SHARD1_GUILD], feed_ids[SHARD0_GUILD]]
    assert await feeds.next_fetch_at(shards=SHARD0) == AT
    assert await feeds.next_fetch_at() == clock.iso(NOW - timedelta(minutes=1))

    assert [p.id for p in await polls.due(clock.iso(later), shards=SHARD0)] == [poll_ids[SHARD0_GUILD]]
    assert [p.id for p in await polls.due(clock.iso(later))] == sorted(poll_ids.values())
    assert [p.id for p in await polls.open_polls(shards=SHARD0)] == [poll_ids[SHARD0_GUILD]]
    assert await polls.next_deadline(shards=ShardFilter(2, (1,))) == NOW + timedelta(minutes=1)
    for guild in poll_ids:
        await polls.close(poll_ids[guild], "deadline", AT)
        await polls.add_proposal(poll_ids[guild], 1, "yes", "e", AT)
    assert [p.id for p in await polls.results_pending(shards=SHARD0)] == [poll_ids[SHARD0_GUILD]]
    assert [p.poll_id for p in await polls.unsent_proposals(shards=SHARD0)] == [poll_ids[SHARD0_GUILD]]
    assert len(await polls.unsent_proposals()) == 2

    # The claim watcher reads change events from its own servers only (one cursor per shard layout).
    assert {e.guild_id for e in await change_events_since(backend, 0, shards=SHARD0)} == {SHARD0_GUILD}
    assert {e.guild_id for e in await change_events_since(backend, 0)} == {SHARD0_GUILD, SHARD1_GUILD}


# -- one backend writes, the other reads -----------------------------------------------------------------
_COPIED = ("subscriptions", "outbox", "feeds", "feed_items", "triage")


async def _copy(source: Any, target: Any) -> None:
    """The facts through export/import (as `rumormill facts export` / `facts import`), then the update and
    feed tables row for row with their ids, as a copy between backends does."""
    await import_facts(target, await export_facts(source))
    async with target.transaction() as tx:
        for table in _COPIED:
            rows = [dict(r) for r in await source.fetchall(f"SELECT * FROM {table} ORDER BY 1, 2")]  # noqa: S608
            if rows:
                cols = list(rows[0])
                await tx.executemany(
                    f"INSERT INTO {table}({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",  # noqa: S608
                    [tuple(r[c] for c in cols) for r in rows],
                )


async def test_rows_written_through_one_backend_read_back_identically_through_the_other(
    backend,
    other_backend,  # noqa: ANN001
) -> None:
    facts = FactStore(backend, SHARD0_GUILD)
    story = await _story(backend, SHARD0_GUILD)
    updates, feeds = UpdateStore(backend), FeedStore(backend)
    sub, _ = await _subscribe(updates, SHARD0_GUILD, story, 10)
    claim = await facts.add_claim(
        story, "Ünïcode claim with 'quotes' and tags", actor=CURATOR, reason="r", tags=["deal", "music"]
    )
    assert await updates.produce(sub.id, NOW, _render) == 1
    feed = await _add_feed(feeds, SHARD0_GUILD, story, "https://news.example/rss")
    await feeds.record_items(
        feed, [Item("n1", "Netflix news", "https://n/1", "sum", AT)], lambda _i: (True, []), now=NOW,
        next_fetch_at=NOW + timedelta(minutes=30), etag=None, last_modified="Sun", title=None, outlet="News",
    )  # fmt: skip

    await _copy(backend, other_backend)
    there = FactStore(other_backend, SHARD0_GUILD)
    assert await there.get_claim(claim.id) == await facts.get_claim(claim.id)
    assert await there.history(claim.id) == await facts.history(claim.id)
    assert [h.claim.id for h in await there.search("unicode claim")] == [claim.id]
    other_updates, other_feeds = UpdateStore(other_backend), FeedStore(other_backend)
    assert await other_updates.get(sub.id) == await updates.get(sub.id)
    assert await other_updates.for_guild(SHARD0_GUILD) == await updates.for_guild(SHARD0_GUILD)
    assert await other_updates.queued(sub.id) == await updates.queued(sub.id)
    assert await other_updates.due(NOW) == await updates.due(NOW)
    assert await other_updates.pending_counts(SHARD0_GUILD) == await updates.pending_counts(SHARD0_GUILD)
    assert await other_feeds.list(SHARD0_GUILD) == await feeds.list(SHARD0_GUILD)
    assert await other_feeds.next_open(SHARD0_GUILD) == await feeds.next_open(SHARD0_GUILD)
    # The copy goes on where the original left off: new rows get new ids on both.
    await FactStore(other_backend, SHARD0_GUILD).add_claim(story, "Later claim", actor=CURATOR, reason="r")
    assert await other_updates.produce(sub.id, NOW, _render) == 1
    assert len(await other_updates.queued(sub.id)) == 2
    with pytest.raises(InvalidChange, match="already follows"):
        await _add_feed(other_feeds, SHARD0_GUILD, story, "https://news.example/rss")
    assert (await _add_feed(other_feeds, SHARD0_GUILD, story, "https://other.example/rss")).id > feed.id
