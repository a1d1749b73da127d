"""The ``leadbot`` command line: one typer app, one module per command group.

The group modules never import this package back; it imports them and adds their commands,
so the arrows point one way: ``cli`` → ``cli.<group>`` → ``cli.common`` → ``bot``/``storage``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer
import typer.main

from cli import broadcasts, data, funnel, operator, reports, web

if TYPE_CHECKING:
    from typer._click.core import Command as ClickCommand

app = typer.Typer(
    help="leadbot: qualify and warm sales leads in Telegram along a scenario file.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
funnel.register(app)  # validate, chat, run
operator.register(app)  # schema, test-scenario, graph, eval
reports.register(app)  # leads, lead, export, report: the lead log for managers
broadcasts.register(app)  # audience, broadcast, winback: mailings and win-back
data.register(app)  # db upgrade / prune, forget
web.register(app)  # web: the managers' dashboard


def command() -> ClickCommand:
    """The app as a click command, with flags shown bare in ``--help``.

    typer 0.29 prints ``<bool>`` after every flag (``--dry-run <bool>``, ``--help <bool>``),
    as if it took a value; an empty metavar is how its help renders a flag with none.
    """
    root = typer.main.get_command(app)

    def bare_flags(command: ClickCommand) -> None:
        help_option = command.get_help_option(typer.Context(command))
        for param in [*command.params, *([help_option] if help_option else [])]:
            if getattr(param, "is_flag", False):
                param.metavar = ""
        for sub in getattr(command, "commands", {}).values():
            bare_flags(sub)

    bare_flags(root)
    return root


def main() -> None:
    command()(prog_name="leadbot")
