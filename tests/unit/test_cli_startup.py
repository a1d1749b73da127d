"""Manager commands that never talk to Telegram start without aiogram.

Importing aiogram builds some 400 pydantic models: about 4 s and 150 MB on the 2-core
benchmark machine, against ~1 s for the whole command without it. A report, a leads list,
an export or ``--help`` must not pay that; a fresh interpreter is asked, since this one has
imported everything the other tests use.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from storage.db import Database
from tests.conftest import MINI

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import sys
sys.argv = ["leadbot", *{args!r}]
import cli
try:
    cli.main()
except SystemExit as exit:
    assert not exit.code, exit.code
print("aiogram" in sys.modules)
"""


@pytest.mark.parametrize(
    "args",
    [
        ("--help",),
        ("report",),
        ("leads", "--limit", "3"),
        ("export", "events", "-o", "{tmp}/events.csv", "--quiet"),
        ("broadcast", "--help"),
    ],
    ids=lambda args: " ".join(args).split(" {")[0],
)
def test_a_command_off_telegram_does_not_import_aiogram(
    args: tuple[str, ...], tmp_path: Path
) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'leads.db'}"
    asyncio.run(_create(url))
    code = PROBE.format(args=[a.format(tmp=tmp_path) for a in args])
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {
        "PYTHONPATH": str(ROOT), "DATABASE_URL": url, "SCENARIO": str(MINI),
        "TIMEZONE": "Europe/Moscow", "OPENAI_API_KEY": "",
    }  # fmt: skip
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip().splitlines()[-1] == "False"


async def _create(url: str) -> None:
    db = Database(url)
    await db.upgrade()
    await db.close()
