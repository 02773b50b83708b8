"""The charts as a member sees them (see tests/bot/chart_checks.py): the seed story, one dated event, a dense
story (200 events), a long one (two years), nothing dated, and poll results with 2 to 20 options.
`RUMORMILL_SCREENSHOTS=docs` also writes the 400-px pictures of the dense and the long story."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from bot.kit.charts import bar_chart_figure, bar_chart_png
from bot.kit.timeline import timeline_figure, timeline_png
from cogs.rumors import timeline_marks
from tests.bot.kit import timeline_stories
from tests.bot.kit.chart_checks import check_legible, save

TITLE = "Netflix × Spotify original music programming"


@pytest.mark.parametrize("by", ["status", "project"])
async def test_the_seed_story_reads_at_400_px(world, by):
    facts = await world.bot.facts_for(world.guild.id)
    story = await facts.default_story()
    claims, marks = await timeline_marks(facts, story)
    fig = timeline_figure(story.title, claims, marks, by=by)
    texts = check_legible(fig)
    assert any(t.startswith(f"{len(marks)} dated event") for t in texts), texts
    # Fourteen claims added at one instant are one counted mark that says what they are.
    assert str(len(marks)) in texts or any(t.startswith("#") for t in texts), texts
    assert any("claims added" in t and "#1–#14" in t for t in texts), texts


async def test_one_dated_event_names_its_claim():
    claims, marks = timeline_stories.one_event()
    texts = check_legible(timeline_figure(TITLE, claims, marks))
    assert "1 dated event · 1 claim · 1 Jan 2026" in texts and "1 Jan" in texts
    # The only event has room for the claim's words, over more than one line.
    assert texts[texts.index("1 Jan") + 1].startswith("#1 Netflix and Spotify are in early talks")
    assert texts[texts.index("1 Jan") + 2] == "original programming."


@pytest.mark.parametrize("by", ["status", "project"])
def test_a_dense_story_is_grouped_into_counted_marks(by):
    claims, marks = timeline_stories.dense()
    assert len(marks) == 200
    fig = timeline_figure(TITLE, claims, marks, by=by)
    texts = check_legible(fig)
    counts = [int(t) for t in texts if t.isdigit()]
    assert sum(counts) + sum(t.startswith("#") for t in texts if "·" not in t) >= 1
    assert sum(counts) <= 200 and len(counts) >= 3, texts  # groups with their count
    if by == "status":
        save("dense", timeline_png(TITLE, claims, marks, by=by), fig)


@pytest.mark.parametrize("by", ["status", "project"])
def test_two_years_compress_the_quiet_months(by):
    claims, marks = timeline_stories.long()
    assert (marks[-1].at - marks[0].at).days > 600
    fig = timeline_figure(TITLE, claims, marks, by=by)
    texts = check_legible(fig)
    assert any("months with nothing dated" in t for t in texts), texts
    assert any("2024" in t for t in texts) and any("2025" in t for t in texts)
    if by == "status":
        save("long", timeline_png(TITLE, claims, marks, by=by), fig)


def test_nothing_dated_is_a_readable_picture():
    texts = check_legible(timeline_figure(TITLE, [], []))
    assert "Nothing dated yet" in texts


@pytest.mark.parametrize("options", [2, 4, 10, 20])
def test_poll_results_read_at_400_px(options):
    labels = [f"Option number {i + 1}" for i in range(options)]
    values = [float(i % 4) for i in range(options)]
    question = "Will the Netflix × Spotify awards show launch before the end of June, or later in the year?"
    fig = bar_chart_figure(question, labels, values)
    texts = check_legible(fig)
    assert all(any(t.startswith(label[:6]) for t in texts) for label in labels)
    assert any(t.startswith(f"{sum(values):g} votes in all") for t in texts)
    png = bar_chart_png(question, labels, values)
    assert Image.open(io.BytesIO(png)).size == (round(fig.bbox.width), round(fig.bbox.height))
