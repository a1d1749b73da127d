"""Live reload: an edited scenario file is switched to only when it is valid.

An invalid edit leaves the old scenario serving and the admins are told what is wrong, with
file and line, once per broken version. Leads mid-chain keep going: the engine moves a lead
whose step disappeared to the place the file names under ``moved``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from bot.managers.chores import Periodic
from bot.scenario.loader import ScenarioError, joined_version, load_funnel
from bot.service import ScenarioHolder

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ReloadResult:
    changed: bool
    ok: bool
    version: str
    problems: tuple[str, ...] = ()

    def describe(self) -> str:
        if not self.changed:
            return f"scenario unchanged (version {self.version})"
        if self.ok:
            return f"scenario reloaded: version {self.version}"
        shown = "\n".join(self.problems[:20])
        more = f"\n…and {len(self.problems) - 20} more" if len(self.problems) > 20 else ""
        return f"scenario NOT reloaded, the old one keeps serving:\n{shown}{more}"


Notify = Callable[[ReloadResult], Awaitable[None]]


class Reloader:
    """Watches one scenario file; swaps the holder's scenario when a valid edit appears."""

    def __init__(
        self, holder: ScenarioHolder, path: Path, timezone: str, notify: Notify | None = None
    ) -> None:
        self.holder = holder
        self.path = path
        self.timezone = timezone
        self.notify = notify
        self._rejected: str | None = None
        self._lock = asyncio.Lock()
        self._forced = False
        #: The file watch as a periodic chore: ``start``/``stop`` it with the bot.
        self.chore = Periodic("scenario reload", self._poll, every=2.0)

    def _digest(self) -> str | None:
        """The files' version as the loader computes it (the main file and its translations)."""
        try:
            main = hashlib.sha256(self.path.read_bytes()).hexdigest()[:12]
            others = [
                hashlib.sha256(t.path.read_bytes()).hexdigest()[:12]
                for t in self.holder.funnel.translations.values()
            ]
        except OSError:
            return None
        return joined_version(main, others)

    async def reload(self, force: bool = False) -> ReloadResult:
        """Check the file now (``force``: report even when it is a known broken version)."""
        async with self._lock:
            digest = self._digest()
            current = self.holder.funnel.version
            if digest is None:
                result = ReloadResult(True, False, current, (f"{self.path}: cannot read the file",))
            elif digest == current:
                self._rejected = None
                return ReloadResult(False, True, current)
            elif digest == self._rejected and not force:
                return ReloadResult(False, False, current)
            else:
                try:
                    funnel = await asyncio.to_thread(load_funnel, self.path, self.timezone)
                except ScenarioError as exc:
                    self._rejected = digest
                    result = ReloadResult(True, False, current, tuple(str(p) for p in exc.problems))
                else:
                    self.holder.swap(funnel)
                    self._rejected = None
                    result = ReloadResult(True, True, funnel.version)
            if result.ok:
                log.info("scenario %s reloaded: version %s", self.path, result.version)
            else:
                log.warning(
                    "scenario %s not reloaded: %d problem(s)", self.path, len(result.problems)
                )
        if self.notify is not None:
            try:
                await self.notify(result)
            except Exception:  # a failed notice must not stop the watcher
                log.exception("could not tell the admins about the reload")
        return result

    def trigger(self) -> None:
        """Ask the watcher to look now (SIGHUP), reporting even a known broken version."""
        self._forced = True
        self.chore.wake()

    async def _poll(self) -> ReloadResult:
        forced, self._forced = self._forced, False
        return await self.reload(force=forced)

    async def watch(self, interval: float = 2.0) -> None:
        """Poll the file (cheap: one hash of a small file) until cancelled."""
        self.chore.every = interval
        await self.chore.run_forever()
