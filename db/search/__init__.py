"""Claim search: the word rules, each backend's lexical index behind one interface, and /ask's retrieval.

    words.py      tokenising, filler and stop words, status words, stems, when two spellings are one word
    tuning.py     every threshold and weight of search and retrieval (`WORDS`, `SEARCH`, `RETRIEVAL`)
    ranking.py    `Match` (what an index answers) and `rank` (coverage first): plain Python, shared
    fts5.py       `Fts5ClaimSearch`: SQLite's FTS5 index; every line of FTS5 SQL
    postgres.py   `PgClaimSearch`: PostgreSQL's tsvector/pg_trgm index; every line of its full-text SQL
    retrieval.py  `Retrieval`: /ask's hybrid search, the lexical index fused with dense vectors

A database hands over its own index as `db.search` (its driver picks the class, db/drivers/); the fact
store keeps the index in step inside each claim write, and `Retrieval` asks it for /ask's lexical
candidates. Nothing here asks which backend it runs on. Each row carries its server, and every query is
scoped to one server, so one server's words never match another server's claims.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from db.search.ranking import Match


class ClaimSearch(Protocol):
    """A backend's full-text index of claims. Writes run inside the claim's own transaction (`tx`)."""

    async def index(
        self,
        tx: Any,
        guild_id: int,
        claim_id: int,
        text: str,
        tags: Iterable[str],
        entities: Iterable[str],
        *,
        replace: bool = False,
    ) -> None:
        """Index a new claim, or (replace) re-index an edited one."""

    async def rebuild(self, tx: Any) -> None:
        """Index every claim from the stored rows (after an import into an empty store, or a copy)."""

    async def rescope(self, tx: Any, from_guild: int, to_guild: int) -> None:
        """Hand one server's indexed claims to another (adopting the unowned stories)."""

    def vocabulary_changed(self) -> None:
        """Called after a commit that changed claim text: typo correction re-reads the words it knows."""

    async def match(self, guild_id: int, question: str) -> Match | None:
        """The server's claims that match any content word of a question (None when none does)."""

    async def suggest(self, guild_id: int, text: str, limit: int) -> list[int]:
        """Claim ids for what someone is typing: claims holding every typed word first, newest first."""

    async def lexical(
        self, guild_id: int | None, spellings: Sequence[Sequence[str]], story_ids: Sequence[int], limit: int
    ) -> list[int]:
        """/ask's lexical candidates, best first: claims of these stories (of this server; of any when
        guild_id is None) holding any spelling of any question word, each matched as a prefix from
        `SEARCH.prefix_min` letters."""
