"""``leadbot chat`` as a tester uses it: a subprocess fed through stdin, killed and resumed."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

from tests.conftest import MINI, ROOT


class Chat:
    """A running simulator whose output we can wait on."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.output = ""

    @classmethod
    async def start(
        cls, db: Path, *args: str, scenario: Path = MINI, name: str | None = "Ann"
    ) -> Chat:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
            "OPENAI_API_KEY": "",
            "PYTHONUNBUFFERED": "1",
        }
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "chat",
            "--scenario",
            str(scenario),
            *(("--name", name) if name is not None else ()),
            *args,
            cwd=ROOT,
            env=env,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        return cls(proc)

    async def expect(self, text: str, seconds: float = 20) -> None:
        assert self.proc.stdout is not None
        async with asyncio.timeout(seconds):
            while text not in self.output:
                chunk = await self.proc.stdout.read(4096)
                if not chunk:
                    raise AssertionError(f"simulator exited before {text!r}:\n{self.output}")
                self.output += chunk.decode()

    async def say(self, line: str, then: str) -> None:
        assert self.proc.stdin is not None
        self.output = ""
        self.proc.stdin.write(f"{line}\n".encode())
        await self.proc.stdin.drain()
        await self.expect(then)


def rows(db: Path, query: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(query).fetchall()


async def test_full_funnel_killed_midway_and_resumed(tmp_path: Path) -> None:
    db = tmp_path / "sim.db"
    chat = await Chat.start(db, "--source", "vk_ads_nov")
    await chat.expect("What do you need?")
    await chat.say("1", then="Your budget?")
    await chat.say("1", then="Tell us about your office.")
    chat.proc.kill()  # like closing the terminal mid-interview
    await chat.proc.wait()

    chat = await Chat.start(db)
    await chat.expect("Tell us about your office.")  # the same lead, where it was
    await chat.say("We want to buy a machine for 40 people", then="Leave your phone?")
    await chat.say("1", then="Machine X for Ann")
    await chat.say("/skip", then="Here is a discount.")
    await chat.say("/skip", then="Bye!")
    await chat.say("/skip", then="nothing is waiting")
    assert chat.proc.stdin is not None
    chat.proc.stdin.write(b"/quit\n")
    await chat.proc.stdin.drain()
    assert await asyncio.wait_for(chat.proc.wait(), 20) == 0

    leads = rows(db, "select source, segment, status, phone, stage from leads")
    assert leads == [("vk_ads_nov", "hot", "completed", "+79991234567", "hot")]
    answers = rows(db, "select key, answer from answers order by id")
    assert answers == [
        ("need", "buy"),
        ("budget", "big"),
        ("about", "We want to buy a machine for 40 people"),
    ]
    types = [t for (t,) in rows(db, "select type from events order by id")]
    for expected in [
        "started",
        "step_sent",
        "question_asked",
        "answer_given",
        "restarted",
        "contact_requested",
        "contact_shared",
        "classified",
        "offer_shown",
        "touch_scheduled",
        "finished",
    ]:
        assert expected in types, (expected, types)
    assert rows(db, "select count(*) from scheduled_touches where state = 'pending'") == [(0,)]


async def test_demo_scenario_plays_with_no_keys(tmp_path: Path, demo_path: Path) -> None:
    chat = await Chat.start(tmp_path / "demo.db", scenario=demo_path)
    await chat.expect("[1]")
    assert "Traceback" not in chat.output
    assert chat.proc.stdin is not None
    chat.proc.stdin.write(b"/quit\n")
    await chat.proc.stdin.drain()
    assert await asyncio.wait_for(chat.proc.wait(), 20) == 0


async def test_a_second_run_without_name_keeps_the_stored_name(tmp_path: Path) -> None:
    db = tmp_path / "names.db"
    chat = await Chat.start(db, "--user", "7")
    await chat.expect("What do you need?")
    await chat.say("/quit", then="bye")
    await chat.proc.wait()
    chat = await Chat.start(db, "--user", "7", name=None)  # as a tester runs it again
    await chat.expect("you>")
    await chat.say("/quit", then="bye")
    await chat.proc.wait()
    assert rows(db, "SELECT first_name FROM leads WHERE user_id = 7") == [("Ann",)]

    chat = await Chat.start(db, "--user", "8", name=None)  # a new lead still gets a name
    await chat.expect("What do you need?")
    await chat.say("/quit", then="bye")
    await chat.proc.wait()
    assert rows(db, "SELECT first_name FROM leads WHERE user_id = 8") == [("Tester",)]
