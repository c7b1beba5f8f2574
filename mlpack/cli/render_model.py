"""Rich rendering of one model or package for people: export, optimize, inspect, pack, verify, run.

The helpers here (sizes, signatures, output comparisons) are shared with :mod:`mlpack.cli.render`.
JSON output never goes through here.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from mlpack.cli.markup import escape
from mlpack.cli.render_decisions import measured_on_line, timings_table
from mlpack.cli.render_fidelity import decision_lines, layer_table
from mlpack.cli.tables import size as human_size
from mlpack.core.signature import Signature

if TYPE_CHECKING:
    from mlpack.artifact.pack import PackResult
    from mlpack.artifact.run import RunResult
    from mlpack.artifact.verify import VerifyResult
    from mlpack.core.fidelity import Comparison
    from mlpack.core.modelinfo import ModelInfo
    from mlpack.exporter.export import ExportResult
    from mlpack.quant.optimize import OptimizeResult


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
        f"[bold green]Exported[/] {escape(result.source)} -> {escape(str(result.output))} "
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
    table = Table(title=f"{escape(result.source.name)} -> {escape(result.output.name)}", title_justify="left")
    for column in ("", "size", "ratio"):
        table.add_column(column, justify="right")
    table.add_row("before", human_size(result.size_before), "1.00")
    table.add_row("after", human_size(result.size_after), f"{result.size_ratio:.2f}")
    console.print(table)
    for step in result.steps:
        console.print(f"  [green]✓[/] {escape(step)}")
    for warning in result.warnings:
        console.print(f"  [yellow]![/] {escape(warning)}")
    console.print(
        comparison_table([result.comparison], f"Outputs against the source ({result.comparison.tolerance.describe()})")
    )
    for line in decision_lines(result.comparison):
        console.print(f"  {line}")
    if result.tensors:
        console.print(tensor_table(result.tensors))
    if result.layers:
        console.print(layer_table(result.layers))
    if result.speed_decisions:
        console.print(timings_table(result.speed_decisions))
        console.print(measured_on_line(result.speed_decisions))
    if result.nodes:
        console.print(node_table(result.nodes))
    if result.latency_ratio is not None:
        console.print(f"latency {result.latency_ratio:.2f}x FP32 (measured interleaved where the decisions were)")
    if result.accuracy is not None:
        report = result.accuracy
        console.print(
            f"accuracy-aware: {report.metric} {report.reference_score:.4f} (FP32) -> {report.full_quant_score:.4f} "
            f"fully quantised -> {report.final_score:.4f} (drop {report.final_drop:.4f}, budget {report.max_drop:.4f})"
        )
        kept = Table(title="Kept in float, most degrading first", title_justify="left")
        for column in ("node", "op", "output SQNR when fully quantised (dB)"):
            kept.add_column(column)
        for k in report.kept_in_float:
            kept.add_row(escape(k.node), escape(k.op_type), f"{k.sqnr_db:.1f}")
        console.print(kept)


TENSOR_ROWS = 25


def tensor_table(tensors: tuple[dict[str, Any], ...]) -> Table:
    """Each weight's representation and why, the largest first."""
    table = Table(title="Weights: how each is stored, and why", title_justify="left")
    for column in ("tensor", "role", "shape", "representation", "why"):
        table.add_column(column)
    ordered = sorted(tensors, key=lambda t: -_elements(t["shape"]))
    for entry in ordered[:TENSOR_ROWS]:
        rep = entry["representation"] + (f" /{entry['block']}" if entry.get("block") else "")
        shape = "x".join(map(str, entry["shape"]))
        table.add_row(escape(entry["tensor"]), escape(entry["role"]), shape, rep, escape(entry["reason"]))
    if len(ordered) > TENSOR_ROWS:
        table.add_row(f"... {len(ordered) - TENSOR_ROWS} more (see --json)", "", "", "", "")
    return table


def node_table(nodes: tuple[dict[str, Any], ...]) -> Table:
    """Each convolution's compute (static INT8 or FP32) and why, in graph order."""
    table = Table(title="Convolutions: INT8 or FP32 compute, and why", title_justify="left")
    for column in ("node", "ops", "compute", "INT8 / FP32 latency", "why"):
        table.add_column(column)
    for entry in nodes[:TENSOR_ROWS]:
        ratio = entry.get("int8_ratio")
        table.add_row(
            escape(entry["node"]),
            "+".join(entry["ops"]),
            entry["compute"].upper(),
            f"{ratio:.2f}" if ratio is not None else "-",
            escape(entry["reason"]),
        )
    if len(nodes) > TENSOR_ROWS:
        table.add_row(f"... {len(nodes) - TENSOR_ROWS} more (see --json)", "", "", "", "")
    return table


def _elements(shape: list[int]) -> int:
    count = 1
    for dim in shape:
        count *= dim
    return count


def render_inspect(console: Console, info: ModelInfo) -> None:
    console.print(
        f"[bold]{escape(str(info.path))}[/]  {human_size(info.size_bytes)}"
        + (f" (external data: {escape(', '.join(info.external_data))})" if info.external_data else "")
    )
    console.print(
        f"producer: {info.producer or '-'}   IR {info.ir_version}   opsets: "
        + ", ".join(f"{d} {v}" for d, v in info.opsets.items())
    )
    console.print(
        f"parameters: {info.parameter_count:,} ({human_size(info.initializer_bytes)})   nodes: {info.node_count}"
    )
    console.print(signature_table(info.signature))
    console.print(escape(info.batching_text()))
    ops = Table(title="Operators", title_justify="left")
    ops.add_column("op")
    ops.add_column("count", justify="right")
    for op, count in info.op_histogram.items():
        ops.add_row(op, str(count))
    console.print(ops)


def render_manifest(console: Console, path: Any, manifest: dict[str, Any]) -> None:
    console.print(
        f"[bold]{escape(manifest['name'])} {escape(manifest['version'])}[/]  ({escape(str(path))}, "
        f"{escape(manifest['format'])}, created {manifest.get('created', '?')})"
    )
    model = manifest["model"]
    console.print(
        f"model {escape(model['path'])}: {human_size(model['size_bytes'])}, opset {model['opset']}, "
        f"producer {escape(model.get('producer') or '-')}"
    )
    console.print(signature_table(Signature.from_dict(model["signature"])))
    pairs = (model.get("feeding") or {}).get("state") or []
    if pairs:
        console.print(f"state pairs (output=input, streamed by verify --run and run): {escape(', '.join(pairs))}")
    _render_data_stats(console, manifest.get("data_stats"))
    files = Table(title="Files", title_justify="left")
    for column in ("path", "size", "sha256"):
        files.add_column(column)
    for name, entry in manifest["files"].items():
        files.add_row(escape(name), human_size(entry["size"]), entry["sha256"][:16] + "…")
    console.print(files)
    if manifest.get("preprocessing"):
        console.print("preprocessing: " + escape(json.dumps(manifest["preprocessing"])))
    if manifest.get("optimization"):
        for line in _optimization_lines(manifest["optimization"]):
            console.print(line)
    layers = (manifest.get("optimization") or {}).get("layers") or []
    if layers:
        console.print(layer_table(layers))
    check = manifest.get("check")
    if check:
        console.print(
            f"check: {escape(str(check.get('summary')))} (exit {check.get('exit_code')}, {check.get('created')})"
        )
    card = manifest.get("model_card") or {}
    if card.get("intended_use") or card.get("limitations"):
        console.print(
            f"intended use: {escape(str(card.get('intended_use') or '-'))}; "
            f"limitations: {escape(str(card.get('limitations') or '-'))}"
        )
    if card.get("metrics_per_slice"):
        console.print(
            "accuracy per slice: "
            + ", ".join(f"{escape(k)} {_figure(v.get('accuracy'))}" for k, v in card["metrics_per_slice"].items())
        )
    provenance = manifest["provenance"]
    console.print("provenance: " + ", ".join(f"{k} {v}" for k, v in provenance.items() if v))


def _render_data_stats(console: Console, entry: dict[str, Any] | None) -> None:
    """The recorded data statistics: how many samples, and each input and output in brief."""
    if not entry:
        console.print("data statistics: none recorded (pack with --data VAL.npz to record them for mlpack drift)")
        return
    overview = entry.get("overview") or {}
    title = (
        f"Data statistics: {entry.get('samples')} samples from {escape(str(entry.get('source') or '-'))}, "
        f"{human_size(entry.get('size_bytes', 0))} (for mlpack drift)"
    )
    if "error" in overview:
        console.print(f"{title}\n[red]{escape(overview['error'])}[/]")
        return
    table = Table(title=title, title_justify="left")
    for column in ("", "tensor", "view", "tracked", "summary"):
        table.add_column(column)
    for role in ("inputs", "outputs"):
        for tensor in overview.get(role, []):
            table.add_row(role[:-1], escape(tensor["name"]), tensor["view"], _tracked(tensor), _brief(tensor))
    console.print(table)


def _figure(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _tracked(tensor: dict[str, Any]) -> str:
    """What the statistics follow for a tensor: its features, or what a view derives (a 4-class
    output is followed by its confidence and predicted class, not as "2 features")."""
    count, name = tensor["features"], tensor["name"]
    derived = [
        part["feature"] for part in (tensor.get("numeric"), tensor.get("categorical")) if part and "feature" in part
    ]
    if tensor["view"] != "features" and derived and len(derived) == count:
        return escape(", ".join(d.removeprefix(f"{name} (").removesuffix(")") for d in derived))
    return f"{count} feature" + ("" if count == 1 else "s")


def _brief(tensor: dict[str, Any]) -> str:
    parts = []
    numeric = tensor.get("numeric")
    if numeric:
        text = f"{escape(numeric['feature'])}: " if numeric.get("feature") else ""
        text += f"mean {numeric['mean']:.3g}, std {numeric['std']:.3g}, "
        text += f"range [{numeric['min']:.3g}, {numeric['max']:.3g}]"
        bad = numeric["nan_rate"] + numeric["inf_rate"]
        parts.append(text + (f", NaN/Inf up to {bad:.1%}" if bad else ""))
    categorical = tensor.get("categorical")
    if categorical:
        top = ", ".join(f"{value:g} ({share:.0%})" for value, share in categorical["top"])
        parts.append(f"{escape(categorical['feature'])} most often {top}")
    return "; ".join(parts)


def render_pack(console: Console, result: PackResult) -> None:
    manifest = result.manifest
    console.print(
        f"[bold green]Packed[/] {escape(manifest['name'])} {escape(manifest['version'])} -> "
        f"{escape(str(result.output))} ({human_size(result.size_bytes)}, {len(manifest['files'])} files, "
        f"{(manifest.get('golden') or {}).get('count', 0)} golden samples)"
        + ("; signed (signature.sig)" if result.signed else "")
    )
    stats = manifest.get("data_stats")
    if stats:
        console.print(
            f"recorded statistics of {stats['samples']} samples from {escape(str(stats['source']))} "
            f"({human_size(stats['size_bytes'])}) for mlpack drift"
        )


def render_verify(console: Console, result: VerifyResult) -> None:
    if result.ok:
        console.print(
            f"[bold green]verified[/] {escape(f'{result.name} {result.version}')}: {result.files_checked} "
            "files match their hashes; the model loads and matches its signature"
        )
        signed = result.package_signature
        said = {
            "verified": f"signed: the signature verifies with {signed.key}",
            "unchecked": "signed (pass --key to check it)",
        }
        if signed.status in said:
            console.print(escape(said[signed.status]))
    else:
        named = f"{result.name} {result.version}" if result.name else str(result.package)
        console.print(
            f"[bold red]verification failed[/] {escape(named)}: {escape(' '.join(result.problems))}", soft_wrap=True
        )
    if result.golden is not None:
        console.print(comparison_table([result.golden], "Golden samples on this machine"))


def render_run(console: Console, result: RunResult) -> None:
    console.print(
        f"ran {result.samples} samples -> {escape(str(result.output))} "
        + escape(", ".join(f"{k}{v}" for k, v in result.outputs.items()))
    )


def _optimization_lines(record: dict[str, Any]) -> list[str]:
    """The optimisation record in words (``inspect --json`` has all of it, timings included)."""
    before, after = record.get("size_before"), record.get("size_after")
    sizes = f"; {human_size(before)} -> {human_size(after)} ({after / before:.2f}x)" if before and after else ""
    cosine = record.get("min_cosine")
    lines = [
        f"optimization: quantize {escape(str(record.get('quantize')))}{sizes}"
        + (f"; min output cosine {cosine:.5f}" if isinstance(cosine, (int, float)) else "")
    ]
    for decision in record.get("decisions") or []:
        low = decision.get("agreement_low")
        bound = f" (>= {low:.4f} at {decision.get('confidence', 0.95):.0%})" if isinstance(low, (int, float)) else ""
        lines.append(
            f"  {escape(str(decision.get('output')))}: {decision.get('kept')} of {decision.get('judged')} "
            f"decisions kept{bound}, {escape(str(decision.get('what', '')))}"
        )
    if (record.get("speed_decisions") or {}).get("measured_on"):
        lines.append("  " + measured_on_line(record["speed_decisions"]))
    return lines

