"""Polls, their options, forecast scores and resolution proposals: the types and `PollStore`.

`PollStore` works on the shared Database and reads votes, but never writes them: every vote change
goes through the single vote writer and its worker process (db/votes/), one transaction per batch.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from db.drivers.sqlite import Database
from db.errors import InvalidChange, NotFound
from db.shards import ShardFilter, shard_clause


@dataclass(frozen=True, slots=True)
class PollOption:
    position: int
    emoji: str  # unicode, or name:id for a custom emoji
    label: str
    probability: float | None = None
    answer_id: int | None = None  # a native poll's: the id Discord gave this answer


@dataclass(frozen=True, slots=True)
class Poll:
    id: int
    guild_id: int
    channel_id: int
    message_id: int | None
    author_id: int
    question: str
    kind: str
    multi: bool
    anonymous: bool
    hide_counts: bool
    claim_id: int | None
    project: str | None
    closes_at: str | None
    status: str
    closed_at: str | None
    close_reason: str | None
    results_message_id: int | None
    outcome: str | None
    evidence: str | None
    resolved_at: str | None
    resolved_by: int | None
    created_at: str
    options: tuple[PollOption, ...] = ()
    native: bool = False  # a Discord poll (votes by clicking in the message), not a reaction poll

    @property
    def is_open(self) -> bool:
        return self.status == "open"

    @property
    def is_forecast(self) -> bool:
        return self.kind == "forecast"

    def option_at(self, position: int) -> PollOption | None:
        for option in self.options:
            if option.position == position:
                return option
        return None


@dataclass(frozen=True, slots=True)
class Proposal:
    id: int
    poll_id: int
    event_id: int
    outcome: str
    evidence: str
    message_id: int | None
    state: str


@dataclass(frozen=True, slots=True)
class NewPoll:
    guild_id: int
    channel_id: int
    message_id: int | None
    author_id: int
    question: str
    options: Sequence[PollOption]
    created_at: str
    closes_at: str | None = None
    multi: bool = False
    anonymous: bool = False
    hide_counts: bool = False
    kind: str = "poll"
    claim_id: int | None = None
    project: str | None = None
    native: bool = False


# votes.voted_at holds whole seconds since 1970 (db/votes/engine.py `epoch`); reads give it back as the
# ISO 8601 UTC strings the rest of the schema stores, formatted here so that both backends agree.
def _voted_at(seconds: int) -> str:
    return datetime.fromtimestamp(int(seconds), UTC).isoformat()


_POLL_COLUMNS = (
    "id, guild_id, channel_id, message_id, author_id, question, kind, multi, anonymous, hide_counts, "
    "claim_id, project, closes_at, status, closed_at, close_reason, results_message_id, outcome, evidence, "
    "resolved_at, resolved_by, created_at, native"
)


def _poll(row: Any, options: Sequence[PollOption]) -> Poll:
    data = dict(row)
    for key in ("multi", "anonymous", "hide_counts", "native"):
        data[key] = bool(data[key])
    return Poll(**data, options=tuple(options))


class PollStore:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def _with_options(self, rows: Sequence[Any]) -> list[Poll]:
        if not rows:
            return []
        ids = [r["id"] for r in rows]
        marks = ",".join("?" * len(ids))
        opts = await self.db.fetchall(
            f"SELECT * FROM poll_options WHERE poll_id IN ({marks}) ORDER BY poll_id, position",  # noqa: S608
            ids,
        )
        by_poll: dict[int, list[PollOption]] = {}
        for o in opts:
            by_poll.setdefault(o["poll_id"], []).append(
                PollOption(o["position"], o["emoji"], o["label"], o["probability"], o["answer_id"])
            )
        return [_poll(r, by_poll.get(r["id"], [])) for r in rows]

    async def _select(self, where: str, params: Sequence[Any] = (), tail: str = "ORDER BY id") -> list[Poll]:
        rows = await self.db.fetchall(f"SELECT {_POLL_COLUMNS} FROM polls WHERE {where} {tail}", params)  # noqa: S608
        return await self._with_options(rows)

    # -- creation ---------------------------------------------------------------------------------
    async def create(self, new: NewPoll) -> Poll:
        async with self.db.transaction() as tx:
            poll_id = await tx.insert(
                "INSERT INTO polls(guild_id, channel_id, message_id, author_id, question, kind, multi, anonymous, "
                "hide_counts, claim_id, project, closes_at, created_at, native) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    new.guild_id,
                    new.channel_id,
                    new.message_id,
                    new.author_id,
                    new.question,
                    new.kind,
                    int(new.multi),
                    int(new.anonymous),
                    int(new.hide_counts),
                    new.claim_id,
                    new.project,
                    new.closes_at,
                    new.created_at,
                    int(new.native),
                ),
            )
            await tx.executemany(
                "INSERT INTO poll_options(poll_id, position, emoji, label, probability) VALUES (?, ?, ?, ?, ?)",
                [(poll_id, o.position, o.emoji, o.label, o.probability) for o in new.options],
            )
        return await self.get(poll_id)

    async def set_message(self, poll_id: int, message_id: int) -> None:
        await self.db.execute("UPDATE polls SET message_id = ? WHERE id = ?", (message_id, poll_id))

    async def set_native_message(
        self, poll_id: int, message_id: int, closes_at: str, answer_ids: dict[int, int]
    ) -> None:
        """A native poll's message, its deadline as Discord set it (the poll's expiry), and the answer id
        Discord gave each option (position -> answer id), in one transaction."""
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE polls SET message_id = ?, closes_at = ? WHERE id = ? AND native = 1",
                (message_id, closes_at, poll_id),
            )
            if changed != 1:
                return
            await tx.executemany(
                "UPDATE poll_options SET answer_id = ? WHERE poll_id = ? AND position = ?",
                [(answer_id, poll_id, position) for position, answer_id in answer_ids.items()],
            )

    async def discard(self, poll_id: int) -> None:
        """Undo a poll whose message could not be set up; nothing of it stays behind."""
        async with self.db.transaction() as tx:
            for table in ("vote_log", "votes", "poll_counts", "owed_removals", "poll_options"):
                await tx.execute(f"DELETE FROM {table} WHERE poll_id = ?", (poll_id,))  # noqa: S608
            await tx.execute("DELETE FROM polls WHERE id = ?", (poll_id,))

    # -- reads ------------------------------------------------------------------------------------
    async def get(self, poll_id: int) -> Poll:
        found = await self._select("id = ?", (poll_id,))
        if not found:
            raise NotFound(f"There is no poll #{poll_id}. Pick one from the list as you type.")
        return found[0]

    async def open_polls(self, *, shards: ShardFilter | None = None) -> list[Poll]:
        """Open polls (of this process's servers, with a shard filter): tracking and reconciliation."""
        only, params = shard_clause(shards)
        return await self._select(f"status = 'open'{only}", params)

    async def open_in_guild(self, guild_id: int, limit: int = 25) -> list[Poll]:
        return await self._select(
            "status = 'open' AND guild_id = ?", (guild_id,), f"ORDER BY id DESC LIMIT {int(limit)}"
        )

    async def count_open(self, guild_id: int) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM polls WHERE guild_id = ? AND status = 'open'", (guild_id,), 0
            )
        )

    async def count_by_author_since(self, guild_id: int, author_id: int, since_iso: str) -> int:
        return int(
            await self.db.fetchval(
                "SELECT count(*) FROM polls WHERE guild_id = ? AND author_id = ? AND created_at >= ?",
                (guild_id, author_id, since_iso),
                0,
            )
        )

    async def due(self, now_iso: str, *, shards: ShardFilter | None = None) -> list[Poll]:
        """Open polls past their deadline (of this process's servers, with a shard filter)."""
        only, params = shard_clause(shards)
        return await self._select(
            f"status = 'open' AND closes_at IS NOT NULL AND closes_at <= ?{only}", (now_iso, *params)
        )

    async def next_deadline(self, *, shards: ShardFilter | None = None) -> datetime | None:
        """The earliest deadline of an open poll (of this process's servers, with a shard filter)."""
        only, params = shard_clause(shards)
        at = await self.db.fetchval(
            f"SELECT min(closes_at) FROM polls WHERE status = 'open'{only}",  # noqa: S608 - "?" marks only
            params,
        )
        return datetime.fromisoformat(at) if at else None

    async def owes_removal(self, poll_id: int, user_id: int, position: int) -> bool:
        """Whether the bot still owes the removal of this reaction (the member has not picked it again)."""
        return bool(
            await self.db.fetchval(
                "SELECT 1 FROM owed_removals WHERE poll_id = ? AND user_id = ? AND position = ?",
                (poll_id, user_id, position),
            )
        )

    async def results_pending(self, *, shards: ShardFilter | None = None) -> list[Poll]:
        only, params = shard_clause(shards)
        return await self._select(f"status = 'closed' AND results_message_id IS NULL{only}", params)

    async def search(self, guild_id: int, text: str, limit: int = 25) -> list[Poll]:
        text = (text or "").strip().lstrip("#")
        return await self._select(
            "guild_id = ? AND (CAST(id AS TEXT) LIKE CAST(? AS TEXT) || '%' "
            "OR lower(question) LIKE '%' || lower(?) || '%')",
            (guild_id, text, text),
            f"ORDER BY status = 'open' DESC, id DESC LIMIT {int(limit)}",
        )

    async def unresolved_for_claim(self, claim_id: int) -> list[Poll]:
        return await self._select("claim_id = ? AND kind = 'forecast' AND outcome IS NULL", (claim_id,))

    async def tally(self, poll_id: int) -> dict[int, int]:
        rows = await self.db.fetchall(
            "SELECT position, votes FROM poll_counts WHERE poll_id = ? AND votes > 0", (poll_id,)
        )
        return {r[0]: r[1] for r in rows}

    async def last_vote_at(self) -> str | None:
        """When the latest committed vote change was stamped, in any server: an operator's health check
        (`rumormill check`, /status), which reports no vote of anyone."""
        value = await self.db.fetchval(
            "SELECT max(at) FROM (SELECT max(at) AS at FROM vote_runs UNION ALL SELECT max(at) AS at FROM vote_log) AS latest"
        )
        return None if value is None else str(value)

    async def voter_count(self, poll_id: int) -> int:
        return int(
            await self.db.fetchval("SELECT count(DISTINCT user_id) FROM votes WHERE poll_id = ?", (poll_id,), 0)
        )

    async def votes_of(self, poll_id: int, user_id: int) -> list[tuple[int, str]]:
        rows = await self.db.fetchall(
            "SELECT position, voted_at FROM votes WHERE poll_id = ? AND user_id = ? ORDER BY position",
            (poll_id, user_id),
        )
        return [(r[0], _voted_at(r[1])) for r in rows]

    async def export_rows(self, poll_id: int) -> list[tuple[int, int, str]]:
        rows = await self.db.fetchall(
            "SELECT position, user_id, voted_at FROM votes WHERE poll_id = ? ORDER BY position, voted_at, user_id",
            (poll_id,),
        )
        return [(r[0], r[1], _voted_at(r[2])) for r in rows]

    # -- lifecycle --------------------------------------------------------------------------------
    async def close(self, poll_id: int, reason: str, at: str) -> bool:
        """Close an open poll; False if it was already closed (so closing happens once)."""
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE polls SET status = 'closed', closed_at = ?, close_reason = ? WHERE id = ? AND status = 'open'",
                (at, reason, poll_id),
            )
            # A closed poll's reactions no longer matter: nothing is owed on them.
            await tx.execute("DELETE FROM owed_removals WHERE poll_id = ?", (poll_id,))
            return changed == 1

    async def set_results_message(self, poll_id: int, message_id: int) -> None:
        await self.db.execute(
            "UPDATE polls SET results_message_id = ? WHERE id = ? AND results_message_id IS NULL",
            (message_id, poll_id),
        )

    async def held_forecasts(self, poll_id: int) -> dict[int, float]:
        """Each voter's forecast: the probability of the option held (mean if several)."""
        rows = await self.db.fetchall(
            "SELECT v.user_id, avg(o.probability) FROM votes v JOIN poll_options o "
            "ON o.poll_id = v.poll_id AND o.position = v.position "
            "WHERE v.poll_id = ? AND o.probability IS NOT NULL GROUP BY v.user_id",
            (poll_id,),
        )
        return {r[0]: float(r[1]) for r in rows}

    async def store_resolution(
        self,
        poll_id: int,
        outcome: str,
        evidence: str,
        by: int | None,
        at: str,
        scores: dict[int, tuple[float, float]],
    ) -> None:
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE polls SET outcome = ?, evidence = ?, resolved_at = ?, resolved_by = ?, "
                "status = 'closed', closed_at = coalesce(closed_at, ?), close_reason = coalesce(close_reason, 'resolved') "
                "WHERE id = ? AND kind = 'forecast' AND outcome IS NULL",
                (outcome, evidence, at, by, at, poll_id),
            )
            if changed != 1:
                raise InvalidChange(f"Poll #{poll_id} is already resolved.")
            await tx.executemany(
                "INSERT INTO forecast_scores(poll_id, user_id, probability, brier) VALUES (?, ?, ?, ?)",
                [(poll_id, uid, p, b) for uid, (p, b) in scores.items()],
            )
            await tx.execute(
                "UPDATE poll_proposals SET state = 'superseded' WHERE poll_id = ? AND state = 'pending'",
                (poll_id,),
            )

    async def scores(self, poll_id: int) -> dict[int, tuple[float, float]]:
        rows = await self.db.fetchall(
            "SELECT user_id, probability, brier FROM forecast_scores WHERE poll_id = ?", (poll_id,)
        )
        return {r[0]: (r[1], r[2]) for r in rows}

    async def leaderboard_rows(self, guild_id: int) -> list[tuple[int, float]]:
        """(user, brier) for every scored forecast in public polls of a server (anonymous polls stay out)."""
        rows = await self.db.fetchall(
            "SELECT s.user_id, s.brier FROM forecast_scores s JOIN polls p ON p.id = s.poll_id "
            "WHERE p.guild_id = ? AND p.anonymous = 0",
            (guild_id,),
        )
        return [(r[0], r[1]) for r in rows]

    # -- proposals --------------------------------------------------------------------------------
    async def add_proposal(
        self, poll_id: int, event_id: int, outcome: str, evidence: str, at: str
    ) -> Proposal | None:
        async with self.db.transaction() as tx:
            row = await tx.fetchone(
                "INSERT INTO poll_proposals(poll_id, event_id, outcome, evidence, created_at) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT(poll_id, event_id) DO NOTHING RETURNING *",
                (poll_id, event_id, outcome, evidence, at),
            )
        return _proposal(row) if row else None

    async def get_proposal(self, proposal_id: int) -> Proposal:
        row = await self.db.fetchone("SELECT * FROM poll_proposals WHERE id = ?", (proposal_id,))
        if row is None:
            raise NotFound("That proposal no longer exists.")
        return _proposal(row)

    async def unsent_proposals(self, *, shards: ShardFilter | None = None) -> list[Proposal]:
        only, params = shard_clause(shards, "p.guild_id")
        rows = await self.db.fetchall(
            "SELECT r.* FROM poll_proposals r JOIN polls p ON p.id = r.poll_id "  # noqa: S608 - "?" marks only
            f"WHERE r.message_id IS NULL AND r.state = 'pending'{only} ORDER BY r.id",
            params,
        )
        return [_proposal(r) for r in rows]

    async def set_proposal_message(self, proposal_id: int, message_id: int) -> None:
        await self.db.execute("UPDATE poll_proposals SET message_id = ? WHERE id = ?", (message_id, proposal_id))

    async def set_proposal_state(self, proposal_id: int, state: str) -> bool:
        async with self.db.transaction() as tx:
            changed = await tx.execute(
                "UPDATE poll_proposals SET state = ? WHERE id = ? AND state = 'pending'", (state, proposal_id)
            )
            return changed == 1


def _proposal(row: Any) -> Proposal:
    return Proposal(
        row["id"],
        row["poll_id"],
        row["event_id"],
        row["outcome"],
        row["evidence"],
        row["message_id"],
        row["state"],
    )
