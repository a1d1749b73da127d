"""Filling ``{field}`` placeholders safely and reading what prospects type."""

from __future__ import annotations

import html
import re

from bot.engine.types import LeadState

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
EMAIL = re.compile(r"^[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}$")
PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{8,20}$")
MAX_ANSWER = 2000


def fill(template: str, state: LeadState, segment_title: str = "") -> str:
    """Substitute fields; every value comes from a prospect, so each is HTML-escaped."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        known = {
            "first_name": state.first_name or state.username,
            "last_name": state.last_name,
            "name": " ".join(p for p in (state.first_name, state.last_name) if p),
            "username": state.username,
            "source": state.source or "",
            "segment": segment_title,
            "phone": state.phone or "",
            "email": state.email or "",
        }
        raw = known[name] if name in known else state.answers.get(name, "")
        return html.escape(raw or "", quote=False)

    return _FIELD.sub(value, template)


def clean_input(text: str) -> tuple[str, bool]:
    """Trim what a prospect typed to a sane size; say whether it was cut."""
    text = text.replace("\x00", "").strip()
    if len(text) > MAX_ANSWER:
        return text[:MAX_ANSWER], True
    return text, False


def normalize_phone(raw: str) -> str | None:
    candidate = raw.strip()
    if not PHONE.match(candidate):
        return None
    digits = re.sub(r"\D", "", candidate)
    if not 10 <= len(digits) <= 15:
        return None
    return "+" + digits


def normalize_email(raw: str) -> str | None:
    candidate = raw.strip()
    return candidate.lower() if EMAIL.match(candidate) and len(candidate) <= 254 else None
