"""The bot's plain modules: settings, limits, links, the feed fetcher, /ask's decision."""
