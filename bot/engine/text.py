"""Filling ``{field}`` placeholders safely and reading what prospects type."""

from __future__ import annotations

import html
import re

from bot.engine.types import LeadState
from bot.scenario.model import Texts

_FIELD = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
MAX_ANSWER = 2000
#: Where a number written without a country code is read from, by the scenario's language.
PHONE_REGION = {"ru": "RU", "en": "US"}
_TRIM = ".,;:!?()[]<>«»\"'"


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


def normalize_phone(raw: str, language: str = "ru") -> str | None:
    """The first valid phone number in what was typed, as +E.164 (or None).

    phonenumbers (Google's libphonenumber metadata, offline in the package) finds a number
    inside a sentence ("мой телефон 8 912 345 67 89, звоните после 18") and knows each
    country's lengths and prefixes, which a regular expression would only approximate.
    Imported at the first contact answer, not at start-up: ~1 MB a bot whose scenario asks
    for no phone never needs (the first answer pays ~15-30 ms for it, once).
    """
    import phonenumbers

    text = raw.strip()[:MAX_ANSWER]
    # The language's country first; then the others, since prospects write from anywhere.
    preferred = PHONE_REGION.get(language, "RU")
    regions = [preferred, *(r for r in PHONE_REGION.values() if r != preferred)]
    valid = phonenumbers.Leniency.VALID
    for region in regions:
        for match in phonenumbers.PhoneNumberMatcher(text, region, leniency=valid):
            return phonenumbers.format_number(match.number, phonenumbers.PhoneNumberFormat.E164)
    digits = re.sub(r"\D", "", text)
    if text.lstrip("+").replace(" ", "").isdigit() and 10 <= len(digits) <= 15:
        # Telegram's shared contacts carry the country code without '+' ("79991234567").
        try:
            number = phonenumbers.parse("+" + digits, None)
        except phonenumbers.NumberParseException:
            return None
        if phonenumbers.is_valid_number(number):
            return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    return None


def normalize_email(raw: str) -> str | None:
    """The e-mail address typed (alone or inside a sentence), or None.

    email-validator knows internationalised addresses (``вася@почта.рф``) and the RFC limits;
    deliverability is not checked: no network call while a prospect waits. Imported at the
    first e-mail answer, like phonenumbers above (~20-40 ms, once).
    """
    from email_validator import EmailNotValidError, validate_email

    candidates = [w.strip(_TRIM) for w in raw.split() if "@" in w]
    if len(candidates) != 1:
        return None
    try:
        found = validate_email(candidates[0], check_deliverability=False)
    except EmailNotValidError:
        return None
    return found.normalized.lower()


def contact_problem(text: str, ask: str, texts: Texts) -> str:
    """What to say when no contact could be read: the phone text or the e-mail text."""
    if ask == "email" or (ask != "phone" and ("@" in text or not any(c.isdigit() for c in text))):
        return texts.email_invalid
    return texts.phone_invalid
