"""Page 1, the funnel: ``leadbot report``'s numbers (bot/reports, the same functions), drawn,
with spend per source entered or uploaded here (kept in the database, ``source_spend``),
the A/B variants and the funnel graph with reach."""

from __future__ import annotations

import asyncio
import tempfile
from decimal import Decimal
from pathlib import Path

from aiohttp import web
from markupsafe import Markup

from bot.managers.desk import save_spend, saved_spend
from bot.operator.graph import GraphvizMissing, to_dot
from bot.operator.graph import render as render_graph
from bot.reports.report import build_report
from bot.reports.spend import Spend, SpendError, load_spend, parse_amount
from bot.reports.variants import variant_report
from bot.time_phrases import PeriodError, parse_moment
from storage.criteria import LeadFilter
from web.render import context, manager, render
from web.svg import funnel_svg

routes = web.RouteTableDef()
_GRAPHS: dict[str, str] = {}  # the graph's DOT -> its SVG: the same reach draws the same graph
_GRAPHS_KEPT = 16


async def _svg(dot: str) -> str:
    """Graphviz's SVG of ``dot``: run in a thread (``dot`` is a process; the event loop, and
    the bot beside the dashboard, must not wait for it), remembered for repeat views."""
    svg = _GRAPHS.get(dot)
    if svg is None:
        svg = (await asyncio.to_thread(render_graph, dot, "svg")).decode()
        if len(_GRAPHS) >= _GRAPHS_KEPT:
            _GRAPHS.clear()
        _GRAPHS[dot] = svg
    return svg


def _opt(request: web.Request, name: str) -> str | None:
    value = request.query.get(name, "").strip()
    return value or None


@routes.get("/funnel")
async def funnel_page(request: web.Request) -> web.Response:
    ctx = context(request)
    service, tz = ctx.service, ctx.tz
    now = service.clock()
    funnel = service.scenario.funnel
    problem = ""
    since_text = request.query.get("since", "30d").strip() or "30d"
    until_text = request.query.get("until", "").strip()
    try:
        since = parse_moment(since_text, now, tz)
        until = parse_moment(until_text, now, tz, end=True) if until_text else None
    except PeriodError as exc:
        problem, since, until = str(exc), parse_moment("30d", now, tz), None
    f = LeadFilter(
        source=_opt(request, "source"),
        segment=_opt(request, "segment"),
        channel=_opt(request, "channel"),
        since=since,
        until=until,
    )
    spend = await saved_spend(service.db)
    report = await build_report(service.db, funnel, f, now, spend)
    variants = await variant_report(service.db, funnel, f)
    reach: dict[str, int] = {}
    for section in report.funnel:
        for st in section.steps:
            reach[st.step] = max(reach.get(st.step, 0), st.total.reached)
    try:
        graph = Markup(await _svg(to_dot(funnel, reach)))
    except GraphvizMissing:
        graph = None
    return render(
        request,
        "funnel.html",
        report=report,
        charts=[Markup(funnel_svg(s)) for s in report.funnel],
        variants=variants,
        graph=graph,
        reach=reach,
        problem=problem,
        q=request.query,
        since_text=since_text,
        until_text=until_text,
        segments=list(funnel.scenario.segments),
        spend=spend,
    )


@routes.post("/funnel/spend")
async def spend_entered(request: web.Request) -> web.StreamResponse:
    ctx, m = context(request), manager(request)
    form = await request.post()
    source = str(form.get("source", "")).strip()
    amount = parse_amount(str(form.get("amount", "")).strip())
    currency = str(form.get("currency", "")).strip().upper() or "RUB"
    if not source or amount is None:
        raise web.HTTPBadRequest(text="Spend needs a source and an amount like 1500 or 1500.50.")
    entered = Spend(amount, currency) if amount != Decimal(0) else None
    await save_spend(ctx.service, {source: entered}, f"{m.name} [{m.user_id}]")
    raise web.HTTPSeeOther("/funnel")


@routes.post("/funnel/spend/upload")
async def spend_uploaded(request: web.Request) -> web.StreamResponse:
    ctx, m = context(request), manager(request)
    form = await request.post()
    upload = form.get("file")
    if not isinstance(upload, web.FileField):
        raise web.HTTPBadRequest(text="Choose a spend file (CSV or YAML) to upload.")
    suffix = Path(upload.filename or "spend.csv").suffix.lower() or ".csv"
    with tempfile.TemporaryDirectory(prefix="leadbot-spend-") as folder:
        path = Path(folder) / f"spend{suffix}"
        path.write_bytes(upload.file.read())
        try:
            loaded = load_spend(path)
        except SpendError as exc:
            raise web.HTTPBadRequest(text=str(exc).replace(str(path), upload.filename)) from None
    await save_spend(ctx.service, dict(loaded), f"{m.name} [{m.user_id}]")
    raise web.HTTPSeeOther("/funnel")
