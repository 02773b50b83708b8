"""The real `python -m bot` as a subprocess against the fake Discord (slow)."""
