"""Feed documents for tests: a small RSS builder and the items the feed tests serve."""

from __future__ import annotations


def rss(items: list[tuple[str, str]], title: str = "Media Wire") -> bytes:
    body = "".join(
        f"<item><title>{t}</title><link>https://news.example/{g}</link><guid>{g}</guid>"
        f"<pubDate>Tue, 06 Jan 2026 10:00:00 GMT</pubDate><description>{t} in detail</description></item>"
        for g, t in items
    )
    return (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>{title}</title>{body}</channel></rss>'.encode()
    )


ITEMS = [("g1", "Netflix hires music boss"), ("g2", "Spotify earnings"), ("g3", "Netflix and Spotify in talks")]
