"""The shared Discord toolkit: what every cog uses and no single feature owns.

limits.py        Discord's size limits and the fitting of text and embeds into them
links.py         stored links rendered safely; validation.py: checks on what members type
formatting.py    claim, source and story embeds; charts.py: PNG charts
errors.py        UserFacingError and friends (one short ephemeral line)
checks.py        @curator_only, checked in code on every call
autocomplete.py  choices within Discord's deadline; curation.py: the reason and actor of a curator write
cache.py         rendered answers kept until the fact store next changes
"""
