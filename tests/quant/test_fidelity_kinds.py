"""Decisions per output kind on small trained models (issue 19): a shrunk file that loses decisions
fails in optimize and in check alike, auto's ladder recovers them, and optimize and check give
the same figures on the same two files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import mlpack
from mlpack.cli import app
from mlpack.core.fidelity import OutputKind, Tolerance
from mlpack.errors import ExitCode, VerificationError
from mlpack.quant.settings import QuantMode
from tests.helpers.fidelity_models import KINDS, export

SAMPLES = {"frames": 64, "tokens": 64, "classes": 600, "value": 300}
EXPECTED = {
    "frames": OutputKind.PROBABILITIES,
    "tokens": OutputKind.CLASSES,
    "classes": OutputKind.CLASSES,
    "value": OutputKind.VALUES,
}


@pytest.fixture(scope="module")
def damaged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Path]]:
    folder = tmp_path_factory.mktemp("fidelity")
    return {kind: export(kind, folder, samples=SAMPLES[kind], damaged=True) for kind in KINDS}


def _budget(tmp_path: Path, kind: str) -> Path:
    path = tmp_path / "budgets.toml"
    metric = "mean_cosine = 0.99" if kind == "value" else "agreement = 0.99"
    path.write_text(f"[budget]\nmin = {{ {metric} }}\n")
    return path


def _check(runner, model: Path, reference: Path, data: Path, budget: Path):  # type: ignore[no-untyped-def]
    args = ["check", str(model), "--budget", str(budget), "--reference", str(reference), "--data", str(data)]
    return runner.invoke(app, [*args, "--json", "-"])


@pytest.mark.parametrize("kind", KINDS)
def test_a_file_that_loses_decisions_fails_in_optimize_and_in_check(damaged, runner, kind: str, tmp_path: Path) -> None:
    model, data = damaged[kind]
    lossy = tmp_path / "lossy.onnx"
    # Written with no bar at all, as a careless tool would: per-channel INT8 everywhere.
    written = mlpack.optimize(model, lossy, quantize=QuantMode.WEIGHTS, data=data, tolerance=Tolerance(atol=None))
    diff = written.comparison.outputs[0]
    assert diff.meaning is not None and diff.meaning.kind is EXPECTED[kind], diff.meaning
    with pytest.raises(VerificationError):
        mlpack.optimize(model, tmp_path / "w.onnx", quantize=QuantMode.WEIGHTS, data=data)
    result = _check(runner, lossy, model, data, _budget(tmp_path, kind))
    assert result.exit_code == ExitCode.FAILED, result.output
    checked = json.loads(result.stdout)
    if kind != "value":
        decisions = checked["quality"]["decisions"]
        assert decisions["lost"] == diff.decisions.lost and decisions["judged"] == diff.decisions.judged  # type: ignore[union-attr]


@pytest.mark.parametrize("kind", KINDS)
def test_auto_climbs_until_the_decisions_hold_and_check_agrees(damaged, runner, kind: str, tmp_path: Path) -> None:
    model, data = damaged[kind]
    out = tmp_path / "auto.onnx"
    result = mlpack.optimize(model, out, quantize=QuantMode.AUTO, data=data)
    assert result.comparison.passed
    climbed = [
        t
        for t in result.tensors
        if t["representation"] not in ("int8-tensor", "int8-channel") and "int8-compute" not in t["representation"]
    ]
    assert climbed, result.tensors  # the planted outlier cannot stay at the ladder's first INT8 rungs
    assert result.size_ratio < 0.9
    checked = _check(runner, out, model, data, _budget(tmp_path, kind))
    assert checked.exit_code == ExitCode.OK, checked.output
    quality = json.loads(checked.stdout)["quality"]
    decisions = result.comparison.outputs[0].decisions
    if decisions is None:
        assert kind == "value"
        return
    # The same module judged the same two files: the same figures, to the last decision.
    assert quality["decisions"]["kept"] == decisions.kept and quality["decisions"]["judged"] == decisions.judged
    assert quality["metrics"]["agreement_low"] == pytest.approx(decisions.agreement_low)


def test_frame_threshold_is_the_users(damaged, runner, tmp_path: Path) -> None:
    model, data = damaged["frames"]
    out = tmp_path / "w.onnx"
    args = ["optimize", str(model), "-o", str(out), "--quantize", "fp16", "--data", str(data), "--json"]
    result = runner.invoke(app, [*args, "--threshold", "frames=0.3,unsure=0.02"])
    assert result.exit_code == 0, result.output
    output = json.loads(result.stdout)["comparison"]["outputs"][0]
    assert output["meaning"]["threshold"] == 0.3 and output["decisions"]["unsure_level"] == 0.02
    assert output["decisions"]["f1"] is not None


def test_the_damaged_layer_ranks_first(damaged, tmp_path: Path) -> None:
    """The ladder's order: the planted outlier's tensor costs the most (it scored 0 dB like every
    other before onnxruntime's saved-tensor names were read back)."""
    import numpy as np
    import onnx

    from mlpack.quant.sensitivity import weight_degradation

    model, data = damaged["tokens"]
    lossy = tmp_path / "lossy.onnx"
    mlpack.optimize(model, lossy, quantize=QuantMode.WEIGHTS, data=data, tolerance=Tolerance(atol=None), simplify=False)
    weights = {i.name: tuple(i.dims) for i in onnx.load(str(model)).graph.initializer if np.prod(i.dims) >= 1024}
    feeds = {"ids": np.load(data)["ids"][:4]}
    scores = weight_degradation(model, lossy, feeds, set(weights), tmp_path)
    ranked = sorted(scores, key=lambda n: -scores[n])
    assert weights[ranked[0]] == (64, 64), (ranked, weights)  # the middle layer, which reads the dead unit
    assert scores[ranked[0]] > -20 and len({round(v, 3) for v in scores.values()}) > 1


def test_the_per_layer_report_names_the_costliest_tensor(damaged, runner, tmp_path: Path) -> None:
    model, data = damaged["classes"]
    out = tmp_path / "w.onnx"
    args = ["optimize", str(model), "-o", str(out), "--quantize", "weights", "--data", str(data), "--no-simplify"]
    shown = runner.invoke(app, [*args, "--min-cosine", "-1", "--min-agreement", "0"])  # write it whatever it loses
    assert shown.exit_code == 0, shown.output
    assert "Costliest tensors" in shown.output and "body.middle.weight" in shown.output
    as_json = runner.invoke(app, [*args, "--min-cosine", "-1", "--min-agreement", "0", "--json"])
    assert as_json.exit_code == 0, as_json.output
    layers = json.loads(as_json.stdout)["layers"]
    worst = layers[0]
    assert worst["tensor"] == "body.middle.weight" and worst["decisions_lost"] > 0
    assert all(entry["decisions_lost"] == 0 for entry in layers[1:])
    # pack records it from optimize's report, as build does from its optimize stage
    report, package = tmp_path / "optimize.json", tmp_path / "m.mlpack"
    report.write_text(as_json.stdout)
    packed = runner.invoke(app, ["pack", str(out), "-o", str(package), "--optimization", str(report), "--golden", "0"])
    assert packed.exit_code == 0, packed.output
    inspected = runner.invoke(app, ["inspect", str(package)])
    assert inspected.exit_code == 0, inspected.output
    assert "Costliest tensors" in inspected.output and "body.middle.weight" in inspected.output
    # The optimisation record in words, not its JSON (which --json has whole).
    assert "decisions kept (>=" in inspected.output and '{"decisions"' not in inspected.output
    manifest = json.loads(runner.invoke(app, ["inspect", str(package), "--json"]).stdout)
    recorded = manifest.get("manifest", manifest)["optimization"]
    assert recorded["layers"] == layers and recorded["quantize"] == "weights"
    bad = runner.invoke(app, ["pack", str(out), "-o", str(tmp_path / "x.mlpack"), "--optimization", str(package)])
    assert bad.exit_code == 2 and "optimize report" in bad.output


def test_a_refusal_names_the_option_of_the_check_that_failed(damaged, runner, tmp_path: Path) -> None:
    """Issue 25: a refusal on lost decisions suggested --min-cosine/--atol; it names --min-agreement."""
    model, data = damaged["classes"]
    args = ["optimize", str(model), "-o", str(tmp_path / "w.onnx"), "--quantize", "weights", "--data", str(data)]
    refused = runner.invoke(app, [*args, "--no-simplify", "--min-cosine", "-1"])
    assert refused.exit_code == ExitCode.FAILED, refused.output
    said = " ".join(refused.output.split())
    assert "--min-agreement" in said and "--min-cosine" not in said and "--atol" not in said, said
    by_cosine = runner.invoke(app, [*args, "--no-simplify", "--min-cosine", "0.99999999", "--min-agreement", "0"])
    said = " ".join(by_cosine.output.split())
    assert by_cosine.exit_code == ExitCode.FAILED and "--min-cosine" in said and "--min-agreement" not in said, said
