"""The PR comment of ``mlpack diff``: size, latency ratio, accuracy and each budget, before and after."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlpack.budget.check import CheckResult
    from mlpack.budget.diff import BeforeAfter

_ICONS = {"pass": "✅ pass", "fail": "❌ fail", "inconclusive": "⚠️ inconclusive"}
MARKER = "<!-- mlpack-diff -->"  # lets a workflow find and update its own comment


def before_after_markdown(result: BeforeAfter) -> str:
    """The whole comment; its first line is a marker a workflow can find to update it in place.

    Args:
        result: what :func:`mlpack.budget.diff.before_after` returned.
    """
    before, after = result.before, result.after
    headline = {0: "✅ budgets hold", 1: "❌ a budget broke", 3: "⚠️ inconclusive: too close to call"}
    lines = [
        MARKER,
        f"### mlpack: before / after — {headline.get(int(result.exit_code), str(int(result.exit_code)))}",
        "",
        "| | before | after | change |",
        "|---|---:|---:|---:|",
        _row("size (MB)", before.size_bytes / 1e6, after.size_bytes / 1e6, "{:.3f}"),
    ]
    for ratio in result.latency:
        change = f"{ratio.ratio:.3f}x"
        if math.isfinite(ratio.low):
            change += f" ({ratio.low:.3f}–{ratio.high:.3f}, {ratio.confidence:.0%})"
        lines.append(
            f"| latency {ratio.statistic} (ms, interleaved) | {ratio.before_ms:.3f} | {ratio.after_ms:.3f} | {change} |"
        )
    for metric in _shared_metrics(before, after):
        assert before.quality is not None and after.quality is not None
        lines.append(_row(metric, before.quality.metrics[metric], after.quality.metrics[metric], "{:.4f}"))
    lines += ["", "| budget | limit | before | after |", "|---|---:|---:|---:|"]
    before_verdicts = {v.budget: v for v in before.verdicts}
    for verdict in after.verdicts:
        old = before_verdicts.get(verdict.budget)
        was = _ICONS[old.status.value] if old else "—"
        now = _ICONS[verdict.status.value] + (" (warning only)" if verdict.warn_only else "")
        lines.append(f"| `{verdict.budget}` | {verdict.limit:g} {verdict.unit} | {was} | {now} |")
    lines += _size_change_lines(result)
    lines += ["", f"_before: `{before.model}`; after: `{after.model}`_", ""]
    return "\n".join(lines)


def _size_change_lines(result: BeforeAfter) -> list[str]:
    """The largest size changes, by part of the file and by tensor (nothing where none changed)."""
    rows = [("part", c) for c in result.size_changes.get("parts", [])]
    rows += [("tensor", c) for c in result.size_changes.get("tensors", [])]
    if not rows:
        return []
    lines = [
        "",
        "<details><summary>Largest size changes</summary>",
        "",
        "| | name | before (bytes) | after (bytes) | change |",
    ]
    lines.append("|---|---|---:|---:|---:|")
    lines += [f"| {what} | `{c.name}` | {c.before:,} | {c.after:,} | {c.change:+,} |" for what, c in rows]
    return [*lines, "", "</details>"]


def _row(name: str, old: float, new: float, fmt: str) -> str:
    change = f"{(new - old) / old:+.1%}" if old else "—"
    return f"| {name} | {fmt.format(old)} | {fmt.format(new)} | {change} |"


def _shared_metrics(before: CheckResult, after: CheckResult) -> list[str]:
    if before.quality is None or after.quality is None:
        return []
    return [m for m in after.quality.metrics if m in before.quality.metrics]
