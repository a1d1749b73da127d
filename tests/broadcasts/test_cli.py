"""``leadbot audience | broadcast | winback | report --broadcast`` as an operator runs them:
subprocesses (``python -m bot``) on a prepared SQLite file; the one-line mistakes run
in-process (typer's runner), as each subprocess costs seconds of start-up.

The file holds the reports' known journeys (C, D, E reachable on Telegram; A and B with a
manager; F in the terminal) and two more leads quiet at the hot offer since March.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bot.qualification import OfflineQualifier
from bot.scenario.funnel import Funnel
from bot.service import FunnelService, ScenarioHolder
from cli import app
from fakes.channels import Collect
from storage.db import Database
from tests.broadcasts.conftest import seed_hot
from tests.conftest import MINI, ROOT, Clock
from tests.reports.conftest import drive


@dataclass
class Run:
    code: int
    out: str
    err: str


Leadbot = Callable[..., Coroutine[Any, Any, Run]]


@dataclass
class Prepared:
    run: Leadbot
    db_path: Path
    tmp: Path
    env: dict[str, str]


async def prepare(path: Path, mini: Funnel) -> dict[str, str]:
    """The database file, and the environment a command needs to read it."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    await db.upgrade()
    clock = Clock()
    await drive(db, mini, clock)
    service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier(), clock)
    await seed_hot(service, [701, 702])
    await db.close()
    return {"DATABASE_URL": f"sqlite+aiosqlite:///{path}", "SCENARIO": str(MINI),
            "TIMEZONE": "Europe/Moscow", "OPENAI_API_KEY": ""}  # fmt: skip


@pytest.fixture
async def cli(tmp_path: Path, mini: Funnel) -> AsyncIterator[Prepared]:
    path = tmp_path / "leads.db"
    env = {**os.environ, **await prepare(path, mini)}

    async def run(*args: str) -> Run:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "bot", *args, cwd=ROOT, env=env,
            stdin=asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        out, err = await asyncio.wait_for(proc.communicate(), 60)
        assert proc.returncode is not None
        return Run(proc.returncode, out.decode(), err.decode())

    yield Prepared(run, path, tmp_path, env)


@pytest.fixture
def inproc(tmp_path: Path, mini: Funnel) -> Iterator[Callable[..., Run]]:
    """The same commands in this process (a sync test: the commands run their own loop)."""
    env = asyncio.run(prepare(tmp_path / "leads.db", mini))
    runner = CliRunner()

    def run(*args: str) -> Run:
        result = runner.invoke(app, list(args), env=env)
        return Run(result.exit_code, result.stdout, result.stderr)

    yield run


def rows(out: str) -> list[list[str]]:
    return [[c.strip() for c in line.split("│")[1:-1]] for line in out.splitlines()
            if line.startswith("│")]  # fmt: skip


async def deliver(path: Path, mini: Funnel) -> int:
    """What the running bot does with the queue (here into a list, not Telegram)."""
    db = Database(f"sqlite+aiosqlite:///{path}")
    try:
        service = FunnelService(db, ScenarioHolder(mini), OfflineQualifier())
        total = 0
        while ran := await service.fire_due(lambda lead: Collect(), worker="bot"):
            total += ran
        return total
    finally:
        await db.close()


async def test_audience_counts_and_samples(cli: Prepared) -> None:
    everyone = await cli.run("audience")
    assert everyone.code == 0, everyone.err
    assert "5 leads match: channel=telegram" in everyone.out
    header = next(line for line in everyone.out.splitlines() if "last activity" in line)
    for column in ("id", "name", "source", "segment", "stage", "status", "step"):
        assert column in header
    names = [r[1] for r in rows(everyone.out)]
    assert sorted(names) == ["Ann", "Ann", "Cleo", "Dan", "Eve"]  # two Anns at the hot offer
    assert "Boris" not in everyone.out  # with a manager

    stuck = await cli.run("audience", "--stopped-at", "q_budget", "--stopped-at", "info_end",
                          "--source", "tg_post", "--joined-before", "2026-03-02")  # fmt: skip
    assert stuck.code == 0, stuck.err
    assert "2 leads match" in stuck.out
    dan = next(r for r in rows(stuck.out) if r[1] == "Dan")
    assert dan[2:7] == ["tg_post", "(none)", "cold", "active", "q_budget"]
    assert dan[7].startswith("2026-03-02 12:30")
    assert {r[1] for r in rows(stuck.out)} == {"Dan", "Eve"}


def test_audience_in_detail_and_its_mistakes(inproc: Callable[..., Run]) -> None:
    sample = inproc("audience", "--idle-days", "30", "--limit", "2")
    assert "5 leads match" in sample.out and "Sample (2 newest of 5)" in sample.out
    none = inproc("audience", "--segment", "nope")
    assert none.code == 0 and "0 leads match" in none.out and "nobody would get" in none.out
    terminal = inproc("audience", "--channel", "terminal")
    assert "1 lead matches: channel=terminal" in terminal.out and "Fay" in terminal.out
    for args, error in [
        (("--stopped-at", "nowhere"), "stopped-at: no step 'nowhere' in the scenario"),
        (("--status", "blocked"), "status: a mailing never reaches blocked leads"),
        (("--segment", "vip"), "segment: no segment 'vip'"),
        (("--joined-after", "soon"), "'soon' is not a date"),
        (("--variant", "hot_offer"), "should be STEP=VARIANT"),
        (("--channel", "vk"), "channel: 'vk' is not one of telegram, business, terminal"),
    ]:
        bad = inproc("audience", *args)
        assert bad.code == 2 and error in bad.err and len(bad.err.splitlines()) == 1, bad.err


async def test_send_dry_run_then_for_real(cli: Prepared) -> None:
    dry = await cli.run("broadcast", "send", "--text", "Hi {first_name}, <b>news</b>!",
                        "--segment", "info", "--dry-run")  # fmt: skip
    assert dry.code == 0, dry.err
    assert "2 leads match: segment=info" in dry.out
    assert "Hi Eve, news!" in dry.out  # rendered for the newest lead, HTML shown as text
    assert "dry run: nothing was sent (2 lead(s) would get it)" in dry.out

    message = cli.tmp / "spring.yaml"
    message.write_text(
        "message: Spring is here, {first_name}\n"
        "document: assets/guide.pdf\n"
        "buttons:\n  - {text: Call me, goto: hot_call}\n  - {text: Shop, url: https://shop.test}\n",
        encoding="utf-8",
    )
    sent = await cli.run("broadcast", "send", "--message", str(message), "--segment", "info",
                         "--yes")  # fmt: skip
    assert sent.code == 0, sent.err
    assert "[document: assets/guide.pdf]" in sent.out and "[Call me]" in sent.out
    assert "broadcast #1 «spring " in sent.out and "2 message(s) queued" in sent.out

    listed = await cli.run("broadcast", "list")
    assert [(r[0], r[2], r[4], r[6]) for r in rows(listed.out)] == [
        ("1", "message", "sending", "2")
    ]


def test_send_mistakes_and_scheduling(inproc: Callable[..., Run], tmp_path: Path) -> None:
    asked = inproc("broadcast", "send", "--text", "hi", "--segment", "info")
    assert asked.code == 2 and "add --yes" in asked.err
    bad_button = tmp_path / "bad.yaml"
    bad_button.write_text("message: hi\nbuttons: [{text: Go, goto: nowhere}]\n", encoding="utf-8")
    for args, code, error in [
        (("--message", str(bad_button)), 2, "button 'Go' goes to unknown step 'nowhere'"),
        (("--message", str(tmp_path / "missing.yaml")), 2, "cannot read"),
        (("--chain", "nope2"), 2, "no chain 'nope2' in the scenario"),
        (("--text", "hi", "--chain", "comeback"), 2, "give exactly one of"),
        (("--text", "hi", "--segment", "nope"), 1, "no leads match: nothing to send"),
        (("--text", "hi", "--at", "2020-01-01 10:00"), 2, "at: 2020-01-01 10:00 is in the past"),
    ]:
        bad = inproc("broadcast", "send", *args, "--yes")
        assert bad.code == code and error in bad.err, (args, bad.err)
        assert len(bad.err.strip().splitlines()) == 1, bad.err
    assert "no broadcasts yet" in inproc("broadcast", "list").out

    later = inproc("broadcast", "send", "--chain", "comeback", "--stopped-at", "hot-2",
                   "--at", "2099-12-01 10:00", "--name", "comeback", "-y")  # fmt: skip
    assert later.code == 0, later.err
    assert "Still thinking, Ann? Here is 10% off." in later.out
    assert "broadcast #1 «comeback»: 2 message(s) queued, starting 2099-12-01 10:00" in later.out
    assert [(r[1], r[4]) for r in rows(inproc("broadcast", "list").out)] == [
        ("comeback", "scheduled")
    ]
    for action, code, says in [
        ("pause", 0, "paused: #1 «comeback» paused (starts 2099-12-01 10:00): 0 sent · 0 failed"),
        ("pause", 1, "broadcast 1 is paused: cannot pause it"),
        ("resume", 0, "resumed: #1 «comeback» scheduled (starts 2099-12-01 10:00)"),
        ("resume", 1, "broadcast 1 is active: cannot resume it"),
        ("cancel", 0, "cancelled: #1 «comeback» cancelled: 0 sent"),
        ("resume", 1, "broadcast 1 is cancelled: cannot resume it"),
    ]:
        result = inproc("broadcast", action, "1")
        assert result.code == code and says in (result.out + result.err), result
    missing = inproc("broadcast", "status", "9")
    assert missing.code == 1 and "no broadcast 9" in missing.err


async def test_status_and_follow_while_the_bot_sends(cli: Prepared, mini: Funnel) -> None:
    sent = await cli.run("broadcast", "send", "--chain", "comeback", "--name", "back", "--yes")
    assert sent.code == 0, sent.err
    status = await cli.run("broadcast", "status", "1")
    assert status.code == 0, status.err
    assert "#1 «back» (chain comeback)" in status.out and "sending" in status.out
    assert rows(status.out)[-1] == ["5", "0", "0", "0", "0", "0"]

    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "broadcast", "status", "1", "--follow", "--every", "0.2",
        cwd=ROOT, env=cli.env, stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    # The watcher has printed its first poll (however slowly it started); now the bot delivers.
    first = await asyncio.wait_for(proc.stdout.readline(), 60)
    assert await deliver(cli.db_path, mini) >= 5  # with the chains' own waits, due since March
    rest, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode is not None
    watched = Run(proc.returncode, first.decode() + rest.decode(), err.decode())
    assert watched.code == 0, watched.err
    lines = [line for line in watched.out.splitlines() if line.startswith("#1")]
    assert lines[0].endswith("5 queued") and lines[-1].startswith("#1 «back» finished: 5 sent")
    assert rows(watched.out)[-1] == ["0", "5", "0", "0", "0", "0"]


async def test_winback_once_from_the_command_line(cli: Prepared) -> None:
    first = await cli.run("winback")
    assert first.code == 0, first.err
    assert first.out.strip() == "offer_quiet: 2 lead(s) queued for chain comeback"
    again = await cli.run("winback")
    assert again.out.strip() == "offer_quiet: 0 lead(s) queued for chain comeback"


async def test_report_of_a_broadcast(cli: Prepared, mini: Funnel) -> None:
    sent = await cli.run("broadcast", "send", "--text", "News", "--segment", "info", "--yes")
    assert sent.code == 0, sent.err
    assert await deliver(cli.db_path, mini) >= 2
    table = await cli.run("report", "--broadcast", "1")
    assert table.code == 0, table.err
    assert "Broadcast #1" in table.out and "3d 0h after each lead got it" in table.out
    assert ["Reached", "2"] in rows(table.out)
    data = json.loads((await cli.run("report", "--broadcast", "1", "--format", "json")).out)
    assert data["reached"] == 2 and data["queued"] == 2 and data["window_hours"] == 72
    assert data["reactions"]["leads"] == 0 and data["conversions"]["leads"] == 0
    assert data["broadcast"]["audience"] == {"segment": "info", "channel": "telegram"}


def test_report_forms_and_mistakes(inproc: Callable[..., Run]) -> None:
    assert inproc("broadcast", "send", "--text", "News", "--segment", "info", "--yes").code == 0
    lines = inproc("report", "--broadcast", "1", "--format", "csv", "--window", "12h").out
    assert {"queued,2", "reached,0", "window_hours,12.0"} <= set(lines.splitlines())
    for args, error in [(("--broadcast", "9"), "no broadcast 9"),
                        (("--broadcast", "1", "--window", "soon"), "--window:")]:  # fmt: skip
        bad = inproc("report", *args)
        assert bad.code in (1, 2) and error in bad.err, bad.err


def test_a_paid_broadcast_from_the_command_line(inproc: Callable[..., Run]) -> None:
    text = ("--text", "Flash sale, {first_name}")
    dry = inproc("broadcast", "send", *text, "--paid", "--stars-cap", "0.3", "--dry-run")
    assert dry.code == 0, dry.err
    assert "Paid broadcast (Telegram's allow_paid_broadcast): up to 1000 messages" in dry.out
    assert "5 lead(s) × 1 message(s) = 5 messages × 0.1 ⭐ = 0.5 Stars" in dry.out
    assert "Stars cap 0.3: it covers 3 of 5 leads (0.3 Stars)" in dry.out
    assert "Telegram charges every message sent with this flag" in dry.out
    for args, error in [
        (("--stars-cap", "5"), "rate and stars-cap go with a paid broadcast (paid)"),
        (("--paid",), "a paid broadcast needs stars-cap"),
        (("--paid", "--stars-cap", "5", "--rate", "2000"), "rate: 1 to 1000 messages a second"),
        (("--paid", "--stars-cap", "nothing"), "stars-cap: 'nothing' is not a number of Stars"),
    ]:
        bad = inproc("broadcast", "send", *text, *args, "--yes")
        assert bad.code == 2 and error in bad.err and len(bad.err.splitlines()) == 1, bad.err

    sent = inproc("broadcast", "send", *text, "--paid", "--stars-cap", "25", "--rate", "500",
                  "--name", "flash", "--yes")  # fmt: skip
    assert sent.code == 0 and "broadcast #1 «flash»: 5 message(s) queued" in sent.out, sent.err
    listed = rows(inproc("broadcast", "list").out)
    assert (listed[0][1], listed[0][11]) == ("flash", "0 of 25")
    status = inproc("broadcast", "status", "1")
    assert "500 messages/s, Stars 0 of 25" in status.out
    resumed = inproc("broadcast", "resume", "1", "--stars-cap", "30")
    assert resumed.code == 1 and "broadcast 1 is active: cannot resume it" in resumed.err
    inproc("broadcast", "pause", "1")
    raised = inproc("broadcast", "resume", "1", "--stars-cap", "30")
    assert raised.code == 0 and "0 of 30 Stars" in raised.out, raised.err
