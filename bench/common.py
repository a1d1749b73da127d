"""What the benchmarks share: the fake Bot API process, fast seeding, results, the machine."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import platform
import sqlite3
import sys
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import aiohttp
from sqlalchemy import bindparam, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from bot.engine.types import Contact, Start, Text
from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.scenario.loader import load_funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.db import Database
from storage.models import Lead, UTCDateTime

ROOT = Path(__file__).resolve().parent.parent
MINI = ROOT / "tests" / "data" / "mini.yaml"
TIMEZONE = "Europe/Moscow"
TOKEN = "123456:BENCH-token"
#: The touch every drained lead gets (mini.yaml, the wait after the hot offer).
TOUCH_TEXT = "Here is a discount."
TEMPLATE_USERS = 9_000_000_000


# --------------------------------------------------------------------------------------------
# Results
# --------------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the summary table."""

    number: str
    name: str
    value: str
    target: str
    passed: bool | None  # None: not measured (skipped)
    notes: list[str] = field(default_factory=list)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "FAIL", None: "SKIP"}[self.passed]


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(q / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def say(message: str) -> None:
    print(f"  {message}", flush=True)


# --------------------------------------------------------------------------------------------
# The fake Bot API, in its own process
# --------------------------------------------------------------------------------------------


class FakeProc:
    """``bench.fake_server`` as a child process, and a client for its control routes."""

    def __init__(
        self,
        *,
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        per_chat_burst: int = 3,
    ) -> None:
        self.args = ["--per-chat-burst", str(per_chat_burst)]
        if global_rate is not None:
            self.args += ["--global-rate", str(global_rate)]
        if per_chat_rate is not None:
            self.args += ["--per-chat-rate", str(per_chat_rate)]
        self.proc: asyncio.subprocess.Process | None = None
        self.http: aiohttp.ClientSession | None = None
        self.base_url = ""

    async def __aenter__(self) -> FakeProc:
        self.proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bench.fake_server",
            *self.args,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        assert self.proc.stdout is not None
        line = await asyncio.wait_for(self.proc.stdout.readline(), 60)
        if not line.startswith(b"PORT "):
            raise RuntimeError(f"the fake Bot API did not start: {line!r}")
        self.base_url = f"http://127.0.0.1:{int(line.split()[1])}"
        self.http = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.http is not None:
            await self.http.close()
        if self.proc is not None:
            assert self.proc.stdin is not None
            self.proc.stdin.close()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()

    async def _get(self, route: str, **params: Any) -> dict[str, Any]:
        assert self.http is not None
        query = {k: str(v) for k, v in params.items()}
        async with self.http.get(f"{self.base_url}/_ctl/{route}", params=query) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result

    async def push(self, updates: list[dict[str, Any]]) -> dict[str, Any]:
        """Queue updates; returns ``pushed`` ([update_id, user, time]) and ``calls``."""
        assert self.http is not None
        url = f"{self.base_url}/_ctl/push"
        async with self.http.post(url, json={"updates": updates}) as response:
            response.raise_for_status()
            result: dict[str, Any] = await response.json()
            return result

    async def count(self, **params: Any) -> dict[str, Any]:
        return await self._get("count", **params)

    async def calls(self, since: int = 0) -> list[list[Any]]:
        calls: list[list[Any]] = (await self._get("calls", since=since))["calls"]
        return calls

    async def info(self) -> dict[str, Any]:
        return await self._get("info")

    async def wait_count(
        self,
        expected: int,
        timeout: float,  # noqa: ASYNC109 - a deadline for polling, not for one await
        **params: Any,
    ) -> dict[str, Any]:
        """Poll ``count`` until it reaches ``expected`` (or the time runs out)."""
        deadline = time.monotonic() + timeout
        while True:
            result = await self.count(**params)
            if result["count"] >= expected or time.monotonic() > deadline:
                return result
            await asyncio.sleep(0.05)

    def cpu_seconds(self) -> float:
        assert self.proc is not None
        return process_cpu_seconds(self.proc.pid)


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    return time.process_time()


# --------------------------------------------------------------------------------------------
# Databases
# --------------------------------------------------------------------------------------------


def sqlite_url(path: Path) -> str:
    return f"sqlite+aiosqlite:///{path}"


@asynccontextmanager
async def postgres_database(base: str) -> AsyncIterator[str]:
    """A throw-away database on the server of ``base``; dropped afterwards."""
    name = f"leadbot_bench_{uuid.uuid4().hex[:10]}"
    admin = create_async_engine(base, isolation_level="AUTOCOMMIT")
    try:
        async with admin.connect() as conn:
            await conn.execute(text(f'CREATE DATABASE "{name}"'))
        try:
            yield make_url(base).set(database=name).render_as_string(hide_password=False)
        finally:
            async with admin.connect() as conn:
                await conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


def load_mini() -> Funnel:
    return load_funnel(MINI, TIMEZONE)


# --------------------------------------------------------------------------------------------
# Seeding: one lead walked through the real service, then cloned in bulk with SQL
# --------------------------------------------------------------------------------------------


@dataclass
class Templates:
    """Template leads (ids) in the database, and the button a ``question`` lead may press."""

    touch: int  # at hot-2 (the wait after the offer), its touch pending
    question: int  # at q_need, a question with buttons
    typed: int  # at q_about, a question answered by typing
    press_data: str  # callback data of "Buy now" for a clone of ``question``


async def make_templates(db: Database, funnel: Funnel) -> Templates:
    """Walk three leads through the real service so their rows are what the engine wrote."""
    service = FunnelService(db, ScenarioHolder(funnel), OfflineQualifier())
    ids = []
    press_data = ""
    for n, script in enumerate(("touch", "question", "typed")):
        key = LeadKey("telegram", TEMPLATE_USERS + n)
        chat = Collect()
        await service.handle(key, Start(first_name="Ann"), chat)
        if script == "question":
            press_data = chat.press("Buy now").data
        else:
            await service.handle(key, chat.press("Buy now"), chat)
            await service.handle(key, chat.press("Big"), chat)
            if script == "touch":
                await service.handle(key, Text("We want to buy two machines"), chat)
                await service.handle(key, Contact("+79991234567"), chat)
        async with db.session() as session:
            lead = (
                await session.execute(
                    text("SELECT id, step FROM leads WHERE channel = 'telegram' AND user_id = :u"),
                    {"u": key.user_id},
                )
            ).one()
        expected = {"touch": "hot-2", "question": "q_need", "typed": "q_about"}[script]
        if lead.step != expected:
            raise RuntimeError(f"template {script}: at {lead.step}, expected {expected}")
        ids.append(lead.id)
    touch, question, typed = ids
    return Templates(touch, question, typed, press_data)


_LEAD_COLUMNS = [c.name for c in Lead.__table__.columns if c.name not in ("id", "user_id")]


async def clone(
    db: Database,
    template: int,
    first_user: int,
    count: int,
    *,
    due: datetime | None = None,
    later: datetime | None = None,
    due_every: int = 1,
) -> None:
    """``count`` copies of lead ``template`` (users ``first_user``…), answers and touches too.

    The template's pending touches are copied with ``due_at = due`` for every ``due_every``-th
    lead and ``later`` for the others (both default to the template's own due time).
    """
    last_user = first_user + count - 1
    cols = ", ".join(_LEAD_COLUMNS)
    tcols = ", ".join(f"t.{c}" for c in _LEAD_COLUMNS)
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < :last)"
                f" INSERT INTO leads (user_id, {cols}) SELECT :first + n.i, {tcols}"
                " FROM n, leads t WHERE t.id = :template"
            ),
            {"last": count - 1, "first": first_user, "template": template},
        )
        mine = "l.channel = 'telegram' AND l.user_id BETWEEN :first AND :last_user"
        who = {"first": first_user, "last_user": last_user}
        # The template's answers and touches are read first and inserted as constants: a join
        # against a table being filled makes PostgreSQL's planner (no statistics yet) rescan
        # it for every lead, which is quadratic.
        answers = (
            await conn.execute(
                text(
                    "SELECT key, question, answer, created_at FROM answers WHERE lead_id = :t"
                ).columns(created_at=UTCDateTime()),
                {"t": template},
            )
        ).all()
        for key, question, answer, created_at in answers:
            await conn.execute(
                text(
                    "INSERT INTO answers (lead_id, key, question, answer, created_at)"
                    f" SELECT l.id, :key, :question, :answer, :created FROM leads l WHERE {mine}"
                ).bindparams(bindparam("created", type_=UTCDateTime())),
                {"key": key, "question": question, "answer": answer, "created": created_at, **who},
            )
        # The newest event too, so the lead does not look idle (win-back rules read events).
        last = (
            await conn.execute(
                text(
                    "SELECT type, step, payload, scenario_version, variant, created_at"
                    " FROM events WHERE lead_id = :t ORDER BY id DESC LIMIT 1"
                ).columns(created_at=UTCDateTime()),
                {"t": template},
            )
        ).first()
        if last is not None:
            await conn.execute(
                text(
                    "INSERT INTO events (lead_id, type, step, payload, scenario_version, variant,"
                    " created_at) SELECT l.id, :type, :step, :payload, :version, :variant,"
                    f" :created FROM leads l WHERE {mine}"
                ).bindparams(bindparam("created", type_=UTCDateTime())),
                {
                    "type": last.type,
                    "step": last.step,
                    "payload": last.payload
                    if isinstance(last.payload, str)
                    else json.dumps(last.payload),
                    "version": last.scenario_version,
                    "variant": last.variant,
                    "created": last.created_at,
                    **who,
                },
            )
        touches = (
            await conn.execute(
                text(
                    "SELECT due_at, step, token, kind, created_at FROM scheduled_touches"
                    " WHERE lead_id = :t AND state = 'pending'"
                ).columns(due_at=UTCDateTime(), created_at=UTCDateTime()),
                {"t": template},
            )
        ).all()
        for own_due, step, token, kind, created_at in touches:
            first = due or own_due
            due_at = "CASE WHEN (l.user_id - :first) % :every = 0 THEN :due ELSE :later END"
            await conn.execute(
                text(
                    "INSERT INTO scheduled_touches (lead_id, due_at, step, token, kind, state,"
                    f" attempts, created_at) SELECT l.id, {due_at}, :step, :token, :kind,"
                    f" 'pending', 0, :created FROM leads l WHERE {mine}"
                ).bindparams(
                    bindparam("due", type_=UTCDateTime()),
                    bindparam("later", type_=UTCDateTime()),
                    bindparam("created", type_=UTCDateTime()),
                ),
                {
                    "due": first,
                    "later": later or first,
                    "every": due_every,
                    "step": step,
                    "token": token,
                    "kind": kind,
                    "created": created_at,
                    **who,
                },
            )


async def drop_templates(db: Database, templates: Templates) -> None:
    async with db.engine.begin() as conn:
        for table in ("events", "answers", "scheduled_touches"):
            await conn.execute(
                text(f"DELETE FROM {table} WHERE lead_id IN (:a, :b, :c)"),
                {"a": templates.touch, "b": templates.question, "c": templates.typed},
            )
        await conn.execute(
            text("DELETE FROM leads WHERE id IN (:a, :b, :c)"),
            {"a": templates.touch, "b": templates.question, "c": templates.typed},
        )
        await conn.execute(text("ANALYZE"))


# --------------------------------------------------------------------------------------------
# The machine
# --------------------------------------------------------------------------------------------


def machine() -> dict[str, str]:
    cpu = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram = "unknown"
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal"):
                ram = f"{int(line.split()[1]) / 1024 / 1024:.1f} GiB"
    os_name = platform.platform()
    with contextlib.suppress(OSError):
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                os_name = f"{line.split('=', 1)[1].strip(chr(34))} (kernel {platform.release()})"
    import aiogram
    import sqlalchemy

    return {
        "CPU": cpu,
        "Cores": str(os.cpu_count()),
        "RAM": ram,
        "OS": os_name,
        "Python": platform.python_version(),
        "SQLite": sqlite3.sqlite_version,
        "aiogram": aiogram.__version__,
        "SQLAlchemy": sqlalchemy.__version__,
        "Load average (1/5/15 min) at start": " / ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


async def postgres_version(url: str) -> str:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            return str((await conn.execute(text("SHOW server_version"))).scalar_one())
    finally:
        await engine.dispose()


@contextlib.contextmanager
def timer() -> Iterator[list[float]]:
    """``with timer() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box = [0.0]
    start = time.perf_counter()
    try:
        yield box
    finally:
        box[0] = time.perf_counter() - start
