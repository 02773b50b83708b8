"""The calibration picture: for each reliability grade curators gave (A–D), the share of claims that held
up among those resolved, with its counts. It answers "are our grades right?". Drawn with matplotlib's Agg
backend in the colours and sizes of bot/kit/charts.py (no text under SMALL points where Discord shows the
picture 400 px wide); a pure function, data in, PNG bytes out."""

from __future__ import annotations

import io
from collections.abc import Mapping

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from bot.kit.charts import BG, FG, SMALL, TITLE, WIDTH
from bot.outlets.track_record import GRADES, Calibration

HELD_COLOR = "#2ECC71"  # confirmed's colour on the timeline
FAILED_COLOR = "#ED4245"  # denied's
EDGE = "#4E5058"
SHORT = {"A": "primary", "B": "major", "C": "relay", "D": "unverified"}  # db.facts.RELIABILITY, shortened


def calibration_png(title: str, cells: Mapping[str, Calibration]) -> bytes:
    fig = calibration_figure(title, cells)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor())
    return buf.getvalue()


def calibration_figure(title: str, cells: Mapping[str, Calibration]) -> Figure:
    # 400 x 300 screen pixels as Discord shows it, two PNG pixels each; a plain Figure (not pyplot's shared
    # state), since charts are drawn in worker threads.
    fig = Figure(figsize=(WIDTH / 100, 3.0), dpi=200)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    fig.patch.set_facecolor(BG)
    ax.set_facecolor(BG)
    for spine in ax.spines.values():
        spine.set_color(EDGE)
    ax.tick_params(colors=FG, labelsize=SMALL)
    positions = range(len(GRADES))
    for x, grade in zip(positions, GRADES, strict=True):
        cell = cells.get(grade, Calibration(0, 0, 0))
        share = cell.share
        if share is None:
            ax.text(x, 0.04, "nothing\nresolved", ha="center", va="bottom", color=FG, fontsize=SMALL, alpha=0.7)
        else:
            ax.bar(x, 1.0, width=0.6, color=FAILED_COLOR, alpha=0.35, edgecolor=EDGE)
            ax.bar(x, share, width=0.6, color=HELD_COLOR, edgecolor=EDGE)
            ax.text(
                x,
                min(share, 0.86) + 0.03,
                f"{cell.held} of {cell.resolved}",
                ha="center",
                va="bottom",
                color=FG,
                fontsize=SMALL + 0.5,
                fontweight="bold",
            )
    labels = []
    for grade in GRADES:
        pending = cells.get(grade, Calibration(0, 0, 0)).pending
        labels.append(f"{grade}\n{SHORT[grade]}" + (f"\n{pending} pending" if pending else ""))
    ax.set_xticks(list(positions))
    ax.set_xticklabels(labels, color=FG, fontsize=SMALL)
    ax.set_ylim(0, 1.0)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels(["0 %", "25 %", "50 %", "75 %", "100 %"], color=FG)
    ax.set_ylabel("claims that held up", color=FG, fontsize=SMALL)
    ax.set_title(title, color=FG, fontsize=TITLE, loc="left")
    ax.set_xlabel("green: held up · red: did not", color=FG, fontsize=SMALL)
    fig.tight_layout(pad=0.6)
    return fig
