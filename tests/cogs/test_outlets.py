"""Outlets' track records through SimCord: a story whose outlets' outcomes are known, and every figure a
member sees checked exactly.

Time is virtual. Every outcome is set at the story's start T (2026-01-01) or one minute later; each report
is dated by its published day, so the time from report to outcome is known to the minute.

The story "Studio deals" (sources with their published day, then what happened):
  #a  Variety 12-31                    confirmed at T; Puck 12-31 added a minute later (counts for nothing)
  #b  Deadline 12-31                   denied at T
  #c  Variety 12-30, Puck 12-30        confirmed at T: both held up; Variety was entered first, so its scoop
  #d  Deadline.com 12-28               confirmed at T, retracted a minute later: did not hold up (4 days)
  #e  Aggregator citing variety.com    launched at T: credits Variety (12-30); Aggregator counted as a relay
  #f  variety 12-31                    still rumored: pending
  #g  Puck 12-31                       confirmed at T, back to rumored a minute later: pending again
  #h  Variety Magazine 12-31           denied at T (merged into Variety in one test)
So in this story: Variety 3 held up, 0 did not, 1 pending, 3 scoops, 1, 2 and 2 days (median 2.0 d);
Deadline 0 / 2 / 0, 1 and 4 days (median 2.5 d); Puck 1 / 0 / 1 (2 days); Aggregator relayed 1 (held up).
The seeded story adds the Wall Street Journal (5 held up, 9 pending, dated when entered: 0 h) to the
whole server's list.
"""

from __future__ import annotations

from dataclasses import dataclass

import discord
import pytest

from db.facts import Actor, NewSource, export_facts, import_facts
from tests.conftest import World, seen

pytestmark = pytest.mark.asyncio

CURATOR = Actor(7, "carol")


@dataclass
class Story:
    ids: dict[str, int]


def src(outlet: str, published: str, grade: str = "B", cites: str | None = None) -> NewSource:
    return NewSource(outlet=outlet, reliability=grade, cites=cites, published=f"2025-12-{published}")


async def build_story(w: World) -> Story:
    facts = w.facts
    story = await facts.add_story("Studio deals", "Who buys whom", actor=CURATOR)
    plan = {
        "a": ("Studio Alpha buys Studio Beta", [src("Variety", "31")]),
        "b": ("Show Gamma is renewed for a third season", [src("Deadline", "31")]),
        "c": ("Star Delta joins the Epsilon film", [src("Variety", "30"), src("Puck", "30", "D")]),
        "d": ("The Zeta merger is called off", [src("Deadline.com", "28")]),
        "e": ("Streamer Eta raises its prices", [src("Aggregator", "30", "C", cites="variety.com")]),
        "f": ("Theta buys a football league", [src("variety", "31")]),
        "g": ("Iota moves its studio to Kappa", [src("Puck", "31", "D")]),
        "h": ("Lambda signs a music deal", [src("Variety Magazine", "31")]),
    }
    ids = {}
    for key, (text, sources) in plan.items():
        claim = await facts.add_claim(story.id, text, actor=CURATOR, reason="trade press", sources=sources)
        ids[key] = claim.id
    outcomes = (
        ("a", "confirmed"),
        ("b", "denied"),
        ("c", "confirmed"),
        ("d", "confirmed"),
        ("e", "launched"),
        ("g", "confirmed"),
        ("h", "denied"),
    )
    for key, value in outcomes:
        await facts.set_status(ids[key], value, actor=CURATOR, reason="what happened")
    await w.env.advance_time(60)
    await facts.retract(ids["d"], actor=CURATOR, reason="the merger went ahead after all")
    await facts.set_status(ids["g"], "rumored", actor=CURATOR, reason="the move was only a plan")
    await facts.add_source(ids["a"], src("Puck", "31", "D"), actor=CURATOR, reason="late write-up")
    return Story(ids)


def lines_of(embed: discord.Embed) -> list[str]:
    return (embed.description or "").split("\n")


def field(embed: discord.Embed, start: str) -> str:
    return next(f.value for f in embed.fields if f.name.startswith(start))


async def test_the_ranking_shows_every_figure_of_a_story(curated_world):
    w = curated_world
    await build_story(w)
    result = await w.alice.slash(w.general, "outlets", story="studio-deals", min=2)
    message = seen(result)
    embed = message.embeds[0]
    assert embed.title == "Outlets' track records · Studio deals"
    assert lines_of(embed) == [
        "1. **Variety** · 3 held up · 0 did not · 1 pending · median 2.0 d to outcome · score 0.44",
        "2. **Deadline** · 0 held up · 2 did not · 0 pending · median 2.5 d to outcome · score 0.00",
    ]
    apart = field(embed, "Fewer than 2 outcomes (not ranked)").split("\n")
    assert apart == [
        "**Puck** · 1 held up · 0 did not · 1 pending · median 2.0 d to outcome",
        "**Variety Magazine** · 0 held up · 1 did not · 0 pending · median 1.0 d to outcome",
        "**Aggregator** · nothing resolved yet · 0 pending · relayed 1",
    ]
    assert "Wilson" in embed.footer.text
    assert message.attachments[0].filename == "calibration.png"
    assert embed.image.url == "attachment://calibration.png"
    png = await message.attachments[0].read()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"


async def test_the_whole_server_ranks_the_seeded_story_too_and_min_sets_apart(curated_world):
    w = curated_world
    await build_story(w)
    embed = seen(await w.alice.slash(w.general, "outlets")).embeds[0]
    assert embed.title == "Outlets' track records · every story"
    rows = lines_of(embed)
    # 5 of 5 outranks 3 of 3: the score is the lower end of a Wilson interval, not the share.
    assert rows[0] == (
        "1. **The Wall Street Journal** · 5 held up · 0 did not · 9 pending · median 0 h to outcome · score 0.57"
    )
    assert rows[1].startswith("2. **Variety** · 3 held up")
    assert len(rows) == 2
    apart = field(embed, "Fewer than 3 outcomes (not ranked)")
    assert "**Deadline** · 0 held up · 2 did not" in apart
    assert "**Secondary news report (seed article)** · nothing resolved yet · 0 pending · relayed 14" in apart


async def test_outlet_show_groups_claims_counts_scoops_and_compares_grades(curated_world):
    w = curated_world
    s = await build_story(w)
    embed = seen(await w.bob.slash(w.general, "outlet show", outlet="VARIETY.com")).embeds[0]
    assert embed.title == "Variety · 3 of 3 held up"
    assert lines_of(embed) == [
        "3 held up · 0 did not · 1 pending",
        "First to report 3 claim(s) that held up · median 2.0 d from its report to the outcome.",
    ]
    held = field(embed, "Held up (3)").split("\n")
    assert [line.split(" ")[0] for line in held] == [f"`#{s.ids[k]}`" for k in "ace"]
    assert all("🥇" in line for line in held)
    assert field(embed, "Did not hold up (0)") == "None."
    assert field(embed, "Pending (1)") == f"`#{s.ids['f']}` Theta buys a football league"
    # #e reached the store through a relay graded C: that grade is the relay's, not Variety's.
    assert field(embed, "Curators' grades vs what happened") == "B: 2 of 2 held up"
    assert "/fact show" in embed.footer.text

    puck = seen(await w.bob.slash(w.general, "outlet show", outlet="Puck")).embeds[0]
    assert puck.title == "Puck · 1 of 1 held up"
    # #c held up, but Variety reported it first; #a's Puck source came after the outcome: not listed.
    assert field(puck, "Held up (1)") == f"`#{s.ids['c']}` Star Delta joins the Epsilon film"
    assert field(puck, "Pending (1)") == f"`#{s.ids['g']}` Iota moves its studio to Kappa"
    assert "First to report 0 claim(s)" in puck.description
    assert field(puck, "Curators' grades vs what happened") == "D: 1 of 1 held up"

    relay = seen(await w.bob.slash(w.general, "outlet show", outlet="Aggregator")).embeds[0]
    assert relay.title == "Aggregator · nothing resolved yet"
    assert relay.description.startswith("Nothing it reported is resolved yet")
    assert "Relayed 1 other report(s): 1 held up, 0 did not, 0 pending." in relay.description
    assert field(relay, "Relayed, counted for the outlet it cites (1)") == (
        f"`#{s.ids['e']}` held up · Streamer Eta raises its prices"
    )

    choices = await w.bob.autocomplete(w.general, "outlet show", "outlet", "var")
    assert [c["name"] for c in choices] == ["Variety · 3 of 3 held up", "Variety Magazine · 0 of 1 held up"]
    unknown = seen(await w.bob.slash(w.general, "outlet show", outlet="Nobody Weekly"))
    assert unknown.ephemeral and unknown.content.startswith("No outlet by that name")


async def test_the_record_sits_beside_each_source_in_fact_show_ask_and_rumor(curated_world):
    w = curated_world
    s = await build_story(w)
    shown = seen(await w.alice.slash(w.general, "fact show", claim=str(s.ids["c"]))).embeds[0]
    assert field(shown, "Sources (2)").split("\n") == [
        "Variety · 3 of 3 held up · 2025-12-30 · reliability B",
        "Puck · 1 of 1 held up · 2025-12-30 · reliability D",
    ]
    relay = seen(await w.alice.slash(w.general, "fact show", claim=str(s.ids["e"]))).embeds[0]
    assert field(relay, "Sources (1)") == (
        "Aggregator · citing variety.com · Variety: 3 of 3 held up · 2025-12-30 · reliability C"
    )
    asked = seen(await w.alice.slash(w.general, "ask", question="Does Star Delta join the Epsilon film?")).embeds[
        0
    ]
    assert "*Sources:* Variety · 3 of 3 held up · 2025-12-30 · reliability B; Puck · 1 of 1 held up" in (
        asked.description
    )
    card = seen(await w.alice.slash(w.general, "rumor", story="studio-deals")).embeds[0]
    assert field(card, "Who reported it") == (
        "Variety · 3 of 3 held up · Puck · 1 of 1 held up · Deadline · 0 of 2 held up · "
        "Variety Magazine · 0 of 1 held up"
    )
    seeded = seen(await w.alice.slash(w.general, "fact show", claim="1")).embeds[0]
    assert field(seeded, "Sources (1)").startswith(
        "Secondary news report (seed article) · citing The Wall Street Journal · "
        "The Wall Street Journal: 5 of 5 held up"
    )


async def test_merge_and_split_are_curators_and_kept_in_history(curated_world):
    w = curated_world
    s = await build_story(w)
    refused = seen(
        await w.alice.slash(w.general, "outlet merge", name="Variety Magazine", into="Variety", reason="same")
    )
    assert refused.ephemeral and refused.content.startswith("Only curators")
    done = seen(
        await w.carol.slash(
            w.general, "outlet merge", name="Variety Magazine", into="Variety", reason="one masthead"
        )
    )
    assert done.ephemeral
    assert done.content == (
        "“Variety Magazine” now counts as Variety: Variety · 3 of 4 held up. "
        "The merge is kept in its history; `/outlet split` undoes it."
    )
    embed = seen(await w.bob.slash(w.general, "outlet show", outlet="Variety")).embeds[0]
    assert lines_of(embed) == [
        "3 held up · 1 did not · 1 pending",
        "First to report 3 claim(s) that held up · median 1.5 d from its report to the outcome.",
        "Also counted under this name: varietymagazine.",
    ]
    assert field(embed, "Did not hold up (1)") == f"`#{s.ids['h']}` Lambda signs a music deal"
    assert "carol: merged “varietymagazine” into Variety — one masthead" in field(embed, "Name changes")
    again = seen(
        await w.carol.slash(w.general, "outlet merge", name="Variety Magazine", into="Deadline", reason="oops")
    )
    assert again.ephemeral and again.content == "That name already counts as another outlet. Split it first."

    split = seen(await w.carol.slash(w.general, "outlet split", name="Variety Magazine", reason="separate title"))
    assert split.content == (
        "“Variety Magazine” counts as its own outlet again: Variety Magazine · 0 of 1 held up. "
        "The split is kept in its history."
    )
    embed = seen(await w.bob.slash(w.general, "outlet show", outlet="Variety")).embeds[0]
    assert embed.title == "Variety · 3 of 3 held up"
    changes = field(embed, "Name changes").split("\n")
    assert "carol: split “varietymagazine” out again — separate title" in changes[0]
    assert "merged “varietymagazine” into Variety" in changes[1]


async def test_a_curator_marks_one_claims_outcome_with_a_reason(curated_world):
    w = curated_world
    s = await build_story(w)
    b = str(s.ids["b"])
    refused = seen(await w.alice.slash(w.general, "outlet outcome", claim=b, outcome="held", reason="x"))
    assert refused.content.startswith("Only curators")
    done = seen(
        await w.carol.slash(w.general, "outlet outcome", claim=b, outcome="held", reason="the denial was spin")
    )
    assert done.content == (
        f"Claim #{b} now counts as **held up** in its outlets' records (its status: denied). "
        "The mark and its reason are kept in its history."
    )
    shown = seen(await w.alice.slash(w.general, "fact show", claim=b)).embeds[0]
    assert field(shown, "Outcome in the outlets' records") == (
        "Counted as held up (a curator's mark; its status says denied): the denial was spin"
    )
    assert field(shown, "Sources (1)").startswith("Deadline · 1 of 2 held up")
    same = seen(await w.carol.slash(w.general, "outlet outcome", claim=b, outcome="held", reason="again"))
    assert same.content == f"Claim #{b} is already marked that way."
    back = seen(await w.carol.slash(w.general, "outlet outcome", claim=b, outcome="auto", reason="settled"))
    assert "**did not hold up**" in back.content
    shown = seen(await w.alice.slash(w.general, "fact show", claim=b)).embeds[0]
    assert not [f for f in shown.fields if f.name.startswith("Outcome")]
    marks = await w.bot.records.history.marks(w.guild.id, s.ids["b"])
    assert [(m.outcome, m.reason, m.actor_name) for m in marks] == [
        ("held", "the denial was spin", "carol"),
        ("auto", "settled", "carol"),
    ]


async def test_a_second_server_with_the_same_names_keeps_its_own_record(curated_world):
    w = curated_world
    await build_story(w)
    guild = w.env.create_guild("Rival Media", owner=w.env.create_user("bea"))
    general = guild.create_text_channel("general")
    ada = guild.add_member(w.env.create_user("ada"))
    await w.env.settle()
    other = await w.bot.facts_for(guild.id)
    story = await other.add_story("Rival deals", "Theirs", actor=CURATOR)
    claim = await other.add_claim(
        story.id,
        "Studio Alpha buys Studio Beta",
        actor=CURATOR,
        reason="r",
        sources=[src("Variety", "31"), src("Deadline", "31")],
    )
    await other.set_status(claim.id, "denied", actor=CURATOR, reason="no deal")

    theirs = seen(await ada.slash(general, "outlet show", outlet="Variety")).embeds[0]
    assert theirs.title == "Variety · 0 of 1 held up"
    assert lines_of(theirs)[0] == "0 held up · 1 did not · 0 pending"
    ours = seen(await w.alice.slash(w.general, "outlet show", outlet="Variety")).embeds[0]
    assert ours.title == "Variety · 3 of 3 held up"
    ranked = seen(await ada.slash(general, "outlets", min=1)).embeds[0]
    assert lines_of(ranked) == [
        "1. **The Wall Street Journal** · 5 held up · 0 did not · 9 pending · median 0 h to outcome · score 0.57",
        "2. **Deadline** · 0 held up · 1 did not · 0 pending · median 1.0 d to outcome · score 0.00",
        "3. **Variety** · 0 held up · 1 did not · 0 pending · median 1.0 d to outcome · score 0.00",
    ]
    assert "Puck" not in "".join(f.value for f in ranked.fields)
    missing = seen(await ada.slash(general, "outlet show", outlet="Puck"))
    assert missing.ephemeral and missing.content.startswith("No outlet by that name")


async def test_export_and_import_carry_marks_and_merges(curated_world, tmp_path):
    from db import Database

    w = curated_world
    s = await build_story(w)
    await w.carol.slash(w.general, "outlet merge", name="Variety Magazine", into="Variety", reason="one masthead")
    await w.carol.slash(w.general, "outlet outcome", claim=str(s.ids["b"]), outcome="held", reason="spin")
    exported = await export_facts(w.bot.db)
    assert [r["outcome"] for r in exported["tables"]["outcome_marks"]] == ["held"]
    assert [(r["outlet"], r["into_outlet"]) for r in exported["tables"]["outlet_merges"]] == [
        ("varietymagazine", "variety")
    ]
    copy = await Database.open(tmp_path / "copy.db")
    await import_facts(copy, exported)
    from bot.outlets.records import TrackRecords

    before = await w.bot.records.for_guild(w.guild.id)
    after = await TrackRecords(copy).for_guild(w.guild.id)
    assert after.outlets == before.outlets
    assert after.outcomes == before.outcomes


async def test_an_archived_story_still_counts(curated_world):
    w = curated_world
    await build_story(w)
    story = await w.facts.resolve_story("studio-deals")
    await w.facts.set_archived(story.id, True, actor=CURATOR, reason="the deals closed")
    embed = seen(await w.alice.slash(w.general, "outlets", story="studio-deals", min=2)).embeds[0]
    assert lines_of(embed)[0] == (
        "1. **Variety** · 3 held up · 0 did not · 1 pending · median 2.0 d to outcome · score 0.44"
    )
    empty = await w.facts.add_story("Quiet story", "Nothing reported yet", actor=CURATOR)
    quiet = seen(await w.alice.slash(w.general, "outlets", story=empty.slug)).embeds[0]
    assert quiet.description == "No outlet has a source on a claim here yet, so there is no record to show."
