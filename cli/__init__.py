"""The ``leadbot`` command line: one typer app, one module per command group.

The group modules never import this package back; it imports them and adds their commands,
so the arrows point one way: ``cli`` → ``cli.<group>`` → ``cli.common`` → ``bot``/``storage``.
"""

from __future__ import annotations

import typer

from cli import broadcasts, data, funnel, operator, reports

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


def main() -> None:
    app()
