"""Repositories on real databases."""
