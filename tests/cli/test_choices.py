"""Every choice the CLI offers maps to an implementation (an enum member nothing handles is a bug)."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import pytest

import mlpack
from mlpack.cli import app
from mlpack.cli.render import RENDERERS
from mlpack.core.choices import ExecutionMode, GraphOptimization
from mlpack.core.onnxio import create_session
from mlpack.pipeline.candidates import choose
from mlpack.pipeline.tune import Objective
from mlpack.quant.modes import QUANTIZERS, default_tolerance
from mlpack.quant.settings import QuantMode


def test_every_quantize_mode_has_a_quantiser() -> None:
    assert set(QUANTIZERS) == set(QuantMode) - {QuantMode.NONE}
    for mode, quantiser in QUANTIZERS.items():
        assert quantiser.description
        assert quantiser().name  # each builds a pass with a name for its messages
        assert default_tolerance(mode) is quantiser.tolerance


def test_the_cli_offers_every_quantize_mode(runner) -> None:
    shown = runner.invoke(app, ["optimize", "--help"]).output
    for mode in QuantMode:
        assert mode.value in shown


@pytest.mark.parametrize("level", list(GraphOptimization))
@pytest.mark.parametrize("mode", list(ExecutionMode))
def test_every_session_choice_is_understood(gemm_mlp: Path, level: GraphOptimization, mode: ExecutionMode) -> None:
    session = create_session(gemm_mlp, graph_optimization=level.value, sequential=mode is ExecutionMode.SEQUENTIAL)
    assert session.get_inputs()


def test_every_tune_objective_chooses_by_its_own_measure() -> None:
    from mlpack.pipeline.tune import Candidate, CandidateSpec

    small = Candidate(CandidateSpec("small", QuantMode.WEIGHTS), status="built", size_bytes=10)
    small.latency_ms = {"p50": 8.0, "p95": 9.0}
    fast = Candidate(CandidateSpec("fast", QuantMode.DYNAMIC), status="built", size_bytes=20)
    fast.latency_ms = {"p50": 2.0, "p95": 3.0}
    expected = {Objective.LATENCY: "fast", Objective.SIZE: "small"}
    for objective in Objective:  # a new objective without an expectation here fails with KeyError
        chosen = choose([small, fast], objective)
        assert chosen is not None and chosen.spec.name == expected[objective]


def test_tune_chooses_from_its_own_front_by_the_figure_the_front_shows() -> None:
    """Issue 25: a candidate 1.8x slower at p50 for a p95 gap inside the noise was chosen, off the front."""
    from mlpack.pipeline.candidates import mark_front
    from mlpack.pipeline.tune import Candidate, CandidateSpec

    steady = Candidate(CandidateSpec("steady", QuantMode.DYNAMIC), status="built", size_bytes=10)
    steady.latency_ms = {"p50": 1.0, "p95": 5.0}
    jittery = Candidate(CandidateSpec("jittery", QuantMode.WEIGHTS), status="built", size_bytes=10)
    jittery.latency_ms = {"p50": 1.8, "p95": 4.9}
    built = [steady, jittery]
    mark_front(built)
    assert steady.pareto and not jittery.pareto
    for objective in Objective:
        chosen = choose(built, objective)
        assert chosen is steady and chosen.pareto


def _result_types() -> set[type]:
    """Every ``...Result`` class mlpack defines: what its API functions hand back."""
    found = set()
    for info in pkgutil.walk_packages(mlpack.__path__, "mlpack."):
        if info.name.endswith("__main__"):  # runs the command when imported
            continue
        module = importlib.import_module(info.name)
        for value in vars(module).values():
            if isinstance(value, type) and value.__module__ == info.name and value.__name__.endswith("Result"):
                found.add(value)
    return found


def test_every_result_has_its_renderer() -> None:
    """The renderers are a table by type: a new result type without a renderer fails here."""
    from mlpack.budget.diff import BeforeAfter
    from mlpack.core.modelinfo import ModelInfo
    from mlpack.quant.passes import PassResult

    not_shown = {PassResult}  # one pass inside optimize; the command shows the OptimizeResult
    also_shown = {ModelInfo, BeforeAfter}  # inspect's and diff's results, named otherwise
    assert set(RENDERERS) == (_result_types() - not_shown) | also_shown
    for result_type, renderer in RENDERERS.items():
        assert callable(renderer), result_type


def test_every_build_quantize_choice_is_accepted(tmp_path: Path) -> None:
    from mlpack.pipeline.config import load_build_config

    for choice in [*(m.value for m in QuantMode), "tune"]:
        config = tmp_path / f"{choice}.toml"
        extra = '\n[check]\nbudgets = "b.toml"\ndata = "d.npz"\n' if choice == "tune" else ""
        config.write_text(f'[model]\nsource = "m.onnx"\n\n[optimize]\nquantize = "{choice}"\n{extra}')
        load_build_config(config)
