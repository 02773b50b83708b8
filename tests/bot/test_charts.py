"""The charts as a member sees them: an embed's image is shown 400 px wide, so every text box must be at
least 11 px tall at that width, measured on the boxes matplotlib renders, and the picture must fit 400 × 300
so that Discord does not shrink it further. RUMORMILL_SCREENSHOTS=docs also writes the 400-px pictures."""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

import pytest
from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

from bot.charts import bar_chart_figure, bar_chart_png, timeline_figure, timeline_png
from cogs.rumors import timeline_marks
from tests.bot import timeline_stories

SHOWN = 400  # px: the width Discord shows an embed's image at
TITLE = "Netflix × Spotify original music programming"


def _texts(fig: Figure) -> list[tuple[str, float, tuple[float, float, float, float]]]:
    """Every visible text: its string, its height at 400 px wide, and its box at that scale."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    scale = SHOWN / fig.bbox.width
    out = []
    for t in fig.findobj(Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        box = t.get_window_extent(renderer)
        out.append(
            (t.get_text(), box.height * scale, (box.x0 * scale, box.y0 * scale, box.x1 * scale, box.y1 * scale))
        )
    return out


def _check_legible(fig: Figure) -> list[str]:
    texts = _texts(fig)
    assert len(texts) >= 4, texts
    small = [(s, round(h, 1)) for s, h, _ in texts if h < 11]
    assert not small, f"text under 11 px at {SHOWN} px wide: {small}"
    # The whole picture fits Discord's 400 × 300 box at full width, so 400 px wide is what a member sees.
    assert fig.bbox.height / fig.bbox.width <= 0.75
    for (a, _, p), (b, _, q) in itertools.combinations(texts, 2):
        overlap_x = min(p[2], q[2]) - max(p[0], q[0])
        overlap_y = min(p[3], q[3]) - max(p[1], q[1])
        assert overlap_x <= 1 or overlap_y <= 1, f"{a!r} overlaps {b!r}"
    return [s for s, _, _ in texts]


def _save(name: str, png: bytes, fig: Figure) -> None:
    image = Image.open(io.BytesIO(png))
    assert image.size == (round(fig.bbox.width), round(fig.bbox.height)), "the PNG is the canvas, uncropped"
    target = os.environ.get("RUMORMILL_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        small = image.resize((SHOWN, round(image.height * SHOWN / image.width)), Image.LANCZOS)
        small.save(Path(target) / f"timeline-{name}.png")


@pytest.mark.parametrize("by", ["status", "project"])
async def test_the_seed_story_reads_at_400_px(world, by):
    facts = await world.bot.facts_for(world.guild.id)
    story = await facts.default_story()
    claims, marks = await timeline_marks(facts, story)
    fig = timeline_figure(story.title, claims, marks, by=by)
    texts = _check_legible(fig)
    assert any(t.startswith(f"{len(marks)} dated event") for t in texts), texts
    # Fourteen claims added at one instant are one counted mark that says what they are.
    assert str(len(marks)) in texts or any(t.startswith("#") for t in texts), texts
    assert any("claims added" in t and "#1–#14" in t for t in texts), texts
    if by == "status":
        _save("seed", timeline_png(story.title, claims, marks, by=by), fig)


async def test_one_dated_event_names_its_claim():
    claims, marks = timeline_stories.one_event()
    texts = _check_legible(timeline_figure(TITLE, claims, marks))
    assert "1 Jan 2026" in texts
    # The only event has room for the claim's words, over more than one line.
    assert texts[texts.index("1 Jan 2026") + 1].startswith("#1 Netflix and Spotify are in early talks")


@pytest.mark.parametrize("by", ["status", "project"])
def test_a_dense_story_is_grouped_into_counted_marks(by):
    claims, marks = timeline_stories.dense()
    assert len(marks) == 200
    fig = timeline_figure(TITLE, claims, marks, by=by)
    texts = _check_legible(fig)
    counts = [int(t) for t in texts if t.isdigit()]
    assert sum(counts) + sum(t.startswith("#") for t in texts if "·" not in t) >= 1
    assert sum(counts) <= 200 and len(counts) >= 3, texts  # groups with their count
    if by == "status":
        _save("dense", timeline_png(TITLE, claims, marks, by=by), fig)


@pytest.mark.parametrize("by", ["status", "project"])
def test_two_years_compress_the_quiet_months(by):
    claims, marks = timeline_stories.long()
    assert (marks[-1].at - marks[0].at).days > 600
    fig = timeline_figure(TITLE, claims, marks, by=by)
    texts = _check_legible(fig)
    assert any("months with nothing dated" in t for t in texts), texts
    assert any("2024" in t for t in texts) and any("2025" in t for t in texts)
    if by == "status":
        _save("long", timeline_png(TITLE, claims, marks, by=by), fig)


def test_nothing_dated_is_a_readable_picture():
    texts = _check_legible(timeline_figure(TITLE, [], []))
    assert "Nothing dated yet" in texts


@pytest.mark.parametrize("options", [2, 4, 10, 20])
def test_poll_results_read_at_400_px(options):
    labels = [f"Option number {i + 1}" for i in range(options)]
    values = [float(i % 4) for i in range(options)]
    question = "Will the Netflix × Spotify awards show launch before the end of June, or later in the year?"
    fig = bar_chart_figure(question, labels, values)
    texts = _check_legible(fig)
    assert all(any(t.startswith(label[:6]) for t in texts) for label in labels)
    assert any(t.startswith(f"{sum(values):g} votes in all") for t in texts)
    png = bar_chart_png(question, labels, values)
    assert Image.open(io.BytesIO(png)).size == (round(fig.bbox.width), round(fig.bbox.height))
