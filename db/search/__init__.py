"""Claim search: the word rules, the lexical index of each backend, and /ask's hybrid retrieval."""
