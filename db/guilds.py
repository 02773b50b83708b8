"""Per-server configuration."""

from __future__ import annotations

from db.drivers.sqlite import Database


class GuildConfig:
    def __init__(self, db: Database) -> None:
        self.db = db

    async def curator_role(self, guild_id: int) -> int | None:
        role = await self.db.fetchval("SELECT curator_role_id FROM guild_config WHERE guild_id = ?", (guild_id,))
        return None if role is None else int(role)

    async def set_curator_role(self, guild_id: int, role_id: int | None) -> None:
        await self.db.execute(
            "INSERT INTO guild_config(guild_id, curator_role_id) VALUES (?, ?) "
            "ON CONFLICT(guild_id) DO UPDATE SET curator_role_id = excluded.curator_role_id",
            (guild_id, role_id),
        )


async def active_story_count(db: Database) -> int:
    """Stories not archived, across every server: the start-up line's count."""
    return int(await db.fetchval("SELECT count(*) FROM stories WHERE archived_at IS NULL", (), 0))
