"""Forecast scoring and poll tallies: plain Python, no Discord, no SQL."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# Launch polls: each option is a probability that the project is officially announced in time.
FORECAST_OPTIONS: tuple[tuple[str, str, float], ...] = (
    ("🟢", "90 %", 0.9),
    ("🟡", "70 %", 0.7),
    ("⚪", "50 %", 0.5),
    ("🟠", "30 %", 0.3),
    ("🔴", "10 %", 0.1),
)
# Claim statuses that settle a launch question, and how.
RESOLVING_STATUSES = {"confirmed": "yes", "launched": "yes", "cancelled": "no", "denied": "no"}
# Leaderboard shrinkage: every forecaster starts with this many imaginary coin-flip forecasts
# (Brier 0.25 each), so one lucky vote cannot top the board.
PRIOR_FORECASTS = 2
PRIOR_BRIER = 0.25


def brier(probability: float, outcome: str) -> float:
    """Squared error of a yes-probability against what happened: 0 is perfect, 1 is worst."""
    if outcome not in ("yes", "no"):
        raise ValueError(f"outcome must be yes or no, not {outcome!r}")
    if not 0.0 <= probability <= 1.0:
        raise ValueError("probability must be between 0 and 1")
    happened = 1.0 if outcome == "yes" else 0.0
    return round((probability - happened) ** 2, 6)


@dataclass(frozen=True, slots=True)
class Standing:
    user_id: int
    forecasts: int
    mean_brier: float
    adjusted: float  # the ranking key: mean shrunk toward a coin flip by PRIOR_FORECASTS


def adjusted_brier(total: float, count: int) -> float:
    return (total + PRIOR_FORECASTS * PRIOR_BRIER) / (count + PRIOR_FORECASTS)


def leaderboard(scores: Iterable[tuple[int, float]]) -> list[Standing]:
    """Rank forecasters from (user_id, brier) rows: lowest adjusted Brier first, more forecasts break ties."""
    totals: dict[int, list[float]] = {}
    for user_id, score in scores:
        totals.setdefault(user_id, []).append(score)
    standings = [
        Standing(uid, len(s), sum(s) / len(s), adjusted_brier(sum(s), len(s))) for uid, s in totals.items()
    ]
    standings.sort(key=lambda st: (st.adjusted, -st.forecasts, st.user_id))
    return standings


def community_forecast(counts: Mapping[int, int], probabilities: Mapping[int, float]) -> float | None:
    """The mean probability over all votes (counts per option position); None without votes."""
    total = sum(counts.get(pos, 0) for pos in probabilities)
    if not total:
        return None
    return sum(probabilities[pos] * counts.get(pos, 0) for pos in probabilities) / total


def percent(value: float) -> str:
    return f"{value * 100:.0f} %"


def bar(count: int, total: int, width: int = 12) -> str:
    """A text bar for the embed, e.g. ▰▰▰▱▱▱."""
    filled = round(width * count / total) if total else 0
    return "▰" * filled + "▱" * (width - filled)
