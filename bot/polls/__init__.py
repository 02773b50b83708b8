"""Forecast scoring with no Discord object (scoring.py: Brier scores, the leaderboard, the forecast options).
The commands and listeners are cogs/polls/; storage and the vote path are db/polls.py and db/votes/."""
