"""Update posts with no Discord object: what a digest says (digest.py) and when a subscription is due
(schedule.py). The commands and the delivery loop are cogs/updates.py; the outbox is db/updates.py."""
