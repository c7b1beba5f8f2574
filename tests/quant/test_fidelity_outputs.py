"""Every output is judged, in optimize, check, diff and tune alike (issue 19): a model with two
outputs whose second one alone loses decisions is refused by optimize, fails check, and is not
what tune chooses."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import mlpack
from mlpack.budget.spec import load_budget_file, resolve
from mlpack.cli import app
from mlpack.core.fidelity import Tolerance
from mlpack.core.onnxio import load_model, model_size_bytes
from mlpack.core.signature import signature_of
from mlpack.data.feeds import model_dataset
from mlpack.errors import ExitCode, VerificationError
from mlpack.pipeline.candidates import choose
from mlpack.pipeline.tune import Candidate, _score
from mlpack.pipeline.tune_candidates import CandidateSpec
from mlpack.pipeline.tune_settings import Objective, TuneSettings
from mlpack.quant.settings import QuantMode
from tests.helpers.fidelity_models import export_two_heads

SAMPLES = 600


@pytest.fixture(scope="module")
def two_heads(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    folder = tmp_path_factory.mktemp("two-heads")
    model, data = export_two_heads(folder, samples=SAMPLES)
    lossy, kept = folder / "lossy.onnx", folder / "fp16.onnx"
    # Written with no bar, as a careless tool would: per-channel INT8 everywhere.
    loose = Tolerance(atol=None)
    written = mlpack.optimize(model, lossy, quantize=QuantMode.WEIGHTS, data=data, tolerance=loose, simplify=False)
    mlpack.optimize(model, kept, quantize=QuantMode.FP16, data=data, simplify=False)
    budget = folder / "budgets.toml"
    budget.write_text("[budget]\nmin = { agreement = 0.99 }\n")
    return {"model": model, "data": data, "lossy": lossy, "kept": kept, "budget": budget, "written": written}


def _check(runner, two_heads: dict[str, Any], model: Path):  # type: ignore[no-untyped-def]
    args = ["check", str(model), "--budget", str(two_heads["budget"]), "--reference", str(two_heads["model"])]
    return runner.invoke(app, [*args, "--data", str(two_heads["data"]), "--json", "-"])


def test_optimize_refuses_a_loss_on_the_second_output(two_heads: dict[str, Any], tmp_path: Path) -> None:
    plain, deep = two_heads["written"].comparison.outputs
    assert plain.decisions is not None and plain.decisions.lost == 0
    assert deep.decisions is not None and deep.decisions.lost > 0
    with pytest.raises(VerificationError, match="output 'deep'") as refused:
        mlpack.optimize(
            two_heads["model"], tmp_path / "w.onnx", quantize=QuantMode.WEIGHTS, data=two_heads["data"], simplify=False
        )
    assert "'plain'" not in refused.value.message


def test_check_judges_every_output_as_optimize_does(two_heads: dict[str, Any], runner) -> None:
    result = _check(runner, two_heads, two_heads["lossy"])
    assert result.exit_code == ExitCode.FAILED, result.output
    checked = json.loads(result.stdout)
    verdict = next(v for v in checked["verdicts"] if v["budget"] == "min.agreement")
    assert verdict["status"] == "fail" and "output 'deep'" in verdict["detail"]
    deep = two_heads["written"].comparison.outputs[1].decisions
    by_name = {o["name"]: o["decisions"] for o in checked["quality"]["outputs"]}
    # The same module judged the same two files: the same figures, output by output.
    assert by_name["plain"]["lost"] == 0
    assert (by_name["deep"]["lost"], by_name["deep"]["judged"]) == (deep.lost, deep.judged)
    assert checked["quality"]["decisions"]["lost"] == deep.lost  # the output that holds least
    assert checked["quality"]["metrics"]["agreement_low"] == pytest.approx(deep.agreement_low)

    kept = _check(runner, two_heads, two_heads["kept"])
    assert kept.exit_code == ExitCode.OK, kept.output
    assert [o["name"] for o in json.loads(kept.stdout)["quality"]["outputs"]] == ["plain", "deep"]


def test_tune_scores_every_output_and_does_not_choose_the_loss(two_heads: dict[str, Any]) -> None:
    """tune's scoring and choice on the two built files (building every candidate would take
    minutes; the builds refuse the loss in optimize, tested above)."""
    model = two_heads["model"]
    budgets = resolve(load_budget_file(two_heads["budget"]), None)
    dataset = model_dataset(two_heads["data"], signature_of(load_model(model)).inputs)
    built = [
        Candidate(CandidateSpec(name, mode), status="built", path=path, size_bytes=model_size_bytes(path))
        for name, mode, path in (
            ("weights-int8", QuantMode.WEIGHTS, two_heads["lossy"]),
            ("fp16", QuantMode.FP16, two_heads["kept"]),
        )
    ]
    assert built[0].size_bytes < built[1].size_bytes  # the loss is the smaller file: size alone would pick it
    _score(built, model, dataset, budgets, TuneSettings(objective=Objective.SIZE))
    lossy, kept = built
    assert lossy.broken() == ["min.agreement"] and kept.meets_budgets
    assert lossy.metrics["decisions"] + lossy.metrics["decisions_unsure"] == 2 * SAMPLES  # both outputs counted
    chosen = choose(built, Objective.SIZE)
    assert chosen is not None and chosen.spec.name == "fp16"
