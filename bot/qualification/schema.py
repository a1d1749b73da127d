"""The model's answer format, built from the scenario so the segment is an enum of its ids.

An enum in the JSON schema constrains structured output at the server, and the same pydantic
model re-checks the answer here, so a segment the operator never wrote cannot get through.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Any, Literal, get_args

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, create_model

from bot.scenario.funnel import Funnel
from bot.vocabulary import Readiness

UNKNOWN = "unknown"
MAX_PAINS = 5

Signal = Literal["yes", "no", "unknown"]
ReadinessValue = Literal[
    "ready_to_buy", "comparing", "collecting_info", "wants_to_try", "not_a_fit"
]
assert set(get_args(ReadinessValue)) == {r.value for r in Readiness}


class Bant(BaseModel):
    """Budget, authority, need, timeline: what the answers say about each."""

    model_config = ConfigDict(extra="forbid")

    need: Signal = Field(description="Has a clear need our business solves.")
    budget: Signal = Field(description="Has or mentions money for it.")
    authority: Signal = Field(description="Decides or strongly influences the purchase.")
    timeline: Signal = Field(description="Means to act soon (weeks, not 'some day').")


def _first_pains(value: Any) -> Any:
    """A sixth pain is not worth losing the whole answer over: keep the first five."""
    return value[:MAX_PAINS] if isinstance(value, list) else value


class QualificationBase(BaseModel):
    """Fields common to every scenario; ``segment`` is added per scenario."""

    model_config = ConfigDict(extra="forbid")

    summary: str = Field(
        description="One paragraph for the sales manager: who this is, what they need, "
        "how ready they are."
    )
    pains: Annotated[list[str], BeforeValidator(_first_pains)] = Field(
        max_length=MAX_PAINS, description="Up to 5 short phrases: the prospect's problems."
    )
    bant: Bant
    reason: str = Field(description="One line: why this segment.")
    readiness: ReadinessValue = Field(description="How ready the prospect is to buy.")
    confidence: int = Field(ge=0, le=100, description="0-100: how sure you are of the segment.")


def answer_model(funnel: Funnel) -> type[QualificationBase]:
    """The answer model for this scenario (cached per scenario version)."""
    return _build(funnel.version, tuple(funnel.segment_order))


@lru_cache(maxsize=16)
def _build(version: str, segment_ids: tuple[str, ...]) -> type[QualificationBase]:
    choices = Literal.__getitem__((*segment_ids, UNKNOWN))
    description = f"One of the segment ids, or '{UNKNOWN}' when the answers do not tell."
    model: type[QualificationBase] = create_model(
        "LeadQualification",
        __base__=QualificationBase,
        __doc__="A sales lead's qualification from their interview answers.",
        segment=(choices, Field(description=description)),
    )
    return model
