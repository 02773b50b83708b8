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
MAX_ROWS = 30


@dataclass(frozen=True, slots=True)
class TimelineEvent:
    at: datetime
    claim_id: int
    claim_text: str
    status: str
    label: str  # e.g. "created as reported", "reported → confirmed"


def _figure(width: float, height: float) -> tuple[plt.Figure, plt.Axes]:
    fig, ax = plt.subplots(figsize=(width, height), dpi=110)
    fig.patch.set_facecolor(BG)
    ax.set_facecolor(BG)
    for spine in ax.spines.values():
        spine.set_color("#4E5058")
    ax.tick_params(colors=FG, labelsize=8)
    return fig, ax


def _png(fig: plt.Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor(), bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def timeline_png(title: str, events: list[TimelineEvent]) -> bytes:
    """One row per claim, one marker per dated event coloured by the status it set."""
    order: list[int] = []
    texts: dict[int, str] = {}
    for e in sorted(events, key=lambda e: e.at):
        if e.claim_id not in texts:
            order.append(e.claim_id)
            texts[e.claim_id] = e.claim_text
    order = order[-MAX_ROWS:]
    rows = {cid: i for i, cid in enumerate(reversed(order))}
    fig, ax = _figure(11, max(2.5, 0.42 * len(rows) + 1.4))
    for e in events:
        if e.claim_id not in rows:
            continue
        y = rows[e.claim_id]
        ax.scatter(
            e.at, y, s=70, color=STATUS_COLORS.get(e.status, FG), zorder=3, edgecolors="white", linewidths=0.6
        )
    for cid, y in rows.items():
        dates = [e.at for e in events if e.claim_id == cid]
        if len(dates) > 1:
            ax.plot([min(dates), max(dates)], [y, y], color="#4E5058", zorder=1, linewidth=1.5)
    ax.set_yticks(list(rows.values()))
    ax.set_yticklabels([f"#{cid} " + textwrap.shorten(texts[cid], 60, placeholder="…") for cid in rows])
    locator = mdates.AutoDateLocator(maxticks=8)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    times = [e.at for e in events]
    if times and max(times) - min(times) < timedelta(hours=12):
        # Events recorded minutes apart would otherwise spread over the whole axis with identical labels.
        ax.set_xlim(min(times) - timedelta(hours=12), max(times) + timedelta(hours=12))
    ax.grid(axis="x", color="#3F4147", linewidth=0.6)
    ax.set_title(title, color=FG, fontsize=11, loc="left")
    used = sorted({e.status for e in events}, key=list(STATUS_COLORS).index)
    handles = [plt.Line2D([], [], marker="o", linestyle="", color=STATUS_COLORS[s], label=s) for s in used]
    if handles:
        legend = ax.legend(
            handles=handles,
            loc="upper center",
            bbox_to_anchor=(0.5, -0.14),
            ncol=len(handles),
            frameon=False,
            fontsize=8,
        )
        for text in legend.get_texts():
            text.set_color(FG)
    return _png(fig)


def bar_chart_png(title: str, labels: list[str], values: list[float], *, unit: str = "votes") -> bytes:
    """Horizontal bars with the value printed at each bar's end."""
    fig, ax = _figure(8, max(2.2, 0.5 * len(labels) + 1.2))
    ys = list(range(len(labels)))[::-1]
    bars = ax.barh(ys, values, color="#5865F2")
    ax.set_yticks(ys)
    ax.set_yticklabels([textwrap.shorten(label, 40, placeholder="…") for label in labels])
    top = max(values, default=0) or 1
    ax.set_xlim(0, top * 1.18)
    for bar, value in zip(bars, values, strict=True):
        ax.text(
            bar.get_width() + top * 0.02,
            bar.get_y() + bar.get_height() / 2,
            f"{value:g}",
            va="center",
            color=FG,
            fontsize=9,
        )
    ax.set_xlabel(unit, color=FG)
    ax.set_title(title, color=FG, fontsize=11, loc="left")
    return _png(fig)
