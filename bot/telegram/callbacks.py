"""Callback data of the buttons the Telegram edge owns, as aiogram ``CallbackData`` factories.

The funnel's own buttons carry the engine's ids (``bot.engine``, aiogram-free) and are not
here. These are the staff's buttons: Take / Return to bot under a hot-lead alert, and Send /
Cancel under a broadcast preview. aiogram packs them as ``prefix:field:field`` and its
``.filter()`` routes a press only when the data unpacks, so a stale or forged button never
reaches a handler half-parsed. Everything packed stays well under Telegram's 64 bytes.
"""

from __future__ import annotations

from enum import StrEnum

from aiogram.filters.callback_data import CallbackData

from bot.vocabulary import AlertReason


class Handover(StrEnum):
    TAKE = "take"
    RELEASE = "release"


#: Alert reasons as one letter ("mgr:take:42:h"), so a card redrawn later keeps its title.
REASON_CODES: dict[str, str] = {
    AlertReason.HOT_SEGMENT: "h",
    AlertReason.OFFER_CLICKED: "o",
    AlertReason.HANDOFF: "f",
}
OTHER_REASON = "m"
_REASONS = {code: reason for reason, code in REASON_CODES.items()}


class ManagerButton(CallbackData, prefix="mgr"):
    """Take / Return to bot under an alert card: ``mgr:<take|release>:<lead id>:<reason>``."""

    action: Handover
    lead_id: int
    reason_code: str

    @classmethod
    def of(cls, action: Handover, lead_id: int, reason: str | None) -> ManagerButton:
        return cls(
            action=action, lead_id=lead_id, reason_code=REASON_CODES.get(reason or "", OTHER_REASON)
        )

    @property
    def reason(self) -> str | None:
        """The alert's reason (``hot_segment``…), None for a plain card."""
        return _REASONS.get(self.reason_code)


class PreviewAction(StrEnum):
    SEND = "send"
    CANCEL = "cancel"
    NOOP = "noop"  # a button of the previewed message itself: inert in the preview


class BroadcastButton(CallbackData, prefix="bcast"):
    """Send / Cancel under a broadcast preview: ``bcast:<action>:<nonce of the draft>``."""

    action: PreviewAction
    nonce: str = ""
