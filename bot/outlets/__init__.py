"""Outlets' track records, with no Discord object: which reports held up, learned from the store's history.

    track_record.py  the rules: outlet names, what counts as an outcome and for whom, the Wilson score
    records.py       each server's records kept in memory, brought up to date after each write
    calibration.py   the PNG: for each reliability grade, the share of claims that held up

The commands are cogs/outlets.py; the SQL is db/outlets.py. docs/outlets.md states the rules.
"""
