"""The fact store's claim reads: claims by id, key or reference, lists, counts, tags, sources, and search."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from db.errors import NotFound
from db.facts.base import StoreBase
from db.facts.model import (
    Claim,
    SearchHit,
    Source,
    parse_id,
    unknown_claim,
)
from db.search.ranking import rank


class Claims(StoreBase):
    """One server's claims and their sources, read; and the claim search (/fact search, autocomplete)."""

    async def get_claim(self, claim_id: int) -> Claim:
        row = await self.db.fetchone(
            "SELECT * FROM claims WHERE id = ? AND guild_id = ?", (claim_id, self.guild_id)
        )
        if row is None:
            raise NotFound(unknown_claim(claim_id))
        return (await self._with_labels([row]))[0]

    async def claim_by_key(self, story_id: int, key: str) -> Claim | None:
        row = await self.db.fetchone(
            "SELECT * FROM claims WHERE story_id = ? AND key = ? AND guild_id = ?", (story_id, key, self.guild_id)
        )
        return (await self._with_labels([row]))[0] if row else None

    async def claim_by_ref(self, ref: str) -> Claim:
        """Exactly the claim a reference names (an id from autocomplete, or `#12` typed), never a guess.
        Destructive commands use this one."""
        claim_id = parse_id(ref)
        if claim_id is None:
            raise NotFound("Pick a claim from the list, or type its number like #12.")
        return await self.get_claim(claim_id)

    async def resolve_claim(self, ref: str) -> Claim:
        """What a reader may type: an id or `#12`, or words, which pick the best search hit."""
        ref = (ref or "").strip()
        claim_id = parse_id(ref)
        if claim_id is not None:
            return await self.get_claim(claim_id)
        hits = await self.search(ref, limit=1) if ref else []
        if not hits:
            raise NotFound("No claim matches that. Start typing and pick one from the list.")
        return hits[0].claim

    async def list_claims(
        self,
        story_id: int,
        *,
        status: str | None = None,
        tag: str | None = None,
        kind: str | None = None,
        limit: int = 10,
        offset: int = 0,
    ) -> tuple[list[Claim], int]:
        where = ["c.story_id = ?", "c.guild_id = ?"]
        params: list[Any] = [story_id, self.guild_id]
        if status:
            where.append("c.status = ?")
            params.append(status)
        if tag:
            where.append("EXISTS (SELECT 1 FROM claim_tags t WHERE t.claim_id = c.id AND t.tag = ?)")
            params.append(tag.lower())
        if kind:
            where.append("c.kind = ?")
            params.append(kind)
        clause = " AND ".join(where)
        total = await self.db.fetchval(f"SELECT count(*) FROM claims c WHERE {clause}", params, 0)  # noqa: S608
        rows = await self.db.fetchall(
            f"SELECT c.* FROM claims c WHERE {clause} ORDER BY c.id LIMIT ? OFFSET ?",  # noqa: S608
            [*params, limit, offset],
        )
        return await self._with_labels(rows), int(total)

    async def projects(self, text: str = "", *, limit: int = 25) -> list[Claim]:
        """Project claims of this server's stories that are not archived, for /poll launch."""
        rows = await self.db.fetchall(
            "SELECT c.* FROM claims c JOIN stories s ON s.id = c.story_id "
            "WHERE c.guild_id = ? AND c.project IS NOT NULL AND s.archived_at IS NULL AND c.status != 'retracted' "
            "AND (lower(c.project) LIKE lower(?2) ESCAPE '\\' OR lower(c.text) LIKE lower(?2) ESCAPE '\\' "
            "OR CAST(c.id AS TEXT) = ?3) "
            "ORDER BY c.story_id, c.id LIMIT ?4",
            (self.guild_id, "%" + _like_escape(text.strip()) + "%", text.strip().lstrip("#"), limit),
        )
        return await self._with_labels(rows)

    async def status_counts(self, story_id: int, *, kind: str | None = None) -> dict[str, int]:
        rows = await self.db.fetchall(
            "SELECT status, count(*) FROM claims WHERE story_id = ? AND guild_id = ? AND (CAST(?3 AS TEXT) IS NULL OR kind = ?3) "
            "GROUP BY status",
            (story_id, self.guild_id, kind),
        )
        return {r[0]: r[1] for r in rows}

    async def tags(self, story_id: int | None = None) -> list[tuple[str, int]]:
        rows = await self.db.fetchall(
            "SELECT t.tag, count(*) FROM claim_tags t JOIN claims c ON c.id = t.claim_id "
            "WHERE c.guild_id = ?2 AND (CAST(?1 AS BIGINT) IS NULL OR c.story_id = ?1) GROUP BY t.tag "
            "ORDER BY count(*) DESC, t.tag",
            (story_id, self.guild_id),
        )
        return [(r[0], r[1]) for r in rows]

    async def sources(self, claim_id: int) -> list[Source]:
        return (await self.sources_for([claim_id])).get(claim_id, [])

    async def sources_for(self, claim_ids: Sequence[int]) -> dict[int, list[Source]]:
        """The sources of several claims in one round trip."""
        ids = list(dict.fromkeys(claim_ids))
        if not ids:
            return {}
        marks = ",".join("?" * len(ids))
        rows = await self.db.fetchall(
            f"SELECT s.* FROM sources s JOIN claims c ON c.id = s.claim_id "  # noqa: S608 - only placeholders
            f"WHERE c.guild_id = ? AND s.claim_id IN ({marks}) ORDER BY s.id",
            [self.guild_id, *ids],
        )
        out: dict[int, list[Source]] = {i: [] for i in ids}
        for r in rows:
            out[r["claim_id"]].append(Source(**dict(r)))
        return out

    # -- search ------------------------------------------------------------------------------------
    async def search(self, question: str, *, story_id: int | None = None, limit: int = 5) -> list[SearchHit]:
        """This server's claims that answer a question, most relevant first; user text is only FTS5 data."""
        found = await self.db.search.match(self.guild_id, question)
        if found is None:
            return []
        ids = [claim_id for claim_id, _ in found.ranked]
        # Perf: plain rows here; tags and entities are loaded below for the returned hits only.
        marks = ",".join("?" * len(ids))
        claims = {
            r["id"]: r
            for r in await self.db.fetchall(
                f"SELECT * FROM claims WHERE guild_id = ? AND id IN ({marks})",  # noqa: S608 - placeholders
                [self.guild_id, *ids],
            )
        }
        scored = rank(found, claims, story_id=story_id, limit=limit)
        labelled = await self._with_labels([claim for _, claim, _ in scored])
        return [
            SearchHit(
                claim,
                score,
                tuple(w for w in found.words if w in got),
                tuple(w for w in found.words if w not in got),
            )
            for (score, _, got), claim in zip(scored, labelled, strict=True)
        ]

    async def autocomplete(self, text: str, *, limit: int = 25) -> list[Claim]:
        text = (text or "").strip()
        if not text:
            rows = await self.db.fetchall(
                "SELECT * FROM claims WHERE guild_id = ? ORDER BY updated_at DESC, id DESC LIMIT ?",
                (self.guild_id, limit),
            )
            return await self._with_labels(rows)
        digits = text.lstrip("#")
        if digits.isascii() and digits.isdigit():
            digits = digits[:18]
            rows = await self.db.fetchall(
                "SELECT * FROM claims WHERE guild_id = ? AND (id = ? OR CAST(id AS TEXT) LIKE ?) "
                "ORDER BY id = ? DESC, id LIMIT ?",
                (self.guild_id, int(digits), digits + "%", int(digits), limit),
            )
            return await self._with_labels(rows)
        ids = await self.db.search.suggest(self.guild_id, text, limit)
        by_id = {c.id: c for c in await self._claims_by_ids(ids)}
        return [by_id[i] for i in ids if i in by_id]


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
