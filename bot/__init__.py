"""Rumor Mill: a Discord bot that answers questions about media-industry rumors from a curated fact store."""

__version__ = "0.1.0"
