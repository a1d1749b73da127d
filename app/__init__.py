"""The wiring: the one package (with ``cli/``) that imports handlers, bot and storage together.

``wiring`` opens the database and builds the funnel service from settings, ``factory`` builds
the Bot and the Dispatcher (routers from ``handlers``, background work from ``bot``),
``runner`` serves long polling or the webhook, ``maintenance`` runs the bot's chores.
Nothing under ``bot/`` or ``handlers/`` imports this package: arrows point into it only from
the entry points. The package itself imports nothing heavy, so ``leadbot`` can check its
settings (``app.preflight``) before aiogram is loaded.
"""
