"""Operator features in the engine: consent before contacts, A/B variants, moved steps."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from bot.engine.types import LeadState, Start, Text, TimerFired
from bot.scenario.funnel import Funnel
from bot.scenario.loader import parse_funnel
from tests.unit.test_engine import Walk


def variant_of(funnel: Funnel, tmp_path: Path, old: str, new: str) -> Funnel:
    text = funnel.path.read_text()
    assert old in text
    copy = tmp_path / "mini.yaml"
    copy.write_text(text.replace(old, new, 1))
    (tmp_path / "assets").mkdir(exist_ok=True)
    (tmp_path / "assets" / "guide.pdf").write_bytes(b"%PDF-1.4\n")
    return parse_funnel(copy.read_text(), copy, "Europe/Moscow")


CONSENT = """  - id: consent
    consent: We keep your phone to call you back.
    policy_url: https://shop.test/privacy
    agree: I agree
    decline: No, thanks
  - id: phone
"""


def with_consent(mini: Funnel, tmp_path: Path) -> Funnel:
    funnel = variant_of(mini, tmp_path, "  - id: phone\n", CONSENT)
    return variant_of(funnel, tmp_path, "scenario: 1\n", "scenario: 1\nrequire_consent: true\n")


def to_consent(walk: Walk) -> None:
    walk(Start(first_name="Ann"))
    walk(walk.button("Just looking"))
    walk(walk.button("Big"))
    walk(Text("office"))


def test_consent_agreed_then_contact_is_asked(mini: Funnel, tmp_path: Path) -> None:
    walk = Walk(with_consent(mini, tmp_path))
    to_consent(walk)
    asked = walk.out.messages[-1]
    assert asked.text == "We keep your phone to call you back."
    assert [b.url for row in asked.buttons for b in row][-1] == "https://shop.test/privacy"
    out = walk(walk.button("I agree"))
    assert out.state.consent == "given" and out.state.consent_version
    assert out.state.consent_at == walk.now
    assert walk.types()[0] == "consent_given"
    assert walk.texts() == ["Leave your phone?"]


def test_consent_declined_skips_every_contact_request(mini: Funnel, tmp_path: Path) -> None:
    walk = Walk(with_consent(mini, tmp_path))
    to_consent(walk)
    out = walk(walk.button("No, thanks"))
    assert out.state.consent == "declined"
    assert "contact_skipped" in walk.types()
    assert out.state.waiting == "classify"  # straight on, no phone asked
    walk.classify("info")
    # The lead magnet needs a contact: not asked, not given, the chain goes on.
    assert "lead_magnet_declined" in walk.types()
    assert not any(m.contact_button for m in walk.out.messages)
    assert walk.state.waiting == "timer"


def test_variants_are_stable_and_follow_weights(mini: Funnel, tmp_path: Path) -> None:
    funnel = variant_of(
        mini,
        tmp_path,
        '    message: "Hello, {first_name}!"\n',
        '    message: "Hello, {first_name}!"\n    variants:\n'
        '      - {id: a, weight: 70, text: "Hi A"}\n      - {id: b, weight: 30, text: "Hi B"}\n',
    )
    seen: Counter[str] = Counter()
    for seed in range(1, 2001):
        walk = Walk(funnel)
        walk.state = LeadState(seed=seed)
        walk(Start(first_name="Ann"))
        variant = walk.state.variants["hello"]
        assert walk.texts()[0] == f"Hi {variant.upper()}"
        assert walk.out.logs[1].payload == {"kind": "message", "variant": variant}
        again = walk(Start(first_name="Ann"))  # the lead keeps its variant
        assert again.state.variants["hello"] == variant
        seen[variant] += 1
    assert 0.65 < seen["a"] / 2000 < 0.75


def test_lead_at_a_removed_step_moves_where_the_operator_says(mini: Funnel, tmp_path: Path) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))
    walk(walk.button("Big"))
    token = walk.schedule().token  # waiting at q_about with a time-out
    edited = variant_of(
        mini,
        tmp_path,
        "  - id: q_about\n    question: Tell us about your office.\n    key: about\n"
        "    timeout: 1h\n    on_timeout: classify\n",
        "",
    )
    edited = variant_of(edited, tmp_path, "scenario: 1\n", "scenario: 1\nmoved: {q_about: phone}\n")
    walk.engine = type(walk.engine)(edited)
    out = walk(TimerFired(token))
    assert walk.types()[0] == "step_moved"
    assert out.logs[0].payload["old"] == "q_about" and out.logs[0].payload["new"] == "phone"
    assert walk.texts() == ["Leave your phone?"]


def test_start_after_a_removed_step_runs_the_new_place(mini: Funnel, tmp_path: Path) -> None:
    walk = Walk(mini)
    walk(Start(first_name="Ann"))
    walk(walk.button("Buy now"))  # now at q_budget
    text = mini.path.read_text()
    for old, new in [
        (
            "  - id: q_budget\n    question: Your budget?\n    key: budget\n    options:\n"
            "      - {text: Big, value: big, score: {hot: 2}}\n      - {text: Tiny, value: tiny}\n",
            "",
        ),
        ("    - when: {budget: tiny}\n", "    - when: {need: look}\n"),
        ("        - {equals: big, goto: info_big}", "        - {equals: buy, goto: info_big}"),
        ("      branch: budget", "      branch: need"),
    ]:
        assert old in text
        text = text.replace(old, new)
    (tmp_path / "mini.yaml").write_text(text)
    (tmp_path / "assets").mkdir()
    (tmp_path / "assets" / "guide.pdf").write_bytes(b"%PDF-1.4\n")
    walk.engine = type(walk.engine)(parse_funnel(text, tmp_path / "mini.yaml", "Europe/Moscow"))
    out = walk(Start(first_name="Ann"))
    assert walk.types()[0] == "step_moved" and out.logs[0].payload["new"] == "hello"
    assert walk.texts()[-1] == "What do you need?"  # the lead is not left hanging


def test_start_while_consent_is_open_asks_again(mini: Funnel, tmp_path: Path) -> None:
    walk = Walk(with_consent(mini, tmp_path))
    to_consent(walk)
    walk(Start(first_name="Ann"))
    assert walk.texts()[-1] == "We keep your phone to call you back."
