"""The fake Bot API in a process of its own (``bench.fake_server``), driven over HTTP, and
the CPU time of both processes: the fake's work is not charged to the bot being measured."""

from __future__ import annotations

import asyncio
import copy
import os
import sys
import time
from pathlib import Path
from typing import Any

import aiohttp

from bench.seeding import ROOT

TOKEN = "123456:BENCH-token"


class FakeProc:
    """``bench.fake_server`` as a child process, and a client for its control routes."""

    def __init__(
        self,
        *,
        global_rate: float | None = None,
        per_chat_rate: float | None = None,
        per_chat_burst: int = 3,
        bots: int = 1,
    ) -> None:
        self.args = ["--per-chat-burst", str(per_chat_burst), "--bots", str(bots)]
        if global_rate is not None:
            self.args += ["--global-rate", str(global_rate)]
        if per_chat_rate is not None:
            self.args += ["--per-chat-rate", str(per_chat_rate)]
        self.proc: asyncio.subprocess.Process | None = None
        self.http: aiohttp.ClientSession | None = None
        self.base_url = ""
        self.base_urls: list[str] = []

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
        self.base_urls = [f"http://127.0.0.1:{int(port)}" for port in line.split()[1:]]
        self.base_url = self.base_urls[0]
        self.http = aiohttp.ClientSession()
        return self

    def bot(self, index: int) -> FakeProc:
        """The fake for another of the process's bots (``bots=``): same process and client,
        its own base URL, queue and calls. Leave the ``async with`` to the first one."""
        other = copy.copy(self)
        other.base_url = self.base_urls[index]
        return other

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

    async def clear(self) -> int:
        """Drop the updates still queued; how many there were."""
        assert self.http is not None
        async with self.http.post(f"{self.base_url}/_ctl/clear") as response:
            response.raise_for_status()
            dropped: int = (await response.json())["dropped"]
            return dropped

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
    return _stat_cpu(Path(f"/proc/{pid}/stat").read_text())[1]


def _stat_cpu(stat: str) -> tuple[str, float]:
    """A /proc/<pid>/stat line's command name and user + system CPU seconds."""
    name, rest = stat.split(" (", 1)[1].rsplit(")", 1)
    fields = rest.split()
    return name, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def server_cpu_seconds(command: str) -> float | None:
    """User + system CPU time of every process named ``command`` (a database server's
    backends and helpers), or None when none is visible (the server runs elsewhere)."""
    total, seen = 0.0, False
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            name, seconds = _stat_cpu((entry / "stat").read_text())
        except OSError:  # it exited meanwhile
            continue
        if name == command:
            total += seconds
            seen = True
    return total if seen else None


def own_cpu_seconds() -> float:
    return time.process_time()
