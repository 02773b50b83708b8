"""Slash commands, buttons, reactions and loops, as members see them in SimCord."""
