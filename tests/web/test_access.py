"""Who gets in: Mini App initData, one-time links, the session cookie and CSRF; and every
route refuses a request without a session."""

from __future__ import annotations

import re
import time

from tests.web.conftest import ADMIN, STRANGER, Dash, csrf_of, init_data
from web.app import PUBLIC
from web.auth import LINK_AGE

PAGES = ("/funnel", "/leads", "/leads/{lead}", "/inbox", "/broadcasts", "/scenario")


def _concrete(path: str, lead_id: int) -> str:
    path = re.sub(r"\{lead_id[^}]*\}", str(lead_id), path)
    path = re.sub(r"\{bid[^}]*\}", "1", path)
    return re.sub(r"\{action[^}]*\}", "pause", path)


async def test_every_route_refuses_without_a_session(dash: Dash) -> None:
    walked = 0
    for resource in dash.client.app.router.resources():
        canonical = resource.canonical
        if canonical in PUBLIC or canonical.startswith("/static"):
            continue
        for route in resource:
            if route.method == "HEAD":
                continue
            url = _concrete(canonical, dash.lead_id)
            r = await dash.client.request(route.method, url, allow_redirects=False)
            assert r.status == 401, (route.method, url, r.status)
            walked += 1
    assert walked >= 15


async def test_every_post_refuses_without_the_csrf_token(dash: Dash) -> None:
    await dash.sign_in()
    for resource in dash.client.app.router.resources():
        if resource.canonical in PUBLIC:
            continue
        for route in resource:
            if route.method != "POST":
                continue
            url = _concrete(resource.canonical, dash.lead_id)
            r = await dash.client.post(url, data={"text": "x"}, allow_redirects=False)
            assert r.status == 403, (url, r.status)
            r = await dash.client.post(url, data={"csrf": "forged"}, allow_redirects=False)
            assert r.status == 403, (url, r.status)
    assert dash.chat.sent[-1].text != "x"


async def test_every_page_renders_for_an_admin(dash: Dash) -> None:
    await dash.sign_in()
    for page in PAGES:
        r = await dash.client.get(page.format(lead=dash.lead_id))
        assert r.status == 200, (page, await r.text())
        assert "Olga (@olga)" in await r.text()


async def test_a_link_works_once_and_not_after_it_expires(dash: Dash) -> None:
    token = dash.ctx.gate.issue_link(ADMIN, "Olga", "en")
    shown = await dash.client.get(f"/auth/link/{token}")
    assert shown.status == 200 and "Sign in" in await shown.text()  # GET spends nothing
    assert (await dash.client.post("/auth/link", data={"token": token})).status == 200
    dash.client.session.cookie_jar.clear()
    again = await dash.client.post("/auth/link", data={"token": token})
    assert again.status == 401 and "already used" in await again.text()
    assert (await dash.client.get("/funnel")).status == 401

    old = dash.ctx.gate.issue_link(ADMIN, "Olga", "en")
    dash.ctx.gate.clock = lambda: time.time() + LINK_AGE + 1
    late = await dash.client.post("/auth/link", data={"token": old})
    assert late.status == 401 and "expired" in await late.text()


async def test_a_forged_link_is_refused(dash: Dash) -> None:
    token = dash.ctx.gate.issue_link(ADMIN, "Olga", "en")
    body, _, mac = token.partition(".")
    r = await dash.client.post("/auth/link", data={"token": body + "." + mac[::-1]})
    assert r.status == 401


async def test_mini_app_initdata(dash: Dash) -> None:
    forged = init_data(ADMIN, token="654321:OTHER-token")
    r = await dash.client.post("/auth/webapp", data={"init_data": forged})
    assert r.status == 401 and "signature" in await r.text()

    stale = init_data(ADMIN, auth_date=int(time.time()) - 2 * 86400)
    r = await dash.client.post("/auth/webapp", data={"init_data": stale})
    assert r.status == 401 and "too old" in await r.text()

    stranger = init_data(STRANGER)
    r = await dash.client.post("/auth/webapp", data={"init_data": stranger})
    assert r.status == 403 and "ADMIN_IDS" in await r.text()
    assert (await dash.client.get("/funnel")).status == 401

    r = await dash.client.post("/auth/webapp", data={"init_data": init_data(ADMIN)})
    assert r.status == 200
    page = await r.text()
    assert "Воронка" in page  # the admin's Telegram language is Russian
    assert csrf_of(page)


async def test_a_non_admin_cannot_get_a_link(dash: Dash) -> None:
    try:
        dash.ctx.gate.issue_link(STRANGER, "Eve", "en")
    except Exception as exc:
        assert getattr(exc, "status", None) == 403
    else:
        raise AssertionError("a link was issued to a non-admin")


async def test_every_page_renders_in_russian_for_a_russian_admin(dash: Dash) -> None:
    r = await dash.client.post("/auth/webapp", data={"init_data": init_data(ADMIN)})
    assert r.status == 200
    for page in PAGES:
        r = await dash.client.get(page.format(lead=dash.lead_id))
        text = await r.text()
        assert r.status == 200 and "Воронка" in text and "Входящие" in text, page
        assert "Sign out" not in text
