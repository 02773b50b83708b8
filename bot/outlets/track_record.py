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
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

from db.facts import Source
from db.outlets import OutcomeMark, RecordClaim, RecordHistory, StatusStep, merged_names, root_name

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


def claim_outcome(claim: RecordClaim, steps: Sequence[StatusStep], mark: OutcomeMark | None) -> ClaimOutcome:
    """One claim's outcome from its status steps (oldest first) and the curator's mark in force."""
    outcome, since = PENDING, None
    for step in steps:
        now = OUTCOME_OF_STATUS.get(step.status, PENDING)
        if now != outcome:
            outcome, since = now, step.at
    # The claim's own status is the truth; history only dates it (a store without that history, such
    # as an old import, is dated at its last step).
    current = OUTCOME_OF_STATUS.get(claim.status, PENDING)
    if current != outcome:
        outcome, since = current, steps[-1].at if steps else None
    reason = None
    if mark is not None and mark.outcome != "auto":
        reason = mark.reason
        if mark.outcome != outcome:
            outcome, since = mark.outcome, mark.at
    return ClaimOutcome(
        claim.id, claim.story_id, claim.text, claim.status, outcome, None if outcome == PENDING else since, reason
    )


def claim_outcomes(history: RecordHistory) -> dict[int, ClaimOutcome]:
    steps: dict[int, list[StatusStep]] = {}
    for step in history.steps:
        steps.setdefault(step.claim_id, []).append(step)
    marks = {m.claim_id: m for m in history.marks}  # oldest first, so the latest stays
    return {c.id: claim_outcome(c, steps.get(c.id, ()), marks.get(c.id)) for c in history.claims}


@dataclass(frozen=True, slots=True)
class Contribution:
    """What one claim adds to the records: each outlet it credits, each relay, the names its counted
    sources use (key, name, source id) and their grades. Records are sums of these, so a write that
    touches one claim recomputes only its contribution (bot/outlets/records.py)."""

    outcome: ClaimOutcome
    direct: tuple[tuple[str, OutletClaim], ...] = ()
    relays: tuple[str, ...] = ()
    names: tuple[tuple[str, str, int], ...] = ()
    grades: frozenset[str] = frozenset()


class Roots:
    """Outlet names to the key they count as under the merges in force, remembered per name."""

    def __init__(self, into: dict[str, str]) -> None:
        self.into = into
        self._found: dict[str, str] = {}

    def __call__(self, name: str) -> str:
        found = self._found.get(name)
        if found is None:
            found = self._found[name] = root_name(outlet_key(name), self.into)
        return found


def contribute(oc: ClaimOutcome, sources: Sequence[Source], root: Roots) -> Contribution:
    cutoff = _at(oc.at) if oc.at else None
    counted = [s for s in sources if cutoff is None or _at(s.added_at) <= cutoff]
    if not counted:
        return Contribution(oc)
    direct: dict[str, list[Source]] = {}
    relayers: list[str] = []
    names: list[tuple[str, str, int]] = []
    for s in counted:
        credited_name = s.cites if s.cites else s.outlet
        credited = root(credited_name)
        names.append((credited, credited_name.strip(), s.id))
        direct.setdefault(credited, []).append(s)
        if s.cites:
            relayer = root(s.outlet)
            names.append((relayer, s.outlet.strip(), s.id))
            if relayer != credited and relayer not in relayers:
                relayers.append(relayer)
    reported_at = {s.id: report_time(s) for s in counted}
    first = min(direct, key=lambda k: min((reported_at[s.id], s.id) for s in direct[k]))
    credited_claims = []
    for key, own in direct.items():
        reported = min(reported_at[s.id] for s in own)
        credited_claims.append(
            (
                key,
                OutletClaim(
                    oc.claim_id,
                    oc.outcome,
                    relay=False,
                    scoop=oc.outcome == HELD and key == first,
                    seconds_to_outcome=max(0.0, (cutoff - reported).total_seconds()) if cutoff else None,
                    # A relayed report's grade describes the relay, not the outlet it cites.
                    grade=min((s.reliability for s in own if not s.cites), default=None),
                ),
            )
        )
    return Contribution(
        oc,
        tuple(credited_claims),
        tuple(k for k in relayers if k not in direct),
        tuple(names),
        frozenset(s.reliability for s in counted),
    )


@dataclass
class _Tally:
    names: Counter[str] = field(default_factory=Counter)
    first_seen: dict[str, int] = field(default_factory=dict)
    claims: list[OutletClaim] = field(default_factory=list)
    relays: list[OutletClaim] = field(default_factory=list)


def aggregate(
    contributions: Iterable[Contribution], into: dict[str, str], *, story_id: int | None = None
) -> ServerRecord:
    """The records as the sum of claims' contributions (only one story's claims when story_id is given)."""
    tallies: dict[str, _Tally] = {}
    calibration: dict[str, list[int]] = {g: [0, 0, 0] for g in GRADES}
    outcomes: dict[int, ClaimOutcome] = {}

    def tally(key: str) -> _Tally:
        found = tallies.get(key)
        if found is None:
            found = tallies[key] = _Tally()
        return found

    for part in sorted(contributions, key=lambda p: p.outcome.claim_id):
        oc = part.outcome
        outcomes[oc.claim_id] = oc
        if story_id is not None and oc.story_id != story_id:
            continue
        for key, name, source_id in part.names:
            t = tally(key)
            t.names[name] += 1
            if name not in t.first_seen or source_id < t.first_seen[name]:
                t.first_seen[name] = source_id
        for grade in part.grades:
            cell = calibration[grade]
            if oc.outcome == PENDING:
                cell[2] += 1
            else:
                cell[1] += 1
                cell[0] += oc.outcome == HELD
        for key, claim in part.direct:
            tally(key).claims.append(claim)
        for key in part.relays:
            tally(key).relays.append(OutletClaim(oc.claim_id, oc.outcome, relay=True))

    aliases: dict[str, list[str]] = {}
    for name in into:
        aliases.setdefault(root_name(name, into), []).append(name)
    outlets: dict[str, OutletRecord] = {}
    for key, t in tallies.items():
        own = t.claims
        grades: dict[str, tuple[int, int]] = {}
        for c in own:
            if c.grade and c.outcome != PENDING:
                h, n = grades.get(c.grade, (0, 0))
                grades[c.grade] = (h + (c.outcome == HELD), n + 1)
        times = [c.seconds_to_outcome for c in own if c.seconds_to_outcome is not None]
        outlets[key] = OutletRecord(
            key=key,
            name=_display_name(t),
            held=sum(c.outcome == HELD for c in own),
            failed=sum(c.outcome == FAILED for c in own),
            pending=sum(c.outcome == PENDING for c in own),
            relays=Counter(c.outcome for c in t.relays),
            scoops=sum(c.scoop for c in own),
            median_seconds=statistics.median(times) if times else None,
            claims=tuple(own + t.relays),
            grades=dict(sorted(grades.items())),
            aliases=tuple(sorted(aliases.get(key, ()))),
        )
    return ServerRecord(outlets, outcomes, {g: Calibration(*v) for g, v in calibration.items()}, into)


def contributions(history: RecordHistory) -> dict[int, Contribution]:
    root = Roots(merged_names(history.merges))
    by_claim: dict[int, list[Source]] = {}
    for source in history.sources:
        by_claim.setdefault(source.claim_id, []).append(source)
    return {cid: contribute(oc, by_claim.get(cid, ()), root) for cid, oc in claim_outcomes(history).items()}


def compute(history: RecordHistory, *, story_id: int | None = None) -> ServerRecord:
    """Every outlet's record from a server's whole history, recomputed from nothing."""
    return aggregate(contributions(history).values(), merged_names(history.merges), story_id=story_id)


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
