"""Admin-facing routers: look-ups (``reports``) and taking leads from the bot (``handover``).

Registered before the prospect routers; their filters (``handlers.filters``) let only the
staff through, so for anyone else the update travels on to the funnel. ``/broadcast``
(``handlers.broadcast``) is admin-facing too and is included here.
"""

from __future__ import annotations

from aiogram import Router

from handlers import broadcast
from handlers.admin import handover, reports


def router() -> Router:
    admin = Router(name="admin")
    admin.include_routers(broadcast.router(), reports.router(), handover.router())
    return admin
