"""One masking of personal identifiers for logs and prompts; dates and numbers stay readable."""

from __future__ import annotations

import pytest

from bot.redact import redact

MASKED = [
    ("мой телефон 8 912 345 67 89", "мой телефон [phone]"),
    ("+7 (912) 345-67-89, звоните после 18", "[phone], звоните после 18"),
    ("89123456789", "[phone]"),
    ("вася@почта.рф", "[email]"),
    ("ann@example.com", "[email]"),
    ("карта 4111 1111 1111 1111", "карта [card]"),
    ("пишите @anna_secret", "пишите [handle]"),
]
KEPT = [
    "at 1733150000 and 1733150000123",  # Unix timestamps (seconds, milliseconds)
    "2026-12-02 14:38:13 INFO aiogram.event",
    "02.12.2026 в 10:30",
    "бюджет 150000 руб, заказ 12345678",
    "lead 42: update 987654 handled",
]


@pytest.mark.parametrize(("text", "expected"), MASKED)
def test_identifiers_are_masked(text: str, expected: str) -> None:
    assert redact(text) == expected


@pytest.mark.parametrize("text", KEPT)
def test_dates_timestamps_and_amounts_are_kept(text: str) -> None:
    assert redact(text) == text
