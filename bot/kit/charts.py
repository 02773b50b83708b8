"""PNG charts drawn with matplotlib's Agg backend (no display needed). Pure functions: data in, bytes out."""

from __future__ import annotations

import io
import textwrap
from dataclasses import dataclass
from datetime import datetime, timedelta

import matplotlib

matplotlib.use("Agg")
import matplotlib.dates as mdates  # noqa: E402
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.axes import Axes  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from matplotlib.lines import Line2D  # noqa: E402

STATUS_COLORS = {
    "rumored": "#99AAB5",
    "reported": "#5865F2",
    "corroborated": "#3BA55C",
    "confirmed": "#2ECC71",
    "denied": "#ED4245",
    "launched": "#F1C40F",
    "cancelled": "#992D22",
    "retracted": "#4F545C",
}
BG = "#313338"
FG = "#DBDEE1"


def _figure(width: float, height: float) -> tuple[Figure, Axes]:
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    fig.patch.set_facecolor(BG)
    ax.set_facecolor(BG)
    for spine in ax.spines.values():
        spine.set_color("#4E5058")
    ax.tick_params(colors=FG, labelsize=8)
    return fig, ax


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor(), bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


@dataclass(frozen=True, slots=True)
class TimelineMark:
    """One dated thing that happened to a claim."""

    at: datetime
    claim_id: int
    kind: str  # "added" (the claim entered the store), "status" (its status changed), "source" (a dated source)
    status: str  # the claim's status from this mark on
    label: str = ""


@dataclass(frozen=True, slots=True)
class TimelineClaim:
    id: int
    text: str
    status: str  # as it is now
    project: str | None = None


MARKERS = {"added": "o", "status": "D", "source": "^"}
MARK_NAMES = {"added": "claim added", "status": "status change", "source": "dated source"}
MARK_PLURALS = {"added": "claims added", "status": "status changes", "source": "dated sources"}
OTHER_LANE = "other claims"


def _span_limits(times: list[datetime]) -> tuple[datetime, datetime]:
    """An axis that fits the data: a small margin around it, never a day of emptiness around one instant.
    The right margin is wider: it holds the counts written beside a cluster."""
    first, last = min(times), max(times)
    span = last - first
    pad = max(span * 0.04, timedelta(hours=2)) if span else timedelta(hours=3)
    return first - pad, last + max(pad, span * 0.14)


def _lane_names(claims: dict[int, TimelineClaim], marks: list[TimelineMark], by: str) -> list[str]:
    if by == "project":
        projects = sorted({c.project for c in claims.values() if c.project})
        others = any(not c.project for c in claims.values())
        return projects + ([OTHER_LANE] if others else [])
    used = {m.status for m in marks} | {c.status for c in claims.values()}
    return [s for s in STATUS_COLORS if s in used] + sorted(used - set(STATUS_COLORS))


def timeline_png(
    title: str, claims: list[TimelineClaim], marks: list[TimelineMark], *, by: str = "status", subtitle: str = ""
) -> bytes:
    """Claims on lanes (by status, or by project), with every dated mark: added, status changes, sources.

    By status, a claim's marks sit on the lane of the status it had at that moment, so a status change
    reads as a step from one lane to the next. Marks at the same instant on one lane are spread a little
    and counted, so fourteen claims added at once are fourteen visible dots, not one.
    """
    known = {c.id: c for c in claims}
    marks = sorted((m for m in marks if m.claim_id in known), key=lambda m: (m.at, m.claim_id))
    if not marks:
        return empty_png(
            title, "Nothing dated yet", "Claims, sources and status changes appear here once they have a date."
        )
    lanes = _lane_names(known, marks, by)
    if by == "project":
        lane_of = {cid: lanes.index(c.project or OTHER_LANE) for cid, c in known.items()}
    fig, ax = _figure(11, max(3.0, 0.62 * len(lanes) + 2.0))
    y_of = {name: len(lanes) - 1 - i for i, name in enumerate(lanes)}
    # Spread marks that share a lane and an hour, so none hides another.
    buckets: dict[tuple[int, datetime], list[TimelineMark]] = {}
    for m in marks:
        lane = lanes[lane_of[m.claim_id]] if by == "project" else m.status
        hour = m.at.replace(minute=0, second=0, microsecond=0)
        buckets.setdefault((y_of[lane], hour), []).append(m)
    points: dict[int, list[tuple[datetime, float]]] = {}
    for (y, _hour), group in buckets.items():
        n = len(group)
        for i, m in enumerate(group):
            kind = m.kind
            offset = 0.0 if n == 1 else -0.32 + 0.64 * i / (n - 1)
            ax.scatter(
                mdates.date2num(m.at),
                y + offset,
                s=46 if kind != "source" else 40,
                marker=MARKERS.get(kind, "o"),
                color=STATUS_COLORS.get(m.status, FG),
                edgecolors="white",
                linewidths=0.5,
                zorder=3,
            )
            if kind != "source":
                points.setdefault(m.claim_id, []).append((m.at, y + offset))
        if n > 2:
            kinds = {k: sum(m.kind == k for m in group) for k in MARKERS}
            ax.annotate(
                ", ".join(f"{c} {(MARK_PLURALS if c > 1 else MARK_NAMES)[k]}" for k, c in kinds.items() if c),
                (group[-1].at, y),
                xytext=(6, 0),
                textcoords="offset points",
                color=FG,
                fontsize=7.5,
                va="center",
            )
    for path in points.values():
        if len(path) > 1:
            path.sort()
            # A status change as a step: the claim stays on its lane until the change, then moves.
            ax.plot(
                mdates.date2num([p[0] for p in path]),
                [p[1] for p in path],
                color="#6D6F78",
                linewidth=0.9,
                drawstyle="steps-post",
                zorder=2,
            )
    for y in y_of.values():
        ax.axhline(y, color="#3F4147", linewidth=0.6, zorder=1)
    ax.set_yticks(list(y_of.values()))
    counts = dict.fromkeys(lanes, 0)
    for cid, c in known.items():
        lane = lanes[lane_of[cid]] if by == "project" else c.status
        counts[lane] = counts.get(lane, 0) + 1
    ax.set_yticklabels(
        [f"{textwrap.shorten(name, 42, placeholder='…')}  ({counts.get(name, 0)})" for name in lanes]
    )
    ax.set_ylim(-0.7, len(lanes) - 0.3)
    ax.set_xlim(*(float(mdates.date2num(t)) for t in _span_limits([m.at for m in marks])))
    locator = mdates.AutoDateLocator(minticks=3, maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.grid(axis="x", color="#3F4147", linewidth=0.6)
    heading = _drawable(title) if not subtitle else f"{_drawable(title)}\n{subtitle}"
    ax.set_title(_wrap(heading, 95), color=FG, fontsize=11, loc="left")
    shown = [k for k in MARKERS if any(m.kind == k for m in marks)]
    handles = [
        Line2D([], [], marker=MARKERS[k], linestyle="", color=FG, markeredgecolor="white", label=MARK_NAMES[k])
        for k in shown
    ]
    if by == "project":
        used = [s for s in STATUS_COLORS if any(m.status == s for m in marks)]
        handles += [Line2D([], [], marker="s", linestyle="", color=STATUS_COLORS[s], label=s) for s in used]
    legend = ax.legend(
        handles=handles,
        loc="upper center",
        bbox_to_anchor=(0.5, -0.12),
        ncol=min(len(handles), 8),
        frameon=False,
        fontsize=8,
    )
    for text in legend.get_texts():
        text.set_color(FG)
    ylabel = "status (claims now)" if by == "status" else "project (claims)"
    ax.set_ylabel(ylabel, color=FG, fontsize=8)
    return _png(fig)


def empty_png(title: str, headline: str, hint: str) -> bytes:
    """A readable picture for "nothing to draw": the title, what is missing, and what would fill it."""
    fig, ax = _figure(8, 2.6)
    ax.set_axis_off()
    ax.text(0.0, 0.92, _wrap(title, 80), color=FG, fontsize=11, va="top", transform=ax.transAxes)
    ax.text(0.5, 0.45, headline, color="#FFFFFF", fontsize=16, ha="center", va="center", transform=ax.transAxes)
    ax.text(
        0.5, 0.15, _wrap(hint, 90), color="#B5BAC1", fontsize=9, ha="center", va="center", transform=ax.transAxes
    )
    return _png(fig)


def _drawable(text: str) -> str:
    """The text without emoji: matplotlib's fonts have no colour emoji and would draw empty boxes."""
    kept = "".join(ch for ch in text if ord(ch) < 0x1F000 and ch not in "\ufe0f\u200d")
    return " ".join(kept.split()) or text


def _wrap(text: str, width: int) -> str:
    return "\n".join(textwrap.fill(line, width) for line in text.splitlines() or [""])


WINNER = "#3BA55C"
BAR = "#5865F2"


def bar_chart_png(title: str, labels: list[str], values: list[float], *, unit: str = "votes") -> bytes:
    """Horizontal bars: whole-number ticks, each bar's count and share, the leader highlighted, and the
    whole question wrapped above."""
    from matplotlib.ticker import MaxNLocator

    wrapped = _wrap(_drawable(title), 70)
    lines = wrapped.count("\n") + 1
    fig, ax = _figure(8, max(2.4, 0.5 * len(labels) + 1.0 + 0.22 * lines))
    ys = list(range(len(labels)))[::-1]
    total = sum(values)
    top = max(values, default=0)
    # The leader is highlighted only when there is one: a tie has no winner.
    leader = values.index(top) if top > 0 and values.count(top) == 1 else None
    colors = [WINNER if i == leader else BAR for i in range(len(values))]
    bars = ax.barh(ys, values, color=colors)
    ax.set_yticks(ys)
    ax.set_yticklabels([textwrap.shorten(_drawable(label), 40, placeholder="…") for label in labels])
    ax.set_xlim(0, (top or 1) * 1.3)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, nbins=6))
    for i, (bar, value) in enumerate(zip(bars, values, strict=True)):
        share = f" ({value / total:.0%})" if total else ""
        ax.text(
            bar.get_width() + (top or 1) * 0.02,
            bar.get_y() + bar.get_height() / 2,
            f"{value:g}{share}",
            va="center",
            color=FG,
            fontsize=9,
            fontweight="bold" if i == leader else "normal",
        )
    tie = " · a tie" if top > 0 and leader is None else ""
    ax.set_xlabel(f"{unit} · {total:g} in all{tie}", color=FG)
    ax.set_title(wrapped, color=FG, fontsize=11, loc="left")
    return _png(fig)
