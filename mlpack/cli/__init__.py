"""The ``mlpack`` command: parse arguments, call the API, render results. No logic of its own.

Commands live in one module per group (``model``, ``measure``, ``gate``, ``package``, ``build``)
and are registered here, by name, in the order ``mlpack --help`` lists them. Stages are imported
inside the commands that need them, so that ``mlpack --help`` stays fast.
"""

from typing import Annotated

import typer

from mlpack.cli import build, gate, measure, model, package
from mlpack.cli.common import flags, handle_errors
from mlpack.cli.conventions import CONTEXT, Command, Group

__all__ = ["app", "handle_errors", "main"]

app = typer.Typer(
    name="mlpack",
    help="Package ML models for edge and CPU devices: export, optimise, measure, gate in CI.",
    no_args_is_help=True,
    cls=Group,
    context_settings=CONTEXT,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help panels cost about 0.2 s per --help on a small CPU.
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        from mlpack.core.version import mlpack_version

        typer.echo(f"mlpack {mlpack_version()}")
        raise typer.Exit()


def _verbose(value: int) -> None:
    flags.verbose = max(flags.verbose, value)  # given before and after the command: the larger


def _quiet(value: bool) -> None:
    flags.quiet = flags.quiet or value


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
    verbose: Annotated[
        int,
        typer.Option(
            "-v",
            "--verbose",
            count=True,
            expose_value=False,
            show_default=False,
            callback=_verbose,
            help="Say more on stderr: every progress step, also on a terminal (also after a command).",
        ),
    ] = 0,
    quiet: Annotated[
        bool,
        typer.Option(
            "-q",
            "--quiet",
            expose_value=False,
            callback=_quiet,
            help="No progress or notes on stderr, only the result and errors (also after a command).",
        ),
    ] = False,
    version: Annotated[
        bool,
        typer.Option(
            "--version", is_eager=True, expose_value=False, callback=_show_version, help="Show mlpack's version."
        ),
    ] = False,
) -> None:
    flags.debug = debug


# Every command, named once: the order is the order of `mlpack --help`.
app.command(cls=Command)(model.export)
app.command(cls=Command)(model.optimize)
app.command(cls=Command)(model.inspect)
app.command(cls=Command)(measure.bench)
app.add_typer(measure.devices_app, name="devices")
app.command(cls=Command)(measure.compare)
app.command(cls=Command)(gate.check)
app.command(name="diff", cls=Command)(gate.diff)
app.command(cls=Command)(gate.tune)
app.command(cls=Command)(package.pack)
app.command(cls=Command)(package.verify)
app.command(name="drift", cls=Command)(gate.drift)
app.command(name="run", cls=Command)(package.run)
app.command(cls=Command)(build.build)
app.command(cls=Command)(build.init)


def main() -> None:
    app(prog_name="mlpack")
