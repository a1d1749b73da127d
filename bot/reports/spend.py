"""The advertising spend file: how much each source cost, for CPL and CPO.

CSV (``source,amount,currency``; comma or semicolon separated, as Excel saves it) or YAML
(``source: amount`` or ``source: {amount: ..., currency: ...}``). The currency defaults to
RUB, like offers in scenarios. ``(none)`` is the source of leads without a deep-link source.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CURRENCY = "RUB"


class SpendError(ValueError):
    """A spend file that cannot be read; the message names the file and the line."""


@dataclass(frozen=True, slots=True)
class Spend:
    amount: Decimal
    currency: str = DEFAULT_CURRENCY


def load_spend(path: Path) -> dict[str, Spend]:
    """Read a spend file; several lines for one source (and currency) add up."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise SpendError(f"{path}: cannot read the spend file ({exc.strerror})") from None
    if path.suffix.lower() in {".yaml", ".yml"}:
        entries = _yaml_entries(path, text)
    else:
        entries = _csv_entries(path, text)
    spend: dict[str, Spend] = {}
    for where, source, amount, currency in entries:
        previous = spend.get(source)
        if previous is not None and previous.currency != currency:
            raise SpendError(f"{where}: {source} is already spent in {previous.currency}")
        total = amount + (previous.amount if previous else Decimal(0))
        spend[source] = Spend(total, currency)
    return spend


Entry = tuple[str, str, Decimal, str]


def _csv_entries(path: Path, text: str) -> list[Entry]:
    first = text.splitlines()[0] if text.strip() else ""
    delimiter = ";" if first.count(";") > first.count(",") else ","
    reader = csv.DictReader(io.StringIO(text), delimiter=delimiter)
    fields = [f.strip().lower() for f in reader.fieldnames or []]
    if "source" not in fields or "amount" not in fields:
        raise SpendError(f"{path}:1: the header must name 'source' and 'amount' (and 'currency')")
    entries = []
    for row in reader:
        where = f"{path}:{reader.line_num}"
        clean = {str(k).strip().lower(): (v or "").strip() for k, v in row.items() if k}
        if not any(clean.values()):
            continue
        entries.append(
            _entry(where, clean.get("source"), clean.get("amount"), clean.get("currency"))
        )
    return entries


def _yaml_entries(path: Path, text: str) -> list[Entry]:
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = f":{mark.line + 1}" if mark is not None else ""
        raise SpendError(f"{path}{line}: not valid YAML") from None
    if not isinstance(data, dict):
        raise SpendError(f"{path}: expected 'source: amount' lines")
    entries = []
    for source, value in data.items():
        where = f"{path}: {source}"
        if isinstance(value, dict):
            entries.append(_entry(where, source, value.get("amount"), value.get("currency")))
        else:
            entries.append(_entry(where, source, value, None))
    return entries


def _entry(where: str, source: Any, amount: Any, currency: Any) -> Entry:
    name = str(source).strip() if source is not None else ""
    if not name:
        raise SpendError(f"{where}: the source is empty (use (none) for leads without one)")
    value = parse_amount(amount)
    if value is None:
        raise SpendError(f"{where}: {amount!r} is not an amount of money")
    code = str(currency).strip().upper() if currency else DEFAULT_CURRENCY
    if len(code) != 3 or not code.isalpha():
        raise SpendError(f"{where}: {currency!r} is not a currency code such as RUB")
    return where, name, value, code


def parse_amount(value: Any) -> Decimal | None:
    """``15000``, ``15 000,50`` or ``15000.50`` -> Decimal; ``None`` if it is not money."""
    if isinstance(value, bool) or value is None:
        return None
    text = str(value).replace("\u00a0", "").replace(" ", "").replace(",", ".")
    try:
        amount = Decimal(text)
    except InvalidOperation:
        return None
    return amount if amount.is_finite() and amount >= 0 else None
