"""Load and check a scenario file, reporting every mistake at once with file and line.

Checking happens in two passes: pydantic checks each value's form; then the funnel's shape
is checked (references, reachability, loops without a wait, assets, placeholders). A step
that fails the first pass is stood in for by a harmless placeholder so the second pass still
runs and the operator sees all mistakes in one go.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from bot.scenario.funnel import INTERVIEW, Funnel, Placed, raw_auto_id
from bot.scenario.knowledge_check import check_knowledge, knowledge_targets
from bot.scenario.model import (
    BLOCKING_KINDS,
    BUILTIN_FIELDS,
    BranchStep,
    ContactStep,
    QuestionStep,
    Scenario,
    placeholders,
)
from bot.scenario.yaml_lines import Path as DataPath
from bot.scenario.yaml_lines import YamlProblem, format_path, line_of, load_with_lines


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}"
        return f"{where} {self.path}: {self.message}" if self.path else f"{where} {self.message}"


class ScenarioError(Exception):
    """All the mistakes found in one scenario file."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


def load_funnel(path: str | Path, default_timezone: str = "Europe/Moscow") -> Funnel:
    """Read, validate and index a scenario; raise ``ScenarioError`` listing every problem."""
    file = Path(path)
    shown = _shown(file)
    try:
        text = file.read_bytes().decode("utf-8")  # as stored: the version is its hash
    except FileNotFoundError:
        raise ScenarioError([Problem(shown, 1, "", "file not found")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(shown, 1, "", f"cannot read the file: {exc}")]) from None
    return parse_funnel(text, file, default_timezone, shown)


def parse_funnel(text: str, file: Path, default_timezone: str, shown: str | None = None) -> Funnel:
    shown = shown or _shown(file)
    try:
        data, lines, duplicates = load_with_lines(text)
    except YamlProblem as exc:
        raise ScenarioError([Problem(shown, exc.line, "", exc.message)]) from None
    problems = [Problem(shown, line, format_path(p), msg) for p, line, msg in duplicates]
    if not isinstance(data, dict):
        raise ScenarioError([Problem(shown, 1, "", "the file must be a mapping of sections")])

    def at(path: DataPath, message: str) -> Problem:
        return Problem(shown, line_of(lines, path), format_path(path), message)

    scenario, form_problems, broken = _validate_form(data, at)
    problems += form_problems
    if scenario is None:
        raise ScenarioError(problems)
    tz_name = scenario.timezone or default_timezone
    try:
        tz = ZoneInfo(tz_name)
    except (ZoneInfoNotFoundError, ValueError):
        problems.append(at(("timezone",), f"unknown time zone '{tz_name}'"))
        tz = ZoneInfo("UTC")
    funnel = Funnel.build(scenario, file, text, tz)
    problems += [at(path, message) for path, message in _check_shape(funnel, data, broken)]
    if problems:
        raise ScenarioError(problems)
    return funnel


def _shown(file: Path) -> str:
    try:
        return str(file.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(file)


# --- pass one: the form of every value ---------------------------------------------------


def _validate_form(
    data: dict[str, Any], at: Any
) -> tuple[Scenario | None, list[Problem], dict[str, DataPath]]:
    """Validate with pydantic; stand in for broken steps and retry once for pass two."""
    try:
        return Scenario.model_validate(data), [], {}
    except ValidationError as exc:
        errors = exc.errors()
    problems = [at(_data_path(data, e["loc"]), _message(e)) for e in errors]
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
        targets = sorted(set(_raw_targets(raw)))[:10]
        stand_in["buttons"] = [{"text": "-", "goto": t} for t in targets]
        steps[index] = stand_in
    return patched, broken


def _raw_targets(raw: Any) -> Iterator[str]:
    for _, target in _raw_jumps(raw, ()):
        yield target


def _raw_jumps(raw: Any, path: DataPath) -> Iterator[tuple[DataPath, str]]:
    """Jumps written in a step that failed validation, with where they are written."""
    if isinstance(raw, dict):
        for key, value in raw.items():
            if key in _JUMP_FIELDS and isinstance(value, str):
                yield (*path, key), value
            else:
                yield from _raw_jumps(value, (*path, key))
    elif isinstance(raw, list):
        for index, item in enumerate(raw):
            yield from _raw_jumps(item, (*path, index))


_JUMP_FIELDS = {"goto", "on_timeout", "on_skip", "on_click", "on_reply", "on_decline", "default"}


def _data_path(data: Any, loc: tuple[int | str, ...]) -> DataPath:
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


def _message(error: ErrorDetails) -> str:
    kind = error["type"]
    value = error.get("input")
    field = error["loc"][-1] if error["loc"] else ""
    if kind == "missing":
        return f"missing required field '{field}'"
    if kind == "extra_forbidden":
        return f"unknown field '{field}'"
    if kind == "string_pattern_mismatch":
        return f"{value!r} is not allowed here (expected {_pattern_hint(error)})"
    if kind == "value_error":
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in {"literal_error", "enum"}:
        expected = (error.get("ctx") or {}).get("expected", "")
        return f"{value!r} is not one of {expected}"
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


# --- pass two: the shape of the funnel ---------------------------------------------------


def _at_path(data: Any, path: DataPath) -> Any:
    for part in path:
        data = data[part]
    return data


def _check_shape(
    funnel: Funnel, data: dict[str, Any], broken: dict[str, DataPath]
) -> Iterator[tuple[DataPath, str]]:
    scenario = funnel.scenario
    known = set(funnel.steps)
    segments = scenario.segments
    yield from _duplicate_ids(funnel)
    answer_keys = {*funnel.answer_keys(), "phone", "email"}
    interview_keys = {
        _key_of(placed) for placed in funnel.steps.values() if placed.chain == INTERVIEW
    } - {None}
    choices = _closed_choices(funnel)

    for path in broken.values():
        for sub, target in _raw_jumps(_at_path(data, path), path):
            if target not in known:
                yield sub, f"unknown step '{target}'"
    for placed in funnel.steps.values():
        if placed.id in broken:
            continue
        base = _path_of(placed)
        for sub, target in _jumps(placed):
            if target not in known:
                yield (*base, *sub), f"unknown step '{target}'"
        yield from _check_step(funnel, placed, base, answer_keys)

    fallbacks = [k for k, s in segments.items() if s.fallback]
    if len(fallbacks) != 1:
        yield ("segments",), "exactly one segment must be marked 'fallback: true'"
    if sum(s.not_client for s in segments.values()) > 1:
        yield ("segments",), "only one segment can be marked 'not_client: true'"
    used_chains = {INTERVIEW}
    for seg_id, segment in segments.items():
        chain = segment.funnel or seg_id
        used_chains.add(chain)
        if chain not in funnel.chains:
            where = ("segments", seg_id, "funnel") if segment.funnel else ("segments", seg_id)
            yield where, f"no funnel '{chain}' for segment '{seg_id}'"
    for index, winback in enumerate(scenario.winback):
        path = ("winback", index)
        used_chains.add(winback.chain)
        if winback.chain not in funnel.chains:
            yield (*path, "chain"), f"no funnel '{winback.chain}'"
        for step in winback.stopped_at:
            if step not in known:
                yield (*path, "stopped_at"), f"unknown step '{step}'"
        if winback.segment is not None and winback.segment not in segments:
            yield (*path, "segment"), f"unknown segment '{winback.segment}'"
    if len({w.id for w in scenario.winback}) != len(scenario.winback):
        yield ("winback",), "win-back rule ids must be different"
    if scenario.after_purchase:
        used_chains.add(scenario.after_purchase)
        if scenario.after_purchase not in funnel.chains:
            yield ("after_purchase",), f"no funnel '{scenario.after_purchase}'"
    for index, rule in enumerate(scenario.classifier.rules):
        path = ("classifier", "rules", index)
        for name in (rule.segment, rule.cap, *rule.score):
            if name is not None and name not in segments:
                yield path, f"unknown segment '{name}'"
        for key, wanted in rule.when.items():
            if key not in interview_keys:
                yield (
                    (*path, "when", key),
                    (
                        f"no question of the interview stores an answer '{key}'"
                        " (rules run at classification)"
                    ),
                )
            else:
                values = wanted if isinstance(wanted, list) else [wanted]
                yield from _check_values(choices, key, values, (*path, "when", key))
    yield from _check_texts(scenario.texts.model_dump(), answer_keys)
    yield from check_knowledge(funnel, answer_keys)  # issue 13: the knowledge base
    for old, new in scenario.moved.items():
        if new not in known:
            yield ("moved", old), f"unknown step '{new}'"
    for chain in funnel.chains:
        if chain not in used_chains:
            yield ("funnels", chain), f"funnel '{chain}' is not used by any segment"
    yield from _unreachable(funnel, used_chains)
    yield from _loops_without_wait(funnel, set(broken))


def _path_of(placed: Placed) -> DataPath:
    if placed.chain == INTERVIEW:
        return (INTERVIEW, placed.index)
    return ("funnels", placed.chain, placed.index)


def _duplicate_ids(funnel: Funnel) -> Iterator[tuple[DataPath, str]]:
    for chain, steps in [(INTERVIEW, funnel.scenario.interview), *funnel.scenario.funnels.items()]:
        for index, step in enumerate(steps):
            step_id = step.id or f"{chain}-{index + 1}"
            owner = funnel.steps[step_id]
            if (owner.chain, owner.index) != (chain, index):
                path = (INTERVIEW, index) if chain == INTERVIEW else ("funnels", chain, index)
                yield (*path, "id"), f"step id '{step_id}' is already used at {owner.path}"


def _jumps(placed: Placed) -> Iterator[tuple[DataPath, str]]:
    """Every explicit jump of a step, with the sub-path where it is written."""
    step = placed.step
    for name in sorted(_JUMP_FIELDS):
        value = getattr(step, name, None)
        if isinstance(value, str):
            yield (name,), value
    for list_name in ("buttons", "options", "cases"):
        for index, item in enumerate(getattr(step, list_name, None) or []):
            if item.goto:
                yield (list_name, index, "goto"), item.goto


def _falls_through(placed: Placed) -> bool:
    step = placed.step
    if step.kind in {"end", "goto", "classify"}:
        return False
    return not (isinstance(step, BranchStep) and step.default is not None)


def _edges(funnel: Funnel, placed: Placed) -> Iterator[str]:
    for _, target in _jumps(placed):
        yield target
    if _falls_through(placed):
        nxt = funnel.following(placed.id)
        if nxt:
            yield nxt
    if placed.step.kind == "classify" or (placed.chain == INTERVIEW and _is_last(funnel, placed)):
        for seg_id in funnel.scenario.segments:
            chain = funnel.chain_of(seg_id)
            if funnel.chains.get(chain):
                yield funnel.chains[chain][0]


def _is_last(funnel: Funnel, placed: Placed) -> bool:
    return placed.index == len(funnel.chains[placed.chain]) - 1


def _unreachable(funnel: Funnel, used_chains: set[str]) -> Iterator[tuple[DataPath, str]]:
    seen: set[str] = set()
    todo = [funnel.start]
    entries = [funnel.scenario.after_purchase, *(r.chain for r in funnel.scenario.winback)]
    for chain in entries:
        if chain and funnel.chains.get(chain):
            todo.append(funnel.chains[chain][0])
    todo.extend(knowledge_targets(funnel))
    while todo:
        current = todo.pop()
        if current in seen or current not in funnel.steps:
            continue
        seen.add(current)
        todo.extend(_edges(funnel, funnel.steps[current]))
    for step_id, placed in funnel.steps.items():
        if step_id not in seen and placed.chain in used_chains:
            yield _path_of(placed), f"step '{step_id}' can never be reached"


def _loops_without_wait(funnel: Funnel, broken: set[str]) -> Iterator[tuple[DataPath, str]]:
    """A cycle of steps that run one after another with nothing to wait for would spin."""

    def immediate(placed: Placed) -> list[str]:
        if placed.step.kind in BLOCKING_KINDS:
            return []
        out = []
        if isinstance(placed.step, BranchStep):
            out += [c.goto for c in placed.step.cases]
        if placed.step.kind == "goto" or isinstance(placed.step, BranchStep):
            out += [t for sub, t in _jumps(placed) if sub[0] in {"goto", "default"}]
        if _falls_through(placed) and (nxt := funnel.following(placed.id)):
            out.append(nxt)
        return [t for t in out if t in funnel.steps]

    state: dict[str, int] = {}
    reported: set[frozenset[str]] = set()

    def visit(node: str, stack: list[str]) -> Iterator[tuple[DataPath, str]]:
        state[node] = 1
        stack.append(node)
        for nxt in immediate(funnel.steps[node]):
            if state.get(nxt) == 1:
                cycle = stack[stack.index(nxt) :]
                # A broken step stands in as a message; it may well have been the wait.
                if frozenset(cycle) not in reported and not broken.intersection(cycle):
                    reported.add(frozenset(cycle))
                    loop = " → ".join([*cycle, nxt])
                    yield _path_of(funnel.steps[nxt]), f"loop without a wait: {loop}"
            elif nxt not in state:
                yield from visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for step_id in funnel.steps:
        if step_id not in state:
            yield from visit(step_id, [])


def _key_of(placed: Placed) -> str | None:
    step = placed.step
    return (step.key or placed.id) if isinstance(step, QuestionStep) else None


def _closed_choices(funnel: Funnel) -> dict[str, set[str]]:
    """Answer key -> the only values it can take (questions answered by buttons only)."""
    table: dict[str, set[str]] = {}
    for placed in funnel.steps.values():
        step = placed.step
        if isinstance(step, QuestionStep) and step.options and not step.accepts_text:
            table[step.key or placed.id] = {o.stored.casefold() for o in step.options}
    return table


def _check_values(
    choices: dict[str, set[str]], key: str, values: list[str], path: DataPath
) -> Iterator[tuple[DataPath, str]]:
    allowed = choices.get(key)
    if allowed is None:
        return
    for value in values:
        if str(value).casefold() not in allowed:
            options = ", ".join(sorted(allowed))
            yield path, f"'{value}' is never an answer to '{key}' (its answers: {options})"


def _check_texts(texts: dict[str, str], answer_keys: set[str]) -> Iterator[tuple[DataPath, str]]:
    fields = BUILTIN_FIELDS | answer_keys | {"offer"}
    for name, text in texts.items():
        for field_name in placeholders(text):
            if field_name not in fields:
                yield ("texts", name), f"unknown field '{{{field_name}}}' in the text"


def _check_step(
    funnel: Funnel, placed: Placed, base: DataPath, answer_keys: set[str]
) -> Iterator[tuple[DataPath, str]]:
    step = placed.step
    fields = BUILTIN_FIELDS | answer_keys
    for list_name in ("buttons", "options", "variants"):
        for index, item in enumerate(getattr(step, list_name, None) or []):
            for field_name in placeholders(item.text):
                if field_name not in fields:
                    yield (
                        (*base, list_name, index, "text"),
                        (f"unknown field '{{{field_name}}}' in the text"),
                    )
    for name in (
        "message",
        "question",
        "contact",
        "lead_magnet",
        "offer",
        "handoff",
        "end",
        "classify",
        "thanks",
        "contact_prompt",
        "consent",
        "agree",
        "decline",
        "policy_text",
    ):
        text = getattr(step, name, None)
        if isinstance(text, str):
            for field_name in placeholders(text):
                if field_name not in fields:
                    yield (*base, name), f"unknown field '{{{field_name}}}' in the text"
    assets: list[tuple[DataPath, object]] = [
        ((name,), getattr(step, name, None)) for name in ("image", "document")
    ]
    for index, variant in enumerate(getattr(step, "variants", None) or []):
        assets.append((("variants", index, "image"), variant.image))
    for sub, asset in assets:
        remote = isinstance(asset, str) and asset.startswith(("http://", "https://"))
        if isinstance(asset, str) and not remote and not funnel.asset(asset).is_file():
            yield (*base, *sub), f"file '{asset}' not found next to the scenario"
    if isinstance(step, BranchStep):
        special = {"segment", "source", "has_contact"}
        if step.branch not in answer_keys | special:
            yield (*base, "branch"), f"no question stores an answer '{step.branch}'"
        choices = _closed_choices(funnel)
        if step.branch == "segment":
            choices = {"segment": {s.casefold() for s in funnel.scenario.segments}}
        elif step.branch == "has_contact":
            choices = {"has_contact": {"true", "false"}}
        for index, case in enumerate(step.cases):
            values = [case.equals] if case.equals is not None else case.in_ or []
            yield from _check_values(choices, step.branch, values, (*base, "cases", index))
    if isinstance(step, QuestionStep):
        if step.key is None and not re.fullmatch(r"[a-z][a-z0-9_]{0,31}", placed.id):
            yield (
                (*base,),
                (
                    f"the answer needs a name: add 'key:' (lower-case letters, digits, _), "
                    f"'{placed.id}' cannot be used in rules and texts"
                ),
            )
        if not step.options and step.free_text is False:
            yield (*base,), "a question without options must accept free text"
        for index, option in enumerate(step.options):
            for seg in option.score:
                if seg not in funnel.scenario.segments:
                    yield (*base, "options", index, "score"), f"unknown segment '{seg}'"
    if isinstance(step, ContactStep) and not step.optional and step.on_skip:
        yield (*base, "on_skip"), "'on_skip' needs 'optional: true'"


__all__ = ["Problem", "ScenarioError", "load_funnel", "parse_funnel"]
