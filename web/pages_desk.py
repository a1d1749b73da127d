"""Pages 4–6: the inbox (polled live with htmx), broadcasts (the audience builder, sending,
pause/resume/cancel, the report) and the scenario in use."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import Any

from aiohttp import web

from bot.audience import CHANNELS, STAGES, STATUSES, AudienceWords, build_audience
from bot.broadcast_control import control, default_name, state_word
from bot.broadcasts import BroadcastError, preview, start
from bot.manager_desk import inbox
from bot.reports.broadcast import NoBroadcast, build_broadcast_report
from bot.scenario.loader import ScenarioError, load_funnel
from storage.broadcasts import Audience
from web.render import context, manager, render

routes = web.RouteTableDef()
REPORT_WINDOW = timedelta(days=7)
AUDIENCE_FIELDS = ("segment", "stage", "status", "source", "channel", "stopped_at", "idle_days")


@routes.get("/inbox")
async def inbox_page(request: web.Request) -> web.Response:
    ctx = context(request)
    items = await inbox(ctx.service.db, ctx.service.scenario.funnel)
    template = "inbox_items.html" if request.query.get("part") else "inbox.html"
    return render(request, template, items=items, can_send=ctx.channel_for is not None)


# --- broadcasts ----------------------------------------------------------------------------


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


def _audience(request: web.Request, form: Any) -> Audience:
    ctx = context(request)
    words = _words(form)
    try:
        return build_audience(words, ctx.service.scenario.funnel, ctx.service.clock(), ctx.tz)
    except BroadcastError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None


@routes.get("/broadcasts")
async def broadcasts_page(request: web.Request) -> web.Response:
    ctx = context(request)
    funnel = ctx.service.scenario.funnel
    count: int | None = None
    sample: list[Any] = []
    if request.query.get("preview"):
        count, sample = await preview(
            ctx.service.db, _audience(request, request.query), ctx.service.clock()
        )
    listed = await _listed(request)
    return render(
        request,
        "broadcasts.html",
        listed=listed,
        count=count,
        sample=sample,
        q=request.query,
        segments=list(funnel.scenario.segments),
        chains=list(funnel.chains),
        steps=list(funnel.steps),
        stages=STAGES,
        statuses=STATUSES,
        channels=CHANNELS,
    )


async def _listed(request: web.Request) -> list[Any]:
    from bot.broadcasts import progress
    from storage.broadcasts import list_all

    ctx = context(request)
    async with ctx.service.db.session() as session:
        rows = list(await list_all(session, 20))
    found = await asyncio.gather(*(progress(ctx.service.db, row.id) for row in rows))
    now = ctx.service.clock()
    return [(p, state_word(p, now)) for p in found]


@routes.post("/broadcasts")
async def broadcast_send(request: web.Request) -> web.Response:
    ctx, m = context(request), manager(request)
    form = await request.post()
    audience = _audience(request, form)
    text = str(form.get("text", "")).strip()
    chain = str(form.get("chain", "")).strip() or None
    content = {"message": text} if text and chain is None else None
    if content is None and chain is None:
        raise web.HTTPBadRequest(text="Write the message text or choose a chain to send.")
    now = ctx.service.clock()
    if form.get("confirm") != "yes":
        count, sample = await preview(ctx.service.db, audience, now)
        fields = {k: str(form.get(k, "")) for k in (*AUDIENCE_FIELDS, "text", "chain")}
        return render(request, "broadcast_confirm.html", count=count, sample=sample, fields=fields)
    try:
        started = await start(
            ctx.service.db,
            ctx.service.scenario.funnel,
            name=default_name(content, chain, now, ctx.tz),
            audience=audience,
            message=content,
            chain=chain,
            created_by=f"{m.name} [{m.user_id}] (web)"[:64],
            now=now,
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
    except NoBroadcast:
        raise web.HTTPNotFound(text=f"No broadcast {bid}.") from None
    from bot.broadcasts import progress

    p = await progress(ctx.service.db, bid)
    return render(
        request,
        "broadcast.html",
        report=report,
        p=p,
        word=state_word(p, now),
        notice=request.query.get("notice", ""),
    )


@routes.post(r"/broadcasts/{bid:\d+}/{action:pause|resume|cancel}")
async def broadcast_control(request: web.Request) -> web.StreamResponse:
    ctx = context(request)
    bid = int(request.match_info["bid"])
    try:
        await control(ctx.service.db, bid, request.match_info["action"], ctx.service.clock())
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
