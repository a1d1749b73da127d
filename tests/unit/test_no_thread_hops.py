"""No handler or filter that aiogram would run in a worker thread.

aiogram 3.31 awaits coroutine callbacks and ``Filter`` objects directly but sends every
other callable (a bare ``F.text``, a ``State``, a plain function) through
``asyncio.to_thread``: a thread hop per check per update. This walks every router.
"""

from __future__ import annotations

from collections.abc import Iterator

from aiogram import Router
from aiogram.dispatcher.event.handler import CallableObject

from handlers import build_router


def callables(router: Router) -> Iterator[tuple[str, CallableObject]]:
    for name, observer in router.observers.items():
        # Router-level filters (``router.message.filter(...)``) sit on the observer's own
        # handler object, whose callback aiogram never calls: only its filters run.
        for flt in observer._handler.filters or []:
            yield f"{router.name}.{name} router filter {flt.callback!r}", flt
        for handler in observer.handlers:
            yield f"{router.name}.{name} {handler.callback!r}", handler
            for flt in handler.filters or []:
                yield f"{router.name}.{name} filter {flt.callback!r}", flt
    for sub in router.sub_routers:
        yield from callables(sub)


def test_every_handler_and_filter_runs_in_the_event_loop() -> None:
    checked = list(callables(build_router()))
    assert len(checked) > 20  # the walk found the routes
    threaded = [where for where, obj in checked if not obj.awaitable]
    assert not threaded, f"aiogram would run these in a thread: {threaded}"
