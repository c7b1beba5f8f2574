"""The ``mlpack`` command: parse arguments, call the API, render results. No logic of its own.

API modules are imported inside each command so that ``mlpack --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mlpack.errors import ExitCode, MlpackError
from mlpack.export import Exporter
from mlpack.optimize.registry import QuantMode

app = typer.Typer(
    name="mlpack",
    help="Package ML models for edge and CPU devices: export, optimise, measure, gate in CI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_debug = False
F = TypeVar("F", bound=Callable[..., Any])


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


def _fail(message: str, code: int) -> typer.Exit:
    _console(stderr=True).print(f"[bold red]error:[/] {message}", soft_wrap=True)
    return typer.Exit(code)


def handle_errors(command: F) -> F:
    """MlpackError → its message on stderr and its exit code; anything else is a bug (exit 4)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except MlpackError as exc:
            if _debug:
                traceback.print_exc()
            raise _fail(str(exc), int(exc.exit_code)) from None
        except KeyboardInterrupt:
            raise _fail("interrupted", 130) from None
        except Exception as exc:
            if _debug:
                traceback.print_exc()
            raise _fail(
                f"internal error (a bug in mlpack, please report it with --debug output): {type(exc).__name__}: {exc}",
                int(ExitCode.INTERNAL),
            ) from None

    return wrapper  # type: ignore[return-value]


def _print_json(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


@app.callback()
def _main(
    debug: Annotated[bool, typer.Option("--debug", help="Show tracebacks for errors.")] = False,
) -> None:
    global _debug
    _debug = debug


@app.command()
@handle_errors
def export(
    source: Annotated[
        str,
        typer.Argument(
            help="pkg.module:factory, path/file.py:factory, a TorchScript file, "
            "a pickled module (--trust-pickle) or an .onnx file."
        ),
    ],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the ONNX file.")],
    input_specs: Annotated[
        list[str] | None,
        typer.Option(
            "--input", "-i", help="NAME:SHAPE[:DTYPE], e.g. x:1x3x224x224 or ids:batch,seq:int64 (repeatable)."
        ),
    ] = None,
    example_inputs: Annotated[Path | None, typer.Option(help=".npz with one array per input, named by input.")] = None,
    weights: Annotated[Path | None, typer.Option(help="A state_dict for a module:factory source.")] = None,
    opset: Annotated[int | None, typer.Option(help="ONNX opset (default: the exporter's).")] = None,
    static_batch: Annotated[bool, typer.Option("--static-batch", help="Keep the batch dimension fixed.")] = False,
    exporter: Annotated[Exporter, typer.Option(help="auto tries dynamo, then TorchScript.")] = Exporter.AUTO,
    atol: Annotated[float, typer.Option(help="Absolute tolerance against PyTorch.")] = 1e-4,
    rtol: Annotated[float, typer.Option(help="Relative tolerance against PyTorch.")] = 1e-3,
    trust_pickle: Annotated[
        bool, typer.Option("--trust-pickle", help="Allow loading a fully pickled module (runs arbitrary code).")
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")] = False,
) -> None:
    """Export a PyTorch model to one self-contained ONNX file, verified against PyTorch."""
    from mlpack.export import export as run_export
    from mlpack.inputspec import parse_input_spec

    result = run_export(
        source,
        output,
        inputs=tuple(parse_input_spec(s) for s in input_specs or ()),
        example_inputs=example_inputs,
        weights=weights,
        opset=opset,
        dynamic_batch=not static_batch,
        exporter=exporter,
        atol=atol,
        rtol=rtol,
        trust_pickle=trust_pickle,
    )
    if as_json:
        _print_json(result.to_dict())
    else:
        from mlpack.report.terminal import render_export

        render_export(_console(), result)


@app.command()
@handle_errors
def optimize(
    model: Annotated[Path, typer.Argument(help="The ONNX model to optimise.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the optimised model.")],
    quantize: Annotated[QuantMode, typer.Option(help="Quantisation mode.")] = QuantMode.NONE,
    simplify: Annotated[bool, typer.Option(help="Simplify the graph with onnxsim first.")] = True,
    per_channel: Annotated[bool, typer.Option(help="Per-channel INT8 weights (more faithful).")] = True,
    op_types: Annotated[
        str | None, typer.Option(help="Comma-separated op types to quantise (default: where it pays on a CPU).")
    ] = None,
    data: Annotated[Path | None, typer.Option(help=".npz inputs to verify on (default: generated).")] = None,
    atol: Annotated[float | None, typer.Option(help="Max abs error allowed (default: per mode).")] = None,
    rtol: Annotated[float, typer.Option(help="Relative tolerance used with --atol.")] = 1e-3,
    min_cosine: Annotated[float | None, typer.Option(help="Min output cosine similarity (default: per mode).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")] = False,
) -> None:
    """Simplify and quantise an ONNX model; fail (and write nothing) if its outputs drift."""
    from mlpack.compare import Tolerance
    from mlpack.optimize import optimize as run_optimize
    from mlpack.optimize.registry import default_tolerance

    tolerance = None
    if atol is not None or min_cosine is not None:
        base = default_tolerance(quantize)
        tolerance = Tolerance(
            atol=atol if atol is not None else base.atol,
            rtol=rtol,
            min_cosine=min_cosine if min_cosine is not None else base.min_cosine,
        )
    ops = tuple(t.strip() for t in op_types.split(",") if t.strip()) if op_types else None
    result = run_optimize(
        model,
        output,
        simplify=simplify,
        quantize=quantize,
        per_channel=per_channel,
        op_types=ops,
        tolerance=tolerance,
        data=data,
    )
    if as_json:
        _print_json(result.to_dict())
    else:
        from mlpack.report.terminal import render_optimize

        render_optimize(_console(), result)


@app.command()
@handle_errors
def inspect(
    model: Annotated[Path, typer.Argument(help="An ONNX model.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")] = False,
) -> None:
    """Show a model's inputs, outputs, opset, size, parameters and operators."""
    from mlpack.modelinfo import inspect_model

    info = inspect_model(model)
    if as_json:
        _print_json(info.to_dict())
    else:
        from mlpack.report.terminal import render_inspect

        render_inspect(_console(), info)


def main() -> None:
    app(prog_name="mlpack")


if __name__ == "__main__":
    main()
