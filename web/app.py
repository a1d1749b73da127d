"""The dashboard's aiohttp application: sign-in routes, the session middleware, templates.

Every route except ``PUBLIC`` needs a valid session cookie (401 without, HTML pages answer
with the sign-in page); every POST needs the session's CSRF token (403 without).
"""

from __future__ import annotations

import asyncio
import hmac
from collections.abc import Awaitable, Callable

from aiohttp import web
from jinja2 import Environment, FileSystemLoader, select_autoescape

from web import pages_desk, pages_funnel, pages_leads
from web.auth import SESSION_AGE, SESSION_COOKIE, AuthError, Manager
from web.context import CLOSING, CONTEXT, WebContext
from web.render import ENV, HERE, MANAGER, context, render

# Routes open without a session: they are the ways in (each checks its own credential).
PUBLIC = frozenset({"/app", "/auth/webapp", "/auth/link/{token}", "/auth/link", "/static"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


OPEN = web.AppKey("open_paths", set[str])


def open_path(app: web.Application, path: str) -> None:
    """Let a path through the guard: the Telegram webhook, which has its own secret."""
    app[OPEN].add(path)


def _public(request: web.Request) -> bool:
    if request.path in request.app[OPEN]:
        return True
    info = request.match_info.route.resource
    canonical = info.canonical if info is not None else ""
    return canonical in PUBLIC or request.path.startswith("/static/")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Session on every route but the ways in; CSRF on every state-changing request."""
    if _public(request):
        return await handler(request)
    found = context(request).gate.session(request.cookies.get(SESSION_COOKIE))
    if found is None:
        return render(request, "signin.html", status=401, problem="")
    request[MANAGER] = found
    if request.method not in {"GET", "HEAD", "OPTIONS"}:
        sent = request.headers.get("X-CSRF-Token", "")
        if not sent:
            form = await request.post()
            sent = str(form.get("csrf", ""))
        if not hmac.compare_digest(sent, found.csrf):
            raise web.HTTPForbidden(text="The form is stale (CSRF check failed): reload the page.")
    response = await handler(request)
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "ALLOWALL")
    return response


def _signed_in(request: web.Request, m: Manager) -> web.HTTPSeeOther:
    ctx = context(request)
    found = web.HTTPSeeOther("/funnel")
    secure = (ctx.base_url or "").startswith("https://")
    # Inside Telegram's web client the Mini App is an iframe: the cookie must be SameSite=None.
    found.set_cookie(
        SESSION_COOKIE,
        ctx.gate.session_token(m),
        max_age=SESSION_AGE,
        httponly=True,
        secure=secure,
        samesite="None" if secure else "Lax",
        path="/",
    )
    return found


async def link_page(request: web.Request) -> web.Response:
    """GET shows a button: link previews and scanners must not spend the one-time token."""
    return render(request, "signin.html", token=request.match_info["token"], problem="")


async def link_redeem(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        m = context(request).gate.redeem_link(str(form.get("token", "")))
    except AuthError as exc:
        return render(request, "signin.html", status=exc.status, problem=str(exc))
    raise _signed_in(request, m)


async def mini_app(request: web.Request) -> web.Response:
    """The Mini App's entry: a few lines of script post Telegram's initData back to us."""
    return render(request, "miniapp.html")


async def webapp_auth(request: web.Request) -> web.StreamResponse:
    form = await request.post()
    try:
        m = context(request).gate.check_init_data(str(form.get("init_data", "")))
    except AuthError as exc:
        return render(request, "signin.html", status=exc.status, problem=str(exc))
    raise _signed_in(request, m)


async def sign_out(request: web.Request) -> web.StreamResponse:
    out = web.HTTPSeeOther("/app")
    out.del_cookie(SESSION_COOKIE, path="/")
    raise out


async def home(request: web.Request) -> web.StreamResponse:
    raise web.HTTPSeeOther("/funnel")


async def _closing(app: web.Application) -> None:
    app[CLOSING].set()


def build_app(ctx: WebContext) -> web.Application:
    app = web.Application(middlewares=[guard], client_max_size=5 * 1024 * 1024)
    app[CONTEXT] = ctx
    app[OPEN] = set()
    app[CLOSING] = asyncio.Event()
    app.on_shutdown.append(_closing)
    app[ENV] = Environment(
        loader=FileSystemLoader(HERE / "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    app.router.add_get("/app", mini_app)
    app.router.add_post("/auth/webapp", webapp_auth)
    app.router.add_get("/auth/link/{token}", link_page)
    app.router.add_post("/auth/link", link_redeem)
    app.router.add_static("/static", HERE / "static")
    app.router.add_post("/signout", sign_out)
    app.router.add_get("/", home)
    for module in (pages_funnel, pages_leads, pages_desk):
        app.router.add_routes(module.routes)
    return app
