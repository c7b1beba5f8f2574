"""Rich rendering of ``mlpack build``: one line per stage in words, and the model before and after."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from mlpack.cli.markup import escape
from mlpack.cli.tables import size as human_size
from mlpack.pipeline.summary import BuildResult


def stage_text(stage: str, summary: dict[str, Any]) -> str:
    """What a stage did, in words and units, from the summary it recorded (the JSON keeps the keys)."""
    s = summary
    parts: list[str] = []
    if "reason" in s:
        parts.append(str(s["reason"]))
    if stage == "export" and "size_bytes" in s:
        parts.append(f"{human_size(s['size_bytes'])}, opset {s.get('opset')}, {s.get('exporter')} exporter")
        if s.get("max_abs_error") is not None:
            parts.append(f"max abs error against PyTorch {s['max_abs_error']:.2g}")
    elif stage == "optimize" and "size_after" in s:
        if s.get("chosen"):
            parts.append(f"tune chose {s['chosen']} of {s.get('candidates')} candidates")
        else:
            parts.append(f"quantize {s.get('quantize')}")
        if "size_before" in s:
            parts.append(f"{human_size(s['size_before'])} -> {human_size(s['size_after'])} ({s['size_ratio']:.2f}x)")
        else:
            parts.append(human_size(s["size_after"]))
        if s.get("min_cosine") is not None:
            parts.append(f"min output cosine {s['min_cosine']:.4f}")
    elif stage == "check" and "summary" in s:
        parts.append(str(s["summary"]))
        for metric in ("accuracy", "agreement"):
            if s.get(metric) is not None:
                parts.append(f"{metric} {s[metric]:.2%}")
    elif stage == "pack" and "size_bytes" in s:
        parts.append(f"{human_size(s['size_bytes'])}, {s.get('files')} files")
        if s.get("stats_samples"):
            parts.append(f"statistics of {s['stats_samples']} samples for drift")
    return "; ".join(parts)


def render_build(console: Console, result: BuildResult) -> None:
    table = Table(title=f"mlpack build {escape(str(result.config))} -> {escape(str(result.out))}", title_justify="left")
    for column in ("stage", "result", "time", "summary"):
        table.add_column(column, justify="right" if column == "time" else "left")
    colours = {"built": "green", "up to date": "cyan", "failed": "red", "skipped": "yellow"}
    for stage in result.stages:
        table.add_row(
            stage.name,
            f"[{colours.get(stage.status, 'white')}]{stage.status}[/]",
            f"{stage.seconds:.1f} s",
            escape(stage.error or stage_text(stage.name, stage.summary)),
        )
    console.print(table)
    stages = {stage.name: stage.summary for stage in result.stages}
    exported, optimized, checked = stages.get("export", {}), stages.get("optimize", {}), stages.get("check", {})
    if "size_bytes" in exported and "size_after" in optimized:
        before_after = Table(title="Before and after", title_justify="left")
        for column in ("model", "size", "size ratio", "accuracy"):
            before_after.add_column(column, justify="left" if column == "model" else "right")
        fp32_accuracy, accuracy = checked.get("reference_accuracy"), checked.get("accuracy")
        before_after.add_row(
            "FP32 export",
            human_size(exported["size_bytes"]),
            "1.00",
            f"{fp32_accuracy:.2%}" if fp32_accuracy is not None else "-",
        )
        before_after.add_row(
            f"optimised ({optimized.get('chosen') or optimized.get('quantize')})",
            human_size(optimized["size_after"]),
            f"{optimized['size_after'] / exported['size_bytes']:.2f}",
            f"{accuracy:.2%}" if accuracy is not None else "-",
        )
        console.print(before_after)
    if not result.exit_code:  # a failed build's message is an error: the CLI prints it on stderr
        console.print(
            f"[bold green]package:[/] {escape(str(result.package))} ({result.seconds:.1f} s); summary in "
            f"{escape(str(result.out / 'build.md'))}"
        )
