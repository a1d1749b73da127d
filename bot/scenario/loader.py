"""Load and check a scenario file, reporting every mistake at once with file and line.

Checking happens in two passes: pydantic checks each value's form (``form_check``); then the
funnel's shape is checked (``shape_check``, ``graph_check``: references, reachability, loops
without a wait, assets, placeholders). A step that fails the first pass is stood in for by a
harmless placeholder so the second pass still runs and the operator sees all mistakes at once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from bot.scenario.form_check import validate_form
from bot.scenario.funnel import Funnel
from bot.scenario.shape_check import check_shape
from bot.scenario.translations import parity
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

    scenario, form_problems, broken = validate_form(data, at)
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
    problems += [at(path, message) for path, message in check_shape(funnel, data, broken)]
    if not problems:
        problems += _translate(funnel, default_timezone, at)
    if problems:
        raise ScenarioError(problems)
    return funnel


def _translate(
    funnel: Funnel, default_timezone: str, at: Callable[[DataPath, str], Problem]
) -> list[Problem]:
    """Load each sibling file of ``translations:`` into ``funnel``; its problems, if any.

    A sibling is checked as a scenario of its own (its problems name its file and lines),
    then against the main file: the same funnel in other words (``translations.parity``).
    """
    problems: list[Problem] = []
    texts = []
    for language, relative in funnel.scenario.translations.items():
        where: DataPath = ("translations", language)
        if language == funnel.scenario.language:
            problems.append(at(where, f"{language} is the language of this file itself"))
            continue
        sibling = funnel.asset(relative)
        try:
            other = load_funnel(sibling, default_timezone)
        except ScenarioError as exc:
            problems += exc.problems
            continue
        shown = _shown(sibling)
        if other.scenario.translations:
            problems.append(at(where, f"{relative} names translations itself: only the main may"))
        elif other.scenario.language != language:
            problems.append(
                at(where, f"{relative} is written in {other.scenario.language}, not {language}")
            )
        mismatches = parity(funnel.scenario, other.scenario)
        if mismatches:
            _, lines, _ = load_with_lines(sibling.read_text(encoding="utf-8"))
            for path, message in mismatches:
                problems.append(Problem(shown, line_of(lines, path), format_path(path), message))
        funnel.translations[language] = other
        texts.append(other.version)
    funnel.version = joined_version(funnel.version, texts)
    return problems


def joined_version(main: str, translations: list[str]) -> str:
    """The version of a funnel with translations: an edit of any of its files changes it."""
    if not translations:
        return main
    return hashlib.sha256(":".join([main, *translations]).encode()).hexdigest()[:12]


def plural(count: int, word: str) -> str:
    """``1 segment``, ``2 segments``: counts in messages read as a person writes them."""
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


def summary(funnel: Funnel) -> list[str]:
    """What ``leadbot validate`` prints for a good file: its size and the defaults it uses."""
    scenario = funnel.scenario
    chains = len(funnel.chains) - 1  # the interview is not one of the funnels
    lines = [
        f"ok ({plural(len(funnel.steps), 'step')}, {plural(len(scenario.segments), 'segment')},"
        f" {plural(chains, 'funnel')}, language {scenario.language})"
    ]
    for other in (funnel, *funnel.translations.values()):
        defaults = other.scenario.default_texts_in_use()
        if defaults:
            language = other.scenario.language
            lines.append(f"built-in texts in use ({language}): " + ", ".join(defaults))
    if funnel.translations:
        named = ", ".join(f"{k} ({v})" for k, v in scenario.translations.items())
        lines.append(f"also in: {named}; every step and text present in each")
    return lines


def _shown(file: Path) -> str:
    try:
        return str(file.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(file)


__all__ = [
    "Problem",
    "ScenarioError",
    "joined_version",
    "load_funnel",
    "parse_funnel",
    "plural",
    "summary",
]
