"""Telegram ``file_id``s of the scenario's files, so each file is uploaded only once.

Keyed by absolute path and modification time: an operator who replaces a PDF gets the new
one uploaded on its next send. Kept in memory; a restart costs one upload per file.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

FileKey = tuple[str, int]


class FileIds:
    def __init__(self) -> None:
        self._ids: dict[FileKey, str] = {}
        self._locks: dict[FileKey, asyncio.Lock] = {}

    @staticmethod
    def key(path: Path) -> FileKey:
        """Raises ``OSError`` when the file is missing."""
        resolved = path.resolve()
        return str(resolved), resolved.stat().st_mtime_ns

    def get(self, key: FileKey) -> str | None:
        return self._ids.get(key)

    def put(self, key: FileKey, file_id: str) -> None:
        self._ids[key] = file_id

    def forget(self, key: FileKey) -> None:
        self._ids.pop(key, None)

    def lock(self, key: FileKey) -> asyncio.Lock:
        """Held while uploading, so leads asking at once share one upload."""
        return self._locks.setdefault(key, asyncio.Lock())
