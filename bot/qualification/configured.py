"""The qualifier the settings ask for, for every command that classifies (run, eval, simulate)."""

from __future__ import annotations

from bot.qualification import OfflineQualifier, Qualifier
from bot.settings import Settings


def make_qualifier(settings: Settings) -> Qualifier:
    """The LLM qualifier when OPENAI_API_KEY is set, else the offline scorer (no network)."""
    if settings.llm_enabled:
        from bot.qualification.llm import LLMQualifier  # imports openai only when it is used

        return LLMQualifier.from_settings(settings)
    return OfflineQualifier()
