"""Who the staff are (admins, the managers' chat) and what they may see of a lead.

Telegram-free, so the rules read the same in alerts, admin commands and the CRM webhook.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import tzinfo
from zoneinfo import ZoneInfo

from bot.settings import Settings


@dataclass(frozen=True, slots=True)
class Staff:
    """ADMIN_IDS, MANAGER_CHAT_ID and TIMEZONE as the Telegram face needs them.

    ``alert_pause`` spaces alerts out: Telegram lets a bot post about 20 messages a minute
    in a group, and a 429 there would pause the whole bot. ``timezone`` None: the scenario's.
    """

    admin_ids: frozenset[int] = field(default_factory=frozenset)
    manager_chat_id: int | None = None
    timezone: str | None = None
    alert_pause: float = 3.0
    language: str = "en"  # ADMIN_LANGUAGE: for admins whose Telegram language is neither

    @classmethod
    def from_settings(cls, settings: Settings) -> Staff:
        return cls(
            frozenset(settings.admin_ids),
            settings.manager_chat_id,
            settings.timezone,
            language=settings.admin_language,
        )

    def lang(self, language_code: str | None) -> str:
        """ "ru" or "en" for an admin's Telegram ``language_code``: the dashboard's and the
        admin commands' one rule."""
        return admin_language(language_code, self.language)

    def is_admin(self, user_id: int | None) -> bool:
        return user_id is not None and user_id in self.admin_ids

    def zone(self, fallback: tzinfo) -> tzinfo:
        """Where times are shown to managers: TIMEZONE, else ``fallback`` (the scenario's)."""
        return ZoneInfo(self.timezone) if self.timezone else fallback


def contact_allowed(consent: str | None, require_consent: bool) -> bool:
    """May managers see and use the lead's phone or e-mail?

    Yes when the lead agreed to be contacted, or when the scenario asks no consent and the
    lead shared the contact themselves (the bot stores only what the lead gave it) without
    having said no.
    """
    if consent == "given":
        return True
    return not require_consent and consent != "declined"


#: Telegram languages whose speakers read Russian more easily than English.
RUSSIAN_READERS = ("ru", "uk", "be", "kk")


def admin_language(language_code: str | None, fallback: str) -> str:
    """Russian for a Russian reader, English for an English one, else ``fallback``."""
    code = (language_code or "").lower()
    if code.startswith(RUSSIAN_READERS):
        return "ru"
    if code.startswith("en"):
        return "en"
    return fallback
