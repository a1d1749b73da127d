"""Rendering a page with the signed-in manager's language, CSRF token and time zone."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp import web
from jinja2 import Environment

from bot.reports.periods import local
from web.auth import Manager
from web.context import CONTEXT, WebContext
from web.i18n import translator

HERE = Path(__file__).resolve().parent
MANAGER = web.RequestKey("manager", Manager)
ENV = web.AppKey("jinja", Environment)


def manager(request: web.Request) -> Manager:
    return request[MANAGER]


def context(request: web.Request) -> WebContext:
    return request.app[CONTEXT]


def render(request: web.Request, template: str, status: int = 200, **values: Any) -> web.Response:
    ctx = context(request)
    m: Manager | None = request.get(MANAGER)
    lang = m.lang if m else ctx.gate.lang(request.headers.get("Accept-Language"))
    page = request.app[ENV].get_template(template)
    html = page.render(
        t=translator(lang),
        lang=lang,
        me=m,
        csrf=m.csrf if m else "",
        path=request.path,
        when=lambda moment: local(moment, ctx.tz),
        **values,
    )
    return web.Response(text=html, status=status, content_type="text/html")
