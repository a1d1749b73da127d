"""A picture of the funnel: Graphviz DOT or Mermaid, optionally with each step's reach.

DOT is rendered to SVG or PNG by Graphviz's ``dot`` when it is installed; Mermaid text
renders on GitHub, in GitLab and in most Markdown editors as it is.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

from bot.scenario.funnel import INTERVIEW, Funnel, Placed
from bot.scenario.markup import strip_tags
from bot.scenario.model import (
    BranchStep,
    ClassifyStep,
    ConsentStep,
    ContactStep,
    EndStep,
    GotoStep,
    HandoffStep,
    LeadMagnetStep,
    MessageStep,
    OfferStep,
    QuestionStep,
    WaitStep,
)

SHAPES = {
    "message": ("box", "#ffffff"),
    "question": ("box", "#e8f0fe"),
    "contact": ("box", "#fff4e5"),
    "consent": ("box", "#fff4e5"),
    "classify": ("hexagon", "#f3e8fd"),
    "lead_magnet": ("box", "#e6f4ea"),
    "offer": ("box", "#fce8e6"),
    "wait": ("ellipse", "#f1f3f4"),
    "branch": ("diamond", "#ffffff"),
    "handoff": ("box", "#fde293"),
    "end": ("doublecircle", "#dadce0"),
    "goto": ("point", "#000000"),
}


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    label: str = ""
    style: str = "solid"  # solid: goes on at once or on a press; dashed: timers; dotted: replies


def _short(text: str, limit: int = 48) -> str:
    plain = " ".join(strip_tags(text).split())
    return plain if len(plain) <= limit else plain[: limit - 1] + "…"


def label(placed: Placed) -> str:
    step = placed.step
    if isinstance(step, MessageStep):
        return _short(step.message)
    if isinstance(step, QuestionStep):
        return "? " + _short(step.question)
    if isinstance(step, ContactStep):
        return f"contact ({step.ask})"
    if isinstance(step, ConsentStep):
        return "consent"
    if isinstance(step, ClassifyStep):
        return "classify"
    if isinstance(step, LeadMagnetStep):
        return f"lead magnet: {_short(step.title, 40)}"
    if isinstance(step, OfferStep):
        return f"{step.tier}: {_short(step.title, 36)} — {step.price} {step.currency}"
    if isinstance(step, WaitStep):
        return f"wait {step.wait}"
    if isinstance(step, BranchStep):
        return f"branch on {step.branch}"
    if isinstance(step, HandoffStep):
        return "hand-off to a manager"
    if isinstance(step, EndStep):
        return "end"
    assert isinstance(step, GotoStep)
    return ""


def edges(funnel: Funnel) -> Iterator[Edge]:
    for placed in funnel.steps.values():
        step = placed.step
        nxt = funnel.following(placed.id)
        for button in getattr(step, "buttons", None) or []:
            if button.goto:
                yield Edge(placed.id, button.goto, _short(button.text, 24))
        if isinstance(step, QuestionStep):
            for option in step.options:
                if option.goto:
                    yield Edge(placed.id, option.goto, _short(option.text, 24))
            if step.on_timeout:
                yield Edge(placed.id, step.on_timeout, f"no reply {step.timeout}", "dashed")
        if isinstance(step, WaitStep) and step.on_reply:
            yield Edge(placed.id, step.on_reply, "reply", "dotted")
        if isinstance(step, OfferStep) and step.on_click:
            yield Edge(placed.id, step.on_click, "clicked")
        if isinstance(step, ContactStep) and step.on_skip:
            yield Edge(placed.id, step.on_skip, "skipped")
        if isinstance(step, ConsentStep) and step.on_decline:
            yield Edge(placed.id, step.on_decline, "declined")
        if isinstance(step, BranchStep):
            for case in step.cases:
                test = case.equals or case.contains or ", ".join(case.in_ or [])
                yield Edge(placed.id, case.goto, _short(test, 24))
            if step.default:
                yield Edge(placed.id, step.default, "otherwise")
        if isinstance(step, GotoStep):
            yield Edge(placed.id, step.goto)
        ends_here = isinstance(step, EndStep | GotoStep | ClassifyStep) or (
            isinstance(step, BranchStep) and step.default is not None
        )
        if nxt and not ends_here:
            yield Edge(placed.id, nxt, style="dashed" if isinstance(step, WaitStep) else "solid")
        classifies = isinstance(step, ClassifyStep) or (placed.chain == INTERVIEW and not nxt)
        if classifies and not isinstance(step, EndStep | GotoStep):
            for seg_id, segment in funnel.scenario.segments.items():
                chain = funnel.chains.get(funnel.chain_of(seg_id))
                if chain:
                    yield Edge(placed.id, chain[0], _short(segment.title, 24))


def to_dot(funnel: Funnel, reach: dict[str, int] | None = None) -> str:
    def q(text: str) -> str:
        escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return '"' + escaped + '"'

    lines = [
        f"digraph {q(funnel.scenario.name)} {{",
        "  rankdir=TB; compound=true;",
        '  node [fontname="Helvetica" fontsize=10 style=filled];',
        '  edge [fontname="Helvetica" fontsize=9];',
    ]
    for chain, ids in funnel.chains.items():
        title = "interview" if chain == INTERVIEW else _chain_title(funnel, chain)
        lines.append(f"  subgraph {q('cluster_' + chain)} {{")
        lines.append(f'    label={q(title)}; style="rounded"; color="#9aa0a6";')
        for step_id in ids:
            placed = funnel.steps[step_id]
            shape, fill = SHAPES[placed.step.kind]
            text = f"{step_id}\n{label(placed)}" if label(placed) else step_id
            if reach is not None:
                text += f"\nreached: {reach.get(step_id, 0)}"
            lines.append(f"    {q(step_id)} [label={q(text)} shape={shape} fillcolor={q(fill)}];")
        lines.append("  }")
    for edge in edges(funnel):
        attrs = [f"style={edge.style}"]
        if edge.label:
            attrs.append(f"label={q(edge.label)}")
        lines.append(f"  {q(edge.source)} -> {q(edge.target)} [{' '.join(attrs)}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_mermaid(funnel: Funnel, reach: dict[str, int] | None = None) -> str:
    def node_id(step_id: str) -> str:
        return "s_" + re.sub(r"[^A-Za-z0-9_]", "_", step_id)

    def text(value: str) -> str:
        return value.replace('"', "'").replace("<", "‹").replace(">", "›")

    lines = ["flowchart TD"]
    for chain, ids in funnel.chains.items():
        title = "interview" if chain == INTERVIEW else _chain_title(funnel, chain)
        lines.append(f'  subgraph {node_id("chain_" + chain)}["{text(title)}"]')
        for step_id in ids:
            placed = funnel.steps[step_id]
            body = f"{step_id}<br/>{text(label(placed))}"
            if reach is not None:
                body += f"<br/>reached: {reach.get(step_id, 0)}"
            kind = placed.step.kind
            shape = (
                ('{{"', '"}}')
                if kind == "classify"
                else (
                    ('{"', '"}')
                    if kind == "branch"
                    else (('(["', '"])') if kind in {"wait", "end"} else ('["', '"]'))
                )
            )
            lines.append(f"    {node_id(step_id)}{shape[0]}{body}{shape[1]}")
        lines.append("  end")
    arrows = {"solid": "-->", "dashed": "-.->", "dotted": "-.->"}
    for edge in edges(funnel):
        arrow = arrows[edge.style]
        middle = f"|{text(edge.label)}|" if edge.label else ""
        lines.append(f"  {node_id(edge.source)} {arrow}{middle} {node_id(edge.target)}")
    return "\n".join(lines) + "\n"


def _chain_title(funnel: Funnel, chain: str) -> str:
    owners = [s.title for k, s in funnel.scenario.segments.items() if funnel.chain_of(k) == chain]
    return f"{chain}: {', '.join(owners)}" if owners else chain


class GraphvizMissing(RuntimeError):
    """SVG and PNG need Graphviz's ``dot``."""


def render(dot: str, fmt: str) -> bytes:
    binary = shutil.which("dot")
    if binary is None:
        raise GraphvizMissing(
            "Graphviz is not installed (apt install graphviz, brew install graphviz); "
            "use --format dot or mermaid, or install it for svg and png"
        )
    result = subprocess.run(
        [binary, f"-T{fmt}"], input=dot.encode(), capture_output=True, check=False, timeout=60
    )
    if result.returncode != 0:
        raise GraphvizMissing(f"dot failed: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout
