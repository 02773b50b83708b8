"""The fact store's claim writes: add, status, text, marks, sources, retraction; each one `_commit`."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict

from db.drivers.sqlite import Tx
from db.errors import Conflict, InvalidChange
from db.facts.base import Change
from db.facts.claims import Claims
from db.facts.model import (
    KINDS,
    MAX_CLAIM_TEXT,
    MAX_ENTITY,
    MAX_OUTLET,
    MAX_PROJECT,
    MAX_REASON,
    MAX_TAG,
    RELIABILITY,
    SETTABLE_STATUSES,
    Actor,
    Claim,
    NewSource,
    Source,
    clean_labels,
    clean_text,
    describe_mark,
)


class ClaimWrites(Claims):
    """One server's claims and their sources, written (each write through `_commit`)."""

    async def add_claim(
        self,
        story_id: int,
        text: str,
        *,
        actor: Actor,
        reason: str,
        status: str = "rumored",
        tags: Iterable[str] = (),
        entities: Iterable[str] = (),
        first_reported: str | None = None,
        sources: Sequence[NewSource] = (),
        key: str | None = None,
        evidence_url: str | None = None,
        kind: str = "rumor",
        project: str | None = None,
        horizon: str | None = None,
        request_id: int | None = None,
    ) -> Claim:
        text = clean_text(text, "claim", MAX_CLAIM_TEXT)
        reason = clean_text(reason, "reason", MAX_REASON)
        if status not in SETTABLE_STATUSES:
            raise InvalidChange(f"A new claim cannot start as {status}.")
        if kind not in KINDS:
            raise InvalidChange("A claim is either about the rumor itself or background context.")
        project = clean_text(project, "project name", MAX_PROJECT) if project is not None else None
        if horizon is not None and project is None:
            raise InvalidChange("A horizon date belongs to a project: give the project a name too.")
        tag_labels = clean_labels(tags, MAX_TAG, lower=True)
        entity_labels = clean_labels(entities, MAX_ENTITY, lower=False)

        async def make(tx: Tx, at: str) -> Change:
            await self._story_for_change(tx, story_id)
            if self.max_claims_per_story is not None:
                count = await tx.fetchval("SELECT count(*) FROM claims WHERE story_id = ?", (story_id,))
                if count >= self.max_claims_per_story:
                    raise InvalidChange(
                        f"This story already holds {count} claims, the most one story can. "
                        "Start a new story with /story create."
                    )
            claim_id = await tx.insert(
                "INSERT INTO claims(story_id, guild_id, key, text, status, first_reported, created_at, updated_at, "
                "kind, project, horizon) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (story_id, self.guild_id, key, text, status, first_reported, at, at, kind, project, horizon),
            )
            await tx.executemany(
                "INSERT INTO claim_tags(claim_id, tag) VALUES (?, ?)", [(claim_id, t) for t in tag_labels]
            )
            await tx.executemany(
                "INSERT INTO claim_entities(claim_id, entity) VALUES (?, ?)",
                [(claim_id, e) for e in entity_labels],
            )
            for source in sources:
                await self._insert_source(tx, claim_id, source, at)
            return Change(
                story_id,
                claim_id,
                "created",
                None,
                status,
                "claim_added",
                f"New claim #{claim_id} ({status}): {text}",
                {
                    "status": status,
                    "text": text,
                    "tags": list(tag_labels),
                    "kind": kind,
                    "project": project,
                    "sources": [asdict(s) for s in sources],
                },
                evidence_url,
                text=text,
                tags=tag_labels,
                entities=entity_labels,
                created=True,
            )

        change = await self._commit(request_id, actor, reason, make)
        return await self.get_claim(change.claim_id)

    async def set_status(
        self,
        claim_id: int,
        status: str,
        *,
        actor: Actor,
        reason: str,
        evidence_url: str | None = None,
        request_id: int | None = None,
    ) -> Claim:
        reason = clean_text(reason, "reason", MAX_REASON)
        if status not in SETTABLE_STATUSES:
            raise InvalidChange(
                "Use /fact retract to retract a claim." if status == "retracted" else f"Unknown status {status}."
            )

        async def make(tx: Tx, at: str) -> Change:
            claim = await self._claim_for_change(tx, claim_id)
            if claim["status"] == status:
                raise InvalidChange(f"Claim #{claim_id} is already {status}.")
            await tx.execute("UPDATE claims SET status = ?, updated_at = ? WHERE id = ?", (status, at, claim_id))
            return Change(
                claim["story_id"],
                claim_id,
                "status",
                claim["status"],
                status,
                "status_changed",
                f"#{claim_id} {claim['status']} → {status}: {claim['text']}",
                {
                    "old": claim["status"],
                    "new": status,
                    "reason": reason,
                    "evidence_url": evidence_url,
                    "text": claim["text"],
                },
                evidence_url,
            )

        await self._commit(request_id, actor, reason, make)
        return await self.get_claim(claim_id)

    async def edit_text(
        self,
        claim_id: int,
        text: str,
        *,
        actor: Actor,
        reason: str,
        evidence_url: str | None = None,
        request_id: int | None = None,
    ) -> Claim:
        text = clean_text(text, "claim", MAX_CLAIM_TEXT)
        reason = clean_text(reason, "reason", MAX_REASON)

        async def make(tx: Tx, at: str) -> Change:
            claim = await self._claim_for_change(tx, claim_id)
            if claim["text"] == text:
                raise InvalidChange(f"Claim #{claim_id} already says exactly that.")
            await tx.execute("UPDATE claims SET text = ?, updated_at = ? WHERE id = ?", (text, at, claim_id))
            tags = await tx.fetchall("SELECT tag FROM claim_tags WHERE claim_id = ?", (claim_id,))
            entities = await tx.fetchall("SELECT entity FROM claim_entities WHERE claim_id = ?", (claim_id,))
            return Change(
                claim["story_id"],
                claim_id,
                "edit",
                claim["text"],
                text,
                "claim_edited",
                f"#{claim_id} reworded: {text}",
                {"old": claim["text"], "new": text, "reason": reason, "evidence_url": evidence_url},
                evidence_url,
                text=text,
                tags=tuple(r[0] for r in tags),
                entities=tuple(r[0] for r in entities),
            )

        await self._commit(request_id, actor, reason, make)
        return await self.get_claim(claim_id)

    async def mark(
        self,
        claim_id: int,
        *,
        actor: Actor,
        reason: str,
        kind: str | None = None,
        project: str | None = None,
        horizon: str | None = None,
        clear_project: bool = False,
        request_id: int | None = None,
    ) -> Claim:
        """Set a claim's kind (rumor or context), or make it a project (with an optional horizon date), or
        stop it being one. The change is in the claim's history."""
        reason = clean_text(reason, "reason", MAX_REASON)
        if kind is not None and kind not in KINDS:
            raise InvalidChange("A claim is either about the rumor itself or background context.")
        if project is not None:
            project = clean_text(project, "project name", MAX_PROJECT)

        async def make(tx: Tx, at: str) -> Change:
            claim = await self._claim_for_change(tx, claim_id)
            new_kind = kind or claim["kind"]
            new_project = None if clear_project else (project if project is not None else claim["project"])
            new_horizon = None if clear_project else (horizon if horizon is not None else claim["horizon"])
            if new_horizon is not None and new_project is None:
                raise InvalidChange("A horizon date belongs to a project: give the project a name too.")
            old = describe_mark(claim["kind"], claim["project"], claim["horizon"])
            new = describe_mark(new_kind, new_project, new_horizon)
            if old == new:
                raise InvalidChange(f"Claim #{claim_id} is already marked that way.")
            await tx.execute(
                "UPDATE claims SET kind = ?, project = ?, horizon = ?, updated_at = ? WHERE id = ?",
                (new_kind, new_project, new_horizon, at, claim_id),
            )
            return Change(
                claim["story_id"],
                claim_id,
                "mark",
                old,
                new,
                "claim_marked",
                f"#{claim_id} is now {new}: {claim['text']}",
                {"old": old, "new": new, "reason": reason, "text": claim["text"]},
            )

        await self._commit(request_id, actor, reason, make)
        return await self.get_claim(claim_id)

    async def add_source(
        self, claim_id: int, source: NewSource, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> Source:
        reason = clean_text(reason, "reason", MAX_REASON)
        source_id = 0

        async def make(tx: Tx, at: str) -> Change:
            nonlocal source_id
            claim = await self._claim_for_change(tx, claim_id)
            try:
                source_id = await self._insert_source(tx, claim_id, source, at)
            except Conflict:
                raise InvalidChange(f"Claim #{claim_id} already cites that source.") from None
            label = source.outlet + (f" (citing {source.cites})" if source.cites else "")
            return Change(
                claim["story_id"],
                claim_id,
                "source",
                None,
                label,
                "source_added",
                f"New source for #{claim_id}: {label}",
                {"source": asdict(source), "text": claim["text"], "reason": reason},
                source.url,
            )

        await self._commit(request_id, actor, reason, make)
        row = await self.db.fetchone("SELECT * FROM sources WHERE id = ?", (source_id,))
        assert row is not None  # written by the transaction that just committed; sources are never deleted
        return Source(**dict(row))

    async def retract(
        self,
        claim_id: int,
        *,
        actor: Actor,
        reason: str,
        evidence_url: str | None = None,
        request_id: int | None = None,
    ) -> Claim:
        reason = clean_text(reason, "reason", MAX_REASON)

        async def make(tx: Tx, at: str) -> Change:
            claim = await self._claim_for_change(tx, claim_id)
            await tx.execute("UPDATE claims SET status = 'retracted', updated_at = ? WHERE id = ?", (at, claim_id))
            return Change(
                claim["story_id"],
                claim_id,
                "retract",
                claim["status"],
                "retracted",
                "claim_retracted",
                f"#{claim_id} retracted: {claim['text']}",
                {"old": claim["status"], "reason": reason, "evidence_url": evidence_url, "text": claim["text"]},
                evidence_url,
            )

        await self._commit(request_id, actor, reason, make)
        return await self.get_claim(claim_id)

    async def _insert_source(self, tx: Tx, claim_id: int, s: NewSource, at: str) -> int:
        if s.reliability not in RELIABILITY:
            raise InvalidChange("Reliability must be A, B, C or D.")
        outlet = clean_text(s.outlet, "outlet", MAX_OUTLET)
        return await tx.insert(
            "INSERT INTO sources(claim_id, outlet, url, published, cites, reliability, added_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (claim_id, outlet, s.url, s.published, s.cites, s.reliability, at),
        )
