"""News feeds with no Discord object: fetching and parsing (fetch.py), and the address guard (netguard.py)
that keeps fetches off private and loopback addresses. The commands are cogs/feeds.py and cogs/triage.py;
storage is db/feeds.py."""
