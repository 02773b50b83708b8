"""The calibration picture: for each reliability grade curators gave (A–D), the share of claims that held
up among those resolved, with its counts. It answers "are our grades right?". Drawn with matplotlib's Agg
backend in the colours of bot/kit/charts.py; a pure function, data in, PNG bytes out."""

from __future__ import annotations

import io
from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from bot.kit.charts import BG, FG  # noqa: E402
from bot.outlets.track_record import GRADES, Calibration  # noqa: E402

HELD_COLOR = "#2ECC71"  # confirmed's colour on the timeline
FAILED_COLOR = "#ED4245"  # denied's
EDGE = "#4E5058"
SHORT = {"A": "primary", "B": "major outlet", "C": "relay", "D": "unverified"}  # db.facts.RELIABILITY, shortened


def calibration_png(title: str, cells: Mapping[str, Calibration]) -> bytes:
    fig, ax = plt.subplots(figsize=(6.4, 3.6), dpi=110)
    fig.patch.set_facecolor(BG)
    ax.set_facecolor(BG)
    for spine in ax.spines.values():
        spine.set_color(EDGE)
    ax.tick_params(colors=FG, labelsize=8)
    positions = range(len(GRADES))
    for x, grade in zip(positions, GRADES, strict=True):
        cell = cells.get(grade, Calibration(0, 0, 0))
        share = cell.share
        if share is None:
            ax.text(x, 0.04, "nothing\nresolved", ha="center", va="bottom", color=FG, fontsize=8, alpha=0.7)
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
                fontsize=9,
                fontweight="bold",
            )
    labels = []
    for grade in GRADES:
        pending = cells.get(grade, Calibration(0, 0, 0)).pending
        labels.append(f"{grade} · {SHORT[grade]}" + (f"\n{pending} pending" if pending else ""))
    ax.set_xticks(list(positions))
    ax.set_xticklabels(labels, color=FG, fontsize=8)
    ax.set_ylim(0, 1.0)
    ax.set_yticks([0, 0.25, 0.5, 0.75, 1.0])
    ax.set_yticklabels(["0 %", "25 %", "50 %", "75 %", "100 %"], color=FG)
    ax.set_ylabel("claims that held up", color=FG, fontsize=8)
    ax.set_title(title, color=FG, fontsize=10, loc="left")
    fig.text(
        0.01,
        -0.04,
        "Each claim counts once per grade among its sources counted for it. Green: held up; red: did not.",
        color=FG,
        fontsize=7,
        alpha=0.7,
    )
    buf = io.BytesIO()
    fig.savefig(buf, format="png", facecolor=fig.get_facecolor(), bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()
