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
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        raise YamlProblem(line, f"not valid YAML: {exc.problem or exc}") from None
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
