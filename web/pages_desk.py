"""Pages 4–6: the inbox (live through server-sent events), broadcasts (the audience
builder, sending, pause/resume/cancel, the report) and the scenario in use."""

from __future__ import annotations

import asyncio
from contextlib import suppress
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.broadcasts.audience import CHANNELS, AudienceWords
from bot.broadcasts.flow import Draft, Preview, make_draft, message_of, preview, send
from bot.broadcasts.paid import stars
from bot.broadcasts.service import (
    BroadcastError,
    control,
    progress,
    progress_list,
    state_word,
)
from bot.managers.desk import inbox, inbox_mark
from bot.reports.broadcast import NoBroadcast, build_broadcast_report
from bot.scenario.loader import ScenarioError, load_funnel
from bot.vocabulary import STAGES, STATUSES
from web.context import CLOSING
from web.render import context, manager, render

routes = web.RouteTableDef()
REPORT_WINDOW = timedelta(days=7)
AUDIENCE_FIELDS = ("segment", "stage", "status", "source", "channel", "stopped_at", "idle_days")
PAID_FIELDS = ("paid", "stars_cap", "rate")


@routes.get("/inbox")
async def inbox_page(request: web.Request) -> web.Response:
    ctx = context(request)
    items = await inbox(ctx.service.db, ctx.service.scenario.funnel)
    template = "inbox_items.html" if request.query.get("part") else "inbox.html"
    return render(request, template, items=items, can_send=ctx.channel_for is not None)


@routes.get("/inbox/events")
async def inbox_events(request: web.Request) -> web.StreamResponse:
    """Server-sent events: ``inbox`` whenever the lead log moved, and the page re-reads its
    list (htmx). One primary-key look per tick per open inbox, instead of every browser
    re-rendering the whole list every few seconds; the bot may run in another process
    (``leadbot web``), so the lead log is the one place to watch."""
    ctx = context(request)
    stream = web.StreamResponse(
        headers={
            "Content-Type": "text/event-stream",
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",  # nginx: pass each event on at once
        }
    )
    await stream.prepare(request)
    closing = request.app[CLOSING]
    seen = await inbox_mark(ctx.service.db)
    await stream.write(b"retry: 5000\n\n")
    try:
        while not closing.is_set():
            with suppress(TimeoutError):
                await asyncio.wait_for(closing.wait(), ctx.inbox_tick)
            mark = await inbox_mark(ctx.service.db)
            # A comment line when nothing changed: it finds a closed connection within a tick.
            line = f"event: inbox\ndata: {mark}\n\n" if mark != seen else ": idle\n\n"
            seen = mark
            await stream.write(line.encode())
    except ConnectionResetError:
        pass  # the manager closed the page
    return stream


# --- broadcasts: the one draft → preview → send flow of ``bot.broadcasts.flow`` ------------


def _words(form: Any) -> AudienceWords:
    def opt(name: str) -> str | None:
        return str(form.get(name, "")).strip() or None

    idle = opt("idle_days")
    return AudienceWords(
        segment=opt("segment"),
        stage=opt("stage"),
        status=opt("status"),
        source=opt("source"),
        channel=opt("channel"),
        stopped_at=[s.strip() for s in (opt("stopped_at") or "").split(",") if s.strip()],
        idle_days=float(idle) if idle and idle.replace(".", "", 1).isdigit() else None,
    )


def _draft(request: web.Request, form: Any, *, content_later: bool) -> Draft:
    """The form as a checked draft; a bad word is a 400 with the flow's one-line reason."""
    ctx = context(request)
    text = str(form.get("text", "")).strip()
    chain = str(form.get("chain", "")).strip() or None
    message = message_of(text) if text and chain is None else None
    if not content_later and message is None and chain is None:
        raise web.HTTPBadRequest(text="Write the message text or choose a chain to send.")
    paid = str(form.get("paid", "")).strip().lower() in {"on", "yes", "1", "true"}
    try:
        return make_draft(
            ctx.service.scenario.funnel,
            _words(form),
            ctx.service.clock(),
            ctx.tz,
            message=message,
            chain=chain,
            content_later=content_later,
            paid=paid,
            rate=str(form.get("rate", "")).strip() or None if paid else None,
            stars_cap=str(form.get("stars_cap", "")).strip() or None if paid else None,
        )
    except BroadcastError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


async def _preview(request: web.Request, draft: Draft) -> Preview:
    ctx = context(request)
    try:
        return await preview(
            ctx.service.db, ctx.service.scenario.funnel, draft, ctx.service.clock()
        )
    except BroadcastError as exc:  # a paid draft whose cap pays for nobody
        raise web.HTTPBadRequest(text=str(exc)) from None


@routes.get("/broadcasts")
async def broadcasts_page(request: web.Request) -> web.Response:
    ctx = context(request)
    funnel = ctx.service.scenario.funnel
    shown: Preview | None = None
    if request.query.get("preview"):
        shown = await _preview(request, _draft(request, request.query, content_later=True))
    now = ctx.service.clock()
    listed = [(p, state_word(p, now)) for p in await progress_list(ctx.service.db, 20)]
    return render(
        request,
        "broadcasts.html",
        listed=listed,
        shown=shown,
        q=request.query,
        segments=list(funnel.scenario.segments),
        chains=list(funnel.chains),
        steps=list(funnel.steps),
        stages=STAGES,
        statuses=STATUSES,
        channels=CHANNELS,
    )


@routes.post("/broadcasts")
async def broadcast_send(request: web.Request) -> web.Response:
    ctx, m = context(request), manager(request)
    form = await request.post()
    draft = _draft(request, form, content_later=False)
    if form.get("confirm") != "yes":
        shown = await _preview(request, draft)
        keys = (*AUDIENCE_FIELDS, "text", "chain", *PAID_FIELDS)
        fields = {k: str(form.get(k, "")) for k in keys}
        return render(request, "broadcast_confirm.html", shown=shown, fields=fields)
    try:
        started = await send(
            ctx.service.db,
            ctx.service.scenario.funnel,
            draft,
            ctx.service.clock(),
            ctx.tz,
            created_by=f"{m.name} [{m.user_id}] (web)"[:64],
        )
    except BroadcastError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/broadcasts/{started.broadcast_id}")


@routes.get(r"/broadcasts/{bid:\d+}")
async def broadcast_page(request: web.Request) -> web.Response:
    ctx = context(request)
    bid = int(request.match_info["bid"])
    now = ctx.service.clock()
    try:
        report = await build_broadcast_report(
            ctx.service.db, ctx.service.scenario.funnel, bid, REPORT_WINDOW, now
        )
        p = await progress(ctx.service.db, bid)
    except (NoBroadcast, BroadcastError):
        raise web.HTTPNotFound(text=f"No broadcast {bid}.") from None
    return render(
        request,
        "broadcast.html",
        report=report,
        p=p,
        word=state_word(p, now),
        stars=(stars(p.broadcast.paid_spent), stars(p.broadcast.paid_cap or 0)),
        notice=request.query.get("notice", ""),
    )


@routes.post(r"/broadcasts/{bid:\d+}/{action:pause|resume|cancel}")
async def broadcast_control(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    bid = int(request.match_info["bid"])
    form = await request.post()
    cap = str(form.get("stars_cap", "")).strip() or None  # a paid broadcast's new cap
    try:
        await control(
            ctx.service.db, bid, request.match_info["action"], ctx.service.clock(), stars_cap=cap
        )
    except BroadcastError as exc:
        raise web.HTTPConflict(text=str(exc)) from None
    raise web.HTTPSeeOther(f"/broadcasts/{bid}")


# --- the scenario ----------------------------------------------------------------------------


@routes.get("/scenario")
async def scenario_page(request: web.Request) -> web.Response:
    ctx = context(request)
    ctx.note_version()
    funnel = ctx.service.scenario.funnel
    problems: list[str] = []
    on_disk = None
    try:
        on_disk = await asyncio.to_thread(load_funnel, ctx.scenario_path, str(funnel.timezone))
    except ScenarioError as exc:
        problems = [str(p) for p in exc.problems]
    return render(
        request,
        "scenario.html",
        funnel=funnel,
        file_path=ctx.scenario_path,
        problems=problems,
        on_disk=on_disk,
        since=ctx.version_since,
    )


@routes.get("/scenario/download")
async def scenario_download(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    response = web.FileResponse(ctx.scenario_path)
    response.headers["Content-Disposition"] = f'attachment; filename="{ctx.scenario_path.name}"'
    return response
