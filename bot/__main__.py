"""``python -m bot``: the same as the ``leadbot`` command (kept for scripts that use it)."""

from cli import main

main()
