"""What a member can read in a chart: an embed's image is shown 400 px wide, so every text box must be at
least 11 px tall at that width, measured on the boxes matplotlib renders; the picture must fit 400 × 300 so
that Discord does not shrink it further; and no two texts overlap."""

from __future__ import annotations

import io
import itertools
import os
from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.text import Text
from PIL import Image

SHOWN = 400  # px: the width Discord shows an embed's image at


def texts_of(fig: Figure) -> list[tuple[str, float, tuple[float, float, float, float]]]:
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


def check_legible(fig: Figure) -> list[str]:
    texts = texts_of(fig)
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


def save(name: str, png: bytes, fig: Figure) -> None:
    image = Image.open(io.BytesIO(png))
    assert image.size == (round(fig.bbox.width), round(fig.bbox.height)), "the PNG is the canvas, uncropped"
    target = os.environ.get("RUMORMILL_SCREENSHOTS")
    if target:
        Path(target).mkdir(parents=True, exist_ok=True)
        small = image.resize((SHOWN, round(image.height * SHOWN / image.width)), Image.LANCZOS)
        small.save(Path(target) / f"timeline-{name}.png")
