"""A real browser (headless Chromium from Debian's packages, driven by Selenium) walks the
dashboard as a manager would: a one-time link, the funnel, a filtered lead table, a card,
Take over, and a message that reaches the prospect through the fake Bot API.

Screenshots of every page go to tests/artifacts/web/ (gitignored). Without Chromium or its
driver the test skips with one line saying how to install them.
"""

from __future__ import annotations

import asyncio
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from bot.managers.staff import Staff
from fakes.bot_api import FakeBotAPI
from tests.e2e.harness import MINI, TOKEN, harness_for, polling
from web.app import build_app
from web.auth import Gate
from web.context import WebContext

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
DRIVER = shutil.which("chromedriver")
ARTIFACTS = Path(__file__).resolve().parent.parent / "artifacts" / "web"
ADMIN = 4242
PROSPECT = 5151

pytestmark = pytest.mark.skipif(
    CHROMIUM is None or DRIVER is None,
    reason="no headless browser: apt-get install -y chromium chromium-driver",
)


@pytest.fixture
def browser() -> Iterator[Any]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="leadbot-chromium-")
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(DRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def _walk(driver: Any, base: str, token: str) -> None:
    """What the manager does, in the browser (blocking: run in a thread)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import Select, WebDriverWait

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    wait = WebDriverWait(driver, 20)

    def shot(name: str) -> None:
        driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))

    driver.get(f"{base}/auth/link/{token}")
    shot("0-sign-in")
    driver.find_element(By.ID, "signin").click()
    wait.until(ec.presence_of_element_located((By.ID, "funnel-filter")))
    assert "/funnel" in driver.current_url
    shot("1-funnel")

    driver.get(f"{base}/leads")
    driver.find_element(By.ID, "search").send_keys("Ann")
    Select(driver.find_element(By.ID, "f-channel")).select_by_visible_text("telegram")
    driver.find_element(By.ID, "apply").click()
    wait.until(ec.url_contains("q=Ann"))
    shot("2-leads")
    links = driver.find_elements(By.CSS_SELECTOR, "a.lead-link")
    assert len(links) == 1, driver.page_source[:2000]
    links[0].click()
    wait.until(ec.presence_of_element_located((By.ID, "take")))
    shot("3-card")

    driver.find_element(By.ID, "take").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "status"), "handed_off"))
    driver.find_element(By.ID, "text").send_keys("Hello from the manager, Ann!")
    driver.find_element(By.ID, "send").click()
    wait.until(ec.text_to_be_present_in_element((By.ID, "notice"), "Message sent"))
    shot("4-card-after-send")

    for name, path in (("5-inbox", "/inbox"), ("6-broadcasts", "/broadcasts?preview=1"),
                       ("7-scenario", "/scenario")):  # fmt: skip
        driver.get(base + path)
        wait.until(ec.presence_of_element_located((By.TAG_NAME, "h1")))
        shot(name)
    assert "Mini shop" in driver.page_source


async def test_a_manager_in_a_real_browser(browser: Any, tmp_path: Path) -> None:
    async with FakeBotAPI() as tg, harness_for(tg, tmp_path, MINI) as h, polling(h):
        await h.say(PROSPECT, "/start", expect="What do you need?", first_name="Ann")
        ctx = WebContext(
            service=h.service,
            staff=Staff(frozenset({ADMIN})),
            gate=Gate(b"s" * 32, frozenset({ADMIN}), TOKEN),
            scenario_path=MINI,
            channel_for=h.channels.for_leads(h.bot),  # the bot's channels and limiter
        )
        runner = web.AppRunner(build_app(ctx), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = runner.addresses[0][1]
        try:
            token = ctx.gate.issue_link(ADMIN, "Olga (@olga)", "en")
            await asyncio.to_thread(_walk, browser, f"http://127.0.0.1:{port}", token)
            sent = await tg.wait_for_sent(PROSPECT, "Hello from the manager")
            assert sent.text == "Hello from the manager, Ann!"
            lead = await h.lead(PROSPECT)
            assert lead is not None and lead.status == "handed_off"
        finally:
            await runner.cleanup()
