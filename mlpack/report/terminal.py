"""Rich rendering of results for people. JSON output never goes through here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from mlpack.compare import Comparison
    from mlpack.export import ExportResult
    from mlpack.modelinfo import ModelInfo
    from mlpack.optimize import OptimizeResult
    from mlpack.signature import Signature


def human_size(num_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB"):
        if abs(num_bytes) < 1024 or unit == "GB":
            return f"{num_bytes:.0f} {unit}" if unit == "B" else f"{num_bytes:.2f} {unit}"
        num_bytes /= 1024
    return f"{num_bytes:.2f} GB"


def signature_table(signature: Signature) -> Table:
    table = Table(title="Signature", title_justify="left")
    for column in ("", "name", "shape", "dtype"):
        table.add_column(column)
    for kind, specs in (("input", signature.inputs), ("output", signature.outputs)):
        for spec in specs:
            table.add_row(kind, escape(spec.name), escape(spec.shape_text()), spec.dtype)
    return table


def comparison_table(checks: tuple[Comparison, ...] | list[Comparison], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("on", "output", "max abs err", "max rel err", "cosine", "ok"):
        table.add_column(column, justify="right" if column not in ("on", "output") else "left")
    for check in checks:
        for diff in check.outputs:
            table.add_row(
                escape(check.label),
                escape(diff.name),
                f"{diff.max_abs_error:.3g}",
                f"{diff.max_rel_error:.3g}",
                f"{diff.cosine_similarity:.6f}",
                "[green]yes[/]" if diff.passed else "[red]NO[/]",
            )
    return table


def render_export(console: Console, result: ExportResult) -> None:
    console.print(
        f"[bold green]Exported[/] {result.source} -> {result.output} "
        f"({human_size(result.size_bytes)}, opset {result.opset}, {result.exporter} exporter, "
        f"{result.seconds:.1f} s)"
    )
    if result.fallback_reason:
        console.print(f"[yellow]fell back to the TorchScript exporter:[/] {escape(result.fallback_reason)}")
    for note in result.notes:
        console.print(f"  [dim]{escape(note)}[/]")
    console.print(signature_table(result.signature))
    if result.checks:
        console.print(comparison_table(result.checks, f"Verified against PyTorch ({result.tolerance.describe()})"))


def render_optimize(console: Console, result: OptimizeResult) -> None:
    table = Table(title=f"{result.source.name} -> {result.output.name}", title_justify="left")
    for column in ("", "size", "ratio"):
        table.add_column(column, justify="right")
    table.add_row("before", human_size(result.size_before), "1.00")
    table.add_row("after", human_size(result.size_after), f"{result.size_ratio:.2f}")
    console.print(table)
    for step in result.steps:
        console.print(f"  [green]✓[/] {step}")
    for warning in result.warnings:
        console.print(f"  [yellow]![/] {warning}")
    console.print(
        comparison_table([result.comparison], f"Outputs against the source ({result.comparison.tolerance.describe()})")
    )


def render_inspect(console: Console, info: ModelInfo) -> None:
    console.print(
        f"[bold]{info.path}[/]  {human_size(info.size_bytes)}"
        + (f" (external data: {', '.join(info.external_data)})" if info.external_data else "")
    )
    console.print(
        f"producer: {info.producer or '-'}   IR {info.ir_version}   opsets: "
        + ", ".join(f"{d} {v}" for d, v in info.opsets.items())
    )
    console.print(
        f"parameters: {info.parameter_count:,} ({human_size(info.initializer_bytes)})   nodes: {info.node_count}"
    )
    console.print(signature_table(info.signature))
    ops = Table(title="Operators", title_justify="left")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, count in info.op_histogram.items():
        ops.add_row(op, str(count))
    console.print(ops)
