"""Read YAML into plain data while remembering the line of every key and item.

Operators need ``file:line`` in every error; pydantic reports paths, so we keep a map from
path to line and translate. Duplicate keys are reported instead of silently overwritten.
"""

from __future__ import annotations

from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]


class YamlProblem(Exception):
    """The text is not YAML (or not a mapping at the top)."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def load_with_lines(text: str) -> tuple[Any, dict[Path, int], list[tuple[Path, int, str]]]:
    """Return the data, a ``path -> line`` map (1-based) and duplicate-key problems."""
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        raise explain(exc, text) from None
    if root is None:
        raise YamlProblem(1, "the file is empty")
    lines: dict[Path, int] = {(): root.start_mark.line + 1}
    duplicates: list[tuple[Path, int, str]] = []
    constructor = yaml.SafeLoader("")

    def build(node: Node, path: Path) -> Any:
        if isinstance(node, MappingNode):
            result: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = build(key_node, path)
                if isinstance(key, list | dict):
                    raise YamlProblem(key_node.start_mark.line + 1, "a key must be a plain value")
                child = (*path, key)
                if key in result:
                    duplicates.append(
                        (child, key_node.start_mark.line + 1, f"key '{key}' appears twice")
                    )
                lines[child] = key_node.start_mark.line + 1
                result[key] = build(value_node, child)
            return result
        if isinstance(node, SequenceNode):
            items = []
            for index, item in enumerate(node.value):
                lines[(*path, index)] = item.start_mark.line + 1
                items.append(build(item, (*path, index)))
            return items
        assert isinstance(node, ScalarNode)
        if node.tag.endswith((":int", ":float")) and ":" in node.value:
            return node.value  # YAML 1.1 reads 21:00 as the number 1260; operators mean a time
        return constructor.construct_object(node, deep=True)

    return build(root, ()), lines, duplicates


def explain(exc: yaml.MarkedYAMLError, text: str) -> YamlProblem:
    """PyYAML's parser jargon in a person's words, at the line and column that matter.

    Hand-written because PyYAML has no friendlier messages and no other maintained loader
    keeps the line of every key; the common slips of hand-edited files are few.
    """
    problem = str(exc.problem or "")
    context = str(exc.context or "")
    mark = exc.problem_mark or exc.context_mark
    opened = exc.context_mark
    line, column = (mark.line, mark.column) if mark else (0, 0)
    source = text.splitlines()
    here = source[line] if line < len(source) else ""
    words = problem
    if "cannot start any token" in problem and "\\t" in problem:
        words = "a tab character: YAML indents with spaces only; replace the tab with spaces"
    elif "cannot start any token" in problem:
        char = here[column : column + 1] or "?"
        words = f"a value cannot begin with '{char}' unless it is in quotes"
    elif "quoted scalar" in context and opened is not None:
        line, column = opened.line, opened.column
        quote = (source[line][column : column + 1] if line < len(source) else "") or "quote"
        words = f"the {quote} opened here is never closed"
    elif "flow sequence" in context or "flow mapping" in context:
        if opened is not None:
            line, column = opened.line, opened.column
        bracket = "[" if "sequence" in context else "{"
        closing = "]" if bracket == "[" else "}"
        words = f"the '{bracket}' opened here is never closed with '{closing}'"
        words += " (or a ',' is missing)"
    elif "mapping values are not allowed" in problem:
        if ": " in here[:column] or here[:column].lstrip().startswith("- "):
            words = (
                "a ': ' inside an unquoted value; put the value in quotes"
                " (or this line is indented deeper than it should be)"
            )
        else:
            column = len(here) - len(here.lstrip())
            words = (
                "this line is indented deeper than the line above it allows"
                " (or the value above needs quotes)"
            )
    elif "expected <block end>" in problem and "<scalar>" in problem:
        words = "unexpected text after a value; put the whole value in quotes"
    elif "expected <block end>" in problem:
        words = (
            "the indentation does not line up: this line must start in the same column"
            " as the lines of its level above it"
        )
    elif "could not find expected ':'" in problem and opened is not None:
        line, column = opened.line, opened.column
        words = "a line without 'key: value' inside a mapping (a missing ':'?)"
    elif "undefined alias" in problem:
        words = "a value starting with '*' must be in quotes"
    return YamlProblem(line + 1, f"not valid YAML (column {column + 1}): {words}")


def line_of(lines: dict[Path, int], path: Path) -> int:
    """The line of ``path``, or of its nearest ancestor that exists in the file."""
    while path not in lines:
        path = path[:-1]
    return lines[path]


def format_path(path: Path) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out
