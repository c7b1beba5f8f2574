"""``mlpack pack``, ``verify`` and ``run``: the .mlpack package, made, checked and used."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from mlpack.cli.common import (
    AsJson,
    SetOption,
    StateOption,
    Target,
    Timeout,
    console,
    device_json,
    emit,
    exit_with,
    feeding,
    file_job,
    handle_errors,
    parse_pairs,
    relay,
    run_on_target,
)

Include = Annotated[list[Path] | None, typer.Option(help="Extra files: labels, tokenizer files (repeatable).")]
Meta = Annotated[
    list[str] | None, typer.Option(help="Preprocessing metadata KEY=VALUE, e.g. mean=0.5 layout=NCHW (repeatable).")
]
Card = Annotated[
    list[str] | None, typer.Option(help="Model-card fields KEY=VALUE, e.g. intended_use='...' (repeatable).")
]
GoldenData = Annotated[Path | None, typer.Option(help=".npz to take golden inputs from (default: generated).")]
StatsData = Annotated[
    Path | None,
    typer.Option(help="Validation .npz: record its input and output statistics for mlpack drift (<= 256 KB)."),
]
Package = Annotated[Path, typer.Argument(help="An .mlpack package.")]


@handle_errors
def pack(
    model: Annotated[Path, typer.Argument(help="The ONNX model to package.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the .mlpack file.")],
    name: Annotated[str | None, typer.Option(help="Model name (default: the file's).")] = None,
    version: Annotated[str, typer.Option(help="Model version.")] = "0.1.0",
    include: Include = None,
    meta: Meta = None,
    card: Card = None,
    report: Annotated[Path | None, typer.Option(help="A check report (mlpack check --json) to include.")] = None,
    golden: Annotated[int, typer.Option(help="Golden samples to store with their outputs.")] = 4,
    golden_data: GoldenData = None,
    data: StatsData = None,
    state: StateOption = None,
    set_values: SetOption = None,
    as_json: AsJson = False,
) -> None:
    """Package a model, its signature, hashes, metrics and golden samples into one .mlpack file."""
    from mlpack.artifact.pack import pack as run_pack

    result = run_pack(
        model,
        output,
        name=name,
        version=version,
        include=tuple(include or ()),
        preprocessing=parse_pairs(meta, "--meta"),
        report=report,
        golden=golden,
        golden_data=golden_data,
        model_card=parse_pairs(card, "--card"),
        data=data,
        feeding=feeding(state, set_values),
    )
    emit(result, "-" if as_json else None)


@handle_errors
def verify(
    package: Package,
    run: Annotated[bool, typer.Option("--run", help="Also run the golden samples and compare outputs.")] = False,
    as_json: AsJson = False,
    target: Target = None,
    timeout: Timeout = 600.0,
) -> None:
    """Check every hash, the manifest and the signature; exit 1 on tampering or a golden mismatch."""
    from mlpack.artifact.verify import verify as run_verify

    if target:
        args = ["verify", "package.mlpack", "--json", *(["--run"] if run else [])]
        outcome = run_on_target(target, timeout, file_job(args, {"package.mlpack": package}, {}, ()))
        answer = device_json(outcome, None) | {"package": str(package)}
        if not as_json:  # the device's verdict, in the words of a local verify
            verdict = "[bold green]verified[/]" if answer["ok"] else "[bold red]verification failed[/]"
            console().print(f"{verdict} on {outcome.target.url()}: {answer['name']} {answer['version']}")
            for problem in answer["problems"]:
                console().print(f"  {problem}", soft_wrap=True, markup=False)
        relay(outcome, "-" if as_json else None, answer)
        return
    result = run_verify(package, run=run)
    emit(result, "-" if as_json else None)
    exit_with(result)


@handle_errors
def run(
    package: Package,
    inputs: Annotated[Path, typer.Option("--input", "-i", help="Inputs .npz, arrays named by input.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the outputs (.npz).")],
    batch_size: Annotated[int, typer.Option(help="Samples per inference call.")] = 256,
    state: StateOption = None,
    set_values: SetOption = None,
    as_json: AsJson = False,
    target: Target = None,
    timeout: Timeout = 600.0,
) -> None:
    """Run a packaged model on inputs (checked against its signature first)."""
    from mlpack.artifact.run import run_package

    if target:
        from mlpack.core.fileio import atomic_path

        args = ["run", "package.mlpack", "-o", "outputs.npz", "--batch-size", str(batch_size), "--json"]
        job = file_job(args, {"package.mlpack": package}, {"--input": inputs}, ("outputs.npz",))
        outcome = run_on_target(target, timeout, job)
        answer = device_json(outcome, None) | {"output": str(output)}
        if outcome.exit_code == 0:
            with atomic_path(Path(output)) as tmp:
                tmp.write_bytes(outcome.files["outputs.npz"])
            if not as_json:
                shapes = ", ".join(f"{k}{v}" for k, v in answer["outputs"].items())
                console().print(f"ran {answer['samples']} samples on {outcome.target.url()} -> {output} {shapes}")
        relay(outcome, "-" if as_json else None, answer)
        return
    selected = feeding(state, set_values) if state or set_values else None  # None: the package's own pairs
    result = run_package(package, inputs, output, batch_size=batch_size, feeding=selected)
    emit(result, "-" if as_json else None)
