"""``mlpack pack``, ``verify`` and ``run``: the .mlpack package, made, checked and used."""

from pathlib import Path
from typing import Annotated

import typer

from mlpack.cli.common import (
    ChannelAxisOption,
    JsonOut,
    SetOption,
    StateOption,
    Target,
    Timeout,
    emit,
    exit_with,
    feeding,
    handle_errors,
    parse_pairs,
    renamed,
    spinner,
)
from mlpack.errors import BadInputError

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
    model_version: Annotated[str, typer.Option("--model-version", help="The model's version.")] = "0.1.0",
    include: Include = None,
    meta: Meta = None,
    card: Card = None,
    report: Annotated[Path | None, typer.Option(help="A check report (mlpack check --json) to include.")] = None,
    optimization: Annotated[
        Path | None,
        typer.Option(help="An optimize report (mlpack optimize --json) to record, with its per-layer report."),
    ] = None,
    golden: Annotated[int, typer.Option(help="Golden samples to store with their outputs.")] = 4,
    golden_data: GoldenData = None,
    data: StatsData = None,
    state: StateOption = None,
    set_values: SetOption = None,
    channel_axis: ChannelAxisOption = None,
    json_out: JsonOut = None,
    sign: Annotated[
        Path | None,
        typer.Option("--sign", help="Sign with this PEM EC private key (OpenSSF model-signing; verify --key)."),
    ] = None,
    version: Annotated[str | None, typer.Option("--version", hidden=True)] = None,
) -> None:
    """Package a model, its signature, hashes, metrics and golden samples into one .mlpack file."""
    from mlpack.artifact.optreport import read_optimization
    from mlpack.artifact.pack import pack as run_pack
    from mlpack.data.views import parse_channel_axes

    model_version = renamed(version, model_version, old="--version", new="--model-version")
    with spinner(f"packing {model.name}"):
        result = run_pack(
            model,
            output,
            name=name,
            version=model_version,
            include=tuple(include or ()),
            preprocessing=parse_pairs(meta, "--meta"),
            optimization=read_optimization(optimization) if optimization else None,
            report=report,
            golden=golden,
            golden_data=golden_data,
            model_card=parse_pairs(card, "--card"),
            data=data,
            feeding=feeding(state, set_values),
            channel_axes=parse_channel_axes(channel_axis or []),
            sign=sign,
        )
    emit(result, json_out)


@handle_errors
def verify(
    package: Package,
    run: Annotated[bool, typer.Option("--run", help="Also run the golden samples and compare outputs.")] = False,
    json_out: JsonOut = None,
    target: Target = None,
    timeout: Timeout = 600.0,
    key: Annotated[
        Path | None, typer.Option("--key", help="Require a signature (pack --sign) that verifies with this public key.")
    ] = None,
) -> None:
    """Check every hash, the manifest and the signature; exit 1 on tampering or a golden mismatch."""
    from mlpack.artifact.verify import verify as run_verify
    from mlpack.remote.commands import verify_on_target

    if target and key:  # the signer's signature is checked here, on the package the device is sent
        signed = run_verify(package, key=key)
        if not signed.ok:
            emit(signed, json_out)
            return exit_with(signed)
    if target:  # the device's verdict, shown in the words of a local verify
        with spinner() as update:
            remote = verify_on_target(target, package, run=run, timeout_s=timeout, progress=update)
        emit(remote, json_out)
        exit_with(remote)
        return
    result = run_verify(package, run=run, key=key)
    emit(result, json_out)
    exit_with(result)


@handle_errors
def run(
    package: Package,
    data: Annotated[Path | None, typer.Option("--data", help="Inputs .npz, arrays named by input (required).")] = None,
    output: Annotated[
        Path | None, typer.Option("-o", "--output", help="Where to write the outputs (.npz; required).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Samples per inference call.")] = 256,
    state: StateOption = None,
    set_values: SetOption = None,
    json_out: JsonOut = None,
    target: Target = None,
    timeout: Timeout = 600.0,
    inputs: Annotated[Path | None, typer.Option("--input", "-i", hidden=True)] = None,
) -> None:
    """Run a packaged model on inputs (checked against its signature first)."""
    from mlpack.artifact.run import run_package
    from mlpack.remote.commands import run_on_target

    # --input meant NAME:SHAPE on export and init, and a data file here: --data, as every command names one
    inputs = renamed(inputs, data, old="-i/--input", new="--data")
    if inputs is None or output is None:
        raise BadInputError("run needs --data INPUTS.npz and -o/--output OUTPUTS.npz.")

    if target:
        chosen = feeding(state, set_values).to_args()  # checked here, before a device is contacted
        with spinner() as update:
            remote = run_on_target(
                target,
                package,
                inputs,
                output,
                batch_size=batch_size,
                feeding=chosen,
                timeout_s=timeout,
                progress=update,
            )
        emit(remote, json_out)
        exit_with(remote)
        return
    selected = feeding(state, set_values) if state or set_values else None  # None: the package's own pairs
    result = run_package(package, inputs, output, batch_size=batch_size, feeding=selected)
    emit(result, json_out)
