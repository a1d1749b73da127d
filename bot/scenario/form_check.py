"""Pass one of checking a scenario: the form of every value, in the operator's words.

pydantic finds the mistakes; this module turns its locations into paths of the file and its
messages into one line a person understands, with a "did you mean …" where a name is close
to a known one. A step that fails here is stood in for by a harmless placeholder so pass two
(the funnel's shape) still runs and the operator sees every mistake in one go.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, Tag, ValidationError
from pydantic_core import ErrorDetails

from bot.scenario.funnel import INTERVIEW, raw_auto_id
from bot.scenario.model import KINDS, AnyStep, Scenario
from bot.scenario.suggest import did_you_mean
from bot.scenario.yaml_lines import Path as DataPath

#: Fields that name a step to jump to.
JUMP_FIELDS = frozenset(
    {"goto", "on_timeout", "on_skip", "on_click", "on_reply", "on_decline", "default"}
)

At = Callable[[DataPath, str], Any]


def validate_form(
    data: dict[str, Any], at: At
) -> tuple[Scenario | None, list[Any], dict[str, DataPath]]:
    """Validate with pydantic; stand in for broken steps and retry once for pass two."""
    try:
        return Scenario.model_validate(data), [], {}
    except ValidationError as exc:
        errors = exc.errors()
    problems = [at(data_path(data, e["loc"]), message(e)) for e in errors]
    broken_paths = {p for e in errors if (p := _step_path(e["loc"])) is not None}
    if not broken_paths:
        return None, problems, {}
    patched, broken_ids = _with_placeholders(data, broken_paths)
    try:
        return Scenario.model_validate(patched), problems, broken_ids
    except ValidationError:
        return None, problems, {}


def _step_path(loc: tuple[int | str, ...]) -> DataPath | None:
    if len(loc) >= 2 and loc[0] == INTERVIEW and isinstance(loc[1], int):
        return loc[:2]
    if len(loc) >= 3 and loc[0] == "funnels" and isinstance(loc[2], int):
        return loc[:3]
    return None


def _with_placeholders(
    data: dict[str, Any], paths: set[DataPath]
) -> tuple[dict[str, Any], dict[str, DataPath]]:
    """Replace broken steps by messages that keep their id and their outgoing jumps."""
    patched = {**data, "interview": list(data.get("interview") or [])}
    patched["funnels"] = {k: list(v) for k, v in (data.get("funnels") or {}).items()}
    broken: dict[str, DataPath] = {}
    for path in paths:
        chain = INTERVIEW if path[0] == INTERVIEW else str(path[1])
        index = int(path[-1])
        steps = patched[INTERVIEW] if chain == INTERVIEW else patched["funnels"][chain]
        raw = steps[index]
        step_id = raw_auto_id(raw, chain, index)
        broken[step_id] = path
        stand_in: dict[str, Any] = {"message": "-"}
        if isinstance(raw, dict) and isinstance(raw.get("id"), str):
            stand_in["id"] = raw["id"]
        targets = sorted({target for _, target in raw_jumps(raw, ())})[:10]
        stand_in["buttons"] = [{"text": "-", "goto": t} for t in targets]
        steps[index] = stand_in
    return patched, broken


def raw_jumps(raw: Any, path: DataPath) -> Iterator[tuple[DataPath, str]]:
    """Jumps written in a step that failed validation, with where they are written."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key in JUMP_FIELDS and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from raw_jumps(value, (*path, key))
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            yield from raw_jumps(item, (*path, index))


def data_path(data: Any, loc: tuple[int | str, ...]) -> DataPath:
    """Turn pydantic's location into a path in the file (dropping union tags)."""
    path: list[int | str] = []
    node = data
    skip_tag = False
    for part in loc:
        if skip_tag:
            skip_tag = False
            continue
        if part == "[key]":
            break
        if (isinstance(node, dict) and part in node) or (
            isinstance(node, list) and isinstance(part, int) and part < len(node)
        ):
            node = node[part]  # type: ignore[index]
        else:
            path.append(part)
            break
        path.append(part)
        in_steps = (len(path) == 2 and path[0] == INTERVIEW) or (
            len(path) == 3 and path[0] == "funnels"
        )
        skip_tag = in_steps and isinstance(part, int)
    return tuple(path)


def message(error: ErrorDetails) -> str:
    """One line a person understands for one pydantic error."""
    kind = error["type"]
    value = error.get("input")
    field = error["loc"][-1] if error["loc"] else ""
    if kind == "missing":
        return f"missing required field '{field}'"
    if kind == "extra_forbidden":
        known = fields_at(error["loc"][:-1])
        return f"unknown field '{field}'" + did_you_mean(str(field), known or ())
    if kind == "step_kind":
        return _step_kind_message(value)
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not allowed here (expected {_pattern_hint(error)})"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in {"literal_error", "enum"}:
        expected = (error.get("ctx") or {}).get("expected", "")
        names = [n.strip(" '\"") for n in str(expected).replace(" or ", ",").split(",")]
        return f"{value!r} is not one of {expected}" + did_you_mean(str(value), names)
    if kind in {"decimal_parsing", "int_parsing", "float_parsing", "decimal_type", "int_type"}:
        return f"{value!r} is not a number"
    if kind in {"bool_parsing", "bool_type"}:
        return f"{value!r} is not true or false"
    if kind in {"dict_type", "model_type"}:
        return f"expected a mapping of fields, got {value!r}"
    if kind == "list_type":
        return f"expected a list, got {value!r}"
    if kind == "string_type":
        return f"expected text, got {value!r}"
    if kind == "string_too_long":
        limit = (error.get("ctx") or {}).get("max_length")
        return f"text is longer than {limit} characters"
    if kind in {"string_too_short", "too_short"}:
        return "must not be empty"
    if kind == "too_long":
        return str(error["msg"])
    return f"{error['msg']} (got {value!r})" if value is not None else str(error["msg"])


def _step_kind_message(raw: Any) -> str:
    """Say which key is wrong instead of printing the whole step back."""
    head = "a step needs exactly one of: " + ", ".join(KINDS)
    if not isinstance(raw, dict):
        return f"{head} (got {raw!r})"
    kinds = [k for k in KINDS if k in raw]
    if len(kinds) > 1:
        return f"{head}; this step has " + " and ".join(f"'{k}'" for k in kinds)
    unknown = [str(k) for k in raw if k not in STEP_FIELDS]
    for key in unknown:
        hint = did_you_mean(key, KINDS)
        if hint:
            return f"{head}; unknown key '{key}'{hint}"
    if unknown:
        listed = ", ".join(f"'{k}'" for k in unknown)
        return f"{head}; unknown key{'s' if len(unknown) > 1 else ''} {listed}"
    return f"{head}; this step has none"


def _pattern_hint(error: ErrorDetails) -> str:
    pattern = str((error.get("ctx") or {}).get("pattern", ""))
    if "A-Za-z0-9_" in pattern:
        return "an id of letters, digits, '_' and '-', up to 40 characters"
    if "a-z0-9_" in pattern:
        return "a lower-case name of letters, digits and '_'"
    if "https?" in pattern:
        return "a link starting with http:// or https://"
    if "A-Z]{3}" in pattern:
        return "a three-letter currency code such as RUB"
    return f"text matching {pattern}"


def _names(model: type[BaseModel]) -> set[str]:
    return {info.alias or name for name, info in model.model_fields.items()}


STEP_FIELDS = frozenset(name for model in get_args(AnyStep) for name in _names(model))


def fields_at(loc: tuple[int | str, ...]) -> set[str] | None:
    """The field names of the model found at a pydantic location (for "did you mean")."""
    current: Any = Scenario
    parts = list(loc)
    while parts:
        current = _unwrap(current)
        part = parts.pop(0)
        if isinstance(current, dict):  # a tagged union: the part is the tag
            current = current.get(part)
        elif isinstance(current, type) and issubclass(current, BaseModel):
            info = current.model_fields.get(str(part)) or next(
                (f for f in current.model_fields.values() if f.alias == part), None
            )
            current = info.annotation if info else None
        elif get_origin(current) is list:
            current = get_args(current)[0]
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        else:
            return None
        if current is None:
            return None
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return _names(current)
    return None


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated and Optional; a tagged union becomes ``{tag: model}``."""
    while True:
        if get_origin(annotation) is Annotated:
            annotation = get_args(annotation)[0]
            continue
        if get_origin(annotation) in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            tagged = {
                meta.tag: get_args(m)[0]
                for m in members
                if get_origin(m) is Annotated
                for meta in get_args(m)[1:]
                if isinstance(meta, Tag)
            }
            if tagged:
                return tagged
            if len(members) == 1:
                annotation = members[0]
                continue
            models = [m for m in members if isinstance(m, type) and issubclass(m, BaseModel)]
            return models[0] if len(models) == 1 else annotation
        return annotation


__all__ = [
    "JUMP_FIELDS",
    "STEP_FIELDS",
    "data_path",
    "fields_at",
    "message",
    "raw_jumps",
    "validate_form",
]
