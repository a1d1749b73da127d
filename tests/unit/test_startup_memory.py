"""What ``leadbot run`` loads, and the allocator setting it makes (issue 15, memory).

A polling bot without the dashboard must not import the dashboard's pages and templates,
the webhook server, Alembic or the model client: each is megabytes of resident memory for
the whole life of the process. Nor, on SQLite, the command line's machinery (a bare
``leadbot run`` skips typer), the PostgreSQL dialect and driver, or the contact answers'
libraries (imported at the first phone or e-mail typed). A fresh interpreter is asked,
since this one has imported everything the other tests use.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from app import malloc

ROOT = Path(__file__).resolve().parents[2]

#: Loaded only when a setting turns them on (WEB_PORT/WEB_URL, WEBHOOK_URL, a schema
#: upgrade, OPENAI_API_KEY), or by other commands (reports, broadcasts).
NOT_FOR_POLLING = (
    "jinja2",
    "rich",
    "web.app",
    "app.dashboard",
    "aiohttp.web",
    "aiogram.webhook.aiohttp_server",
    "app.webhook",
    "alembic",
    "openai",
    "openpyxl",
    "graphviz",
    "jsonschema",
    "pygments",
    # The command line: a bare `leadbot run` is dispatched by cli.main without typer.
    "typer",
    "click",
    "cli.common",
    # PostgreSQL's dialect and driver, on SQLite.
    "sqlalchemy.dialects.postgresql",
    "asyncpg",
    # Contact answers: imported at the first one.
    "phonenumbers",
    "email_validator",
)

PROBE = """
import json, sys
sys.argv = ["leadbot", "run"]
import cli
import cli.serve  # what cli.main runs for `leadbot run`
from app.aiogram_types import import_aiogram
import_aiogram()  # as the command does, before anything imports aiogram
import app.runner  # what the command imports to run
import storage.unit  # the hot path's statements
from storage.db import Database
Database("sqlite+aiosqlite:///" + {db!r})  # a SQLite file's engines, not connected
print(json.dumps(sorted(m for m in {names} if m in sys.modules)))
"""


def test_leadbot_run_imports_nothing_a_polling_bot_does_not_use(tmp_path: Path) -> None:
    code = PROBE.format(names=repr(NOT_FOR_POLLING), db=str(tmp_path / "leads.db"))
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


@pytest.mark.skipif(
    platform.system() != "Linux" or platform.libc_ver()[0] != "glibc", reason="glibc only"
)
def test_the_arena_cap_is_set_on_glibc(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    assert malloc.limit_arenas() is True


def test_an_operators_malloc_arena_max_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert malloc.limit_arenas() is False


def test_other_c_libraries_are_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_ARENA_MAX", raising=False)
    monkeypatch.setattr(platform, "libc_ver", lambda: ("musl", "1.2"))
    assert malloc.limit_arenas() is False
