"""The service layer: every face (Telegram, simulator, CLI, tests) drives the engine here.

``ports`` (what faces implement and get back), ``holder`` (the scenario in force), ``core``
(one input: load, engine, persist, deliver), ``touches`` (the touch queue), ``funnel``
(``FunnelService``: managers' hand-overs and erasure on top). The names below are the
package's public face; import them from ``bot.service``.
"""

from bot.service.funnel import FunnelService
from bot.service.holder import ScenarioHolder
from bot.service.ports import (
    BusinessReach,
    Channel,
    ChannelFor,
    Clock,
    Due,
    EventSink,
    Handover,
    LeadKey,
    Notifier,
    RecipientGone,
    Result,
    SendInDoubt,
    SendRejected,
    TouchLost,
    utcnow,
)

__all__ = [
    "BusinessReach",
    "Channel",
    "ChannelFor",
    "Clock",
    "Due",
    "EventSink",
    "FunnelService",
    "Handover",
    "LeadKey",
    "Notifier",
    "RecipientGone",
    "Result",
    "ScenarioHolder",
    "SendInDoubt",
    "SendRejected",
    "TouchLost",
    "utcnow",
]
