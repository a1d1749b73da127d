"""The ``leadbot`` command line: one typer app, one module per command group.

The group modules never import this package back; it imports them and adds their commands,
so the arrows point one way: ``cli`` → ``cli.<group>`` → ``cli.common`` → ``bot``/``storage``.

A bare ``leadbot run`` (the command takes no arguments) skips all of it: ``main`` calls
``cli.serve`` directly, so the running bot never imports typer, click or ``cli.common``
(~1.2 MB resident). Anything else, ``leadbot run --help`` included, goes through typer.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import typer
    from typer._click.core import Command as ClickCommand

#: Command group modules and the top-level commands each registers, in ``--help`` order.
#: ``leadbot run`` imports only ``cli.funnel``: the others bring rich tables, report
#: queries and broadcast views (~8 MB and hundreds of modules) a running bot never uses.
GROUPS: dict[str, tuple[str, ...]] = {
    "funnel": ("validate", "chat", "run"),
    "operator": ("schema", "test-scenario", "graph", "eval"),
    "reports": ("leads", "lead", "export", "report"),  # the lead log for managers
    "broadcasts": ("audience", "broadcast", "winback"),  # mailings and win-back
    "data": ("db", "forget"),
    "web": ("web",),  # the managers' dashboard
}


def build(groups: tuple[str, ...] = tuple(GROUPS)) -> typer.Typer:
    """The typer app with the given command groups (all of them unless told)."""
    import typer

    app = typer.Typer(
        help="leadbot: qualify and warm sales leads in Telegram along a scenario file.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    for group in groups:
        importlib.import_module(f"cli.{group}").register(app)
    return app


def groups_for(argv: list[str]) -> tuple[str, ...]:
    """The one group that owns the command in ``argv``, or all (help, typos, no command)."""
    name = next((a for a in argv if not a.startswith("-")), None)
    for group, commands in GROUPS.items():
        if name in commands:
            return (group,)
    return tuple(GROUPS)


def __getattr__(name: str) -> typer.Typer:
    """``cli.app``, the whole command line (for tests and tools), built on first use."""
    if name == "app":
        app = build()
        globals()["app"] = app
        return app
    raise AttributeError(name)


def command(app: typer.Typer | None = None) -> ClickCommand:
    """The app as a click command, with flags shown bare in ``--help``.

    typer 0.29 prints ``<bool>`` after every flag (``--dry-run <bool>``, ``--help <bool>``),
    as if it took a value; an empty metavar is how its help renders a flag with none.
    """
    import typer
    import typer.main

    root = typer.main.get_command(app if app is not None else build())

    def bare_flags(command: ClickCommand) -> None:
        help_option = command.get_help_option(typer.Context(command))
        for param in [*command.params, *([help_option] if help_option else [])]:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        for sub in getattr(command, "commands", {}).values():
            bare_flags(sub)

    bare_flags(root)
    return root


#: The one command line that skips typer (see the module's docstring).
FAST_RUN = ["run"]


def main() -> None:
    if sys.argv[1:] == FAST_RUN:
        from cli.serve import run_bot_command

        run_bot_command()
        return
    command(build(groups_for(sys.argv[1:])))(prog_name="leadbot")
