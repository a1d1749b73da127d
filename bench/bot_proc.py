"""A bot under test in a process of its own: ``leadbot run`` or the bare aiogram bot.

Both start the way an operator starts them, settings in environment variables, in an empty
working directory (so no ``.env`` is read), and both talk to the fake Bot API process only.
The benchmarks read their CPU time and memory from /proc and stop them with SIGTERM, as a
service manager would. One bot polls the fake at a time: two pollers would take each other's
updates.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from pathlib import Path
from types import TracebackType
from typing import IO

from bench.fake_proc import TOKEN, FakeProc, process_cpu_seconds
from bench.seeding import ROOT
from bot.settings import Settings

#: ``leadbot run``: what the ``leadbot`` script runs (``cli.main``), started as a module so the
#: benchmark needs no installed script.
LEADBOT = (sys.executable, "-m", "cli", "run")
#: The baseline: ``bench/bare_bot.py``.
BARE = (sys.executable, "-m", "bench.bare_bot")


def environment(fake: FakeProc, **settings: str) -> dict[str, str]:
    """The benchmark's environment without any of leadbot's settings (no stray OPENAI_API_KEY,
    WEBHOOK_URL, LOG_LEVEL…), then the fake's URL and token and ``settings`` (NAME=value)."""
    ours = {name.upper() for name in Settings.model_fields}
    env = {k: v for k, v in os.environ.items() if k.upper() not in ours}
    env.update(BOT_TOKEN=TOKEN, TELEGRAM_API_URL=fake.base_url, PYTHONPATH=str(ROOT))
    env.update(settings)
    return env


def memory_mb(pid: int) -> dict[str, float]:
    """VmRSS, VmHWM etc. of a process, in MiB (/proc/<pid>/status)."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Vm"):
            name, value = line.split(":", 1)
            parts = value.split()
            if len(parts) == 2 and parts[1] == "kB":
                out[name] = int(parts[0]) / 1024
    return out


class BotProc:
    """``async with BotProc(fake, argv, env, log) as bot:`` the bot is polling the fake."""

    def __init__(
        self,
        fake: FakeProc,
        argv: tuple[str, ...],
        env: dict[str, str],
        log_path: Path,
        start_timeout: float = 120.0,
    ) -> None:
        self.fake, self.argv, self.env, self.log_path = fake, argv, env, log_path
        self.start_timeout = start_timeout
        self.proc: asyncio.subprocess.Process | None = None
        self._log: IO[bytes] | None = None
        self.exit_code: int | None = None
        self.left_over = 0  # updates still queued at the fake after the bot stopped

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def __aenter__(self) -> BotProc:
        since = (await self.fake.info())["calls"]
        self._log = self.log_path.open("wb")
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv,
            cwd=self.log_path.parent,
            env=self.env,
            stdout=self._log,
            stderr=self._log,
        )
        try:
            await self._until_polling(since)
        except BaseException:
            await self.stop()
            raise
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def _until_polling(self, since: int) -> None:
        """Both bots remove a webhook right before their first getUpdates."""
        assert self.proc is not None
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.returncode is not None:
                raise RuntimeError(
                    f"{self.argv[-1]} exited with {self.proc.returncode} before polling: "
                    + " | ".join(self.log_tail(5))
                )
            if any(c[0] == "deleteWebhook" for c in await self.fake.calls(since)):
                return
            await asyncio.sleep(0.1)
        raise RuntimeError(f"{self.argv[-1]} did not start polling in {self.start_timeout:.0f}s")

    async def stop(self) -> None:
        """SIGTERM (a graceful stop for both), then the updates it left at the fake dropped."""
        proc = self.proc
        if proc is not None and proc.returncode is None:
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), 60)
            except TimeoutError:
                proc.kill()
                await proc.wait()
        if proc is not None:
            self.exit_code = proc.returncode
            self.left_over = await self.fake.clear()
        if self._log is not None:
            self._log.close()
            self._log = None

    def cpu_seconds(self) -> float:
        return process_cpu_seconds(self.pid)

    def memory(self) -> dict[str, float]:
        return memory_mb(self.pid)

    def log_tail(self, lines: int = 15) -> list[str]:
        if not self.log_path.exists():
            return []
        return self.log_path.read_text(errors="replace").splitlines()[-lines:]

    def log_errors(self) -> list[str]:
        """ERROR and CRITICAL lines and tracebacks the bot logged."""
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return [
            line
            for line in text.splitlines()
            if " ERROR " in line or " CRITICAL " in line or line.startswith("Traceback")
        ]
