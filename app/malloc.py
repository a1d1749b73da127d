"""glibc's allocator, tuned for a long-running bot: at most two malloc arenas.

Why: every aiosqlite connection is a thread of its own (five stay in the pool, more come
and go under load), and glibc gives each thread that allocates an arena of its own, up to
eight per core. SQLite's page cache and the rows each connection reads live in those
arenas, and memory freed in one arena cannot serve another, so each connection thread
kept a few MB resident of its own. Two arenas are enough for a process whose Python code
runs on one thread (the connection threads only run SQLite).

Measured with benchmark 5 (``leadbot run``, SQLite, 10k leads, 20 /start and 100 touches,
RSS after the work): 217.7 MB with glibc's default, 214.1-214.4 MB with two arenas. A
``malloc_trim(0)`` after start-up was tried as well and made no difference there (start-up
leaves little freed memory that is not reused at once), so it is not done.

Linux with glibc only; elsewhere (musl, macOS, Windows) nothing is changed. A
``MALLOC_ARENA_MAX`` in the environment is glibc's own setting and is left to win.
"""

from __future__ import annotations

import ctypes
import os
import platform

M_ARENA_MAX = -8  # <malloc.h>
ARENAS = 2


def _glibc() -> ctypes.CDLL | None:
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        return ctypes.CDLL("libc.so.6")  # glibc's soname on every Linux architecture
    except OSError:
        return None


def limit_arenas(arenas: int = ARENAS) -> bool:
    """Cap glibc's malloc arenas (call before the first threads start); True when applied."""
    if "MALLOC_ARENA_MAX" in os.environ:
        return False
    libc = _glibc()
    mallopt = getattr(libc, "mallopt", None)
    if mallopt is None:
        return False
    return bool(mallopt(M_ARENA_MAX, arenas))
