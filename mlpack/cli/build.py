"""``mlpack build`` and ``init``: the whole pipeline from one config file, and a starter config."""

from pathlib import Path
from typing import Annotated

import typer

from mlpack.cli.common import console, emit, fail, handle_errors, json_option, progress, renamed


@handle_errors
def build(
    config: Annotated[Path, typer.Argument(help="The build config.")] = Path("mlpack.toml"),
    output: Annotated[Path, typer.Option("-o", "--output", help="Output folder.")] = Path("dist"),
    force: Annotated[bool, typer.Option("--force", help="Rebuild every stage, even those up to date.")] = False,
    json_out: Annotated[str | None, json_option("the summary")] = None,
    out: Annotated[Path | None, typer.Option("--out", hidden=True)] = None,
) -> None:
    """Export, optimise (or tune), check and pack from one config file; reuse what is up to date."""
    from mlpack.pipeline.build import build as run_build

    out = renamed(out, output, old="--out", new="-o/--output")

    with progress() as update:
        result = run_build(config, out=out, force=force, progress=update)
    emit(result, json_out)  # the JSON of a failed build too, then its code
    if not result.ok:
        raise fail(result.message, int(result.exit_code))


@handle_errors
def init(
    source: Annotated[str, typer.Argument(help="The model source for the starter config.")] = "model.py:build",
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the config.")] = Path("mlpack.toml"),
    input_specs: Annotated[list[str] | None, typer.Option("--input", "-i", help="NAME:SHAPE[:DTYPE] (repeatable).")] = (
        None
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite an existing file.")] = False,
) -> None:
    """Write a commented starter mlpack.toml."""
    from mlpack.core.inputspec import parse_input_spec
    from mlpack.pipeline.init import BUDGETS, DEFAULT_INPUTS
    from mlpack.pipeline.init import init as run_init

    specs = tuple(input_specs or DEFAULT_INPUTS)
    for spec in specs:
        parse_input_spec(spec)  # a typo is caught now, not at the first build
    path = run_init(output, source=source, inputs=specs, force=force)
    budgets = path.parent / BUDGETS
    console().print(f"wrote {path} (budgets: {budgets}); edit them, then run: mlpack build {path}")
