"""Rendering of ``mlpack diff`` for a person: tables (the PR comment's Markdown is ``--markdown``'s)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from mlpack.cli.markup import escape
from mlpack.cli.render_model import human_size
from mlpack.cli.render_size import size_change_table

if TYPE_CHECKING:
    from mlpack.budget.diff import BeforeAfter

_STATUS = {"pass": "[green]pass[/]", "fail": "[red]fail[/]", "inconclusive": "[yellow]inconclusive[/]"}
_HEADLINE = {0: "[green]budgets hold[/]", 1: "[red]a budget broke[/]", 3: "[yellow]inconclusive: too close to call[/]"}


def render_diff(console: Console, result: BeforeAfter) -> None:
    before, after = result.before, result.after
    code = int(result.exit_code)
    console.print(f"[bold]mlpack diff[/]: {_HEADLINE.get(code, str(code))} (exit {code})")
    console.print(f"before: {escape(before.model)}; after: {escape(after.model)}", soft_wrap=True)
    figures = Table(title="Before and after", title_justify="left")
    for column in ("", "before", "after", "change"):
        figures.add_column(column, justify="left" if not column else "right")
    figures.add_row(
        "size",
        human_size(before.size_bytes),
        human_size(after.size_bytes),
        _relative(before.size_bytes, after.size_bytes),
    )
    for ratio in result.latency:
        change = f"{ratio.ratio:.3f}x"
        if math.isfinite(ratio.low):
            change += f" ({ratio.low:.3f}-{ratio.high:.3f}, {ratio.confidence:.0%})"
        figures.add_row(
            f"latency {ratio.statistic} ms (interleaved)", f"{ratio.before_ms:.3f}", f"{ratio.after_ms:.3f}", change
        )
    if before.quality is not None and after.quality is not None:
        for metric, new in after.quality.metrics.items():
            if metric in before.quality.metrics:
                old = before.quality.metrics[metric]
                fmt = "{:.0f}" if metric.startswith("decisions") else "{:.4f}"  # counts, and shares
                figures.add_row(escape(metric), fmt.format(old), fmt.format(new), _relative(old, new))
    console.print(figures)
    budgets = Table(title="Budgets", title_justify="left")
    for column in ("budget", "limit", "before", "after"):
        budgets.add_column(column, justify="left" if column == "budget" else "right")
    was = {v.budget: v for v in before.verdicts}
    for verdict in after.verdicts:
        old_verdict = was.get(verdict.budget)
        now = _STATUS[verdict.status.value] + (" (warning only)" if verdict.warn_only else "")
        then = _STATUS[old_verdict.status.value] if old_verdict else "-"
        budgets.add_row(escape(verdict.budget), f"{verdict.limit:g} {escape(verdict.unit)}", then, now)
    console.print(budgets)
    changes = size_change_table(result.size_changes)
    if changes is not None:
        console.print(changes)


def _relative(old: float, new: float) -> str:
    return f"{(new - old) / old:+.1%}" if old else "-"
