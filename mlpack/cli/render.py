"""Rich rendering of results for people, chosen by the result's type in one table.

:data:`RENDERERS` names a renderer for every result a command prints; ``tests/cli`` checks that no
result type is left out. JSON output never goes through here.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table

from mlpack.artifact.pack import PackResult
from mlpack.artifact.run import RunResult
from mlpack.artifact.verify import VerifyResult
from mlpack.artifact.why import SizeResult
from mlpack.bench.compare import CompareResult
from mlpack.bench.results import BenchResult, FleetResult
from mlpack.budget.check import CheckResult
from mlpack.budget.diff import BeforeAfter
from mlpack.budget.drift import DriftResult
from mlpack.cli.flags import flags
from mlpack.cli.markup import escape
from mlpack.cli.render_build import render_build
from mlpack.cli.render_diff import render_diff
from mlpack.cli.render_model import (
    comparison_table,
    render_export,
    render_inspect,
    render_optimize,
    render_pack,
    render_run,
    render_verify,
)
from mlpack.cli.render_size import render_size
from mlpack.cli.tables import Column, duration, fitted, show, size
from mlpack.core.fidelity import Comparison, OutputDiff, Tolerance
from mlpack.core.modelinfo import ModelInfo
from mlpack.core.sysinfo import MeasuredOn
from mlpack.exporter.export import ExportResult
from mlpack.pipeline.summary import BuildResult
from mlpack.pipeline.tune import TuneResult
from mlpack.quant.optimize import OptimizeResult
from mlpack.remote.commands import RemoteResult, RemoteRunResult, RemoteVerifyResult
from mlpack.remote.setup import SetupResult

if TYPE_CHECKING:
    from mlpack.bench.results import Measurement
    from mlpack.core.devices import DeviceProfile


def render(console: Console, result: Any) -> None:
    """Show ``result`` to a person with the renderer its type has in :data:`RENDERERS`."""
    RENDERERS[type(result)](console, result)


def render_bench(console: Console, result: BenchResult) -> None:
    _bench_header(console, result)
    _latency_table(console, result)
    for m in result.measurements:
        for warning in m.warnings:
            console.print(f"[yellow]! {escape(m.name)} (batch {m.batch_size}):[/] {escape(warning)}")
    for key, batch in result.best_batch.items():
        budget = result.settings["latency_budget_ms"]
        verdict = f"batch {batch}" if batch else "no batch size"
        console.print(f"[bold]{escape(key)}[/]: largest batch with p95 <= {budget} ms: {verdict}")
    for m in result.measurements:
        if m.profile:
            render_profile(console, m)


def _bench_header(console: Console, result: BenchResult) -> None:
    """Where and how it was measured: CPU, device, stopping rule, spinning, percentile method."""
    system = result.system
    console.print(
        f"[bold]{system['cpu_model']}[/], {system['logical_cores']} logical cores, "
        f"onnxruntime {system['versions']['onnxruntime']}; INT8 acceleration: {system['int8_acceleration']}"
    )
    if result.device:
        console.print(f"device profile [bold]{escape(result.device['name'])}[/]: {escape(result.device['note'])}")
    if result.on_device:
        console.print(f"measured on the device [bold]{escape(result.target or '')}[/]")
    settings = result.settings
    adaptive = settings.get("adaptive")
    until = (
        f">= {settings['runs']} runs and >= {settings['duration_s']} s"
        if not adaptive
        else f"until the p50 is within ±{adaptive['precision']:.0%} ({adaptive['confidence']:.0%} interval) "
        f"or {adaptive['max_seconds']:g} s are timed, >= {adaptive['min_runs']} runs"
    )
    console.print(
        f"[dim]{settings['warmup']} warm-up runs; {until} "
        f"each{', interleaved' if settings['interleaved'] else ''}; spinning "
        f"{'on' if settings['spinning'] else 'off'}; percentiles: {settings['percentile_method']}[/]"
    )


# Size on disk and the peak in memory side by side: weights stored small at rest are restored to
# FP32 when the session loads, so a smaller file is not a smaller footprint. Rank 0 is always shown;
# the others join, lowest rank first, while the table fits the width.
BENCH_COLUMNS = (
    Column("model", 0, right=False), Column("batch", 0), Column("threads", 2), Column("load", 3),
    Column("first", 3), Column("p50", 0), Column("p50 ±", 2), Column("p90", 3), Column("p95", 1),
    Column("p99", 2), Column("mean", 3), Column("cv", 2), Column("samples/s", 1), Column("size", 1),
    Column("peak memory", 1), Column("vs first", 1),
)  # fmt: skip


def _latency_table(console: Console, result: BenchResult) -> None:
    rows = []
    for m in result.measurements:
        lat = m.latency_ms
        rows.append(
            (
                escape(m.name),
                str(m.batch_size),
                "default" if m.threads is None else str(m.threads),
                duration(m.load_ms),
                duration(m.first_inference_ms),
                duration(lat.p50),
                m.precision.describe() if m.precision else "-",
                duration(lat.p90),
                duration(lat.p95),
                duration(lat.p99),
                duration(lat.mean),
                f"{lat.cv:.1%}",
                f"{m.throughput_sps:,.0f}",
                size(m.size_bytes),
                f"{m.memory.model_peak_mb:.1f} MiB",
                f"{m.ratio_to_first['p50']:.2f}x" if m.ratio_to_first else "-",
            )
        )
    table, dropped = fitted("Latency", BENCH_COLUMNS, rows, width=console.width, wide=flags.wide)
    show(console, table, dropped, wide=flags.wide)


def render_profile(console: Console, m: Measurement) -> None:
    assert m.profile is not None
    table = Table(
        title=f"Where the time goes: {m.name} (batch {m.batch_size}, onnxruntime profiler, {m.profile['runs']} runs)",
        title_justify="left",
    )
    for column in ("op type", "ms/run", "share"):
        table.add_column(column, justify="left" if column == "op type" else "right")
    for row in m.profile["op_types"][:10]:
        table.add_row(escape(row["op"]), f"{row['ms_per_run']:.3f}", f"{row['share']:.1%}")
    console.print(table)
    nodes = Table(title="Slowest nodes", title_justify="left")
    for column in ("node", "op", "ms/run", "share"):
        nodes.add_column(column, justify="right" if column in ("ms/run", "share") else "left")
    for row in m.profile["nodes"]:
        nodes.add_row(escape(row["node"]), escape(row["op"]), f"{row['ms_per_run']:.3f}", f"{row['share']:.1%}")
    console.print(nodes)
    console.print(
        f"profiled after {m.profile.get('warmup', 0)} warm-up runs; ms/run is each share of the timed p50 "
        f"({m.latency_ms.p50:.3f} ms), so the rows add up to it (the profiler's own figures are in --json)",
        soft_wrap=True,
    )


def render_devices(console: Console, devices: dict[str, DeviceProfile]) -> None:
    table = Table(title="Device profiles", title_justify="left")
    for column in ("name", "threads", "cpus", "memory MB", "source", "description"):
        table.add_column(column)
    for device in devices.values():
        table.add_row(
            escape(device.name),
            str(device.threads),
            ",".join(map(str, device.cpus or ())) or "-",
            f"{device.memory_mb:.0f}" if device.memory_mb else "-",
            "built-in" if device.builtin else "file",
            escape(device.description),
        )
    console.print(table)


def render_compare(console: Console, result: CompareResult) -> None:
    for source, system in result.systems.items():
        console.print(
            f"[dim]{escape(source)}: {escape(str(system['cpu']))}, onnxruntime "
            f"{(system['versions'] or {}).get('onnxruntime')}, device {system['device'] or '-'}[/]"
        )
    table = Table(title=f"{result.percentile} latency against {result.baseline}", title_justify="left")
    for column in ("entry", "result", "baseline ms", "ms", "ratio"):
        table.add_column(column, justify="left" if column in ("entry", "result") else "right")
    regressions = set(result.regressions)
    for row in result.rows:
        style = "red" if row in regressions else ("green" if row.ratio < 1 else "")
        ratio = f"[{style}]{row.ratio:.3f}x[/]" if style else f"{row.ratio:.3f}x"
        table.add_row(escape(row.key), escape(row.source), f"{row.baseline_ms:.3f}", f"{row.latency_ms:.3f}", ratio)
    console.print(table)
    if result.fail_if_slower_pct is not None:
        if result.failed:
            console.print(
                f"[bold red]slower than the baseline by more than {result.fail_if_slower_pct}%:[/] "
                + ", ".join(escape(r.key) for r in result.regressions)
            )
        else:
            console.print(f"[green]no entry slower than the baseline by more than {result.fail_if_slower_pct}%[/]")


CHECK_COLUMNS = (
    Column("budget", 0, right=False), Column("measured", 0), Column("limit", 0), Column("margin", 0),
    Column("result", 0, right=False), Column("how", 1, right=False),
)  # fmt: skip


def render_check(console: Console, result: CheckResult) -> None:
    from mlpack.report.formatting import margin_text, status_text, value_text

    where = f" on {escape(result.device['name'])} (approximated here)" if result.device else ""
    colours = {"pass": "green", "FAIL": "bold red", "inconclusive": "yellow"}
    rows = []
    for v in result.verdicts:
        status = status_text(v)
        rows.append(
            (
                escape(v.budget),
                value_text(v.measured, v.unit, v.shown_unit),
                value_text(v.limit, v.unit, v.shown_unit),
                margin_text(v),
                f"[{colours.get(status, 'yellow')}]{status}[/]",
                escape(v.detail),
            )
        )
    title = f"mlpack check: {escape(result.model)}{where}"
    table, dropped = fitted(title, CHECK_COLUMNS, rows, width=console.width)
    console.print(table)
    if dropped:  # how each figure was measured, under the table rather than cut to a sliver
        for v in result.verdicts:
            if v.detail:
                console.print(f"  [dim]{escape(v.budget)}: {escape(v.detail)}[/]")
    if result.quality and result.quality.per_slice:
        metric = "accuracy" if result.quality.task == "classification" else "mae"
        slices = Table(title=f"Per slice ({metric})", title_justify="left")
        for column in ("slice", "samples", metric):
            slices.add_column(column, justify="right")
        for name, metrics in result.quality.per_slice.items():
            if metric in metrics:
                slices.add_row(escape(name), str(result.quality.slice_sizes[name]), f"{metrics[metric]:.4f}")
        console.print(slices)
    colour = {0: "green", 1: "red", 3: "yellow"}.get(int(result.exit_code), "white")
    console.print(f"[bold {colour}]{escape(result.summary)}[/] (exit {int(result.exit_code)})")


TUNE_COLUMNS = (
    Column("candidate", 0, right=False), Column("size", 0), Column("size ratio", 2), Column("p50", 1),
    Column("p95", 0), Column("latency ratio", 2), Column("accuracy", 1), Column("slice gap", 3),
    Column("budgets", 0, right=False),
)  # fmt: skip


def render_tune(console: Console, result: TuneResult) -> None:
    console.print(
        f"[bold]mlpack tune[/] {escape(result.model)}: objective {result.objective.value}; "
        f"INT8 acceleration on this CPU: {escape(result.int8_acceleration)}"
    )
    fp32 = next((c for c in result.candidates if c.spec.name == "fp32" and c.size_bytes), None)
    rows = []
    for c in result.candidates:
        name = ("* " if c.pareto else "  ") + c.spec.name + (" <- chosen" if c.spec.name == result.chosen else "")
        if c.status != "built":
            blanks = ["-"] * (len(TUNE_COLUMNS) - 2)
            rows.append([escape(name), *blanks, f"[yellow]{c.status}:[/] " + escape((c.reason or "")[:90])])
            continue
        score = c.metrics.get("accuracy", c.metrics.get("agreement"))
        gap = c.slice_gap.get("accuracy")
        verdict = "[green]all met[/]" if c.meets_budgets else "[red]broken: " + escape(", ".join(c.broken())) + "[/]"
        if c.slower_than_fp32:
            verdict += " [yellow](slower than FP32)[/]"
        rows.append(
            [
                escape(name),
                size(c.size_bytes or 0),
                f"{(c.size_bytes or 0) / fp32.size_bytes:.3f}" if fp32 and fp32.size_bytes else "-",
                duration(c.latency_ms.get("p50")),
                duration(c.latency_ms.get("p95")),
                f"{c.latency_ratio:.2f}" if c.latency_ratio is not None else "-",
                f"{score:.4f}" if score is not None else "-",
                f"{gap:.4f}" if gap is not None else "-",
                verdict,
            ]
        )
    title = "Candidates (* front within budgets: size, p50, accuracy)"
    table, dropped = fitted(title, TUNE_COLUMNS, rows, width=console.width, wide=flags.wide)
    show(console, table, dropped, wide=flags.wide)
    if result.measured_on:
        where = "; ".join(MeasuredOn.from_dict(d).describe() for d in result.measured_on)
        fleet = ", ranked by the slowest" if len(result.measured_on) > 1 else ""
        console.print(f"candidates timed on {escape(where)}{fleet}")
    if result.timed_out:
        console.print("[yellow]the time box ran out: the best of the candidates built so far was taken[/]")
    if result.chosen:
        console.print(
            f"[bold green]chose {escape(result.chosen)}[/] -> {escape(str(result.output))} "
            f"({result.seconds:.1f} s); verify it with mlpack check for confidence-interval latency verdicts"
        )
    else:
        console.print(
            f"[bold red]no candidate meets every budget[/] ({result.seconds:.1f} s); what each broke is "
            "in the last column"
        )


def render_drift(console: Console, result: DriftResult) -> None:
    """One row per feature, most significant first: the test, effect sizes, notes and both sides."""
    table = Table(
        title=f"mlpack drift: {escape(result.data)} ({result.samples} samples) against "
        f"{escape(result.reference)} ({result.reference_samples} samples)",
        title_justify="left",
    )
    for column in ("feature", "result", "p adjusted", "PSI", "JS", "recorded", "new", "notes"):
        table.add_column(column, justify="right" if column in ("p adjusted", "PSI", "JS") else "left")
    for f in result.features:
        status = "[bold red]DRIFT[/]" if f.drifted else "[green]ok[/]"
        table.add_row(
            escape(f"{f.feature} ({f.role})"),
            status,
            f"{f.p_adjusted:.2g}",
            f"{f.psi:.3f}",
            f"{f.js:.3f}",
            escape(_drift_side(f.reference)),
            escape(_drift_side(f.observed)),
            escape("; ".join(f.notes)),
        )
    console.print(table)
    colour = "green" if result.ok else "red"
    console.print(f"[bold {colour}]{escape(result.summary)}[/] (exit {int(result.exit_code)})")


def _drift_side(values: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.3g}" for k, v in values.items())


def render_fleet(console: Console, result: FleetResult) -> None:
    """Every device's measurements in one table (the devices that failed are reported as errors)."""
    if result.results:
        render_bench(console, result.merged())


def render_remote(console: Console, result: RemoteResult) -> None:
    """What the command printed on the device, as it printed it."""
    if result.rendering:
        typer.echo(result.rendering, nl=False)


def render_remote_verify(console: Console, result: RemoteVerifyResult) -> None:
    answer = result.result
    verdict = "[bold green]verified[/]" if answer["ok"] else "[bold red]verification failed[/]"
    console.print(f"{verdict} on {escape(result.target_url)}: {escape(answer['name'])} {escape(answer['version'])}")
    for problem in answer["problems"]:
        console.print(f"  {problem}", soft_wrap=True, markup=False)
    golden = answer.get("golden")
    if golden:  # the device's golden-sample comparison, as a local verify shows it
        outputs = tuple(OutputDiff(**o) for o in golden["outputs"])
        comparison = Comparison(golden["label"], outputs, Tolerance(**golden["tolerance"]))
        console.print(comparison_table([comparison], f"Golden samples on {result.target_url}"))
    render_remote(console, result)


def render_remote_run(console: Console, result: RemoteRunResult) -> None:
    if result.output is not None:
        shapes = ", ".join(f"{k}{v}" for k, v in result.result["outputs"].items())
        console.print(
            escape(f"ran {result.result['samples']} samples on {result.target_url} -> {result.output} {shapes}")
        )
    render_remote(console, result)


def render_setup(console: Console, result: SetupResult) -> None:
    what = f"installed {len(result.installed)} wheels" if result.changed else "already set up: nothing changed"
    mlpack = result.facts.get("mlpack")
    console.print(f"{escape(result.target)}: {what}; mlpack {mlpack} runs there as {escape(result.python)}")


# Every result a command shows, with its renderer: a new result type without one fails tests/cli.
RENDERERS: dict[type, Callable[[Console, Any], None]] = {
    ExportResult: render_export,
    OptimizeResult: render_optimize,
    ModelInfo: render_inspect,
    BenchResult: render_bench,
    FleetResult: render_fleet,
    CompareResult: render_compare,
    CheckResult: render_check,
    BeforeAfter: render_diff,
    TuneResult: render_tune,
    DriftResult: render_drift,
    PackResult: render_pack,
    VerifyResult: render_verify,
    RunResult: render_run,
    BuildResult: render_build,
    RemoteResult: render_remote,
    RemoteVerifyResult: render_remote_verify,
    RemoteRunResult: render_remote_run,
    SetupResult: render_setup,
    SizeResult: render_size,
}
