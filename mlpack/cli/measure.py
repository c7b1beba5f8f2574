"""``mlpack bench``, ``devices`` and ``compare``: latency on this CPU or on devices, side by side."""

from pathlib import Path
from typing import Annotated, Any

import typer

from mlpack.cli.common import (
    DevicesFile,
    JsonOut,
    Range,
    SetOption,
    ShapeOption,
    StateOption,
    Wide,
    console,
    emit,
    exit_with,
    feeding,
    flags,
    handle_errors,
    json_option,
    positive_ints,
    print_error,
    progress,
    spinner,
    write_json,
)
from mlpack.cli.conventions import Command, Group
from mlpack.core.choices import ExecutionMode, GraphOptimization

Runs = Annotated[
    int | None,
    typer.Option(help="Minimum timed runs per configuration (with --duration: a fixed count, not adaptive)."),
]
Duration = Annotated[float | None, typer.Option(help="Minimum timed seconds per configuration (fixed, not adaptive).")]
Precision = Annotated[
    float, typer.Option(help="Adaptive: stop when the p50's 95% interval is within +- this fraction.")
]
MaxTime = Annotated[float, typer.Option(help="Adaptive: timed seconds per configuration at most.")]
Spinning = Annotated[
    bool | None,
    typer.Option(
        "--spinning/--no-spinning",
        help="Thread spinning (default: on for one configuration, off when "
        "interleaving, where idle sessions would steal cores).",
    ),
]
OnDevice = Annotated[
    bool, typer.Option("--on-device", help="This machine is the profile's device (not an approximation).")
]
LatencyBudget = Annotated[float | None, typer.Option(help="Name the largest batch with p95 under this (ms).")]
Plot = Annotated[Path | None, typer.Option(help="Draw latency percentiles and the batch trade-off (PNG).")]
Targets = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        help="Measure on this device: ssh://[user@]host[:port] or a host alias from ~/.ssh/config "
        "(not a device profile: that is --device; repeatable).",
    ),
]
BenchTimeout = Annotated[
    float, typer.Option(help="With --target: give up on a device after this many seconds."), Range(0, None, True)
]


@handle_errors
def bench(
    models: Annotated[list[Path], typer.Argument(help="One or more ONNX models, measured interleaved.")],
    runs: Runs = None,
    duration: Duration = None,
    precision: Precision = 0.02,
    max_time: MaxTime = 10.0,
    warmup: Annotated[int, typer.Option(help="Untimed warm-up runs.")] = 10,
    batch_sizes: Annotated[str, typer.Option(help="Batch sizes to sweep, e.g. 1,8,32.")] = "1",
    threads: Annotated[str | None, typer.Option(help="Intra-op thread counts to sweep, e.g. 1,2,4.")] = None,
    execution_mode: Annotated[ExecutionMode, typer.Option(help="onnxruntime execution mode.")] = (
        ExecutionMode.SEQUENTIAL
    ),
    graph_optimization: Annotated[GraphOptimization, typer.Option(help="onnxruntime graph optimisation level.")] = (
        GraphOptimization.ALL
    ),
    spinning: Spinning = None,
    data: Annotated[Path | None, typer.Option(help=".npz inputs (default: generated from the signature).")] = None,
    device: Annotated[str | None, typer.Option(help="Device profile to run with (see mlpack devices).")] = None,
    devices_file: DevicesFile = None,
    on_device: OnDevice = False,
    latency_budget: LatencyBudget = None,
    profile: Annotated[bool, typer.Option("--profile", help="Per-operator time breakdown.")] = False,
    seed: Annotated[int, typer.Option(help="Seed for generated inputs.")] = 0,
    state: StateOption = None,
    set_values: SetOption = None,
    shapes: ShapeOption = None,
    json_out: JsonOut = None,
    plot: Plot = None,
    target: Targets = None,
    timeout: BenchTimeout = 600.0,
    wide: Wide = False,
) -> None:
    """Measure latency, throughput and memory with onnxruntime on this CPU, or on devices (--target)."""
    from mlpack.bench.adaptive import Adaptive
    from mlpack.bench.settings import BenchSettings
    from mlpack.core.validate import check_reports

    check_reports({"--json": json_out, "--plot": plot}, inputs=(*models, data, devices_file))
    flags.wide = wide
    adaptive = Adaptive(precision=precision, max_seconds=max_time)
    adaptive.validate()  # also when --runs or --duration fix the count, so that a wrong value is never ignored
    fixed = runs is not None or duration is not None
    settings = BenchSettings(
        runs=100 if runs is None else runs,
        duration_s=2.0 if duration is None else duration,
        adaptive=None if fixed else adaptive,
        warmup=warmup,
        batch_sizes=positive_ints(batch_sizes, "--batch-sizes"),
        threads=positive_ints(threads, "--threads") if threads else (None,),
        execution_mode=execution_mode,
        graph_optimization=graph_optimization,
        spinning=spinning,
        data=data,
        seed=seed,
        feeding=feeding(state, set_values, shapes),
        profile=profile,
        latency_budget_ms=latency_budget,
    )
    settings.validate()
    _measure(models, settings, device, devices_file, target, on_device, timeout, json_out, plot)


def _measure(
    models: list[Path],
    settings: Any,
    device: str | None,
    devices_file: Path | None,
    targets: list[str] | None,
    on_device: bool,
    timeout: float,
    json_out: str | None,
    plot: Path | None,
) -> None:
    """Here, or on the devices named by --target or by the device profile's own target."""
    from mlpack.bench.measure import benchmark
    from mlpack.core.devices import get_device
    from mlpack.remote.targets import profile_target

    profile_device = get_device(device, devices_file) if device else None
    profiled = profile_target(device, devices_file=devices_file) if device else None
    target_urls = targets or ([profiled] if profiled else [])
    if target_urls:
        _bench_on_targets(models, target_urls, settings, profile_device, timeout, json_out, plot)
        return
    with progress() as update:
        result = benchmark(models, settings=settings, device=profile_device, on_device=on_device, progress=update)
    if plot:
        from mlpack.report.plots import plot_bench

        plot_bench(result, plot)
    emit(result, json_out)


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
    from mlpack.bench.fleet import benchmark_on_targets
    from mlpack.errors import RemoteError
    from mlpack.remote.ssh import parse_target

    targets = [parse_target(url) for url in urls]
    with spinner(f"measuring on {', '.join(t.label for t in targets)}"):
        fleet = benchmark_on_targets(models, targets=targets, settings=settings, device=device, timeout_s=timeout)
    if len(targets) == 1 and fleet.failures:
        raise RemoteError(next(iter(fleet.failures.values())))
    emit(fleet.results[0] if len(targets) == 1 else fleet, json_out)
    if fleet.results and plot:  # after the JSON, so that a failed plot keeps what the devices measured
        from mlpack.report.plots import plot_bench

        plot_bench(fleet.merged(), plot)
    for message in fleet.failures.values():
        print_error(message)
    if not fleet.ok:
        raise typer.Exit(int(fleet.exit_code))


devices_app = typer.Typer(
    help="List the device profiles; set up and check a device over SSH (devices setup / devices check).",
    add_completion=False,
    rich_markup_mode=None,
    cls=Group,
)
DeviceUrl = Annotated[str, typer.Argument(help="The device: ssh://[user@]host[:port] or an SSH host alias.")]
DeviceDir = Annotated[
    str, typer.Option("--dir", help="The folder on the device that holds the venv (relative: in the user's home).")
]


@devices_app.callback(invoke_without_command=True)
@handle_errors
def devices(
    ctx: typer.Context,
    devices_file: DevicesFile = None,
    json_out: Annotated[str | None, json_option("the profiles")] = None,
) -> None:
    """List the device profiles: built in, and from your own file."""
    from mlpack.core.devices import load_devices

    if ctx.invoked_subcommand is not None:
        return
    profiles = load_devices(devices_file)
    if json_out:
        write_json(json_out, {name: p.to_dict() for name, p in profiles.items()})
    if json_out != "-":
        from mlpack.cli.render import render_devices

        render_devices(console(), profiles)


@devices_app.command("setup", cls=Command)
@handle_errors
def devices_setup(
    target: DeviceUrl,
    folder: DeviceDir = ".mlpack-device",
    json_out: Annotated[str | None, json_option("what was done")] = None,
) -> None:
    """Install this mlpack (runtime-only) into a venv on the device, offline; later --target runs use it."""
    from mlpack.remote.setup import setup_device
    from mlpack.remote.ssh import parse_target

    device = parse_target(target)
    with spinner(f"setting up {device.label}"):
        result = setup_device(device, folder=folder)
    emit(result, json_out)


@devices_app.command("check", cls=Command)
@handle_errors
def devices_check(
    target: DeviceUrl,
    folder: DeviceDir = ".mlpack-device",
    json_out: Annotated[str | None, json_option("what is there")] = None,
) -> None:
    """Report what the device has: Python, the venv's mlpack and onnxruntime, CPU and instruction sets."""
    from mlpack.remote.setup import check_device
    from mlpack.remote.ssh import parse_target

    report = check_device(parse_target(target), folder=folder)
    if json_out:
        write_json(json_out, report)
    if json_out == "-":
        return
    base, venv = report["python"], report["venv"]
    lines = [f"{report['target']}: Python {base['python']} ({base['platform']}, {base['machine']}); CPU {base['cpu']}"]
    if venv:
        lines.append(f"venv {venv['prefix']}: mlpack {venv['mlpack']}, onnxruntime {venv['onnxruntime']}")
        lines.append(f"instruction sets: {', '.join(venv['isa'] or []) or 'unknown'}")
    else:
        lines.append(f"no venv in {report['folder']}: run mlpack devices setup {report['target']}")
    for line in lines:
        console().print(line, markup=False)  # facts from the device, never markup


@handle_errors
def compare(
    results: Annotated[list[Path], typer.Argument(help="Bench results (JSON); the first is the baseline.")],
    percentile: Annotated[str, typer.Option(help="p50, p90, p95, p99 or mean.")] = "p50",
    fail_if_slower: Annotated[
        float | None,
        typer.Option(help="Exit 1 if any result is slower than the baseline by more than this many percent."),
        Range(0),
    ] = None,
    json_out: Annotated[str | None, json_option("the comparison")] = None,
) -> None:
    """Set bench results from devices, versions or models side by side, with ratios."""
    from mlpack.bench.compare import compare as run_compare

    result = run_compare(results, percentile=percentile, fail_if_slower_pct=fail_if_slower)
    emit(result, json_out)  # the JSON goes out for a failure too
    exit_with(result)
