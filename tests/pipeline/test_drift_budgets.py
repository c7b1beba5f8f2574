"""tune and build judge drift budgets like the others: each candidate's inputs and outputs on the
evaluation data against the recorded statistics, or a one-line refusal where nothing to judge by."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from mlpack.artifact.pack import pack
from mlpack.cli import app
from mlpack.errors import ExitCode
from tests.helpers.hostile import without_progress
from tests.helpers.models import make_gemm_mlp


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("drift-budgets")
    model = make_gemm_mlp(folder / "mlp.onnx")
    rng = np.random.default_rng(0)
    for name, shift in (("val", 0.0), ("same", 0.0), ("moved", 1.0)):
        np.savez(folder / f"{name}.npz", x=(rng.standard_normal((400, 16)) + shift).astype(np.float32))
    budgets = folder / "budgets.toml"
    budgets.write_text(
        "[budget]\nmax_size_mb = 5\nmax_input_drift = { alpha = 0.05 }\nmax_output_drift = { js = 0.1 }\n"
    )
    package = pack(model, folder / "mlp.mlpack", data=folder / "val.npz").output
    return {"folder": folder, "model": model, "budgets": budgets, "package": package}


def _tune(recorded: dict[str, Path], data: str, *extra: str) -> list[str]:
    folder = recorded["folder"]
    return [
        "tune", str(recorded["model"]), "-o", str(folder / f"tuned-{data}.onnx"), "-b", str(recorded["budgets"]),
        "--data", str(folder / f"{data}.npz"), "--max-time", "2", "--runs", "3", "--duration", "0", "--json", "-",
        *extra,
    ]  # fmt: skip


def test_tune_refuses_drift_budgets_without_a_reference(recorded: dict[str, Path], runner) -> None:
    result = runner.invoke(app, _tune(recorded, "same"))
    assert result.exit_code == ExitCode.BAD_INPUT and "--drift-reference PKG" in result.output
    assert len(without_progress(result.output).strip().splitlines()) <= 2


def test_tune_judges_every_candidate_on_drift(recorded: dict[str, Path], runner) -> None:
    moved = runner.invoke(app, _tune(recorded, "moved", "--drift-reference", str(recorded["package"])))
    assert moved.exit_code == ExitCode.FAILED, moved.output  # before: "all met", drift budgets ignored
    candidates = [c for c in json.loads(moved.stdout)["candidates"] if c["status"] == "built"]
    assert candidates and all("max_input_drift.alpha" in c["broken_budgets"] for c in candidates)
    judged = [{v["budget"]: v["status"] for v in c["verdicts"]} for c in candidates]
    assert all(v["max_output_drift.js"] in ("pass", "fail") and v["max_size_mb"] == "pass" for v in judged)


def test_build_judges_drift_budgets_from_check_drift_reference(recorded: dict[str, Path], tmp_path: Path) -> None:
    from mlpack.pipeline.build import build

    folder = recorded["folder"]
    config = tmp_path / "mlpack.toml"
    config.write_text(
        f'[model]\nname = "d"\nsource = "{recorded["model"]}"\n\n[optimize]\nsimplify = false\n\n'
        f'[check]\nbudgets = "{recorded["budgets"]}"\ndata = "{folder / "moved.npz"}"\nreference = false\n'
        f'drift_reference = "{recorded["package"]}"\nruns = 3\nduration = 0\n'
    )
    result = build(config, out=tmp_path / "dist")
    assert not result.ok and result.exit_code == ExitCode.FAILED
    verdicts = {
        v["budget"]: v["status"] for v in json.loads((tmp_path / "dist" / "check.json").read_text())["verdicts"]
    }
    assert verdicts["max_input_drift.alpha"] == "fail" and "max_output_drift.js" in verdicts
