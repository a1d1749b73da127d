"""The Telegram face: rendering, the channel to one chat, the dispatcher and the runner.

Handlers (``handlers/``) translate updates into engine inputs; everything here turns the
engine's messages back into Bot API calls and keeps the bot process running.
"""
