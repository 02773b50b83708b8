"""Which servers' periodic work a process takes: an optional filter the repositories add to their queries.

Discord puts a server on shard `(guild_id >> 22) % shard_count`; a process running some shards
(SHARD_COUNT / SHARD_IDS, `bot.runtime.client.ShardedRumorBot`) passes a `ShardFilter` to the queries of its
periodic work (outbox delivery, digests, poll deadlines and reconciliation, feed fetching), so two
processes never take the same row. `None` means every server (one process, the default). The SQL is
plain integer arithmetic with parameters and runs on SQLite and PostgreSQL alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class ShardFilter:
    count: int
    ids: tuple[int, ...]

    def __post_init__(self) -> None:
        if self.count < 1 or not self.ids or any(not 0 <= i < self.count for i in self.ids):
            raise ValueError(f"shard ids {self.ids!r} do not fit a shard count of {self.count}")

    def owns(self, guild_id: int) -> bool:
        return (guild_id >> 22) % self.count in self.ids

    def sql(self, column: str = "guild_id") -> tuple[str, tuple[Any, ...]]:
        """A condition on `column` (a trusted column name) and its parameters, `?` marks in order."""
        marks = ",".join("?" * len(self.ids))
        return f"(({column} >> 22) % ?) IN ({marks})", (self.count, *self.ids)


def shard_clause(shards: ShardFilter | None, column: str = "guild_id") -> tuple[str, tuple[Any, ...]]:
    """`AND <condition>` and its parameters, or nothing when every server is this process's."""
    if shards is None:
        return "", ()
    condition, params = shards.sql(column)
    return f" AND {condition}", params
