"""The manager's actions from the dashboard reach the service and the lead log."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from bot.engine.types import Text
from storage.models import Event, Lead
from tests.web.conftest import ADMIN, KEY, Dash, csrf_of


async def _events(dash: Dash) -> list[Event]:
    async with dash.ctx.service.db.session() as session:
        rows = await session.execute(select(Event).where(Event.lead_id == dash.lead_id))
        return list(rows.scalars())


async def test_take_over_write_and_return(dash: Dash) -> None:
    csrf = await dash.sign_in()
    url = f"/leads/{dash.lead_id}"
    r = await dash.client.post(f"{url}/take", data={"csrf": csrf})
    assert r.status == 200 and "handed_off" in await r.text()
    r = await dash.client.post(f"{url}/message", data={"csrf": csrf, "text": "Hi <Ann> & co"})
    assert r.status == 200 and "Message sent" in await r.text()
    assert dash.chat.sent[-1].text == "Hi &lt;Ann&gt; &amp; co"
    events = await _events(dash)
    taken = next(e for e in events if e.type == "taken")
    assert taken.payload["manager_id"] == ADMIN
    said = [e for e in events if e.type == "manager_message"]
    assert said[-1].payload == {
        "text": "Hi <Ann> & co",
        "by": "Olga (@olga) (web)",
        "manager_id": ADMIN,
    }
    r = await dash.client.post(f"{url}/release", data={"csrf": csrf})
    assert r.status == 200 and "back with the bot" in await r.text()


async def test_search_and_keyset_pages(dash: Dash) -> None:
    await dash.sign_in()
    r = await dash.client.get("/leads", params={"q": "ann"})
    assert f'href="/leads/{dash.lead_id}"' in await r.text()
    r = await dash.client.get("/leads", params={"q": "nobody-like-this"})
    assert "No leads match" in await r.text()
    r = await dash.client.get("/leads.csv")
    assert r.status == 200 and "Ann" in await r.text()


async def test_forget_needs_confirmation(dash: Dash) -> None:
    csrf = await dash.sign_in()
    url = f"/leads/{dash.lead_id}/forget"
    r = await dash.client.post(url, data={"csrf": csrf}, allow_redirects=False)
    assert r.status == 303
    async with dash.ctx.service.db.session() as session:
        assert (await session.get(Lead, dash.lead_id)).first_name == "Ann"  # type: ignore[union-attr]
    r = await dash.client.post(url, data={"csrf": csrf, "confirm": "yes"})
    assert r.status == 200
    async with dash.ctx.service.db.session() as session:
        assert (await session.get(Lead, dash.lead_id)).first_name == ""  # type: ignore[union-attr]


async def test_broadcast_preview_confirm_send_and_control(dash: Dash) -> None:
    csrf = await dash.sign_in()
    r = await dash.client.get("/broadcasts", params={"preview": "1", "channel": "telegram"})
    assert '<b id="count">1</b>' in await r.text()
    form = {"csrf": csrf, "channel": "telegram", "text": "News for you"}
    r = await dash.client.post("/broadcasts", data=form)
    assert r.status == 200 and 'id="confirm"' in await r.text()  # nothing sent yet
    assert "No broadcasts yet" in await (await dash.client.get("/broadcasts")).text()
    r = await dash.client.post("/broadcasts", data={**form, "confirm": "yes"})
    assert r.status == 200 and "News for you" in await r.text()
    bid = r.url.path.rsplit("/", 1)[1]
    r = await dash.client.post(f"/broadcasts/{bid}/pause", data={"csrf": csrf})
    assert r.status == 200 and "paused" in await r.text()
    r = await dash.client.post(f"/broadcasts/{bid}/cancel", data={"csrf": csrf})
    assert r.status == 200 and "cancelled" in await r.text()
    bad = await dash.client.get("/broadcasts", params={"preview": "1", "segment": "nosuch"})
    assert bad.status == 400 and "no segment 'nosuch'" in await bad.text()


async def test_a_paid_broadcast_from_the_dashboard(dash: Dash) -> None:
    csrf = await dash.sign_in()
    form = {"csrf": csrf, "channel": "telegram", "text": "Flash sale", "paid": "on"}
    r = await dash.client.post("/broadcasts", data=form)
    assert r.status == 400 and "needs stars-cap" in await r.text()
    r = await dash.client.post("/broadcasts", data={**form, "stars_cap": "5", "rate": "300"})
    page = await r.text()
    assert r.status == 200 and '<ul id="cost">' in page and 'id="confirm"' in page
    assert "1 lead(s) × 1 message(s) = 1 messages × 0.1 ⭐ = 0.1 Stars" in page
    assert "up to 300 messages a second" in page and "Stars cap 5: it covers everyone" in page
    r = await dash.client.post(
        "/broadcasts", data={**form, "stars_cap": "5", "rate": "300", "confirm": "yes"}
    )
    page = await r.text()
    assert r.status == 200 and "Paid broadcast · Stars spent: 0 / 5 · 300 messages a second" in page
    bid = r.url.path.rsplit("/", 1)[1]
    await dash.client.post(f"/broadcasts/{bid}/pause", data={"csrf": csrf})
    r = await dash.client.post(f"/broadcasts/{bid}/resume", data={"csrf": csrf, "stars_cap": "7"})
    assert r.status == 200 and "Stars spent: 0 / 7" in await r.text()

    token = dash.ctx.gate.issue_link(ADMIN, "Olga (@olga)", "ru")
    r = await dash.client.post("/auth/link", data={"token": token})
    ru = {**form, "csrf": csrf_of(await r.text()), "stars_cap": "5"}
    page = await (await dash.client.post("/broadcasts", data=ru)).text()
    assert "<h2>Стоимость</h2>" in page and "Лимит 5 Stars: хватит на всех." in page


async def test_the_inbox_streams_a_cue_when_the_lead_log_moves(dash: Dash) -> None:
    await dash.sign_in()
    dash.ctx.inbox_tick = 0.05
    r = await dash.client.get("/inbox/events")
    assert r.status == 200 and r.headers["Content-Type"] == "text/event-stream"
    assert await r.content.readline() == b"retry: 5000\n"
    await dash.ctx.service.handle(KEY, Text("is anyone there?"), dash.chat)
    seen = b""
    async with asyncio.timeout(5):
        while b"event: inbox" not in seen:
            seen += await r.content.readline()
    assert await r.content.readline() != b""  # the data line: the newest event's id
    r.close()


async def test_spend_entered_on_the_page_is_kept_in_the_database(dash: Dash) -> None:
    from decimal import Decimal

    from bot.managers.desk import saved_spend

    csrf = await dash.sign_in()
    form = {"csrf": csrf, "source": "vk", "amount": "1500.50", "currency": "rub"}
    r = await dash.client.post("/funnel/spend", data=form, allow_redirects=False)
    assert r.status == 303
    kept = await saved_spend(dash.ctx.service.db)
    assert (kept["vk"].amount, kept["vk"].currency) == (Decimal("1500.50"), "RUB")
    page = await (await dash.client.get("/funnel")).text()
    assert "1500.50 RUB" in page  # the report divides by it: one lead from vk -> CPL 1500.50
    bad = await dash.client.post("/funnel/spend", data={**form, "amount": "lots"})
    assert bad.status == 400 and (await saved_spend(dash.ctx.service.db))["vk"].amount
    form["amount"] = "0"
    await dash.client.post("/funnel/spend", data=form, allow_redirects=False)
    assert await saved_spend(dash.ctx.service.db) == {}
