"""Scenario texts are Telegram HTML; this is the one way to read them as plain text.

The terminal simulator, scenario tests, the funnel graph, report tables, broadcast
previews and the model's prompt all need the words without the tags, each with its own
whitespace handling around this.
"""

from __future__ import annotations

import html
import re

_TAG = re.compile(r"<[^>]+>")


def strip_tags(text: str, replacement: str = "") -> str:
    """``text`` without HTML tags (each replaced by ``replacement``), entities decoded."""
    return html.unescape(_TAG.sub(replacement, text))
