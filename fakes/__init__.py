"""Local stand-ins for what the bot talks to, shared by the tests and the benchmarks.

``bot_api``: the Telegram Bot API over real HTTP; ``openai_server``: an OpenAI-compatible
chat completions server; ``channels``: service channels that keep what they are sent. Never
imported by production code (``app``, ``bot``, ``handlers``, ``storage``); not in the
wheel either: tests and ``python -m bench`` both run from a source checkout.
"""
