"""Who may open the dashboard: Telegram Mini App ``initData``, one-time sign-in links, and the
signed session cookie with its CSRF token.

Hand-written signing (``hmac`` + JSON) rather than a session library: the cookie carries three
fields, and aiohttp-session would add a dependency and a storage backend for no gain. The
Mini App check itself is aiogram's ``safe_parse_webapp_init_data`` (Telegram's documented
HMAC-SHA256 with the ``WebAppData`` key).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass
from typing import Any

from aiogram.utils.web_app import safe_parse_webapp_init_data

from bot.managers.staff import admin_language

SESSION_COOKIE = "leadbot_session"
SESSION_AGE = 12 * 3600  # a working day; then sign in again
LINK_AGE = 5 * 60  # a sign-in link is good for five minutes, once
INIT_DATA_AGE = 24 * 3600  # Telegram's initData older than a day is refused


class AuthError(Exception):
    """Why a credential was refused, in one line; ``status`` is 401 or 403."""

    def __init__(self, message: str, status: int = 401) -> None:
        super().__init__(message)
        self.status = status


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Signer:
    """``payload.signature`` tokens: JSON signed with HMAC-SHA256, for one purpose each."""

    def __init__(self, key: bytes) -> None:
        self.key = key

    def _mac(self, purpose: str, body: str) -> str:
        return _b64(hmac.new(self.key, f"{purpose}:{body}".encode(), hashlib.sha256).digest())

    def dump(self, purpose: str, data: dict[str, Any]) -> str:
        body = _b64(json.dumps(data, separators=(",", ":")).encode())
        return f"{body}.{self._mac(purpose, body)}"

    def load(self, purpose: str, token: str) -> dict[str, Any] | None:
        body, _, mac = token.partition(".")
        if not mac or not hmac.compare_digest(mac, self._mac(purpose, body)):
            return None
        try:
            data = json.loads(_unb64(body))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None


@dataclass(frozen=True, slots=True)
class Manager:
    """A signed-in admin: Telegram id, name for the lead log, interface language, CSRF."""

    user_id: int
    name: str
    lang: str
    csrf: str


class Gate:
    """Issues and checks every credential; ``admin_ids`` is the only list of who may enter."""

    def __init__(
        self,
        key: bytes,
        admin_ids: frozenset[int],
        bot_token: str | None,
        language: str = "en",
        clock: Any = time.time,
    ) -> None:
        self.signer = Signer(key)
        self.admin_ids = admin_ids
        self.bot_token = bot_token
        self.language = language
        self.clock = clock
        self._used: dict[str, float] = {}  # link nonces already redeemed, until they expire

    def lang(self, language_code: str | None) -> str:
        return admin_language(language_code, self.language)

    def _admin(self, user_id: int) -> None:
        if user_id not in self.admin_ids:
            raise AuthError("this Telegram account is not in ADMIN_IDS", 403)

    # --- one-time links ----------------------------------------------------------------

    def issue_link(self, user_id: int, name: str, language_code: str | None) -> str:
        """A token for ``/auth/link/<token>``; only for an admin."""
        self._admin(user_id)
        data = {
            "uid": user_id,
            "name": name,
            "lang": self.lang(language_code),
            "exp": int(self.clock()) + LINK_AGE,
            "nonce": secrets.token_urlsafe(12),
        }
        return self.signer.dump("link", data)

    def redeem_link(self, token: str) -> Manager:
        data = self.signer.load("link", token)
        if data is None:
            raise AuthError("this sign-in link is not valid")
        now = self.clock()
        for nonce, until in list(self._used.items()):
            if until < now:
                del self._used[nonce]
        if data["exp"] < now:
            raise AuthError("this sign-in link has expired: send /web to the bot again")
        if data["nonce"] in self._used:
            raise AuthError("this sign-in link was already used: send /web to the bot again")
        self._admin(int(data["uid"]))
        self._used[data["nonce"]] = float(data["exp"])
        return self._manager(int(data["uid"]), str(data["name"]), str(data["lang"]))

    # --- Telegram Mini App ---------------------------------------------------------------

    def check_init_data(self, init_data: str) -> Manager:
        if not self.bot_token:
            raise AuthError("the Mini App sign-in needs BOT_TOKEN")
        try:
            parsed = safe_parse_webapp_init_data(self.bot_token, init_data)
        except ValueError:
            raise AuthError("Telegram's signature on initData does not match") from None
        if self.clock() - parsed.auth_date.timestamp() > INIT_DATA_AGE:
            raise AuthError("initData is too old: open the dashboard from /admin again")
        user = parsed.user
        if user is None:
            raise AuthError("initData names no user")
        self._admin(user.id)
        name = f"{user.first_name} {user.last_name or ''}".strip()
        if user.username:
            name += f" (@{user.username})"
        return self._manager(user.id, name, self.lang(user.language_code))

    # --- the session cookie ----------------------------------------------------------------

    def _manager(self, user_id: int, name: str, lang: str) -> Manager:
        return Manager(user_id, name, lang, secrets.token_urlsafe(24))

    def session_token(self, m: Manager) -> str:
        data = {
            "uid": m.user_id,
            "name": m.name,
            "lang": m.lang,
            "csrf": m.csrf,
            "exp": int(self.clock()) + SESSION_AGE,
        }
        return self.signer.dump("session", data)

    def session(self, token: str | None) -> Manager | None:
        """The manager behind a cookie, or None (absent, forged, expired, no longer admin)."""
        data = self.signer.load("session", token) if token else None
        if data is None or data.get("exp", 0) < self.clock():
            return None
        if int(data["uid"]) not in self.admin_ids:
            return None
        return Manager(int(data["uid"]), str(data["name"]), str(data["lang"]), str(data["csrf"]))


def web_key(secret: str | None, bot_token: str | None) -> bytes:
    """WEB_SECRET, else derived from BOT_TOKEN, else random (sessions end on restart)."""
    if secret:
        return hashlib.sha256(b"leadbot-web:" + secret.encode()).digest()
    if bot_token:
        return hmac.new(b"leadbot-web", bot_token.encode(), hashlib.sha256).digest()
    return secrets.token_bytes(32)
