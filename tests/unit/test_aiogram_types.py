"""aiogram's types built on first use (``app.aiogram_types``) are aiogram's own types.

Two fresh interpreters import aiogram: one the way aiogram does it (every type built at
import), one the way ``leadbot run`` does. Each builds every type and method and prints its
JSON schema: they must be equal. The deferred one must have built nothing but ``Update`` at
import, or the ~100 MB are back, and must leave pydantic as it found it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys, warnings
from pydantic import BaseModel
rebuild = BaseModel.__dict__["model_rebuild"]
report = {}
if sys.argv[1] == "deferred":
    from app.aiogram_types import import_aiogram
    report["imported"] = import_aiogram()
    report["again"] = import_aiogram()
import aiogram.methods, aiogram.types
report["pydantic_restored"] = BaseModel.__dict__["model_rebuild"] is rebuild

def models(module):
    for name in module.__all__:
        value = getattr(module, name)
        if isinstance(value, type) and issubclass(value, BaseModel):
            yield name, value

def build_all():  # in a function: pydantic's first-use build looks a few frames up
    schemas = {}
    for module in (aiogram.types, aiogram.methods):
        for name, cls in models(module):
            try:
                schemas[name] = cls.model_json_schema()
            except Exception as exc:  # the same failure in both is the same class
                schemas[name] = type(exc).__name__ + ": " + str(exc).splitlines()[0]
    return schemas

report["built_at_import"] = sorted(n for n, c in models(aiogram.types) if c.__pydantic_complete__)
with warnings.catch_warnings():
    warnings.simplefilter("ignore")  # aiogram's Default(...) defaults are not JSON
    report["schemas"] = build_all()
print(json.dumps(report))
"""


def _probes() -> tuple[dict[str, Any], dict[str, Any]]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"} | {"PYTHONPATH": str(ROOT)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", PROBE, mode],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in ("eager", "deferred")
    ]
    reports = []
    for run in runs:
        out, err = run.communicate(timeout=300)
        assert run.returncode == 0, err
        reports.append(json.loads(out.strip().splitlines()[-1]))
    return reports[0], reports[1]


def test_deferred_types_are_aiograms_types_built_later() -> None:
    eager, deferred = _probes()
    assert len(eager["built_at_import"]) > 300  # aiogram's loop builds them all
    assert deferred["built_at_import"] == ["Update"]
    assert deferred["imported"] is True and deferred["again"] is False
    assert deferred["pydantic_restored"] is True
    assert len(eager["schemas"]) > 500
    assert deferred["schemas"] == eager["schemas"]
    failed = {n: s for n, s in deferred["schemas"].items() if isinstance(s, str)}
    # InputFile fields have no JSON schema in either; any other failure is a broken type.
    assert all("PydanticInvalidForJsonSchema" in s for s in failed.values()), failed


def test_the_suite_imports_aiogram_as_leadbot_run_does() -> None:
    """``tests/conftest.py`` defers the types, so every test meets aiogram as the bot does."""
    import aiogram.types

    assert aiogram.types.Update.__pydantic_complete__
    assert not aiogram.types.PassportElementErrorUnspecified.__pydantic_complete__
