"""Compact Markdown reports of a check and of drift, for a PR comment or a CI step summary."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlpack.report.formatting import margin_text, md, status_text, value_text

if TYPE_CHECKING:
    from mlpack.budget.check import CheckResult
    from mlpack.budget.drift import DriftResult

_MARKS = {"pass": "✅", "FAIL": "❌", "inconclusive": "❔"}


def check_markdown(result: CheckResult) -> str:
    code = int(result.exit_code)
    headline = {0: "✅ budgets hold", 1: "❌ budget broken", 3: "❔ inconclusive"}.get(code, "result")
    lines = [f"### mlpack check: {headline}", ""]
    where = f" on `{md(result.device['name'])}` (approximated on this machine)" if result.device else ""
    lines.append(f"`{md(result.model)}`{where}: {md(result.summary)}.")
    lines += ["", "| budget | measured | limit | margin | result |", "|---|---:|---:|---:|---|"]
    for v in result.verdicts:
        status = status_text(v)
        mark = _MARKS.get(status, "⚠️")
        lines.append(
            f"| `{md(v.budget)}` | {value_text(v.measured, v.unit, v.shown_unit)} | "
            f"{value_text(v.limit, v.unit, v.shown_unit)} | "
            f"{margin_text(v)} | {mark} {status} |"
        )
    details = [v for v in result.verdicts if v.detail]
    if details:
        lines += ["", "<details><summary>How each figure was measured</summary>", ""]
        lines += [f"- `{md(v.budget)}`: {md(v.detail)}" for v in details]
        lines += ["", "</details>"]
    if result.quality and result.quality.per_slice:
        metric = "accuracy" if result.quality.task == "classification" else "mae"
        lines += ["", f"| slice | samples | {metric} |", "|---|---:|---:|"]
        for name, metrics in result.quality.per_slice.items():
            if metric in metrics:
                lines.append(f"| {md(name)} | {result.quality.slice_sizes[name]} | {metrics[metric]:.4f} |")
    return "\n".join(lines) + "\n"


def drift_markdown(result: DriftResult) -> str:
    """The drift verdict and its features, most moved first, for a PR comment or a step summary."""
    headline = "✅ no drift" if result.ok else "❌ data drifted"
    lines = [
        f"### mlpack drift: {headline}",
        "",
        f"`{md(result.data)}` ({result.samples} samples) against `{md(result.reference)}` "
        f"({result.reference_samples} samples): {md(result.summary)}.",
        "",
        "| feature | result | p adjusted | PSI | JS | notes |",
        "|---|---|---:|---:|---:|---|",
    ]
    for f in result.features:
        mark = "❌ drift" if f.drifted else "✅ ok"
        notes = md("; ".join(f.notes))
        lines.append(
            f"| `{md(f.feature)}` ({md(f.role)}) | {mark} | {f.p_adjusted:.2g} | {f.psi:.3f} | {f.js:.3f} | {notes} |"
        )
    return "\n".join(lines) + "\n"
