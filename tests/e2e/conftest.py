"""Fixtures for the end-to-end tests of the Telegram face (see ``harness.py``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from fakes.bot_api import FakeBotAPI
from tests.e2e.harness import Harness, harness_for, polling


@pytest.fixture
async def tg() -> AsyncIterator[FakeBotAPI]:
    async with FakeBotAPI() as fake:
        yield fake


@pytest.fixture
async def h(tg: FakeBotAPI, tmp_path: Path) -> AsyncIterator[Harness]:
    """A running bot (long polling) on the mini scenario."""
    async with harness_for(tg, tmp_path) as harness, polling(harness):
        yield harness
