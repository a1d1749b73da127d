"""Pass two of checking a scenario: the funnel's shape (references, answers, texts, assets).

Every name an operator refers to (a step, a segment, a funnel, an answer, a placeholder) is
checked against the names the file defines, and a near miss gets "did you mean …".
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from bot.scenario.form_check import raw_jumps
from bot.scenario.funnel import INTERVIEW, Funnel, Placed
from bot.scenario.graph_check import (
    duplicate_ids,
    jumps,
    loops_without_wait,
    path_of,
    unreachable,
)
from bot.scenario.knowledge_check import check_knowledge
from bot.scenario.model import (
    BUILTIN_FIELDS,
    MAX_SUBSCRIPTION_STARS,
    STARS,
    BranchStep,
    ContactStep,
    OfferStep,
    QuestionStep,
    placeholders,
)
from bot.scenario.suggest import did_you_mean
from bot.scenario.yaml_lines import Path as DataPath


def _at_path(data: Any, path: DataPath) -> Any:
    for part in path:
        data = data[part]
    return data


def check_shape(
    funnel: Funnel, data: dict[str, Any], broken: dict[str, DataPath]
) -> Iterator[tuple[DataPath, str]]:
    scenario = funnel.scenario
    known = set(funnel.steps)
    segments = scenario.segments
    duplicates = list(duplicate_ids(funnel))
    yield from duplicates
    answer_keys = {*funnel.answer_keys(), "phone", "email"}
    interview_keys = {
        key
        for placed in funnel.steps.values()
        if placed.chain == INTERVIEW and (key := _key_of(placed)) is not None
    }
    choices = _closed_choices(funnel)

    for path in broken.values():
        for sub, target in raw_jumps(_at_path(data, path), path):
            if target not in known:
                yield sub, f"unknown step '{target}'" + did_you_mean(target, known)
    for placed in funnel.steps.values():
        if placed.id in broken:
            continue
        base = path_of(placed)
        for sub, target in jumps(placed):
            if target not in known:
                yield (*base, *sub), f"unknown step '{target}'" + did_you_mean(target, known)
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
            yield (
                where,
                f"no funnel '{chain}' for segment '{seg_id}'" + did_you_mean(chain, funnel.chains),
            )
    for index, winback in enumerate(scenario.winback):
        path = ("winback", index)
        used_chains.add(winback.chain)
        if winback.chain not in funnel.chains:
            yield (
                (*path, "chain"),
                f"no funnel '{winback.chain}'" + did_you_mean(winback.chain, funnel.chains),
            )
        for step in winback.stopped_at:
            if step not in known:
                yield (*path, "stopped_at"), f"unknown step '{step}'" + did_you_mean(step, known)
        if winback.segment is not None and winback.segment not in segments:
            yield (
                (*path, "segment"),
                f"unknown segment '{winback.segment}'" + did_you_mean(winback.segment, segments),
            )
    if len({w.id for w in scenario.winback}) != len(scenario.winback):
        yield ("winback",), "win-back rule ids must be different"
    if scenario.after_purchase:
        used_chains.add(scenario.after_purchase)
        if scenario.after_purchase not in funnel.chains:
            yield (
                ("after_purchase",),
                f"no funnel '{scenario.after_purchase}'"
                + did_you_mean(scenario.after_purchase, funnel.chains),
            )
    for index, rule in enumerate(scenario.classifier.rules):
        path = ("classifier", "rules", index)
        for name in (rule.segment, rule.cap, *rule.score):
            if name is not None and name not in segments:
                yield path, f"unknown segment '{name}'" + did_you_mean(name, segments)
        for key, wanted in rule.when.items():
            if key not in interview_keys:
                yield (
                    (*path, "when", key),
                    (
                        f"no question of the interview stores an answer '{key}'"
                        " (rules run at classification)" + did_you_mean(key, interview_keys)
                    ),
                )
            else:
                values = wanted if isinstance(wanted, list) else [wanted]
                yield from _check_values(choices, key, values, (*path, "when", key))
    yield from _check_texts(scenario.texts.model_dump(), answer_keys)
    yield from check_knowledge(funnel, answer_keys)
    for old, new in scenario.moved.items():
        if new not in known:
            yield ("moved", old), f"unknown step '{new}'" + did_you_mean(new, known)
    for chain in funnel.chains:
        if chain not in used_chains:
            yield ("funnels", chain), f"funnel '{chain}' is not used by any segment"
    yield from unreachable(funnel, used_chains)
    if not duplicates:  # with ambiguous ids, a loop report would only repeat the cause
        yield from loops_without_wait(funnel, set(broken))


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
    fields = BUILTIN_FIELDS | answer_keys | {"offer", "price"}
    for name, text in texts.items():
        for field_name in placeholders(text):
            if field_name not in fields:
                yield ("texts", name), _unknown_field(field_name, fields)


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
                        _unknown_field(field_name, fields),
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
                    yield (*base, name), _unknown_field(field_name, fields)
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
            yield (
                (*base, "branch"),
                f"no question stores an answer '{step.branch}'"
                + did_you_mean(step.branch, answer_keys | special),
            )
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
                    hint = did_you_mean(seg, funnel.scenario.segments)
                    yield (*base, "options", index, "score"), f"unknown segment '{seg}'{hint}"
    if isinstance(step, ContactStep) and not step.optional and step.on_skip:
        yield (*base, "on_skip"), "'on_skip' needs 'optional: true'"
    if isinstance(step, OfferStep) and step.subscription is not None:
        yield from _check_subscription(step, base)


def _check_subscription(step: OfferStep, base: DataPath) -> Iterator[tuple[DataPath, str]]:
    """What Telegram accepts for a Stars subscription (createInvoiceLink), said where the
    operator wrote it: Stars only, a whole price of 1 to 10000, sold by its own invoice."""
    if step.currency != STARS:
        yield (
            (*base, "currency"),
            f"a subscription is paid in Telegram Stars: write 'currency: XTR'"
            f" (not {step.currency})",
        )
    if step.price != step.price.to_integral() or not 1 <= step.price <= MAX_SUBSCRIPTION_STARS:
        yield (
            (*base, "price"),
            f"a subscription costs a whole number of Stars from 1 to {MAX_SUBSCRIPTION_STARS}"
            f" a period (not {step.price})",
        )
    if step.link is not None:
        yield (
            (*base, "link"),
            "a subscription is sold by its own Telegram invoice link; leave 'link' out",
        )


def _unknown_field(name: str, fields: set[str] | frozenset[str]) -> str:
    return f"unknown field '{{{name}}}' in the text" + did_you_mean(name, fields)


__all__ = ["check_shape"]
