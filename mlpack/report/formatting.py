"""Shared formatting of verdict values for every report format."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlpack.budget.verdicts import Verdict


def value_text(value: float | None, unit: str) -> str:
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value:.2%}"
    if unit == "x":
        return f"{value:.3f}x"
    if unit in ("MB", "ms"):
        return f"{value:.3f} {unit}" if abs(value) < 10 else f"{value:.1f} {unit}"
    return f"{value:.4g}"


def margin_text(verdict: Verdict) -> str:
    if verdict.margin is None:
        return "-"
    sign = "+" if verdict.margin >= 0 else "-"
    return sign + value_text(abs(verdict.margin), verdict.unit)


def status_text(verdict: Verdict) -> str:
    """pass / FAIL / inconclusive, with warning-only budgets marked as such."""
    if verdict.status.value == "pass":
        return "pass"
    if verdict.warn_only:
        return f"warning ({verdict.status.value})"
    return "FAIL" if verdict.status.value == "fail" else "inconclusive"
