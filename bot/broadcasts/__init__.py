"""Mailings to an audience of leads, and the scenario's win-back rules.

- ``audience``: the filter as operators type it (CLI options or ``key=value`` words);
- ``flow``: parse → check → preview → send, written once for the CLI and Telegram;
- ``service``: create, queue, progress, pause / resume / cancel;
- ``preview``: what a lead will see, computed by the engine; ``view``: terminal screens;
- ``winback``: the chore that runs the win-back rules while the bot is up.
"""
