"""The ``mlpack`` command: parse arguments, call the API, render results. No logic of its own.

Commands live in one module per group (``model``, ``measure``, ``gate``, ``package``, ``build``)
and are registered here, by name, in the order ``mlpack --help`` lists them. Stages are imported
inside the commands that need them, so that ``mlpack --help`` stays fast.
"""

from __future__ import annotations

from typing import Annotated

import typer

from mlpack.cli import build, gate, measure, model, package
from mlpack.cli.common import flags, handle_errors

__all__ = ["app", "handle_errors", "main"]

app = typer.Typer(
    name="mlpack",
    help="Package ML models for edge and CPU devices: export, optimise, measure, gate in CI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help panels cost about 0.2 s per --help on a small CPU.
    rich_markup_mode=None,
)


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    flags.debug = debug


# Every command, named once: the order is the order of `mlpack --help`.
app.command()(model.export)
app.command()(model.optimize)
app.command()(model.inspect)
app.command()(measure.bench)
app.add_typer(measure.devices_app, name="devices")
app.command()(measure.compare)
app.command()(gate.check)
app.command(name="diff")(gate.diff)
app.command()(gate.tune)
app.command()(package.pack)
app.command()(package.verify)
app.command(name="drift")(gate.drift)
app.command(name="run")(package.run)
app.command()(build.build)
app.command()(build.init)


def main() -> None:
    app(prog_name="mlpack")
