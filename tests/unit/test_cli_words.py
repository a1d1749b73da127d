"""The command line's small promises: bare flags in --help, one-line refusals that name
what would work, and broadcast texts checked like scenario texts."""

from __future__ import annotations

import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import typer

from bot.broadcasts.service import BroadcastError, check_content
from bot.scenario.funnel import Funnel
from bot.settings import load_settings
from cli.common import lead_filter
from cli.reports import FileFormat, format_of
from tests.conftest import MINI, ROOT

NOW = datetime(2026, 3, 10, 12, tzinfo=UTC)


def test_help_shows_flags_without_a_bool_placeholder() -> None:
    for args in (["--help"], ["broadcast", "send", "--help"], ["export", "--help"]):
        result = subprocess.run(
            [sys.executable, "-m", "cli", *args], cwd=ROOT, capture_output=True, text=True,
            env={"PATH": "", "COLUMNS": "100", "SCENARIO": str(MINI)}, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert "--help" in result.stdout and "<bool>" not in result.stdout


def test_export_refuses_a_suffix_it_cannot_write(capsys: pytest.CaptureFixture[str]) -> None:
    assert format_of(Path("leads.XLSX")) is FileFormat.xlsx
    assert format_of(Path("leads")) is FileFormat.csv
    with pytest.raises(typer.Exit):
        format_of(Path("x.pdf"))
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "pdf" in err and ".csv or .xlsx" in err


def test_an_unknown_segment_names_the_valid_ones(
    mini: Funnel, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SCENARIO", str(MINI))
    settings = load_settings()
    assert lead_filter(settings, NOW, segment="hot", funnel=mini).segment == "hot"
    assert lead_filter(settings, NOW, segment="(none)", funnel=mini).segment == "(none)"
    with pytest.raises(typer.Exit):
        lead_filter(settings, NOW, segment="nosuch", funnel=mini)
    err = capsys.readouterr().err
    assert "'nosuch'" in err and all(name in err for name in mini.scenario.segments)


def test_a_broadcast_text_with_an_unknown_field_is_refused(mini: Funnel) -> None:
    check_content(mini, {"message": "Hi {first_name}, about {need}"}, None)
    with pytest.raises(BroadcastError, match=r"unknown field '\{nosuch\}'"):
        check_content(mini, {"message": "Hi {nosuch}"}, None)
    with pytest.raises(BroadcastError, match=r"'\{nope\}'"):
        check_content(
            mini, {"message": "Hi", "buttons": [{"text": "{nope}", "goto": "hot-2"}]}, None
        )
