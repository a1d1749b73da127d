"""Pass two, the graph: duplicate ids, steps nobody reaches, loops that would spin.

The walk goes over *places* (chain, index), not ids: a duplicated id would otherwise hide
one of its two steps, and every step falling through after the hidden one would be reported
as unreachable — dozens of errors for one mistake. Here a jump to a duplicated id reaches
both places, so the operator hears about the duplicate alone.
"""

from __future__ import annotations

from collections.abc import Iterator

from bot.scenario.form_check import JUMP_FIELDS
from bot.scenario.funnel import INTERVIEW, Funnel, Placed, auto_id
from bot.scenario.knowledge_check import knowledge_targets
from bot.scenario.model import BLOCKING_KINDS, BranchStep
from bot.scenario.yaml_lines import Path as DataPath


def path_of(placed: Placed) -> DataPath:
    if placed.chain == INTERVIEW:
        return (INTERVIEW, placed.index)
    return ("funnels", placed.chain, placed.index)


def places(funnel: Funnel) -> list[Placed]:
    """Every step where it is written, duplicates included."""
    chains = [(INTERVIEW, funnel.scenario.interview), *funnel.scenario.funnels.items()]
    return [
        Placed(auto_id(step.id, chain, index), step, chain, index)
        for chain, steps in chains
        for index, step in enumerate(steps)
    ]


def duplicate_ids(funnel: Funnel) -> Iterator[tuple[DataPath, str]]:
    for placed in places(funnel):
        owner = funnel.steps[placed.id]
        if (owner.chain, owner.index) != (placed.chain, placed.index):
            yield (
                (*path_of(placed), "id"),
                f"step id '{placed.id}' is already used at {owner.path}"
                " (jumps to it are ambiguous: give one of them another id)",
            )


def jumps(placed: Placed) -> Iterator[tuple[DataPath, str]]:
    """Every explicit jump of a step, with the sub-path where it is written."""
    step = placed.step
    for name in sorted(JUMP_FIELDS):
        value = getattr(step, name, None)
        if isinstance(value, str):
            yield (name,), value
    for list_name in ("buttons", "options", "cases"):
        for index, item in enumerate(getattr(step, list_name, None) or []):
            if item.goto:
                yield (list_name, index, "goto"), item.goto


def falls_through(placed: Placed) -> bool:
    step = placed.step
    if step.kind in {"end", "goto", "classify"}:
        return False
    return not (isinstance(step, BranchStep) and step.default is not None)


class _Graph:
    """Places indexed by id and by position."""

    def __init__(self, funnel: Funnel) -> None:
        self.funnel = funnel
        self.all = places(funnel)
        self.by_id: dict[str, list[Placed]] = {}
        self.by_place: dict[tuple[str, int], Placed] = {}
        for placed in self.all:
            self.by_id.setdefault(placed.id, []).append(placed)
            self.by_place[(placed.chain, placed.index)] = placed

    def following(self, placed: Placed) -> Placed | None:
        return self.by_place.get((placed.chain, placed.index + 1))

    def chain_start(self, chain: str | None) -> list[Placed]:
        first = self.by_place.get((chain, 0)) if chain else None
        return [first] if first else []

    def edges(self, placed: Placed) -> Iterator[Placed]:
        for _, target in jumps(placed):
            yield from self.by_id.get(target, [])
        nxt = self.following(placed) if falls_through(placed) else None
        if nxt:
            yield nxt
        last = self.following(placed) is None
        if placed.step.kind == "classify" or (placed.chain == INTERVIEW and last):
            for seg_id in self.funnel.scenario.segments:
                yield from self.chain_start(self.funnel.chain_of(seg_id))


def unreachable(funnel: Funnel, used_chains: set[str]) -> Iterator[tuple[DataPath, str]]:
    graph = _Graph(funnel)
    seen: set[tuple[str, int]] = set()
    todo = graph.chain_start(INTERVIEW)
    entries = [funnel.scenario.after_purchase, *(r.chain for r in funnel.scenario.winback)]
    for chain in entries:
        todo += graph.chain_start(chain)
    for target in knowledge_targets(funnel):  # a knowledge-base answer may lead there
        todo += graph.by_id.get(target, [])
    while todo:
        current = todo.pop()
        if (current.chain, current.index) in seen:
            continue
        seen.add((current.chain, current.index))
        todo.extend(graph.edges(current))
    for placed in graph.all:
        if (placed.chain, placed.index) not in seen and placed.chain in used_chains:
            yield path_of(placed), f"step '{placed.id}' can never be reached"


def loops_without_wait(funnel: Funnel, broken: set[str]) -> Iterator[tuple[DataPath, str]]:
    """A cycle of steps that run one after another with nothing to wait for would spin."""

    def immediate(placed: Placed) -> list[str]:
        if placed.step.kind in BLOCKING_KINDS:
            return []
        out = []
        if isinstance(placed.step, BranchStep):
            out += [c.goto for c in placed.step.cases]
        if placed.step.kind == "goto" or isinstance(placed.step, BranchStep):
            out += [t for sub, t in jumps(placed) if sub[0] in {"goto", "default"}]
        if falls_through(placed) and (nxt := funnel.following(placed.id)):
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
                    yield path_of(funnel.steps[nxt]), f"loop without a wait: {loop}"
            elif nxt not in state:
                yield from visit(nxt, stack)
        stack.pop()
        state[node] = 2

    for step_id in funnel.steps:
        if step_id not in state:
            yield from visit(step_id, [])


__all__ = [
    "duplicate_ids",
    "falls_through",
    "jumps",
    "loops_without_wait",
    "path_of",
    "places",
    "unreachable",
]
