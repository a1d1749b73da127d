"""Pages 2 and 3: the lead table (the CLI's filters, text search, keyset pages, downloads)
and one lead's card with the manager's actions (take over, return, write, forget)."""

from __future__ import annotations

import shutil
import tempfile
from datetime import datetime
from pathlib import Path

from aiohttp import web

from bot.broadcasts.audience import CHANNELS
from bot.managers.desk import Cursor, pending, send_as_manager, table_page
from bot.managers.staff import contact_allowed
from bot.privacy import forget_lead
from bot.reports.export import export
from bot.reports.leads import lead_card
from bot.time_phrases import PeriodError, parse_moment
from bot.vocabulary import STAGES, STATUSES
from storage.criteria import LeadFilter
from web.i18n import send_result, translator
from web.render import context, manager, render

routes = web.RouteTableDef()
FILTERS = ("segment", "stage", "status", "source", "channel", "since", "until", "q")


def _filter(request: web.Request) -> tuple[LeadFilter, str]:
    ctx = context(request)
    q = request.query
    now, tz = ctx.service.clock(), ctx.tz

    def opt(name: str) -> str | None:
        return q.get(name, "").strip() or None

    try:
        since = parse_moment(q["since"], now, tz) if opt("since") else None
        until = parse_moment(q["until"], now, tz, end=True) if opt("until") else None
    except PeriodError as exc:
        raise web.HTTPBadRequest(text=str(exc)) from None
    f = LeadFilter(
        segment=opt("segment"),
        stage=opt("stage"),
        status=opt("status"),
        source=opt("source"),
        channel=opt("channel"),
        since=since,
        until=until,
    )
    return f, q.get("q", "")


def _cursor(text: str) -> Cursor | None:
    at, _, lead_id = text.partition("_")
    try:
        return Cursor(datetime.fromisoformat(at), int(lead_id)) if lead_id else None
    except ValueError:
        raise web.HTTPBadRequest(text="That page link is damaged: go to the first page.") from None


@routes.get("/leads")
async def leads_page(request: web.Request) -> web.Response:
    ctx = context(request)
    f, search = _filter(request)
    page = await table_page(ctx.service.db, f, search, _cursor(request.query.get("after", "")))
    kept = {k: request.query[k] for k in FILTERS if request.query.get(k)}
    nxt = None
    if page.next is not None:
        nxt = {**kept, "after": f"{page.next.created_at.isoformat()}_{page.next.id}"}
    return render(
        request,
        "leads.html",
        page=page,
        kept=kept,
        next_query=nxt,
        q=request.query,
        segments=list(ctx.service.scenario.funnel.scenario.segments),
        stages=STAGES,
        statuses=STATUSES,
        channels=CHANNELS,
    )


@routes.get("/leads.csv")
@routes.get("/leads.xlsx")
async def leads_download(request: web.Request) -> web.StreamResponse:
    """The current filter through the CLI's streamed writers, into a temp file, then sent."""
    ctx = context(request)
    f, _ = _filter(request)
    fmt = request.path.rsplit(".", 1)[1]
    keys = list(ctx.service.scenario.funnel.answer_keys())
    folder = tempfile.mkdtemp(prefix="leadbot-web-export-")
    path = Path(folder) / f"leads.{fmt}"
    await export(ctx.service.db, "leads", f, path, fmt, ctx.tz, keys)
    response = web.FileResponse(path)
    response.headers["Content-Disposition"] = f'attachment; filename="leads.{fmt}"'
    try:
        await response.prepare(request)
        return response
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def _card(request: web.Request, notice: str = "", status: int = 200) -> web.Response:
    ctx = context(request)
    lead_id = request.match_info["lead_id"]
    card = await lead_card(ctx.service.db, lead_id, ctx.tz)
    if card is None:
        raise web.HTTPNotFound(text=f"No lead {lead_id}.")
    require = ctx.service.scenario.funnel.scenario.require_consent
    return render(
        request,
        "card.html",
        status=status,
        card=card,
        touches=await pending(ctx.service.db, card.lead.id),
        contacts=contact_allowed(card.consent, require),
        can_send=ctx.channel_for is not None,
        notice=notice,
        confirm_forget=request.query.get("forget") == "1",
    )


@routes.get(r"/leads/{lead_id:\d+}")
async def card_page(request: web.Request) -> web.Response:
    return await _card(request, request.query.get("notice", ""))


def _lead_id(request: web.Request) -> int:
    return int(request.match_info["lead_id"])


@routes.post(r"/leads/{lead_id:\d+}/take")
async def take(request: web.Request) -> web.Response:
    ctx, m = context(request), manager(request)
    t = translator(m.lang)
    done = await ctx.service.take(_lead_id(request), f"{m.name} (web)", m.user_id)
    notice = t("The lead is with managers now.") if done.done else f"{t('Status')}: {done.status}"
    return await _card(request, notice)


@routes.post(r"/leads/{lead_id:\d+}/release")
async def release(request: web.Request) -> web.Response:
    ctx, m = context(request), manager(request)
    t = translator(m.lang)
    if ctx.channel_for is None:
        return await _card(request, t("Sending is off: no BOT_TOKEN in this process."), 409)
    done = await ctx.service.release(_lead_id(request), f"{m.name} (web)", ctx.channel_for)
    notice = t("The lead is back with the bot.") if done.done else f"{t('Status')}: {done.status}"
    return await _card(request, notice)


@routes.post(r"/leads/{lead_id:\d+}/message")
async def message(request: web.Request) -> web.StreamResponse:
    ctx, m = context(request), manager(request)
    form = await request.post()
    if ctx.channel_for is None:
        t = translator(m.lang)
        return await _card(request, t("Sending is off: no BOT_TOKEN in this process."), 409)
    status = await send_as_manager(
        ctx.service,
        _lead_id(request),
        str(form.get("text", "")),
        f"{m.name} (web)",
        m.user_id,
        ctx.channel_for,
    )
    back = str(form.get("back", ""))
    if back == "inbox":
        raise web.HTTPSeeOther("/inbox")
    return await _card(request, send_result(m.lang, status), 200 if status == "sent" else 409)


@routes.post(r"/leads/{lead_id:\d+}/forget")
async def forget(request: web.Request) -> web.Response:
    ctx, m = context(request), manager(request)
    form = await request.post()
    if form.get("confirm") != "yes":
        raise web.HTTPSeeOther(f"/leads/{_lead_id(request)}?forget=1")
    funnel = ctx.service.scenario.funnel
    reason = f"asked by a manager: {m.name} [{m.user_id}] (web)"
    await forget_lead(ctx.service.db, funnel, _lead_id(request), ctx.service.clock(), reason)
    return await _card(request, translator(m.lang)("Personal data erased."))
