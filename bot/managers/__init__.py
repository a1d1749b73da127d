"""Managers and the bot sharing leads: staff and what they may see (``staff``), leads
managers forgot (``handoff``), admin look-ups (``desk``), the CRM webhook (``crm``), the
side-work queue (``outbox``) and the periodic chores (``chores``).

Telegram-free: the Telegram edge and any other face use these, never the other way round.
"""

from bot.managers.staff import Staff, contact_allowed

__all__ = ["Staff", "contact_allowed"]
