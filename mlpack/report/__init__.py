"""Rendering result types as reports for CI: Markdown (check, drift, the before/after comment),
JUnit XML, and plots. Only types from ``budget`` and below are rendered here; the terminal
renderers live with the CLI (``mlpack.cli.render``)."""

from mlpack.report.diff import before_after_markdown
from mlpack.report.junit import check_junit, drift_junit
from mlpack.report.markdown import check_markdown, drift_markdown
from mlpack.report.plots import plot_bench

__all__ = ["before_after_markdown", "check_junit", "check_markdown", "drift_junit", "drift_markdown", "plot_bench"]
