"""`leadbot report --variants`: reach and conversion per A/B variant, from real journeys."""

from __future__ import annotations

import shutil
from pathlib import Path

from bot.qualification import OfflineQualifier
from bot.reports.variants import VariantRow, two_proportion_p, variant_report
from bot.scenario.loader import load_funnel
from bot.service import FunnelService, LeadKey, ScenarioHolder
from fakes.channels import Collect
from storage.criteria import LeadFilter
from storage.db import Database
from tests.conftest import MINI, Clock
from tests.integration.test_instances import seed


async def test_variant_reach_and_conversion(db: Database, tmp_path: Path, clock: Clock) -> None:
    text = MINI.read_text().replace(
        "      on_click: hot_call\n",
        "      on_click: hot_call\n      variants:\n"
        "        - {id: short, weight: 50, text: Machine X}\n"
        "        - {id: long, weight: 50, text: Machine X saves an hour a day}\n",
    )
    (tmp_path / "mini.yaml").write_text(text)
    shutil.copytree(MINI.parent / "assets", tmp_path / "assets")
    funnel = load_funnel(tmp_path / "mini.yaml")
    service = FunnelService(db, ScenarioHolder(funnel), OfflineQualifier(), clock)
    await seed(service, 30)
    async with db.session() as session:
        from sqlalchemy import select

        from storage.models import Lead

        leads = (await session.execute(select(Lead.user_id, Lead.state))).all()
    clicked = 0
    for user_id, state in leads:
        if state["variants"]["hot_offer"] == "long":
            chat = Collect()
            chat.sent = []
            seq = next(k for k, v in state["live"].items() if v == "hot_offer")
            from bot.engine.types import Press

            await service.handle(LeadKey("telegram", user_id), Press(f"b:{seq}:0"), chat)
            clicked += 1
    [step] = await variant_report(db, funnel, LeadFilter())
    rows = {r.variant: r for r in step.rows}
    assert rows["short"].reached + rows["long"].reached == 30
    assert rows["long"].converted == rows["long"].reached == clicked
    assert rows["short"].converted == 0
    assert step.p_value is not None and step.p_value < 0.05


def test_too_few_leads_give_no_verdict() -> None:
    a, b = VariantRow("s", "a", 1, 3, 1), VariantRow("s", "b", 1, 40, 10)
    assert two_proportion_p(a, b) is None
