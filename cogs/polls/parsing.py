"""What members type into /poll, checked and parsed: options, deadlines, questions, dates, evidence,
and emoji as they are stored and compared. Pure: no Discord request, no database."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import discord

from bot.kit.errors import UserFacingError
from bot.kit.limits import clip
from db.facts import has_visible
from db.polls import PollOption

MAX_OPTIONS = 20  # Discord allows 20 distinct reactions on a message
MAX_QUESTION = 256  # an embed title
MAX_LABEL = 80
MAX_EVIDENCE = 300
MAX_DURATION = timedelta(days=90)
MIN_DURATION = timedelta(minutes=1)
NUMBER_EMOJI = ("1️⃣", "2️⃣", "3️⃣", "4️⃣", "5️⃣", "6️⃣", "7️⃣", "8️⃣", "9️⃣", "🔟") + tuple(chr(0x1F1E6 + i) for i in range(10))
_CUSTOM = re.compile(r"^<(a?):([A-Za-z0-9_~]{2,32}):(\d{15,21})>$")
_DURATION = re.compile(r"([0-9]{1,12})\s*([dhm])", re.IGNORECASE)


def emoji_key(emoji: discord.PartialEmoji | str) -> str:
    """How an emoji is stored and compared: unicode without variation selectors, or name:id."""
    if isinstance(emoji, discord.PartialEmoji):
        if emoji.id:
            return f"{emoji.name}:{emoji.id}"
        return (emoji.name or "").replace("\ufe0f", "")
    match = _CUSTOM.match(emoji)
    if match:
        return f"{match[2]}:{match[3]}"
    return emoji.replace("\ufe0f", "")


def emoji_text(stored: str) -> str:
    """Stored emoji as it renders in a message."""
    name, _, emoji_id = stored.partition(":")
    return f"<:{name}:{emoji_id}>" if emoji_id else stored


def _looks_like_emoji(token: str) -> bool:
    if _CUSTOM.match(token):
        return True
    return any(ord(ch) > 0x2000 for ch in token) and not any(ch.isalpha() for ch in token)


def parse_options(raw: str) -> list[PollOption]:
    parts = [p.strip() for p in re.split(r"[|;\n]", raw or "")]
    parts = [p for p in parts if p]
    if len(parts) < 2:
        raise UserFacingError("Give at least two options, separated by `|`, e.g. `Yes | No | Not sure`.")
    if len(parts) > MAX_OPTIONS:
        raise UserFacingError(
            f"That is {len(parts)} options; Discord allows at most {MAX_OPTIONS} reactions on a message."
        )
    options: list[PollOption] = []
    seen: set[str] = set()
    for position, part in enumerate(parts):
        first, _, rest = part.partition(" ")
        if _looks_like_emoji(first):
            match = _CUSTOM.match(first)
            stored = f"{match[2]}:{match[3]}" if match else first
            label = rest.strip() or first
        else:
            stored, label = "", part
        if len(label) > MAX_LABEL:
            raise UserFacingError(f"Option {position + 1} is longer than {MAX_LABEL} characters.")
        if not has_visible(label):
            raise UserFacingError(f"Option {position + 1} is empty.")
        options.append(PollOption(position, stored, label))
    # Options without an emoji get the first number emoji no other option uses.
    used = {emoji_key(o.emoji) for o in options if o.emoji}
    spare = iter(e for e in NUMBER_EMOJI if emoji_key(e) not in used)
    final = []
    for o in options:
        stored = o.emoji or next(spare)
        key = emoji_key(stored)
        if key in seen:
            raise UserFacingError(f"The emoji {emoji_text(stored)} is used for two options; each needs its own.")
        seen.add(key)
        final.append(PollOption(o.position, stored, o.label))
    return final


def parse_deadline(
    closes_in: str | None, closes_at: str | None, at: datetime, shortest: timedelta = MIN_DURATION
) -> datetime | None:
    """The deadline typed as a duration or a UTC time, at least `shortest` after `at` (POLL_MIN_SECONDS)."""
    if closes_in and closes_at:
        raise UserFacingError("Give either `closes_in` or `closes_at`, not both.")
    if closes_in:
        text = closes_in.strip().lower()
        pieces = _DURATION.findall(text)
        if not pieces or _DURATION.sub("", text).strip():
            raise UserFacingError("`closes_in` takes a duration like `90m`, `12h` or `3d`.")
        units = {"d": "days", "h": "hours", "m": "minutes"}
        delta = timedelta()
        try:
            for amount, unit in pieces:
                delta += timedelta(**{units[unit.lower()]: int(amount)})
            deadline = at + delta
        except OverflowError:
            raise UserFacingError("A poll can stay open at most 90 days.") from None
    elif closes_at:
        try:
            deadline = datetime.fromisoformat(closes_at.strip().replace("Z", "+00:00"))
        except ValueError:
            raise UserFacingError("`closes_at` takes a UTC date and time like `2026-03-01 18:00`.") from None
        if deadline.tzinfo is None:
            deadline = deadline.replace(tzinfo=UTC)
    else:
        return None
    if deadline <= at:
        raise UserFacingError("That deadline is in the past. Pick a time from now on.")
    if deadline - at < shortest:
        raise UserFacingError(f"A poll must stay open at least {_span(shortest)}.")
    if deadline - at > MAX_DURATION:
        raise UserFacingError("A poll can stay open at most 90 days.")
    return deadline


def _span(length: timedelta) -> str:
    seconds = int(length.total_seconds())
    if seconds == 60:
        return "one minute"
    if seconds % 60 == 0:
        return f"{seconds // 60} minutes"
    return f"{seconds} second{'s' if seconds != 1 else ''}"


def validate_question(question: str, limit: int | None = MAX_QUESTION) -> str:
    """A question with its spaces tidied; `limit` is its longest (an embed title's; None: the caller
    checks its own, as a Discord poll does)."""
    question = " ".join((question or "").split())
    if not question or not has_visible(question):
        raise UserFacingError("The question is empty.")
    if limit is not None and len(question) > limit:
        raise UserFacingError(f"The question is {len(question)} characters; keep it within {limit}.")
    return question


def validate_evidence(evidence: str) -> str:
    evidence = " ".join(evidence.split())
    if not evidence:
        raise UserFacingError("Give the evidence: a source or a short note.")
    if len(evidence) > MAX_EVIDENCE:
        raise UserFacingError(f"Keep the evidence within {MAX_EVIDENCE} characters.")
    return evidence


def launch_date(by: str | None, horizon: str | None, at: datetime) -> date:
    """The date a launch poll asks about: `by` if given, else the project's horizon if it is still
    ahead, else 90 days from now."""
    if by:
        try:
            by_date = datetime.fromisoformat(by.strip()).date()
        except ValueError:
            raise UserFacingError("`by` takes a date like 2026-06-30.") from None
        if by_date <= at.date():
            raise UserFacingError("That date is in the past. Pick a future date.")
        return by_date
    if horizon and horizon > at.date().isoformat():
        return datetime.fromisoformat(horizon).date()
    return (at + timedelta(days=90)).date()


def launch_question(project: str, by_date: date) -> str:
    """A launch poll's question, worded from the stored claim: the project's name as curators stored
    it, nothing else."""
    name = project if project.lower().startswith(("the ", "a ", "an ")) else f"the {project}"
    return clip(f"Will {name} be officially announced by {by_date:%d %B %Y}?", MAX_QUESTION)
