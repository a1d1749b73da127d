"""aiogram routers: translate Telegram updates into engine inputs, and nothing more.

``prospect/`` serves people in private chats; ``admin/`` (and ``broadcast``) the staff, in a
private chat or the managers' chat (``filters``). ``reply`` is the one way to answer a chat
outside the funnel. Handlers call ``bot`` services only: no funnel logic, no SQL, never
``storage``. Each module builds a fresh router, so a process (or a test) may build several
dispatchers; ``app.factory`` is the only place that includes them in one.
"""

from __future__ import annotations

from aiogram import Router

from handlers import admin, prospect


def build_router() -> Router:
    """Admins and managers first (their filters let everyone else through), then prospects."""
    root = Router(name="leadbot")
    root.include_routers(admin.router(), prospect.router())
    return root
