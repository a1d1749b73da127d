"""``python -m bot`` is the ``leadbot`` command."""

from bot.cli import main

main()
