"""`python -m bot demo`: its world and its page."""
