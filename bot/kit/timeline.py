"""The /timeline picture: a story's dated events down a card, one row per day (or week, month...), drawn
for the size Discord shows an embed's image (see bot/kit/charts.py for the canvas and its rules).

A row with one event names its claim (#id and its first words); a row with many is one counted mark
with its kinds and ids; empty stretches between rows are one line ("6 months with nothing dated").
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from matplotlib.figure import Figure

from bot.kit.charts import (
    FG,
    MAX_HEIGHT,
    MUTED,
    OTHER_COLOR,
    PAD,
    PROJECT_COLORS,
    SMALL,
    SPINE,
    STATUS_COLORS,
    TEXT,
    WIDTH,
    Canvas,
    drawable,
    empty_figure,
    header,
    ink,
    png_bytes,
)


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
GRAINS = ("day", "week", "month", "quarter", "year")
ROW = 20.0  # one line of a row
LINE = 13.0  # each further line of a row
GAP = 15.0  # a gap row ("3 months later")


@dataclass
class _Row:
    start: date
    end: date  # the last day the row covers
    marks: list[TimelineMark]


def _bucket(day: date, grain: str) -> date:
    if grain == "day":
        return day
    if grain == "week":
        return day - timedelta(days=day.weekday())
    if grain == "month":
        return day.replace(day=1)
    if grain == "quarter":
        return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)
    return date(day.year, 1, 1)


def _bucket_end(start: date, grain: str) -> date:
    if grain == "day":
        return start
    if grain == "week":
        return start + timedelta(days=6)
    months = {"month": 1, "quarter": 3, "year": 12}[grain]
    index = start.year * 12 + start.month - 1 + months
    return date(index // 12, index % 12 + 1, 1) - timedelta(days=1)


def _rows(marks: list[TimelineMark], grain: str) -> list[_Row]:
    rows: list[_Row] = []
    for m in marks:
        start = _bucket(m.at.date(), grain)
        if rows and rows[-1].start == start:
            rows[-1].marks.append(m)
        else:
            rows.append(_Row(start, _bucket_end(start, grain), [m]))
    return rows


def _merge(rows: list[_Row], limit: int) -> list[_Row]:
    """Past yearly rows, neighbouring rows are joined until `limit` remain (a story over decades)."""
    while len(rows) > limit:
        joined = [
            _Row(a.start, b.end, a.marks + b.marks)
            for a, b in zip(rows[::2], rows[1::2] + [rows[-1]], strict=False)
        ]
        if len(rows) % 2:
            joined[-1] = rows[-1]
        rows = joined
    return rows


def _gap(a: _Row, b: _Row) -> str:
    """The empty time between two rows in words, or "" when they are neighbours."""
    empty = (b.start - a.end).days - 1
    if empty < 1:
        return ""
    if empty < 14:
        return f"{empty} day{'s' if empty > 1 else ''} with nothing dated"
    if empty < 60:
        return f"{empty // 7} weeks with nothing dated"
    months = round(empty / 30.44)
    if months < 24:
        return f"{months} months with nothing dated"
    return f"{months // 12} years with nothing dated"


def _date_label(row: _Row, grain: str, year_shown: bool) -> str:
    year = "" if year_shown else f" {row.start.year}"
    if row.start != _bucket(row.start, grain) or row.end != _bucket_end(row.start, grain):
        return f"{row.start.year}–{row.end.year}" if row.start.year != row.end.year else str(row.start.year)
    if grain == "day":
        return f"{row.start.day} {row.start:%b}{year}"
    if grain == "week":
        if row.start.month == row.end.month:
            return f"{row.start.day}–{row.end.day} {row.end:%b}{year}"
        return f"{row.start.day} {row.start:%b}–{row.end.day} {row.end:%b}{year}"
    if grain == "month":
        return f"{row.start:%b %Y}"
    if grain == "quarter":
        return f"Q{(row.start.month - 1) // 3 + 1} {row.start.year}"
    return str(row.start.year)


def _ids(ids: list[int], most: int = 4) -> str:
    """#1–#14, or #3, #8, #9 +5: runs of consecutive ids are written as ranges."""
    runs: list[list[int]] = []
    for i in sorted(set(ids)):
        if runs and i == runs[-1][-1] + 1:
            runs[-1].append(i)
        else:
            runs.append([i])
    parts = [f"#{r[0]}–#{r[-1]}" if len(r) > 2 else ", ".join(f"#{i}" for i in r) for r in runs]
    text = ", ".join(parts)
    if len(runs) > most:
        shown = ", ".join(parts[:most])
        return f"{shown} +{len(set(ids)) - sum(len(r) for r in runs[:most])}"
    return text


SHORT_NAMES = {
    "added": ("added", "added"),
    "status": ("status change", "status changes"),
    "source": ("source", "sources"),
}


def _what(marks: list[TimelineMark]) -> str:
    """What a row's events were: "14 claims added", or "9 added, 3 sources, 1 status change"."""
    kinds = Counter(m.kind for m in marks)
    if len(kinds) == 1:
        kind, n = kinds.popitem()
        return f"{n} {(MARK_PLURALS if n > 1 else MARK_NAMES)[kind]}"
    return ", ".join(f"{n} {SHORT_NAMES[k][n > 1]}" for k in MARKERS if (n := kinds.get(k, 0)))


def _one_claim(marks: list[TimelineMark], claim: TimelineClaim) -> str:
    """A row about one claim: its #id, what happened, then its words."""
    kinds = [m.kind for m in marks]
    parts = []
    if "status" in kinds:
        parts.append(f"→ {[m for m in marks if m.kind == 'status'][-1].status}")
    sources = [m for m in marks if m.kind == "source"]
    if len(sources) == 1:
        parts.append(f"source: {sources[0].label}" if sources[0].label else "a dated source")
    elif sources:
        parts.append(f"{len(sources)} sources")
    if "added" in kinds and parts:
        parts.insert(0, "added")
    what = f" ({', '.join(parts)})" if parts else ""
    return f"#{claim.id}{what} {drawable(claim.text)}"


def _lanes(known: dict[int, TimelineClaim], marks: list[TimelineMark], by: str) -> dict[str, str]:
    """Lane name -> colour, in the order the legend lists them."""
    if by == "project":
        projects = sorted({c.project for c in known.values() if c.project})
        lanes = {p: PROJECT_COLORS[i % len(PROJECT_COLORS)] for i, p in enumerate(projects)}
        if any(not c.project for c in known.values()):
            lanes[OTHER_LANE] = OTHER_COLOR
        return lanes
    used = {m.status for m in marks} | {c.status for c in known.values()}
    ordered = [s for s in STATUS_COLORS if s in used] + sorted(used - set(STATUS_COLORS))
    return {s: STATUS_COLORS.get(s, FG) for s in ordered}


def timeline_png(
    title: str, claims: list[TimelineClaim], marks: list[TimelineMark], *, by: str = "status", subtitle: str = ""
) -> bytes:
    return png_bytes(timeline_figure(title, claims, marks, by=by, subtitle=subtitle))


def timeline_figure(
    title: str, claims: list[TimelineClaim], marks: list[TimelineMark], *, by: str = "status", subtitle: str = ""
) -> Figure:
    """The story's dated events, earliest first, one row per day (or week, month, quarter, year: the
    finest that fits). A row with one event names the claim (#id and its words); a row with several is
    one mark with their count, the kinds of event and the claims' ids. Empty stretches between rows are
    one short line saying how long nothing happened. Marks are coloured by lane: the status the claim had
    at that moment, or its project; the legend counts the claims in each lane now."""
    known = {c.id: c for c in claims}
    marks = sorted((m for m in marks if m.claim_id in known), key=lambda m: (m.at, m.claim_id))
    if not marks:
        return empty_figure(
            title, "Nothing dated yet", "Claims, sources and status changes appear here once they have a date."
        )
    lanes = _lanes(known, marks, by)

    def lane_of(m: TimelineMark) -> str:
        return (known[m.claim_id].project or OTHER_LANE) if by == "project" else m.status

    c = Canvas()
    first, last = marks[0].at, marks[-1].at
    span = f"{first:%-d %b %Y}" if first.date() == last.date() else f"{first:%-d %b %Y} – {last:%-d %b %Y}"
    events = f"{len(marks)} dated event{'s' if len(marks) > 1 else ''}"
    top = header(c, title, subtitle or f"{events} · {_claims(len({m.claim_id for m in marks}))} · {span}")
    legend = _legend_lines(c, known, marks, lanes, by)
    room = MAX_HEIGHT - top - 8 - 15 * len(legend) - PAD
    rows, grain = _fit_rows(marks, room)
    gaps = [_gap(a, b) for a, b in zip(rows, rows[1:], strict=False)]
    spare = room - len(rows) * ROW - sum(GAP for g in gaps if g)
    extra = _extra_lines(rows, int(spare // LINE))

    shown_years = {first.year}  # the subtitle gives the first year; a row gives the year when it changes
    dates = []
    for row in rows:
        dates.append(_date_label(row, grain, row.start.year in shown_years))
        shown_years.add(row.start.year)
    date_right = PAD + max(c.width_of(d, SMALL) for d in dates)
    # Room for the widest counted mark ("200") between the dates and the labels.
    half = max(
        5.0,
        max(c.width_of(str(len(r.marks)), SMALL, bold=True) / 2 + 4 for r in rows if len(r.marks) > 1)
        if any(len(r.marks) > 1 for r in rows)
        else 5.0,
    )
    spine = date_right + 6 + half
    label_x = spine + half + 7
    room_x = WIDTH - PAD - label_x

    y = top
    centres: list[tuple[float, bool]] = []  # each row's mark, and whether the line above it is a gap
    for i, row in enumerate(rows):
        gap = gaps[i - 1] if i else ""
        if gap:
            c.text(label_x, y + GAP / 2, c.fit(gap, room_x, SMALL), size=SMALL, color=MUTED, style="italic")
            y += GAP
        lines = _row_lines(c, row, known, lanes, lane_of, room_x, 1 + extra[i])
        cy = y + ROW / 2
        c.text(date_right, cy, dates[i], size=SMALL, color=MUTED, ha="right")
        _row_mark(c, spine, cy, row.marks, lanes, lane_of)
        for j, (line, color, size) in enumerate(lines):
            c.text(label_x, cy + j * LINE, line, size=size, color=color)
        centres.append((cy, bool(gap)))
        y += ROW + LINE * (len(lines) - 1)
    for (a, _), (b, gapped) in zip(centres, centres[1:], strict=False):
        c.ax.plot([spine, spine], [a, b], color=SPINE, linewidth=1.2, linestyle=":" if gapped else "-", zorder=1)
    y += 6
    for items in legend:
        x = PAD
        for symbol, text, color in items:
            if symbol:
                c.ax.plot([x + 4], [y + 7], marker=symbol, color=color, markersize=6, markeredgecolor=FG, mew=0.5)
                x += 12
            c.text(x, y + 7, text, size=SMALL, color=FG)
            x += c.width_of(text, SMALL) + 10
        y += 15
    return c.finish(y + PAD - 6)


def _extra_lines(rows: list[_Row], budget: int) -> list[int]:
    """Spare room as further lines (up to three a row): the claim's words, the lanes, the claims' ids.
    The busiest rows get theirs first."""
    extra = [0] * len(rows)
    order = sorted(range(len(rows)), key=lambda i: -len(rows[i].marks))
    while budget > 0 and any(e < 3 for e in extra):
        for i in order:
            if budget > 0 and extra[i] < 3:
                extra[i] += 1
                budget -= 1
    return extra


def _fit_rows(marks: list[TimelineMark], room: float) -> tuple[list[_Row], str]:
    """The finest grain whose rows (and the gaps between them) fit in `room` pixels."""
    for grain in GRAINS:
        rows = _rows(marks, grain)
        gaps = sum(bool(_gap(a, b)) for a, b in zip(rows, rows[1:], strict=False))
        if len(rows) * ROW + gaps * GAP <= room:
            return rows, grain
    return _merge(rows, max(1, int(room // (ROW + GAP)))), "year"


def _row_lines(
    c: Canvas,
    row: _Row,
    known: dict[int, TimelineClaim],
    lanes: dict[str, str],
    lane_of: Callable[[TimelineMark], str],
    room: float,
    lines: int,
) -> list[tuple[str, str, float]]:
    """The row's lines as (text, colour, size): what happened, then as much detail as `lines` allows."""
    ids = sorted({m.claim_id for m in row.marks})
    if len(ids) == 1:
        text = _one_claim(row.marks, known[ids[0]])
        return [(line, FG, TEXT) for line in c.wrap(text, room, lines)]
    what, listed = _what(row.marks), f"{_what(row.marks)} · {_ids(ids)}"
    if c.width_of(listed) <= room:
        out = [(listed, FG, TEXT)]
    elif c.width_of(what) <= room:
        out = [(what, FG, TEXT)]
    else:
        out = [(c.fit(what, room, SMALL), FG, SMALL)]
    if lines > 1:
        per_lane = Counter(lane_of(m) for m in row.marks)
        split = " · ".join(f"{n} {lane}" for lane, n in sorted(per_lane.items(), key=lambda kv: -kv[1]))
        out.append((c.fit(split, room, SMALL), MUTED, SMALL))
    busiest = sorted(ids, key=lambda cid: (-sum(m.claim_id == cid for m in row.marks), cid))
    for cid in busiest[: max(0, lines - 2)]:
        out.append((c.fit(f"#{cid} {drawable(known[cid].text)}", room, SMALL), MUTED, SMALL))
    return out


def _row_mark(
    c: Canvas,
    x: float,
    y: float,
    marks: list[TimelineMark],
    lanes: dict[str, str],
    lane_of: Callable[[TimelineMark], str],
) -> None:
    """One marker for one event (its shape says the kind); one counted mark for several."""
    counts = Counter(lane_of(m) for m in marks)
    color = lanes.get(counts.most_common(1)[0][0], FG)
    if len(marks) == 1:
        c.ax.plot(
            [x], [y], marker=MARKERS.get(marks[0].kind, "o"), color=color, markersize=7.5, mec="white", mew=0.6
        )
        return
    c.ax.text(
        x,
        y,
        str(len(marks)),
        fontsize=SMALL,
        fontweight="bold",
        color=ink(color),
        ha="center",
        va="center",
        zorder=3,
        bbox={"boxstyle": "round,pad=0.25", "facecolor": color, "edgecolor": "white", "linewidth": 0.6},
    )


def _legend_lines(
    c: Canvas, known: dict[int, TimelineClaim], marks: list[TimelineMark], lanes: dict[str, str], by: str
) -> list[list[tuple[str, str, str]]]:
    """The legend, as lines of (marker, text, colour): the kinds of mark, then each lane with its claims now."""
    kinds = [
        ("o" if k == "added" else MARKERS[k], MARK_NAMES[k], FG)
        for k in MARKERS
        if any(m.kind == k for m in marks)
    ]
    now = Counter((c_.project or OTHER_LANE) if by == "project" else c_.status for c_ in known.values())
    items = [("s", f"{c.fit(lane, 250, SMALL)} {now.get(lane, 0)}", color) for lane, color in lanes.items()]
    lines: list[list[tuple[str, str, str]]] = []
    line: list[tuple[str, str, str]] = []
    x = PAD
    for item in kinds + items:
        w = (12 if item[0] else 0) + c.width_of(item[1], SMALL) + 10
        if line and x + w > WIDTH - PAD:
            lines.append(line)
            line, x = [], PAD
        line.append(item)
        x += w
    lines.append(line)
    if len(lines) > 4:
        hidden = sum(len(rest) for rest in lines[4:])
        lines = lines[:4]
        lines[-1] = lines[-1][:-1] + [("", f"+{hidden + 1} more", MUTED)]
    return lines


def _claims(n: int) -> str:
    return f"{n} claim{'s' if n != 1 else ''}"
