"""The ``mlpack`` command: parse arguments, call the API, render results. No logic of its own.

Rendering, measuring and packaging code is imported inside the commands that need it, so that
``mlpack --help`` stays fast.
"""

from __future__ import annotations

import functools
import json
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mlpack.core.onnxio import ExecutionMode, GraphOptimization
from mlpack.core.validate import check_reports
from mlpack.errors import BadInputError, ExitCode, MlpackError
from mlpack.exporter.export import Exporter
from mlpack.pipeline.tune import Objective
from mlpack.quant.settings import CalibrationMethod, IntType, QuantFormat, QuantMode

app = typer.Typer(
    name="mlpack",
    help="Package ML models for edge and CPU devices: export, optimise, measure, gate in CI.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # Plain click help: typer's rich help panels cost about 0.2 s per --help on a small CPU.
    rich_markup_mode=None,
)

# Options several commands share, declared once.
BudgetDevice = Annotated[str | None, typer.Option("--device", help="Device profile whose budgets and threads apply.")]
DevicesFile = Annotated[Path | None, typer.Option("--devices", help="TOML file with more [device.NAME] profiles.")]
ReferenceModel = Annotated[
    Path | None, typer.Option("--reference", help="Reference model for accuracy drop and agreement.")
]
Confidence = Annotated[float, typer.Option("--confidence", help="Confidence of the latency intervals.")]
MaxRemeasure = Annotated[
    int, typer.Option("--max-remeasure", help="Re-measurements when a latency is too close to call.")
]
JsonFile = Annotated[str | None, typer.Option("--json", help="Write the full result to FILE ('-': stdout).")]


_debug = False
F = TypeVar("F", bound=Callable[..., Any])


def _console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Logs and pipes get a width that fits the bench table instead of rich's 80 columns.
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 150)


def _fail(message: str, code: int) -> typer.Exit:
    from rich.markup import escape

    _console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    return typer.Exit(code)


def handle_errors(command: F) -> F:
    """MlpackError → its message on stderr and its exit code; anything else is a bug (exit 4)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mlpack.core.signals import Terminated, terminate_like_interrupt
        from mlpack.core.validate import check_options

        terminate_like_interrupt()
        try:
            check_options(kwargs)  # NaN, inf and out-of-range numbers, before any work starts
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except MlpackError as exc:
            if _debug:
                traceback.print_exc()
            raise _fail(str(exc), int(exc.exit_code)) from None
        except Terminated:
            raise _fail("terminated", 143) from None
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


def _write_json(destination: str, payload: dict[str, Any]) -> None:
    """``-`` prints to stdout (and nothing else goes there); a path is written atomically."""
    if destination == "-":
        _print_json(payload)
    else:
        from mlpack.core.fileio import write_text_atomic

        write_text_atomic(Path(destination), json.dumps(payload, indent=2, default=str) + "\n")


def _emit(result: Any, json_out: str | None, render: str) -> None:
    """The JSON where asked (a file, or stdout for '-'), and the rich rendering unless stdout holds JSON."""
    if json_out:
        _write_json(json_out, result.to_dict())
    if json_out != "-":
        from mlpack.cli import render as terminal

        getattr(terminal, render)(_console(), result)


def _positive_ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise BadInputError(f"{option} takes comma-separated whole numbers, like 1,8,32; got '{text}'.") from None
    if not values or any(v < 1 for v in values):
        raise BadInputError(f"{option} values must be positive whole numbers; got '{text}'.")
    return values


# One definition of the input options every command that feeds a model shares.
StateOption = Annotated[
    list[str] | None,
    typer.Option(
        "--state",
        help="OUTPUT=INPUT: the output feeds that input on the next call; data runs as a stream of calls "
        "carrying the state from zeros (or the data's value) (repeatable).",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="INPUT=VALUE: give an input by value, e.g. sr=16000 (a number or a JSON list; repeatable)."
    ),
]


def _feeding(state: list[str] | None, values: list[str] | None) -> Any:
    """The --state and --set options as the API's FeedOptions."""
    from mlpack.data.feeds import FeedOptions

    return FeedOptions.parse(tuple(state or ()), tuple(values or ()))


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
    example_inputs: Annotated[
        Path | None,
        typer.Option(help=".npz with one array per input, named by input, or an ONNX test-data directory."),
    ] = None,
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
    from mlpack.core.inputspec import parse_input_spec
    from mlpack.exporter.export import export as run_export

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
    _emit(result, "-" if as_json else None, "render_export")


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
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration .npz or ONNX test-data directory for --quantize static.")
    ] = None,
    calibration_method: Annotated[CalibrationMethod, typer.Option(help="Static: how activation ranges are set.")] = (
        CalibrationMethod.MINMAX
    ),
    calibration_batch: Annotated[int, typer.Option(help="Static: samples per calibration batch, at most.")] = 32,
    calibration_memory: Annotated[
        str, typer.Option(help="Static: activation memory calibration may hold (caps the batch), e.g. 1GB, 512MB.")
    ] = "1GB",
    quant_format: Annotated[QuantFormat, typer.Option(help="Static: QDQ or fused QOperator.")] = QuantFormat.QDQ,
    activation_type: Annotated[IntType, typer.Option(help="Static: activation type.")] = IntType.U8,
    weight_type: Annotated[IntType, typer.Option(help="Static: weight type.")] = IntType.S8,
    max_accuracy_drop: Annotated[
        float | None,
        typer.Option(help="Accuracy-aware: keep the most sensitive nodes in float until the drop is within this."),
    ] = None,
    eval_data: Annotated[
        Path | None,
        typer.Option("--eval", help="Accuracy-aware: evaluation .npz (labels, or agreement with FP32 without them)."),
    ] = None,
    block_size: Annotated[
        int | None,
        typer.Option(
            help="Weights at rest: INT8 scales per block of this many values (0: per output channel; "
            "default: per tensor, per-channel unless blocks of 32 are much closer)."
        ),
    ] = None,
    data: Annotated[
        Path | None, typer.Option(help=".npz or ONNX test-data directory to verify on (default: generated).")
    ] = None,
    atol: Annotated[float | None, typer.Option(help="Max abs error allowed (default: per mode).")] = None,
    rtol: Annotated[float, typer.Option(help="Relative tolerance used with --atol.")] = 1e-3,
    min_cosine: Annotated[float | None, typer.Option(help="Min output cosine similarity (default: per mode).")] = None,
    min_agreement: Annotated[
        float | None,
        typer.Option(help="Min top-1 agreement of class scores with the source's, 100+ samples (default: per mode)."),
    ] = None,
    state: StateOption = None,
    set_values: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")] = False,
) -> None:
    """Simplify and quantise an ONNX model; fail (and write nothing) if its outputs drift."""
    from mlpack.core.fidelity import Tolerance
    from mlpack.quant.modes import default_tolerance
    from mlpack.quant.optimize import optimize as run_optimize
    from mlpack.quant.settings import QuantizeSettings

    tolerance = None
    if atol is not None or min_cosine is not None or min_agreement is not None:
        base = default_tolerance(quantize)
        tolerance = Tolerance(
            atol=atol if atol is not None else base.atol,
            rtol=rtol,
            min_cosine=min_cosine if min_cosine is not None else base.min_cosine,
            min_agreement=min_agreement if min_agreement is not None else base.min_agreement,
        )
    from mlpack.quant.optypes import check_op_types

    ops = check_op_types(tuple(t.strip() for t in op_types.split(",") if t.strip()) if op_types else None, quantize)
    if calibration_batch < 1:
        raise BadInputError(f"--calibration-batch must be at least 1, got {calibration_batch}.")
    from mlpack.quant.ranges import parse_memory

    if block_size is not None and block_size < 0:
        raise BadInputError(f"--block-size must be 0 (per channel) or a positive block length, got {block_size}.")
    settings = QuantizeSettings(
        per_channel=per_channel,
        op_types=ops,
        calibration=calibration,
        calibration_method=calibration_method,
        calibration_batch=calibration_batch,
        calibration_memory=parse_memory(calibration_memory),
        quant_format=quant_format,
        activation_type=activation_type,
        weight_type=weight_type,
        block_size=block_size,
    )
    result = run_optimize(
        model,
        output,
        simplify=simplify,
        quantize=quantize,
        settings=settings,
        tolerance=tolerance,
        data=data,
        max_accuracy_drop=max_accuracy_drop,
        eval_data=eval_data,
        feeding=_feeding(state, set_values),
    )
    _emit(result, "-" if as_json else None, "render_optimize")


@app.command()
@handle_errors
def inspect(
    model: Annotated[Path, typer.Argument(help="An ONNX model.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")] = False,
) -> None:
    """Show a model's inputs, outputs, opset, size, parameters and operators (or a package's manifest)."""
    from mlpack.artifact.manifest import is_package, read_manifest
    from mlpack.artifact.statsview import with_stats_overview
    from mlpack.core.modelinfo import inspect_model

    if model.is_file() and is_package(model):
        manifest = with_stats_overview(model, read_manifest(model))
        if as_json:
            _print_json(manifest)
        else:
            from mlpack.cli.render import render_manifest

            render_manifest(_console(), model, manifest)
        return
    info = inspect_model(model)
    if as_json:
        _print_json(info.to_dict())
    else:
        from mlpack.cli.render import render_inspect

        render_inspect(_console(), info)


@app.command()
@handle_errors
def bench(
    models: Annotated[list[Path], typer.Argument(help="One or more ONNX models, measured interleaved.")],
    runs: Annotated[
        int | None,
        typer.Option(help="Minimum timed runs per configuration (with --duration: a fixed count, not adaptive)."),
    ] = None,
    duration: Annotated[
        float | None, typer.Option(help="Minimum timed seconds per configuration (fixed, not adaptive).")
    ] = None,
    precision: Annotated[
        float, typer.Option(help="Adaptive: stop when the p50's 95% interval is within +- this fraction.")
    ] = 0.02,
    max_time: Annotated[float, typer.Option(help="Adaptive: timed seconds per configuration at most.")] = 10.0,
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs.")] = 10,
    batch_sizes: Annotated[str, typer.Option(help="Batch sizes to sweep, e.g. 1,8,32.")] = "1",
    threads: Annotated[str | None, typer.Option(help="Intra-op thread counts to sweep, e.g. 1,2,4.")] = None,
    execution_mode: Annotated[ExecutionMode, typer.Option(help="onnxruntime execution mode.")] = (
        ExecutionMode.SEQUENTIAL
    ),
    graph_optimization: Annotated[GraphOptimization, typer.Option(help="onnxruntime graph optimisation level.")] = (
        GraphOptimization.ALL
    ),
    spinning: Annotated[
        bool | None,
        typer.Option(
            "--spinning/--no-spinning",
            help="Thread spinning (default: on for one configuration, off when "
            "interleaving, where idle sessions would steal cores).",
        ),
    ] = None,
    data: Annotated[Path | None, typer.Option(help=".npz inputs (default: generated from the signature).")] = None,
    device: Annotated[str | None, typer.Option(help="Device profile to run with (see mlpack devices).")] = None,
    devices_file: DevicesFile = None,
    on_device: Annotated[
        bool, typer.Option("--on-device", help="This machine is the profile's device (not an approximation).")
    ] = False,
    latency_budget: Annotated[float | None, typer.Option(help="Name the largest batch with p95 under this (ms).")] = (
        None
    ),
    profile: Annotated[bool, typer.Option("--profile", help="Per-operator time breakdown.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for generated inputs.")] = 0,
    state: StateOption = None,
    set_values: SetOption = None,
    json_out: JsonFile = None,
    plot: Annotated[Path | None, typer.Option(help="Draw latency percentiles and the batch trade-off (PNG).")] = None,
    targets: Annotated[
        list[str] | None,
        typer.Option("--target", help="Measure on this device: ssh://[user@]host[:port] or an SSH alias (repeatable)."),
    ] = None,
    timeout: Annotated[float, typer.Option(help="With --target: give up on a device after this many seconds.")] = 600.0,
) -> None:
    """Measure latency, throughput and memory with onnxruntime on this CPU, or on devices (--target)."""
    from mlpack.bench.adaptive import Adaptive
    from mlpack.bench.measure import benchmark
    from mlpack.bench.settings import BenchSettings
    from mlpack.core.devices import get_device
    from mlpack.remote.targets import profile_target

    check_reports({"--json": json_out, "--plot": plot}, inputs=(*models, data, devices_file))
    fixed = runs is not None or duration is not None
    settings = BenchSettings(
        runs=100 if runs is None else runs,
        duration_s=2.0 if duration is None else duration,
        adaptive=None if fixed else Adaptive(precision=precision, max_seconds=max_time),
        warmup=warmup,
        batch_sizes=_positive_ints(batch_sizes, "--batch-sizes"),
        threads=_positive_ints(threads, "--threads") if threads else (None,),
        execution_mode=execution_mode,
        graph_optimization=graph_optimization,
        spinning=spinning,
        data=data,
        seed=seed,
        feeding=_feeding(state, set_values),
        profile=profile,
        latency_budget_ms=latency_budget,
    )
    settings.validate()
    profile_device = get_device(device, devices_file) if device else None
    profiled = profile_target(device, devices_file=devices_file) if device else None
    target_urls = targets or ([profiled] if profiled else [])
    if target_urls:
        _bench_on_targets(models, target_urls, settings, profile_device, timeout, json_out, plot)
        return
    with _progress() as update:
        result = benchmark(models, settings=settings, device=profile_device, on_device=on_device, progress=update)
    if plot:
        from mlpack.report.plots import plot_bench

        plot_bench(result, plot)
    _emit(result, json_out, "render_bench")


def _bench_on_targets(
    models: list[Path],
    urls: list[str],
    settings: Any,
    device: Any,
    timeout: float,
    json_out: str | None,
    plot: Path | None,
) -> None:
    """One device: its bench result, as a local bench writes it. Several: one merged table, and a
    fleet JSON with each device's result; a device that failed is one line and exit 2."""
    from rich.markup import escape

    from mlpack.bench.fleet import benchmark_on_targets
    from mlpack.cli.render import render_bench
    from mlpack.errors import RemoteError
    from mlpack.remote.ssh import parse_target

    targets = [parse_target(url) for url in urls]
    with _console(stderr=True).status(f"measuring on {', '.join(t.label for t in targets)}"):
        fleet = benchmark_on_targets(models, targets=targets, settings=settings, device=device, timeout_s=timeout)
    if len(targets) == 1 and fleet.failures:
        raise RemoteError(next(iter(fleet.failures.values())))
    result = fleet.results[0] if len(targets) == 1 else fleet
    if json_out:
        _write_json(json_out, result.to_dict())
    if fleet.results and plot:
        from mlpack.report.plots import plot_bench

        plot_bench(fleet.merged(), plot)
    if json_out != "-" and fleet.results:
        render_bench(_console(), fleet.results[0] if len(targets) == 1 else fleet.merged())
    for message in fleet.failures.values():
        _console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
    if not fleet.ok:
        raise typer.Exit(int(fleet.exit_code))


@app.command()
@handle_errors
def devices(
    devices_file: DevicesFile = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the profiles as JSON only.")] = False,
) -> None:
    """List the device profiles: built in, and from your own file."""
    from mlpack.core.devices import load_devices

    profiles = load_devices(devices_file)
    if as_json:
        _print_json({name: p.to_dict() for name, p in profiles.items()})
    else:
        from mlpack.cli.render import render_devices

        render_devices(_console(), profiles)


@app.command()
@handle_errors
def compare(
    results: Annotated[list[Path], typer.Argument(help="Bench results (JSON); the first is the baseline.")],
    percentile: Annotated[str, typer.Option(help="p50, p90, p95, p99 or mean.")] = "p50",
    fail_if_slower: Annotated[
        float | None,
        typer.Option(help="Exit 1 if any result is slower than the baseline by more than this many percent."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the comparison as JSON only.")] = False,
) -> None:
    """Set bench results from devices, versions or models side by side, with ratios."""
    from mlpack.bench.compare import compare as run_compare

    result = run_compare(results, percentile=percentile, fail_if_slower_pct=fail_if_slower)
    _emit(result, "-" if as_json else None, "render_compare")  # the JSON goes out for a failure too
    if not result.ok:
        raise typer.Exit(int(result.exit_code))


@app.command()
@handle_errors
def check(
    model: Annotated[Path, typer.Argument(help="The ONNX model to check.")],
    budget: Annotated[Path, typer.Option("--budget", "-b", help="Budget file (TOML).")],
    device: BudgetDevice = None,
    devices_file: DevicesFile = None,
    reference: ReferenceModel = None,
    baseline: Annotated[Path | None, typer.Option(help="Previous model for max_slowdown, timed interleaved.")] = None,
    data: Annotated[Path | None, typer.Option(help="Evaluation .npz: inputs, labels, optional slices.")] = None,
    runs: Annotated[int, typer.Option(help="Minimum timed runs per measuring process (3 per round).")] = 100,
    duration: Annotated[float, typer.Option(help="Minimum timed seconds per measuring process.")] = 1.0,
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs.")] = 10,
    confidence: Confidence = 0.95,
    max_remeasure: MaxRemeasure = 2,
    json_out: JsonFile = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write a Markdown report (also appended to $GITHUB_STEP_SUMMARY when set).")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML, one test case per budget.")] = None,
    state: StateOption = None,
    set_values: SetOption = None,
    drift_reference: Annotated[
        Path | None,
        typer.Option(help="Package packed with --data (or its stats/data.json) for max_input/output_drift."),
    ] = None,
    target: Annotated[
        str | None, typer.Option(help="Run on this device: ssh://[user@]host[:port] or an SSH host alias.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="With --target: give up after this many seconds.")] = 600.0,
) -> None:
    """Check a model against device budgets. Exit 0 pass, 1 broken, 3 inconclusive."""
    import os

    from mlpack.budget.check import check as run_check
    from mlpack.core.fileio import write_text_atomic
    from mlpack.remote.targets import profile_target
    from mlpack.report.junit import check_junit
    from mlpack.report.markdown import check_markdown

    if runs < 1:
        raise BadInputError(f"--runs must be at least 1, got {runs}.")
    reads = (model, budget, reference, baseline, data, devices_file, drift_reference)
    check_reports({"--json": json_out, "--markdown": markdown, "--junit": junit}, inputs=reads, summary=True)
    target = target or profile_target(device, budget=budget, devices_file=devices_file)
    if target:  # the whole check runs on the device, with its files copied there
        options = ["--runs", str(runs), "--duration", repr(duration), "--warmup", str(warmup)]
        options += ["--confidence", repr(confidence), "--max-remeasure", str(max_remeasure)]
        options += ["--device", device] if device else []
        files = {"--budget": budget, "--reference": reference, "--baseline": baseline, "--data": data}
        files |= {"--devices": devices_file, "--drift-reference": drift_reference}
        job = _file_job(["check", "model.onnx", *options, *_REPORTS], {"model.onnx": model}, files, _REPORT_FILES)
        outcome = _run_on_target(target, timeout, job)
        for name, destination in {"check.md": markdown, "check.xml": junit}.items():
            if destination:
                write_text_atomic(destination, outcome.files[name].decode("utf-8"))
        if os.environ.get("GITHUB_STEP_SUMMARY"):
            with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
                summary.write(outcome.files["check.md"].decode("utf-8"))
        _relay(outcome, json_out, _device_json(outcome, "check.json"))
        return
    with _progress() as update:
        result = run_check(
            model,
            budgets=budget,
            device=device,
            devices_file=devices_file,
            reference=reference,
            baseline=baseline,
            data=data,
            runs=runs,
            duration_s=duration,
            warmup=warmup,
            confidence=confidence,
            max_remeasure=max_remeasure,
            progress=update,
            drift_reference=drift_reference,
            feeding=_feeding(state, set_values),
        )
    report = check_markdown(result)
    if markdown:
        write_text_atomic(markdown, report)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(report)
    if junit:
        write_text_atomic(junit, check_junit(result))
    _emit(result, json_out, "render_check")
    if not result.ok:
        raise typer.Exit(int(result.exit_code))


@app.command(name="diff")
@handle_errors
def diff_command(
    before: Annotated[Path, typer.Argument(help="The base branch's model (ONNX).")],
    after: Annotated[Path, typer.Argument(help="The pull request's model (ONNX).")],
    budget: Annotated[Path, typer.Option("--budget", "-b", help="Budget file (TOML) both are checked against.")],
    device: BudgetDevice = None,
    devices_file: DevicesFile = None,
    reference: ReferenceModel = None,
    data: Annotated[Path | None, typer.Option(help="Evaluation .npz: inputs, labels, optional slices.")] = None,
    runs: Annotated[int, typer.Option(help="Minimum timed runs per measuring process.")] = 100,
    duration: Annotated[float, typer.Option(help="Minimum timed seconds per measuring process.")] = 1.0,
    confidence: Confidence = 0.95,
    max_remeasure: MaxRemeasure = 2,
    json_out: JsonFile = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the PR comment (Markdown).")] = None,
) -> None:
    """PR before/after: size, latency ratio (interleaved), accuracy and every budget, base vs pull request.
    Exit 0 the pull request's budgets hold, 1 one broke, 3 inconclusive."""
    from mlpack.budget.diff import before_after
    from mlpack.core.fileio import write_text_atomic
    from mlpack.report.diff import before_after_markdown

    if runs < 1:
        raise BadInputError(f"--runs must be at least 1, got {runs}.")
    check_reports({"--json": json_out, "--markdown": markdown}, inputs=(before, after, budget, reference, data))
    with _progress() as update:
        result = before_after(
            before,
            after,
            budgets=budget,
            device=device,
            devices_file=devices_file,
            reference=reference,
            data=data,
            runs=runs,
            duration_s=duration,
            confidence=confidence,
            max_remeasure=max_remeasure,
            progress=update,
        )
    comment = before_after_markdown(result)
    if markdown:
        write_text_atomic(markdown, comment)
    if json_out:
        _write_json(json_out, result.to_dict())
    if json_out != "-":
        typer.echo(comment)
    if not result.ok:
        raise typer.Exit(int(result.exit_code))


@app.command()
@handle_errors
def tune(
    model: Annotated[Path, typer.Argument(help="The FP32 ONNX model to tune.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the chosen candidate.")],
    budget: Annotated[Path, typer.Option("--budget", "-b", help="Budget file (TOML).")],
    data: Annotated[Path, typer.Option(help="Evaluation .npz: inputs, labels, optional slices.")],
    calibration: Annotated[
        Path | None, typer.Option(help="Calibration .npz or ONNX test-data directory (enables static INT8).")
    ] = None,
    calibration_batch: Annotated[int, typer.Option(help="Static: samples per calibration batch, at most.")] = 32,
    calibration_memory: Annotated[
        str, typer.Option(help="Static: activation memory calibration may hold (caps the batch), e.g. 1GB, 512MB.")
    ] = "1GB",
    device: BudgetDevice = None,
    devices_file: DevicesFile = None,
    objective: Annotated[Objective, typer.Option(help="What 'best' means among candidates that fit.")] = (
        Objective.LATENCY
    ),
    max_time: Annotated[float, typer.Option(help="Time box for the whole search, in seconds.")] = 300.0,
    runs: Annotated[int, typer.Option(help="Minimum timed runs per candidate.")] = 50,
    duration: Annotated[float, typer.Option(help="Minimum timed seconds per candidate.")] = 0.5,
    json_out: Annotated[str | None, typer.Option("--json", help="Write every candidate's figures ('-': stdout).")] = (
        None
    ),
    state: StateOption = None,
    set_values: SetOption = None,
) -> None:
    """Build candidates, measure them, and keep the best that meets every budget. Exit 1 if none does."""
    from mlpack.pipeline.tune import tune as run_tune
    from mlpack.quant.ranges import parse_memory

    if runs < 1:
        raise BadInputError(f"--runs must be at least 1, got {runs}.")
    memory = parse_memory(calibration_memory)
    check_reports({"--json": json_out}, inputs=(model, budget, data, calibration, devices_file))
    with _progress() as update:
        result = run_tune(
            model,
            output,
            budgets=budget,
            data=data,
            calibration=calibration,
            calibration_batch=calibration_batch,
            calibration_memory=memory,
            device=device,
            devices_file=devices_file,
            objective=objective,
            max_time_s=max_time,
            runs=runs,
            duration_s=duration,
            progress=update,
            feeding=_feeding(state, set_values),
        )
    _emit(result, json_out, "render_tune")
    if not result.ok:
        raise typer.Exit(int(result.exit_code))


def _parse_pairs(items: list[str] | None, option: str) -> dict[str, Any]:
    """KEY=VALUE options; values that read as JSON (numbers, lists) are kept typed."""
    parsed: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"{option} takes KEY=VALUE, got '{item}'.")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value
    return parsed


@app.command()
@handle_errors
def pack(
    model: Annotated[Path, typer.Argument(help="The ONNX model to package.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the .mlpack file.")],
    name: Annotated[str | None, typer.Option(help="Model name (default: the file's).")] = None,
    version: Annotated[str, typer.Option(help="Model version.")] = "0.1.0",
    include: Annotated[list[Path] | None, typer.Option(help="Extra files: labels, tokenizer files (repeatable).")] = (
        None
    ),
    meta: Annotated[
        list[str] | None, typer.Option(help="Preprocessing metadata KEY=VALUE, e.g. mean=0.5 layout=NCHW (repeatable).")
    ] = None,
    card: Annotated[
        list[str] | None, typer.Option(help="Model-card fields KEY=VALUE, e.g. intended_use='...' (repeatable).")
    ] = None,
    report: Annotated[Path | None, typer.Option(help="A check report (mlpack check --json) to include.")] = None,
    golden: Annotated[int, typer.Option(help="Golden samples to store with their outputs.")] = 4,
    golden_data: Annotated[Path | None, typer.Option(help=".npz to take golden inputs from (default: generated).")] = (
        None
    ),
    data: Annotated[
        Path | None,
        typer.Option(help="Validation .npz: record its input and output statistics for mlpack drift (<= 256 KB)."),
    ] = None,
    state: StateOption = None,
    set_values: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")] = False,
) -> None:
    """Package a model, its signature, hashes, metrics and golden samples into one .mlpack file."""
    from mlpack.artifact.pack import pack as run_pack

    result = run_pack(
        model,
        output,
        name=name,
        version=version,
        include=tuple(include or ()),
        preprocessing=_parse_pairs(meta, "--meta"),
        report=report,
        golden=golden,
        golden_data=golden_data,
        model_card=_parse_pairs(card, "--card"),
        data=data,
        feeding=_feeding(state, set_values),
    )
    if as_json:
        _print_json(result.to_dict())
    else:
        from mlpack.cli.render import human_size

        _console().print(
            f"[bold green]Packed[/] {result.manifest['name']} {result.manifest['version']} -> "
            f"{result.output} ({human_size(result.size_bytes)}, {len(result.manifest['files'])} files, "
            f"{(result.manifest.get('golden') or {}).get('count', 0)} golden samples)"
        )
        stats = result.manifest.get("data_stats")
        if stats:
            _console().print(
                f"recorded statistics of {stats['samples']} samples from {stats['source']} "
                f"({human_size(stats['size_bytes'])}) for mlpack drift"
            )


@app.command()
@handle_errors
def verify(
    package: Annotated[Path, typer.Argument(help="An .mlpack package.")],
    run: Annotated[bool, typer.Option("--run", help="Also run the golden samples and compare outputs.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")] = False,
    target: Annotated[
        str | None, typer.Option(help="Run on this device: ssh://[user@]host[:port] or an SSH host alias.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="With --target: give up after this many seconds.")] = 600.0,
) -> None:
    """Check every hash, the manifest and the signature; exit 1 on tampering or a golden mismatch."""
    from mlpack.artifact.verify import verify as run_verify

    if target:
        args = ["verify", "package.mlpack", "--json", *(["--run"] if run else [])]
        outcome = _run_on_target(target, timeout, _file_job(args, {"package.mlpack": package}, {}, ()))
        answer = _device_json(outcome, None) | {"package": str(package)}
        if not as_json:  # the device's verdict, in the words of a local verify
            verdict = "[bold green]verified[/]" if answer["ok"] else "[bold red]verification failed[/]"
            _console().print(f"{verdict} on {outcome.target.url()}: {answer['name']} {answer['version']}")
            for problem in answer["problems"]:
                _console().print(f"  {problem}", soft_wrap=True, markup=False)
        _relay(outcome, "-" if as_json else None, answer)
        return
    result = run_verify(package, run=run)
    if as_json:
        _print_json(result.to_dict())
    elif result.ok:
        _console().print(
            f"[bold green]verified[/] {result.name} {result.version}: {result.files_checked} files match "
            "their hashes; the model loads and matches its signature"
        )
    else:
        from rich.markup import escape

        named = f"{result.name} {result.version}" if result.name else str(result.package)
        _console().print(
            f"[bold red]verification failed[/] {escape(named)}: {escape(' '.join(result.problems))}", soft_wrap=True
        )
    if result.golden is not None and not as_json:
        from mlpack.cli.render import comparison_table

        _console().print(comparison_table([result.golden], "Golden samples on this machine"))
    if result.exit_code:
        raise typer.Exit(int(result.exit_code))


@app.command(name="drift")
@handle_errors
def drift_command(
    package: Annotated[Path, typer.Argument(help="An .mlpack packed with --data.")],
    data: Annotated[Path, typer.Option(help="The new data (.npz, one array per input; no labels needed).")],
    psi: Annotated[float, typer.Option(help="PSI at which a numeric feature has drifted (0.25: significant).")] = (
        0.25
    ),
    js: Annotated[float, typer.Option(help="Jensen-Shannon distance at which a categorical feature has drifted.")] = (
        0.1
    ),
    batch_size: Annotated[int, typer.Option(help="Samples per block read and per inference call.")] = 256,
    json_out: JsonFile = None,
    markdown: Annotated[
        Path | None, typer.Option(help="Write a Markdown report (also appended to $GITHUB_STEP_SUMMARY when set).")
    ] = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML, one test case per feature.")] = None,
) -> None:
    """Has new data moved from the data the package was validated on? Exit 0 no, 1 drifted, 2 bad input."""
    import os

    from mlpack.budget.drift import DriftThresholds
    from mlpack.budget.drift import drift as run_drift
    from mlpack.core.fileio import write_text_atomic
    from mlpack.report.junit import drift_junit
    from mlpack.report.markdown import drift_markdown

    check_reports({"--json": json_out, "--markdown": markdown, "--junit": junit}, inputs=(package, data), summary=True)
    result = run_drift(package, data=data, thresholds=DriftThresholds(psi=psi, js=js), batch_size=batch_size)
    report = drift_markdown(result)
    if markdown:
        write_text_atomic(markdown, report)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(report)
    if junit:
        write_text_atomic(junit, drift_junit(result))
    _emit(result, json_out, "render_drift")
    if not result.ok:
        raise typer.Exit(int(result.exit_code))


@app.command(name="run")
@handle_errors
def run_command(
    package: Annotated[Path, typer.Argument(help="An .mlpack package.")],
    inputs: Annotated[Path, typer.Option("--input", "-i", help="Inputs .npz, arrays named by input.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the outputs (.npz).")],
    batch_size: Annotated[int, typer.Option(help="Samples per inference call.")] = 256,
    state: StateOption = None,
    set_values: SetOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")] = False,
    target: Annotated[
        str | None, typer.Option(help="Run on this device: ssh://[user@]host[:port] or an SSH host alias.")
    ] = None,
    timeout: Annotated[float, typer.Option(help="With --target: give up after this many seconds.")] = 600.0,
) -> None:
    """Run a packaged model on inputs (checked against its signature first)."""
    from mlpack.artifact.run import run_package

    if target:
        from mlpack.core.fileio import atomic_path

        args = ["run", "package.mlpack", "-o", "outputs.npz", "--batch-size", str(batch_size), "--json"]
        job = _file_job(args, {"package.mlpack": package}, {"--input": inputs}, ("outputs.npz",))
        outcome = _run_on_target(target, timeout, job)
        answer = _device_json(outcome, None) | {"output": str(output)}
        if outcome.exit_code == 0:
            with atomic_path(Path(output)) as tmp:
                tmp.write_bytes(outcome.files["outputs.npz"])
            if not as_json:
                shapes = ", ".join(f"{k}{v}" for k, v in answer["outputs"].items())
                _console().print(f"ran {answer['samples']} samples on {outcome.target.url()} -> {output} {shapes}")
        _relay(outcome, "-" if as_json else None, answer)
        return
    feeding = _feeding(state, set_values) if state or set_values else None  # None: the package's own pairs
    result = run_package(package, inputs, output, batch_size=batch_size, feeding=feeding)
    if as_json:
        _print_json(result.to_dict())
    else:
        _console().print(
            f"ran {result.samples} samples -> {result.output} "
            + ", ".join(f"{k}{v}" for k, v in result.outputs.items())
        )


@app.command()
@handle_errors
def build(
    config: Annotated[Path, typer.Argument(help="The build config.")] = Path("mlpack.toml"),
    out: Annotated[Path, typer.Option("--out", help="Output folder.")] = Path("dist"),
    force: Annotated[bool, typer.Option("--force", help="Rebuild every stage, even those up to date.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print the summary as JSON only.")] = False,
) -> None:
    """Export, optimise (or tune), check and pack from one config file; reuse what is up to date."""
    from mlpack.pipeline.build import build as run_build

    with _progress() as update:
        result = run_build(config, out=out, force=force, progress=update)
    _emit(result, "-" if as_json else None, "render_build")  # the JSON of a failed build too, then its code
    if not result.ok:
        raise _fail(result.message, int(result.exit_code))


@app.command()
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
    from mlpack.pipeline.init import DEFAULT_INPUTS
    from mlpack.pipeline.init import init as run_init

    specs = tuple(input_specs or DEFAULT_INPUTS)
    for spec in specs:
        parse_input_spec(spec)  # a typo is caught now, not at the first build
    path = run_init(output, source=source, inputs=specs, force=force)
    _console().print(f"wrote {path}; edit it, then run: mlpack build {path}")


_REPORTS = ["--json", "check.json", "--markdown", "check.md", "--junit", "check.xml"]
_REPORT_FILES = ("check.json", "check.md", "check.xml")


def _file_job(
    args: list[str], uploads: dict[str, Path], options: dict[str, Path | None], fetch: tuple[str, ...]
) -> Any:
    """An mlpack command for a device: each file option's file is copied there under a name of its own."""
    from mlpack.core.fileio import require_file
    from mlpack.remote.jobs import RemoteJob

    uploads = {name: require_file(Path(path), "file") for name, path in uploads.items()}
    for option, path in options.items():
        if path is not None:
            name = f"{option.strip('-')}{''.join(Path(path).suffixes[-1:])}"
            uploads[name] = require_file(Path(path), f"{option} file")
            args = [*args, option, name]
    return RemoteJob(tuple(args), uploads=uploads, fetch=fetch)


def _run_on_target(url: str, timeout: float, job: Any) -> Any:
    """The device's answer to an mlpack command; its own bad-input or internal error raised here."""
    from mlpack.errors import InternalError, RemoteError
    from mlpack.remote.jobs import run_job
    from mlpack.remote.ssh import parse_target

    target = parse_target(url)
    with _console(stderr=True).status(f"running on {target.label}"):
        outcome = run_job(target, job, timeout_s=timeout)
    if outcome.exit_code == ExitCode.BAD_INPUT:
        raise RemoteError(f"on {target.label}: {outcome.error_line()}")
    if outcome.exit_code not in (ExitCode.OK, ExitCode.FAILED, ExitCode.INCONCLUSIVE):
        raise InternalError(f"on {target.label} (exit {outcome.exit_code}): {outcome.error_line()}")
    return outcome


def _device_json(outcome: Any, name: str | None) -> dict[str, Any]:
    """The device's JSON result (a fetched file, or its stdout), saying that it ran there."""
    from mlpack.errors import RemoteError

    raw = outcome.files.get(name, b"") if name else outcome.stdout.encode("utf-8")
    try:
        result = json.loads(raw)
    except ValueError:
        raise RemoteError(f"{outcome.target.label} returned no readable result: {outcome.error_line()}") from None
    if isinstance(result.get("device"), dict):
        result["device"] |= {"measured_on_device": True, "note": "measured on the device itself"}
    return result | {"on_device": True, "target": outcome.target.url(), "system": outcome.system}


def _relay(outcome: Any, json_out: str | None, result: dict[str, Any]) -> None:
    """The JSON where asked; otherwise the device's own rendering (unless it is JSON); then its exit code."""
    if json_out:
        _write_json(json_out, result)
    if json_out != "-" and outcome.stdout.strip() and not outcome.stdout.lstrip().startswith("{"):
        typer.echo(outcome.stdout, nl=False)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _progress() -> Any:
    """A context manager yielding ``update(what, fraction)``, drawing a progress bar on stderr."""
    import contextlib

    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    @contextlib.contextmanager
    def bar() -> Any:
        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=_console(stderr=True),
            transient=True,
        ) as progress:
            task = progress.add_task("starting", total=1.0)

            def update(what: str, fraction: float) -> None:
                progress.update(task, description=what, completed=fraction)

            yield update

    return bar()


def main() -> None:
    app(prog_name="mlpack")

