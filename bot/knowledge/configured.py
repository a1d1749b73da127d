"""The librarian the settings ask for: the model with a key, offline retrieval without."""

from __future__ import annotations

from bot.knowledge.librarian import Librarian, OfflineLibrarian
from bot.settings import Settings


def make_librarian(settings: Settings) -> Librarian:
    """The model picks knowledge-base entries when OPENAI_API_KEY is set; else retrieval."""
    if settings.llm_enabled:
        from bot.knowledge.llm import LLMLibrarian  # imports openai only when it is used

        return LLMLibrarian.from_settings(settings)
    return OfflineLibrarian()
