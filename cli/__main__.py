"""``python -m cli``: the same as the ``leadbot`` command."""

from cli import main

main()
