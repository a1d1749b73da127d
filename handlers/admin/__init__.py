"""Admin-facing routers: look-ups (``reports``), taking leads from the bot (``handover``),
turning a Stars subscription's renewal off (``subscriptions``: /cancelsub) and the way into
the web dashboard (``web_access``: /web, the /admin Mini App button).

Registered before the prospect routers; their filters (``handlers.filters``) let only the
staff through, so for anyone else the update travels on to the funnel. ``/broadcast``
(``handlers.admin.broadcast``) is included here.
"""

from __future__ import annotations

from aiogram import Router

from handlers.admin import broadcast, handover, reports, subscriptions, web_access
from handlers.filters import IsStaff


def router() -> Router:
    admin = Router(name="admin")
    admin.message.filter(IsStaff())
    admin.callback_query.filter(IsStaff())
    # web_access first: with the dashboard configured its /admin (help + Mini App button) wins.
    admin.include_routers(
        broadcast.router(),
        web_access.router(),
        reports.router(),
        handover.router(),
        subscriptions.router(),
    )
    return admin
