"""An offer whose send is in doubt is not counted as shown: the report shows it apart."""

from __future__ import annotations

from bot.reports.metrics import Cohort, metrics
from storage.read_models import EventGroup, LeadGroup


def test_offers_in_doubt_are_counted_apart_from_offers_delivered() -> None:
    cohort = Cohort(
        leads=[LeadGroup("ads", "hot", "hot", "active", "hot-2", 3)],
        events=[
            EventGroup("ads", "hot", "offer_shown", None, 3),
            EventGroup("ads", "hot", "offer_in_doubt", None, 1),
            EventGroup("ads", "hot", "delivery_unknown", None, 2),
        ],
        tiers=[],
        steps=[],
        orders=[],
    )
    m = metrics(cohort, frozenset())
    assert (m.offers_shown, m.offers_in_doubt, m.sends_in_doubt) == (2, 1, 2)
