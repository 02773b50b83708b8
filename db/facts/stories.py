"""The fact store's stories: reading, resolving, adding, editing, archiving and the default story."""

from __future__ import annotations

from db import clock
from db.errors import InvalidChange, NotFound
from db.facts.base import StoreBase
from db.facts.model import (
    MAX_REASON,
    MAX_STORY_SUMMARY,
    MAX_STORY_TITLE,
    SYSTEM,
    UNKNOWN_STORY,
    Actor,
    Story,
    StoryHistoryEntry,
    StoryOverview,
    clean_text,
    parse_id,
    slugify,
)


class Stories(StoreBase):
    """One server's stories."""

    # -- stories: reads ----------------------------------------------------------------------------
    async def default_story(self) -> Story | None:
        """The server's default story: the one marked so, else its first story that is not archived."""
        row = await self.db.fetchone(
            "SELECT * FROM stories WHERE guild_id = ? ORDER BY is_default DESC, archived_at IS NOT NULL, id LIMIT 1",
            (self.guild_id,),
        )
        return Story.from_row(row) if row else None

    async def list_stories(self) -> list[Story]:
        rows = await self.db.fetchall("SELECT * FROM stories WHERE guild_id = ? ORDER BY id", (self.guild_id,))
        return [Story.from_row(r) for r in rows]

    async def story_overview(self) -> list[StoryOverview]:
        rows = await self.db.fetchall(
            "SELECT s.*, (SELECT count(*) FROM claims c WHERE c.story_id = s.id) AS n_claims, "
            "(SELECT max(v) FROM (SELECT s.updated_at AS v UNION ALL "
            "SELECT c.updated_at FROM claims c WHERE c.story_id = s.id) AS t) "
            "AS last_change FROM stories s WHERE s.guild_id = ? ORDER BY s.archived_at IS NOT NULL, s.id",
            (self.guild_id,),
        )
        out = []
        for r in rows:
            d = dict(r)
            n, last = d.pop("n_claims"), d.pop("last_change")
            out.append(StoryOverview(Story.from_row(d), int(n), last or None))
        return out

    async def get_story(self, story_id: int) -> Story:
        row = await self.db.fetchone(
            "SELECT * FROM stories WHERE id = ? AND guild_id = ?", (story_id, self.guild_id)
        )
        if row is None:
            raise NotFound(UNKNOWN_STORY)
        return Story.from_row(row)

    async def resolve_story(self, ref: str | None) -> Story:
        """A story of this server by id, slug or title; the default story when ref is empty."""
        if not ref or not ref.strip():
            story = await self.default_story()
            if story is None:
                raise NotFound(
                    "No story is tracked in this server yet. A curator can start one with /story create."
                )
            return story
        ref = ref.strip()
        story_id = parse_id(ref)
        row = await self.db.fetchone(
            "SELECT * FROM stories WHERE guild_id = ?1 AND (slug = ?2 OR id = ?3 OR lower(title) = lower(?4)) "
            "ORDER BY id = ?3 DESC LIMIT 1",
            (self.guild_id, ref.lower(), story_id if story_id is not None else -1, ref),
        )
        if row is None:
            raise NotFound(UNKNOWN_STORY)
        return Story.from_row(row)

    async def story_history(self, story_id: int) -> list[StoryHistoryEntry]:
        await self.get_story(story_id)
        rows = await self.db.fetchall("SELECT * FROM story_history WHERE story_id = ? ORDER BY id", (story_id,))
        return [StoryHistoryEntry(**dict(r)) for r in rows]

    # -- stories: writes ---------------------------------------------------------------------------
    async def add_story(
        self,
        title: str,
        summary: str,
        *,
        actor: Actor = SYSTEM,
        reason: str = "New story",
        slug: str | None = None,
        default: bool = False,
        request_id: int | None = None,
    ) -> Story:
        title = clean_text(title, "title", MAX_STORY_TITLE)
        summary = clean_text(summary, "summary", MAX_STORY_SUMMARY)
        reason = clean_text(reason, "reason", MAX_REASON)
        base = slugify(slug or title)
        at = clock.iso()
        async with self._write(request_id) as tx:
            count = await tx.fetchval("SELECT count(*) FROM stories WHERE guild_id = ?", (self.guild_id,))
            if self.max_stories is not None and count >= self.max_stories:
                raise InvalidChange(
                    f"This server already tracks {count} stories, the most it can. Archived stories count too."
                )
            if await tx.fetchval(
                "SELECT 1 FROM stories WHERE guild_id = ? AND lower(title) = lower(?)",
                (self.guild_id, title),
            ):
                raise InvalidChange("A story with that title already exists here. Pick another title.")
            taken = {
                r[0]
                for r in await tx.fetchall(
                    "SELECT slug FROM stories WHERE guild_id = ? AND slug LIKE ?",
                    (self.guild_id, base + "%"),
                )
            }
            chosen = base
            n = 2
            while chosen in taken:
                chosen, n = f"{base}-{n}", n + 1
            if default or not count:
                await tx.execute(
                    "UPDATE stories SET is_default = 0 WHERE guild_id = ? AND is_default = 1", (self.guild_id,)
                )
            story = Story.from_row(
                await tx.fetchone(
                    "INSERT INTO stories(guild_id, slug, title, summary, is_default, created_at, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING *",
                    (self.guild_id, chosen, title, summary, int(default or not count), at, at),
                )
            )
            await self._story_history(tx, story.id, at, actor, "created", None, None, title, reason)
        return story

    async def edit_story(
        self,
        story_id: int,
        *,
        actor: Actor,
        reason: str,
        title: str | None = None,
        summary: str | None = None,
        request_id: int | None = None,
    ) -> Story:
        reason = clean_text(reason, "reason", MAX_REASON)
        changes = {}
        if title is not None:
            changes["title"] = clean_text(title, "title", MAX_STORY_TITLE)
        if summary is not None:
            changes["summary"] = clean_text(summary, "summary", MAX_STORY_SUMMARY)
        if not changes:
            raise InvalidChange("Give a new title, a new summary, or both.")
        at = clock.iso()
        async with self._write(request_id) as tx:
            story = await self._story_for_change(tx, story_id)
            if "title" in changes and await tx.fetchval(
                "SELECT 1 FROM stories WHERE guild_id = ? AND lower(title) = lower(?) AND id != ?",
                (self.guild_id, changes["title"], story_id),
            ):
                raise InvalidChange("Another story here already has that title.")
            changed = {k: v for k, v in changes.items() if getattr(story, k) != v}
            if not changed:
                raise InvalidChange("The story already says exactly that.")
            for field_name, value in changed.items():
                await tx.execute(
                    f"UPDATE stories SET {field_name} = ?, updated_at = ? WHERE id = ?",  # noqa: S608 - fixed names
                    (value, at, story_id),
                )
                await self._story_history(
                    tx, story_id, at, actor, "edit", field_name, getattr(story, field_name), value, reason
                )
        return await self.get_story(story_id)

    async def set_archived(
        self, story_id: int, archived: bool, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> Story:
        reason = clean_text(reason, "reason", MAX_REASON)
        at = clock.iso()
        async with self._write(request_id) as tx:
            row = await tx.fetchone(
                "SELECT * FROM stories WHERE id = ? AND guild_id = ?", (story_id, self.guild_id)
            )
            if row is None:
                raise NotFound(UNKNOWN_STORY)
            story = Story.from_row(row)
            if story.archived == archived:
                raise InvalidChange(f"“{story.title}” is {'already' if archived else 'not'} archived.")
            await tx.execute(
                "UPDATE stories SET archived_at = ?, updated_at = ? WHERE id = ?",
                (at if archived else None, at, story_id),
            )
            await self._story_history(
                tx, story_id, at, actor, "archive" if archived else "unarchive", None, None, None, reason
            )
        return await self.get_story(story_id)

    async def set_default(
        self, story_id: int, *, actor: Actor, reason: str, request_id: int | None = None
    ) -> Story:
        reason = clean_text(reason, "reason", MAX_REASON)
        at = clock.iso()
        async with self._write(request_id) as tx:
            story = await self._story_for_change(tx, story_id)
            if story.is_default:
                raise InvalidChange(f"“{story.title}” is already the default story.")
            old = await tx.fetchval(
                "SELECT title FROM stories WHERE guild_id = ? AND is_default = 1", (self.guild_id,)
            )
            await tx.execute(
                "UPDATE stories SET is_default = 0 WHERE guild_id = ? AND is_default = 1", (self.guild_id,)
            )
            await tx.execute("UPDATE stories SET is_default = 1, updated_at = ? WHERE id = ?", (at, story_id))
            await self._story_history(tx, story_id, at, actor, "default", None, old, story.title, reason)
        return await self.get_story(story_id)
