"""The one error of the mailing flow, in a module of its own so every part can raise it."""

from __future__ import annotations


class BroadcastError(ValueError):
    """The mailing cannot be sent as described; the message says why in one line."""
