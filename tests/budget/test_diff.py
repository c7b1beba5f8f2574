"""mlpack diff: a PR's model against the base branch's, verdicts before and after, exit codes kept."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlpack.budget.diff import before_after
from mlpack.budget.settings import CheckSettings
from mlpack.cli import app
from mlpack.report.diff import MARKER, before_after_markdown
from tests.helpers.models import make_gemm_mlp

FAST = ["--runs", "5", "--duration", "0.01", "--max-remeasure", "0"]


@pytest.fixture
def models(tmp_path: Path) -> tuple[Path, Path]:
    return make_gemm_mlp(tmp_path / "base.onnx", hidden=16), make_gemm_mlp(tmp_path / "pr.onnx", hidden=512, seed=1)


def _budget(tmp_path: Path, max_size_mb: float) -> Path:
    path = tmp_path / "budgets.toml"
    path.write_text(f"[budget]\nmax_size_mb = {max_size_mb}\nmax_latency_ms = {{ p50 = 1e5 }}\n")
    return path


def test_the_comment_shows_size_latency_ratio_and_each_budget_before_and_after(
    models: tuple[Path, Path], tmp_path: Path
) -> None:
    fast = CheckSettings(runs=5, duration_s=0, max_remeasure=0)
    result = before_after(*models, budgets=_budget(tmp_path, 1.0), settings=fast)
    assert result.ok and result.exit_code == 0
    assert result.after.size_bytes > result.before.size_bytes
    assert [r.statistic for r in result.latency] == ["p50", "p95"]
    comment = before_after_markdown(result)
    assert comment.startswith(MARKER)
    assert "size (MB)" in comment and "latency p50" in comment and "`max_size_mb`" in comment


def test_a_pr_that_breaks_a_budget_exits_1_with_the_verdict_before_and_after(
    models: tuple[Path, Path], runner: CliRunner, tmp_path: Path
) -> None:
    before_size = models[0].stat().st_size / 1e6
    budget = _budget(tmp_path, before_size * 2)  # the base fits, the PR's much wider model does not
    markdown, out = tmp_path / "pr.md", tmp_path / "pr.json"
    args = ["diff", *map(str, models), "-b", str(budget), *FAST, "--markdown", str(markdown), "--json", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 1, result.output
    data = json.loads(out.read_text())
    assert data["ok"] is False and data["exit_code"] == 1
    assert data["before"]["ok"] is True and data["after"]["ok"] is False
    assert "| `max_size_mb` |" in markdown.read_text() and "✅ pass | ❌ fail" in markdown.read_text()


def test_a_missing_model_is_bad_input_and_nothing_is_written(
    models: tuple[Path, Path], runner: CliRunner, tmp_path: Path
) -> None:
    markdown = tmp_path / "pr.md"
    args = ["diff", str(models[0]), str(tmp_path / "nope.onnx"), "-b", str(_budget(tmp_path, 1)), "--markdown"]
    result = runner.invoke(app, [*args, str(markdown)])
    assert result.exit_code == 2 and "nope.onnx" in result.output
    assert not markdown.exists()


def test_before_is_the_reference_the_terminal_gets_tables_and_size_changes_are_named(
    models: tuple[Path, Path], runner: CliRunner, tmp_path: Path
) -> None:
    """Issue 25: diff demanded --reference although BEFORE was given, and printed raw Markdown."""
    import numpy as np

    data = tmp_path / "eval.npz"
    np.savez(data, x=np.random.default_rng(0).standard_normal((64, 16)).astype(np.float32))
    budget = tmp_path / "budgets.toml"
    budget.write_text("[budget]\nmax_size_mb = 10\nmax = { max_abs_error = 1e9 }\n")
    markdown, out = tmp_path / "pr.md", tmp_path / "pr.json"
    args = ["diff", *map(str, models), "-b", str(budget), "--data", str(data), *FAST]
    result = runner.invoke(app, [*args, "--markdown", str(markdown), "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "Before and after" in result.output and "Budgets" in result.output
    assert "|---" not in result.output and MARKER not in result.output  # a table, not the comment's Markdown
    shown = json.loads(out.read_text())
    assert shown["after"]["reference"] == str(models[0])
    tensors = {c["name"]: c for c in shown["size_changes"]["tensors"]}
    assert tensors["w1"]["change"] == (512 - 16) * 16 * 4  # the PR's wider first layer, to the byte
    assert "Largest size changes" in result.output and "w1" in result.output
    assert "Largest size changes" in markdown.read_text()


def test_diff_advises_only_options_it_has(models: tuple[Path, Path], runner: CliRunner, tmp_path: Path) -> None:
    budget = tmp_path / "budgets.toml"
    budget.write_text("[budget]\nmax_input_drift = { alpha = 0.05 }\n")
    result = runner.invoke(app, ["diff", *map(str, models), "-b", str(budget), *FAST])
    assert result.exit_code == 2
    said = " ".join(result.output.split())
    assert "--drift-reference" in said and "--baseline" not in said
    assert "--drift-reference" in runner.invoke(app, ["diff", "--help"]).output
