"""The process: the bot class and its shared services, settings, the command line, logging, the demo.

client.py     RumorBot (and ShardedRumorBot for `python -m bot`): builds the stores once, loads the cogs,
              answers interactions within Discord's 3 s (`defer`, `answer`)
settings.py   the one frozen Settings object, read from the environment and `.env`
cli.py        the `rumormill` command line (run, check, facts export/import, migrate-to-postgres, demo)
log.py        quiet logging; progress.py: progress lines for long commands
demo.py       `python -m bot demo`: the real bot in SimCord's simulated server, in a browser
"""
