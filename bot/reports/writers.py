"""Row writers for exports: CSV that Excel opens as UTF-8, and streamed XLSX.

Cells written by prospects (names, answers, messages) must never become spreadsheet
formulas, so CSV cells that start like one get a leading apostrophe and XLSX strings are
typed as text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
PLAIN_NUMBER = re.compile(r"^[+-]?[\d\s().-]+$")  # a phone or a signed number, not a formula


CSV_TIME = "%Y-%m-%d %H:%M:%S"


class RowWriter(Protocol):
    def write(self, row: Sequence[Any]) -> None:
        """One row of Python values; the writer makes them cells."""

    def write_each(self, rows: Iterable[Sequence[Any]]) -> None:
        """``write`` for each row."""

    def close(self) -> None: ...


class CsvText:
    """Cells as CSV text by the csv module's own quoting, without a line end, so an export
    can render the cells many rows share once (a lead's, an event kind's) and join them."""

    def __init__(self) -> None:
        self._buffer = io.StringIO()
        self._writer = csv.writer(self._buffer, lineterminator="")

    def __call__(self, cells: Sequence[Any]) -> str:
        self._buffer.seek(0)
        self._buffer.truncate()
        self._writer.writerow(cells)
        return self._buffer.getvalue()


def defuse(text: str) -> str:
    """Keep a spreadsheet from evaluating ``text`` as a formula (CSV injection)."""
    if text.startswith(FORMULA_START) and not PLAIN_NUMBER.match(text):
        return "'" + text
    return text


def defuse_cell(value: Any) -> Any:
    """``defuse`` for a CSV cell that may also be a number or None."""
    return defuse(value) if isinstance(value, str) else value


class CsvRows:
    """UTF-8 with a BOM (so Excel detects the encoding), comma separated, header first."""

    def __init__(self, path: Path) -> None:
        self._file = path.open("w", encoding="utf-8-sig", newline="")
        self._csv = csv.writer(self._file)

    def write(self, row: Sequence[Any]) -> None:
        self._csv.writerow([self._cell(v) for v in row])

    def write_each(self, rows: Iterable[Sequence[Any]]) -> None:
        self._csv.writerows([self._cell(v) for v in row] for row in rows)

    def write_lines(self, lines: Sequence[str]) -> None:
        """Finished CSV lines, each ending as ``csv`` ends a row (CR LF): written as one
        piece, so the file's encoder runs once per batch, not once per row."""
        self._file.write("".join(lines))

    @staticmethod
    def _cell(value: Any) -> Any:
        if value is None:
            return ""
        if isinstance(value, datetime):
            return value.strftime(CSV_TIME)
        return defuse(value) if isinstance(value, str) else value

    def close(self) -> None:
        self._file.close()


MIN_WIDTH = 10
TIME_WIDTH = 20  # 2026-03-01 10:00:00 without ####
WIDE = {"summary": 60, "description": 50, "payload": 40, "other_answers": 50}
MAX_WIDTH = 60


class XlsxRows:
    """openpyxl's write-only workbook: rows go straight to a temporary file, not memory.

    The first row is the header: it stays in view (frozen), carries Excel's filter
    buttons, and sets the column widths (the rows stream, so widths follow the header's
    words, with room for dates and short values).
    """

    def __init__(self, path: Path, sheet: str) -> None:
        # Lazy on purpose: openpyxl is heavy and only XLSX exports need it.
        from openpyxl import Workbook
        from openpyxl.cell import WriteOnlyCell
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE
        from openpyxl.utils import get_column_letter

        self._path = path
        self._book = Workbook(write_only=True)
        self._sheet = self._book.create_sheet(sheet)
        self._cell_type = WriteOnlyCell
        self._illegal = ILLEGAL_CHARACTERS_RE
        self._letter = get_column_letter
        self._rows = 0
        self._columns = 0

    def write(self, row: Sequence[Any]) -> None:
        if self._rows == 0:
            self._columns = len(row)
            for index, title in enumerate(row, 1):
                name = str(title)
                least = TIME_WIDTH if name.endswith("_at") else WIDE.get(name, MIN_WIDTH)
                width = min(max(len(name) + 4, least), MAX_WIDTH)
                self._sheet.column_dimensions[self._letter(index)].width = width
            self._sheet.freeze_panes = "A2"
        self._sheet.append([self._cell(v) for v in row])
        self._rows += 1

    def write_each(self, rows: Iterable[Sequence[Any]]) -> None:
        for row in rows:
            self.write(row)

    def _cell(self, value: Any) -> Any:
        if not isinstance(value, str):
            return value
        cell = self._cell_type(self._sheet, value=self._illegal.sub("", value))
        cell.data_type = "s"  # text, even when it starts with "="
        return cell

    def close(self) -> None:
        if self._rows and self._columns:
            self._sheet.auto_filter.ref = f"A1:{self._letter(self._columns)}{self._rows}"
        self._book.save(self._path)
        self._book.close()


def open_writer(path: Path, fmt: str, sheet: str) -> RowWriter:
    return XlsxRows(path, sheet) if fmt == "xlsx" else CsvRows(path)
