"""Entry point of the ``aar`` command: the typer app and the user-error boundary.

User errors (``AarError``) print one line, ``error: ...``, and exit non-zero; anything else
is a bug and keeps its traceback.
"""

from __future__ import annotations

import sys

import typer
from rich.console import Console
from rich.text import Text

from aar.cli.bundle import predict
from aar.cli.catalog import methods, tasks
from aar.cli.data import data_app
from aar.cli.doctor import doctor
from aar.cli.experiment import experiment
from aar.cli.hub import hub_app, serve
from aar.cli.research import research
from aar.cli.run import report, run
from aar.core.errors import AarError

app = typer.Typer(
    name="aar",
    help="Automated Alignment Researchers: weak-to-strong experiments and research campaigns.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.command()(run)
app.command()(report)
app.command()(experiment)
app.command()(tasks)
app.command()(methods)
app.add_typer(data_app, name="data")
app.command()(serve)
app.command()(predict)
app.command()(research)
app.command()(doctor)
app.add_typer(hub_app, name="hub")


def main() -> None:
    try:
        app()
    except AarError as err:
        message = Text.assemble(("error: ", "bold red"), str(err))
        Console(stderr=True).print(message, highlight=False, soft_wrap=True)
        sys.exit(err.exit_code)
