"""Reports on the lead log for managers, shared by ``leadbot`` and the Telegram admin commands.

Plain functions returning dataclasses; the SQL behind them is in ``storage/read_models.py``
(which leads: ``storage/criteria.py``):

- ``leads``: ``list_leads`` (the lead table) and ``lead_card`` (one lead and its timeline)
- ``report``: ``build_report`` (metrics per source, the funnel by step) and its JSON/CSV forms
- ``steps``: ``dropped_at`` (who stopped at a step); ``metrics``: ``stats`` (today/7d/30d)
- ``export``: leads or events to CSV/XLSX, streamed

Nothing is imported here, so ``leadbot`` starts without loading the reports' dependencies.
"""
