"""PNG charts drawn with matplotlib's Agg backend (no display needed). Pure functions: data in, bytes out.

Every chart is laid out for the size Discord shows it: an embed's image is fitted into 400 × 300 px, so
each picture is drawn on a canvas 400 units wide and at most 300 tall (one unit is one pixel as a member
sees it), with no text smaller than 8.5 pt there (a text box about 12 px tall). The PNG holds two pixels
per unit, so it stays sharp when opened full size. The canvas has a background and a border of its own,
so it reads the same in Discord's dark and light themes.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import matplotlib

matplotlib.use("Agg")
from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.font_manager import FontProperties  # noqa: E402
from matplotlib.patches import FancyBboxPatch  # noqa: E402

WIDTH = 400.0  # the width Discord shows an embed's image at, in screen pixels
MAX_HEIGHT = 300.0  # an embed's image is fitted into 400 × 300: a taller one would be shrunk, text and all
SCALE = 2  # PNG pixels per screen pixel
PAD = 12.0
TEXT = 9.0  # points on the 400-wide canvas: a text box 12.5 px tall
SMALL = 8.5  # the smallest text anywhere: 11.8 px
TITLE = 10.5

BG = "#1B1C24"  # darker than Discord's dark theme, so the picture is a card there and on the light theme
BORDER = "#4E5058"
FG = "#E3E5E8"
MUTED = "#A3A7AE"
SPINE = "#5C5F6A"

STATUS_COLORS = {
    "rumored": "#A4B0BA",
    "reported": "#7984F5",
    "corroborated": "#3BA55C",
    "confirmed": "#2ECC71",
    "denied": "#ED4245",
    "launched": "#F1C40F",
    "cancelled": "#E67E22",
    "retracted": "#80848E",
}
PROJECT_COLORS = ("#7984F5", "#F1C40F", "#3BA55C", "#EB459E", "#E67E22", "#1ABC9C", "#ED4245", "#A4B0BA")
OTHER_COLOR = "#80848E"


# -- the canvas ---------------------------------------------------------------------------------------


class Canvas:
    """A figure whose data coordinates are screen pixels at 400 px wide, y growing downwards.

    Text is measured as it will be drawn, so every line is fitted to its room before it is placed. The
    height is set once the content is laid out (`finish`)."""

    def __init__(self) -> None:
        self.fig = Figure(figsize=(WIDTH / 100, MAX_HEIGHT / 100), dpi=100 * SCALE)
        FigureCanvasAgg(self.fig)
        self.ax = self.fig.add_axes((0.0, 0.0, 1.0, 1.0))
        self.ax.set_axis_off()
        self.ax.set_xlim(0, WIDTH)
        self.renderer = self.fig.canvas.get_renderer()  # type: ignore[attr-defined]

    def width_of(self, text: str, size: float = TEXT, bold: bool = False) -> float:
        font = FontProperties(size=size, weight="bold" if bold else "normal")
        width, _, _ = self.renderer.get_text_width_height_descent(text, font, ismath=False)
        return float(width) / SCALE

    def fit(self, text: str, room: float, size: float = TEXT, bold: bool = False) -> str:
        """The text, shortened at a word with an ellipsis, so it fits in `room` pixels."""
        if self.width_of(text, size, bold) <= room:
            return text
        words = text.split(" ")
        while len(words) > 1:
            words.pop()
            candidate = " ".join(words).rstrip(",;:·-–") + "…"
            if self.width_of(candidate, size, bold) <= room:
                return candidate
        shown = text
        while len(shown) > 1 and self.width_of(shown + "…", size, bold) > room:
            shown = shown[:-1]
        return shown + "…"

    def wrap(self, text: str, room: float, lines: int, size: float = TEXT, bold: bool = False) -> list[str]:
        """Up to `lines` lines of at most `room` pixels; the last one shortened if the text goes on."""
        out: list[str] = []
        words = text.split()
        while words and len(out) < lines:
            line = words.pop(0)
            while words and self.width_of(f"{line} {words[0]}", size, bold) <= room:
                line = f"{line} {words.pop(0)}"
            out.append(line)
        if words:
            out[-1] = self.fit(f"{out[-1]} {' '.join(words)}", room, size, bold)
        return [self.fit(line, room, size, bold) for line in out]

    def text(self, x: float, y: float, s: str, *, size: float = TEXT, color: str = FG, **kw: object) -> None:
        self.ax.text(x, y, s, fontsize=size, color=color, va=kw.pop("va", "center"), **kw)  # type: ignore[arg-type]

    def finish(self, height: float) -> Figure:
        height = min(max(height, 90.0), MAX_HEIGHT)
        self.fig.set_size_inches(WIDTH / 100, height / 100)
        self.ax.set_ylim(height, 0)
        self.fig.patch.set_facecolor(BG)
        self.ax.add_patch(
            FancyBboxPatch(
                (1.0, 1.0),
                WIDTH - 2,
                height - 2,
                boxstyle="round,pad=0,rounding_size=6",
                facecolor=BG,
                edgecolor=BORDER,
                linewidth=1.0,
                zorder=0,
            )
        )
        return self.fig


def png_bytes(fig: Figure) -> bytes:
    buf = io.BytesIO()
    # No tight bounding box: the PNG is exactly the canvas, so 400 px wide is what the layout assumed.
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
    return buf.getvalue()


def drawable(text: str) -> str:
    """The text without emoji: matplotlib's fonts have no colour emoji and would draw empty boxes."""
    kept = "".join(ch for ch in text if ord(ch) < 0x1F000 and ch not in "\ufe0f\u200d")
    return " ".join(kept.split()) or text


def ink(color: str) -> str:
    """Dark or white text, whichever reads on `color`."""
    r, g, b = (int(color[i : i + 2], 16) for i in (1, 3, 5))
    return "#111214" if 0.299 * r + 0.587 * g + 0.114 * b > 150 else "#FFFFFF"


def header(c: Canvas, title: str, subtitle: str, lines: int = 2) -> float:
    """The title (at most `lines` lines) and a muted subtitle; returns the y below them."""
    y = PAD + 2
    for line in c.wrap(drawable(title), WIDTH - 2 * PAD, lines, TITLE, bold=True):
        c.text(PAD, y + 7, line, size=TITLE, weight="bold", color="#FFFFFF")
        y += 17
    if subtitle:
        c.text(PAD, y + 6, c.fit(subtitle, WIDTH - 2 * PAD, SMALL), size=SMALL, color=MUTED)
        y += 16
    return y + 4


# -- nothing to draw ------------------------------------------------------------------------------------


def empty_png(title: str, headline: str, hint: str) -> bytes:
    return png_bytes(empty_figure(title, headline, hint))


def empty_figure(title: str, headline: str, hint: str) -> Figure:
    """A readable picture for "nothing to draw": the title, what is missing, and what would fill it."""
    c = Canvas()
    y = header(c, title, "")
    c.text(WIDTH / 2, y + 16, c.fit(headline, WIDTH - 2 * PAD, 14), size=14, color="#FFFFFF", ha="center")
    y += 38
    for line in c.wrap(hint, WIDTH - 2 * PAD, 3, SMALL):
        c.text(WIDTH / 2, y, line, size=SMALL, color=MUTED, ha="center")
        y += 14
    return c.finish(y + PAD)


# -- bars ---------------------------------------------------------------------------------------------

WINNER = "#3BA55C"
BAR = "#7984F5"


def bar_chart_png(title: str, labels: list[str], values: list[float], *, unit: str = "votes") -> bytes:
    return png_bytes(bar_chart_figure(title, labels, values, unit=unit))


def bar_chart_figure(title: str, labels: Sequence[str], values: Sequence[float], *, unit: str = "votes") -> Figure:
    """Horizontal bars, each with its count and share, the leader highlighted (a tie has none), and the
    question above. Up to 12 options stand in one column, more in two, so twenty still fit in 400 × 300."""
    c = Canvas()
    total = sum(values)
    top = max(values, default=0)
    leader = values.index(top) if top > 0 and list(values).count(top) == 1 else None
    tie = " · a tie" if top > 0 and leader is None else ""
    columns = 1 if len(labels) <= 12 else 2
    per_column = -(-len(labels) // columns) if labels else 0
    row = 18.0 if columns == 1 and len(labels) <= 10 else 15.0
    # A long question gets two lines unless the bars need the room.
    y0 = header(c, title, f"{total:g} {unit} in all{tie}", lines=2 if per_column * row <= 200 else 1)
    col_w = (WIDTH - 2 * PAD - (columns - 1) * 14) / columns
    values_w = max((c.width_of(_value_text(v, total), SMALL, bold=True) for v in values), default=0)
    label_w = min(
        max((c.width_of(drawable(x), SMALL) for x in labels), default=0), col_w * (0.42 if columns == 1 else 0.55)
    )
    bar_room = col_w - label_w - values_w - 14
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        col, r = divmod(i, per_column)
        x = PAD + col * (col_w + 14)
        cy = y0 + r * row + row / 2
        c.text(x + label_w, cy, c.fit(drawable(label), label_w, SMALL), size=SMALL, ha="right")
        length = bar_room * (value / top) if top else 0.0
        color = WINNER if i == leader else BAR
        c.ax.add_patch(
            FancyBboxPatch(
                (x + label_w + 6, cy - row * 0.32),
                max(length, 1.5),
                row * 0.64,
                boxstyle="round,pad=0,rounding_size=2",
                facecolor=color if value else SPINE,
                edgecolor="none",
            )
        )
        c.text(
            x + label_w + 10 + max(length, 1.5),
            cy,
            _value_text(value, total),
            size=SMALL,
            weight="bold" if i == leader else "normal",
        )
    return c.finish(y0 + per_column * row + PAD)


def _value_text(value: float, total: float) -> str:
    return f"{value:g} ({value / total:.0%})" if total else f"{value:g}"
