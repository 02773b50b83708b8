"""Outlets' track records, computed from a server's stored history (db/outlets.RecordHistory): which
reports held up. Plain functions, no Discord and no SQL; docs/outlets.md states every rule in words.

- A claim's outcome is its current status read as held up (confirmed, launched), did not hold up (denied,
  retracted) or pending (anything else, cancelled included), unless a curator's mark in force says
  otherwise. The outcome is dated when the claim entered it (a move inside one outcome, confirmed to
  launched, keeps the date); a mark that differs from the status is dated at the mark.
- A source counts for the claim when it was added no later than that date (pending: always). A source
  that relays another outlet (`cites`) credits the relayed outlet, and the relaying outlet gets a relay.
- Names are normalised (`outlet_key`), then merges in force are followed.
- Outlets are ranked by the lower bound of the 95 % Wilson interval of held up / resolved, so two of two
  does not outrank forty of fifty.
"""

from __future__ import annotations

import functools
import math
import re
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from db.facts import Source
from db.outlets import RecordHistory, merged_names, root_name

HELD, FAILED, PENDING = "held", "failed", "pending"
OUTCOME_OF_STATUS = {"confirmed": HELD, "launched": HELD, "denied": FAILED, "retracted": FAILED}
GRADES = ("A", "B", "C", "D")
WILSON_Z = 1.96  # a 95 % interval
DEFAULT_MIN_OUTCOMES = 3
# Second-level labels under a country code that are not the outlet's own name (bbc.co.uk is "bbc").
_GENERIC_SECOND_LEVEL = frozenset({"co", "com", "org", "net", "gov", "ac", "ne", "or"})
_HOST_PREFIXES = frozenset({"www", "m", "amp", "mobile"})
_DOMAIN = re.compile(r"(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?")


# -- names -----------------------------------------------------------------------------------------
def _host(text: str) -> str | None:
    if "://" in text:
        return urlsplit(text).hostname
    if " " not in text and _DOMAIN.fullmatch(text):
        return text.split("/", 1)[0]
    return None


def _outlet_label(host: str) -> str:
    labels = [x for x in host.split(".") if x]
    while len(labels) > 2 and labels[0] in _HOST_PREFIXES:
        labels = labels[1:]
    if len(labels) >= 3 and labels[-2] in _GENERIC_SECOND_LEVEL and len(labels[-1]) == 2:
        return labels[-3]
    return labels[-2] if len(labels) >= 2 else labels[0]


@functools.lru_cache(maxsize=16_384)  # the same few hundred names, over and over
def outlet_key(name: str) -> str:
    """One key per outlet: "Variety", "variety", "Variety.com", "https://variety.com/2026/x" and
    "The Variety" are all "variety"; "The Hollywood Reporter" is "hollywoodreporter"."""
    text = " ".join((name or "").split()).casefold()
    host = _host(text)
    if host:
        text = _outlet_label(host)
    text = re.sub(r"^the\s+", "", text)
    return "".join(ch for ch in text if ch.isalnum()) or text


def is_link_like(name: str) -> bool:
    return _host(" ".join((name or "").split()).casefold()) is not None


# -- figures ---------------------------------------------------------------------------------------
def wilson_lower(held: int, resolved: int, z: float = WILSON_Z) -> float:
    """The lower bound of the Wilson score interval for held / resolved (0 when nothing is resolved)."""
    if resolved <= 0:
        return 0.0
    p = held / resolved
    z2 = z * z
    centre = p + z2 / (2 * resolved)
    margin = z * math.sqrt(p * (1 - p) / resolved + z2 / (4 * resolved * resolved))
    return max(0.0, (centre - margin) / (1 + z2 / resolved))


@functools.lru_cache(maxsize=65_536)  # a server's timestamps repeat: a claim and its sources share one
def _at(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def report_time(source: Source) -> datetime:
    """When the outlet reported: the source's published date when it has a valid one, else when it was
    added to the store."""
    if source.published:
        try:
            return _at(source.published)
        except ValueError:
            pass
    return _at(source.added_at)


@dataclass(frozen=True, slots=True)
class ClaimOutcome:
    claim_id: int
    story_id: int
    text: str
    status: str
    outcome: str  # HELD, FAILED or PENDING
    at: str | None  # when the claim entered this outcome; None while pending
    mark: str | None = None  # the reason of a curator's mark in force


@dataclass(frozen=True, slots=True)
class OutletClaim:
    """One claim in one outlet's record."""

    claim_id: int
    outcome: str
    relay: bool  # the outlet only relayed another outlet's report
    scoop: bool = False  # first to report a claim that held up
    seconds_to_outcome: float | None = None
    grade: str | None = None  # the best reliability grade curators gave its counted sources


@dataclass(frozen=True, slots=True)
class OutletRecord:
    key: str
    name: str
    held: int
    failed: int
    pending: int
    relays: Counter[str]  # outcome -> claims this outlet relayed
    scoops: int
    median_seconds: float | None
    claims: tuple[OutletClaim, ...]
    grades: dict[str, tuple[int, int]]  # grade -> (held, resolved)
    aliases: tuple[str, ...] = ()  # names merged into this one

    @property
    def resolved(self) -> int:
        return self.held + self.failed

    @property
    def score(self) -> float:
        return wilson_lower(self.held, self.resolved)

    @property
    def relayed(self) -> int:
        return sum(self.relays.values())


@dataclass(frozen=True, slots=True)
class Calibration:
    """Per reliability grade: claims whose counted sources include that grade."""

    held: int
    resolved: int
    pending: int

    @property
    def share(self) -> float | None:
        return self.held / self.resolved if self.resolved else None


@dataclass(frozen=True)
class ServerRecord:
    outlets: dict[str, OutletRecord]
    outcomes: dict[int, ClaimOutcome]
    calibration: dict[str, Calibration]
    into: dict[str, str] = field(default_factory=dict)  # merges in force

    def root(self, name: str) -> str:
        return root_name(outlet_key(name), self.into)

    def of(self, name: str) -> OutletRecord | None:
        return self.outlets.get(self.root(name))

    def ranked(self, min_outcomes: int) -> tuple[list[OutletRecord], list[OutletRecord]]:
        """(ranked, apart): outlets with at least `min_outcomes` resolved claims by score, then the rest."""
        ranked: list[OutletRecord] = []
        apart: list[OutletRecord] = []
        for r in self.outlets.values():
            (ranked if r.resolved >= min_outcomes and r.resolved > 0 else apart).append(r)
        ranked.sort(key=lambda r: (-r.score, -r.resolved, r.name.casefold()))
        apart.sort(key=lambda r: (-r.resolved, -(r.pending + r.relayed), r.name.casefold()))
        return ranked, apart

    def phrase(self, name: str) -> str:
        """The record in a few words, as shown beside a source."""
        return phrase(self.of(name))


def phrase(record: OutletRecord | None) -> str:
    if record is None or not record.resolved:
        return "nothing resolved yet"
    return f"{record.held} of {record.resolved} held up"


def claim_outcomes(history: RecordHistory) -> dict[int, ClaimOutcome]:
    steps: dict[int, list[tuple[str, str]]] = {}
    for step in history.steps:
        steps.setdefault(step.claim_id, []).append((step.at, step.status))
    marks = {m.claim_id: m for m in history.marks}  # oldest first, so the latest stays
    out: dict[int, ClaimOutcome] = {}
    for claim in history.claims:
        outcome, since = PENDING, None
        for at, status in steps.get(claim.id, ()):
            now = OUTCOME_OF_STATUS.get(status, PENDING)
            if now != outcome:
                outcome, since = now, at
        # The claim's own status is the truth; history only dates it.
        current = OUTCOME_OF_STATUS.get(claim.status, PENDING)
        if current != outcome:
            outcome, since = current, _last_step_at(steps.get(claim.id, ()))
        reason = None
        mark = marks.get(claim.id)
        if mark is not None and mark.outcome != "auto":
            reason = mark.reason
            if mark.outcome != outcome:
                outcome, since = mark.outcome, mark.at
        out[claim.id] = ClaimOutcome(
            claim.id,
            claim.story_id,
            claim.text,
            claim.status,
            outcome,
            None if outcome == PENDING else since,
            reason,
        )
    return out


def _last_step_at(steps: Sequence[tuple[str, str]]) -> str | None:
    return steps[-1][0] if steps else None


@dataclass
class _Tally:
    names: Counter[str] = field(default_factory=Counter)
    first_seen: dict[str, int] = field(default_factory=dict)
    claims: dict[int, OutletClaim] = field(default_factory=dict)
    relays: dict[int, str] = field(default_factory=dict)
    grades: dict[tuple[int, str], str] = field(default_factory=dict)

    def saw(self, name: str, order: int) -> None:
        self.names[name] += 1
        self.first_seen.setdefault(name, order)


def compute(history: RecordHistory, *, story_id: int | None = None) -> ServerRecord:
    """Every outlet's record from a server's history (only one story's claims when story_id is given)."""
    outcomes = claim_outcomes(history)
    into = merged_names(history.merges)
    by_claim: dict[int, list[Source]] = {}
    for source in history.sources:
        by_claim.setdefault(source.claim_id, []).append(source)
    tallies: dict[str, _Tally] = {}
    calibration: dict[str, list[int]] = {g: [0, 0, 0] for g in GRADES}

    roots: dict[str, str] = {}

    def tally(key: str) -> _Tally:
        found = tallies.get(key)
        if found is None:
            found = tallies[key] = _Tally()
        return found

    def root(name: str) -> str:
        found = roots.get(name)
        if found is None:
            found = roots[name] = root_name(outlet_key(name), into)
        return found

    for claim_id, oc in outcomes.items():
        if story_id is not None and oc.story_id != story_id:
            continue
        cutoff = _at(oc.at) if oc.at else None
        counted = [s for s in by_claim.get(claim_id, ()) if cutoff is None or _at(s.added_at) <= cutoff]
        if not counted:
            continue
        direct: dict[str, list[Source]] = {}
        relayers: dict[str, Source] = {}
        for s in counted:
            credited_name = s.cites if s.cites else s.outlet
            credited = root(credited_name)
            tally(credited).saw(credited_name.strip(), s.id)
            direct.setdefault(credited, []).append(s)
            if s.cites:
                relayer = root(s.outlet)
                tally(relayer).saw(s.outlet.strip(), s.id)
                if relayer != credited:
                    relayers.setdefault(relayer, s)
        for grade in {s.reliability for s in counted}:
            cell = calibration[grade]
            if oc.outcome == PENDING:
                cell[2] += 1
            else:
                cell[1] += 1
                cell[0] += oc.outcome == HELD
        reported_at = {s.id: report_time(s) for s in counted}
        first = min(direct, key=lambda k: min((reported_at[s.id], s.id) for s in direct[k]))
        for key, sources in direct.items():
            reported = min(reported_at[s.id] for s in sources)
            seconds = max(0.0, (cutoff - reported).total_seconds()) if cutoff else None
            tally(key).claims[claim_id] = OutletClaim(
                claim_id,
                oc.outcome,
                relay=False,
                scoop=oc.outcome == HELD and key == first,
                seconds_to_outcome=seconds,
                # A relayed report's grade describes the relay, not the outlet it cites.
                grade=min((s.reliability for s in sources if not s.cites), default=None),
            )
        for key in relayers:
            if key not in direct:
                tally(key).relays[claim_id] = oc.outcome

    aliases: dict[str, list[str]] = {}
    for name in into:
        aliases.setdefault(root_name(name, into), []).append(name)
    outlets: dict[str, OutletRecord] = {}
    for key, t in tallies.items():
        own = sorted(t.claims.values(), key=lambda c: c.claim_id)
        grades: dict[str, tuple[int, int]] = {}
        for c in own:
            if c.grade and c.outcome != PENDING:
                h, n = grades.get(c.grade, (0, 0))
                grades[c.grade] = (h + (c.outcome == HELD), n + 1)
        times = [c.seconds_to_outcome for c in own if c.seconds_to_outcome is not None]
        relay_claims = [OutletClaim(cid, outcome, relay=True) for cid, outcome in sorted(t.relays.items())]
        outlets[key] = OutletRecord(
            key=key,
            name=_display_name(t),
            held=sum(c.outcome == HELD for c in own),
            failed=sum(c.outcome == FAILED for c in own),
            pending=sum(c.outcome == PENDING for c in own),
            relays=Counter(t.relays.values()),
            scoops=sum(c.scoop for c in own),
            median_seconds=statistics.median(times) if times else None,
            claims=tuple(own + relay_claims),
            grades=dict(sorted(grades.items())),
            aliases=tuple(sorted(aliases.get(key, ()))),
        )
    return ServerRecord(
        outlets,
        outcomes,
        {g: Calibration(*v) for g, v in calibration.items()},
        into,
    )


def _display_name(t: _Tally) -> str:
    """The spelling members use most (a plain name before a link), the first one seen on a tie."""
    return min(t.names, key=lambda n: (is_link_like(n), -t.names[n], t.first_seen[n]))


def duration(seconds: float | None) -> str:
    """A median time in a few characters: "5 h", "2.5 d"; "n/a" when nothing is resolved."""
    if seconds is None:
        return "n/a"
    hours = seconds / 3600
    if hours < 24:
        return f"{round(hours)} h"
    return f"{hours / 24:.1f} d"
