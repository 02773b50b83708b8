"""Turn change events into update posts: embeds grouped by kind, split across embeds and messages.

No database, no network. Nothing is truncated silently: every event becomes a line, lines are
split between embeds (4096 characters each) and embeds between messages (10 embeds and 6000
characters each). Only a single line longer than an embed description could be clipped, and claim
text is capped far below that.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import discord

from bot.kit.formatting import BRAND, STATUS_EMOJI, escape
from bot.kit.limits import CONTENT, EMBED_TOTAL, EMBEDS_PER_MESSAGE, TITLE, clip, split_lines
from bot.kit.links import bare_link
from bot.updates.schedule import is_late, next_slot, parse_time, parse_zone
from db import clock
from db.facts import ChangeEvent
from db.updates import Produced, Subscription, new_nonce

SECTIONS = (
    ("claim_added", "New claims"),
    ("status_changed", "Status changes"),
    ("source_added", "New sources"),
    ("poll_resolved", "Resolved polls"),
    ("claim_edited", "Reworded claims"),
    ("claim_retracted", "Retractions"),
    ("other", "Other changes"),
)
_KNOWN = {kind for kind, _ in SECTIONS}
# Room kept in each message for the footer that carries the post's reference.
FOOTER_RESERVE = 120
SECTION_COLOR = 0x5865F2


@dataclass(slots=True)
class Draft:
    """One Discord message of a post."""

    content: str
    embeds: list[discord.Embed] = field(default_factory=list)

    def payload(self) -> dict[str, Any]:
        return {"content": self.content, "embeds": [e.to_dict() for e in self.embeds]}

    def to_json(self) -> str:
        return json.dumps(self.payload(), ensure_ascii=False)


def _source_text(source: dict[str, Any]) -> str:
    label = escape(str(source.get("outlet") or "unknown outlet"))
    if source.get("cites"):
        label += f" (citing {escape(str(source['cites']))})"
    if source.get("reliability"):
        label += f" · grade {source['reliability']}"
    link = bare_link(source.get("url"))
    return f"{label} · {link}" if link else label


def event_line(event: ChangeEvent) -> str:
    d = event.detail or {}
    ref = f"`#{event.claim_id}`" if event.claim_id else ""
    text = escape(str(d.get("text") or ""))
    if event.kind == "claim_added":
        status = str(d.get("status") or "rumored")
        line = f"{ref} {STATUS_EMOJI.get(status, '•')} **{status}** · {text}"
        for source in d.get("sources") or []:
            line += f"\n  ↳ {_source_text(source)}"
        return line
    if event.kind == "status_changed":
        old, new = str(d.get("old") or "?"), str(d.get("new") or "?")
        line = f"{ref} {STATUS_EMOJI.get(old, '•')} {old} → {STATUS_EMOJI.get(new, '•')} **{new}** · {text}"
        if d.get("reason"):
            line += f"\n  ↳ why: {escape(str(d['reason']))}"
        evidence = bare_link(d.get("evidence_url"))
        if evidence:
            line += f"\n  ↳ evidence: {evidence}"
        return line
    if event.kind == "source_added":
        return f"{ref} {text}\n  ↳ {_source_text(d.get('source') or {})}"
    if event.kind == "claim_edited":
        return f"{ref} now reads: {escape(str(d.get('new') or ''))}"
    if event.kind == "claim_retracted":
        line = f"{ref} ~~{text}~~"
        if d.get("reason"):
            line += f"\n  ↳ why: {escape(str(d['reason']))}"
        return line
    # Polls and anything newer are told by their summary, which the writer made for people.
    return f"• {escape(event.summary)}"


def build_post(
    story_title: str,
    events: Sequence[ChangeEvent],
    *,
    heading: str,
    late_note: str | None = None,
) -> list[Draft]:
    """The messages of one post, or [] when there is nothing to say."""
    if not events:
        return []
    groups: dict[str, list[str]] = {}
    for event in events:
        kind = event.kind if event.kind in _KNOWN else "other"
        groups.setdefault(kind, []).append(event_line(event))
    embeds: list[discord.Embed] = []
    for kind, label in SECTIONS:
        lines = groups.get(kind)
        if not lines:
            continue
        chunks = split_lines(lines, 4000)
        for i, chunk in enumerate(chunks):
            title = f"{label} ({len(lines)})" + (f" · {i + 1}/{len(chunks)}" if len(chunks) > 1 else "")
            color = SECTION_COLOR if kind != "claim_added" else BRAND
            embeds.append(discord.Embed(title=clip(title, TITLE), description=chunk, color=color))
    count = len(events)
    header = f"**{escape(story_title)}** · {heading} · {count} change{'s' if count != 1 else ''}"
    if late_note:
        header += f"\n⏰ {late_note}"
    return _pack(clip(header, CONTENT - 40), embeds)


def _pack(header: str, embeds: list[discord.Embed]) -> list[Draft]:
    messages: list[list[discord.Embed]] = [[]]
    size = 0
    budget = EMBED_TOTAL - FOOTER_RESERVE
    for embed in embeds:
        n = len(embed)
        if messages[-1] and (len(messages[-1]) >= EMBEDS_PER_MESSAGE or size + n > budget):
            messages.append([])
            size = 0
        messages[-1].append(embed)
        size += n
    total = len(messages)
    drafts = []
    for i, group in enumerate(messages, start=1):
        content = header if i == 1 else f"{header.splitlines()[0]} · continued"
        if total > 1:
            content += f" ({i}/{total})"
        drafts.append(Draft(content=content, embeds=group))
    return drafts


def stamp(drafts: list[Draft], refs: Sequence[str]) -> None:
    """Put each message's reference in its last embed's footer: a restarted sender looks for it."""
    for draft, ref in zip(drafts, refs, strict=True):
        if not draft.embeds:
            draft.embeds.append(discord.Embed(color=SECTION_COLOR))
        draft.embeds[-1].set_footer(text=footer_text(ref))


def footer_text(ref: str) -> str:
    return f"Rumor Mill update · ref {ref}"


def embeds_from_payload(payload: dict[str, Any]) -> list[discord.Embed]:
    return [discord.Embed.from_dict(e) for e in payload.get("embeds") or []]


def render_post(
    sub: Subscription,
    title: str,
    events: list[ChangeEvent],
    slot: datetime | None,
    *,
    online_since: datetime,
) -> Produced:
    """The outbox payloads for one production (pure apart from fresh nonces).

    A digest whose slot came before online_since (this process's start) came due while the bot was
    down, and says so, however little it is late.
    """
    now = clock.now()
    late_note = None
    next_due = None
    late = False
    heading = render_heading(sub, slot)
    if sub.is_digest and slot is not None:
        late = is_late(slot, online_since)
        if late:
            late_note = (
                f"Late: this digest was due {discord.utils.format_dt(slot, 'f')} while the bot was offline; "
                "it covers everything since the previous post."
            )
        next_due = next_slot(max(now, slot), parse_time(sub.local_time), parse_zone(sub.timezone), sub.weekday)
    drafts = build_post(title, events, heading=heading, late_note=late_note)
    nonces = [new_nonce() for _ in drafts]
    stamp(drafts, nonces)
    return Produced([d.to_json() for d in drafts], nonces, next_due, late)


def render_heading(sub: Subscription, slot: datetime | None) -> str:
    if sub.is_digest and slot is not None:
        local = slot.astimezone(parse_zone(sub.timezone))
        return f"{sub.mode.capitalize()} digest · {local:%a %d %b %Y %H:%M} ({sub.timezone})"
    return "Update"
