"""The scenario format as a JSON Schema, for editors' autocompletion (``leadbot schema``)."""

from __future__ import annotations

from bot.scenario.model import Scenario


def scenario_schema() -> dict[str, object]:
    schema = Scenario.model_json_schema(by_alias=True)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        **schema,
        "title": "leadbot scenario",
    }
