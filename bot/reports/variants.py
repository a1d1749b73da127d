"""A/B variants: for each step with variants, reach and conversion to the next step.

"Converted" means the lead did something after seeing the variant: pressed a button, clicked
the offer, answered, shared a contact, wrote back or paid. A two-proportion z-test says how
far apart the first two variants are, so an operator does not declare a winner on a handful
of leads.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.scenario.funnel import Funnel
from bot.scenario.model import MessageStep, OfferStep
from storage.criteria import LeadFilter
from storage.db import Database
from storage.read_models import variant_counts


@dataclass(frozen=True)
class VariantRow:
    step: str
    variant: str
    weight: int
    reached: int
    converted: int

    @property
    def rate(self) -> float:
        return self.converted / self.reached if self.reached else 0.0


@dataclass(frozen=True)
class StepVariants:
    step: str
    rows: list[VariantRow]
    p_value: float | None  # first two variants; None when there is not enough data


def two_proportion_p(a: VariantRow, b: VariantRow) -> float | None:
    if min(a.reached, b.reached) < 5:
        return None
    pooled = (a.converted + b.converted) / (a.reached + b.reached)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / a.reached + 1 / b.reached))
    if spread == 0:
        return None
    z = abs(a.rate - b.rate) / spread
    return math.erfc(z / math.sqrt(2))


async def variant_report(db: Database, funnel: Funnel, f: LeadFilter) -> list[StepVariants]:
    out: list[StepVariants] = []
    async with db.session() as session:
        for step_id, placed in funnel.steps.items():
            step = placed.step
            if not isinstance(step, MessageStep | OfferStep) or not step.variants:
                continue
            counts = await variant_counts(session, step_id, f)
            rows = []
            for variant in step.variants:
                reached, converted = counts.get(variant.id, (0, 0))
                rows.append(VariantRow(step_id, variant.id, variant.weight, reached, converted))
            p_value = two_proportion_p(rows[0], rows[1]) if len(rows) >= 2 else None
            out.append(StepVariants(step_id, rows, p_value))
    return out
