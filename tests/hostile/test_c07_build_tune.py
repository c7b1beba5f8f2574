"""Class 7: a build that tunes against budgets no candidate meets fails like ``tune`` does (exit 1,
one line on stderr), not as an internal error; no package is written."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.hostile import refused


def test_build_tune_without_a_fitting_candidate(work: Path) -> None:
    (work / "tight.toml").write_text("[budget]\nmax_size_mb = 0.000001\n")
    config = work / "mlpack.toml"
    config.write_text(
        '[model]\nsource = "m.onnx"\n[optimize]\nquantize = "tune"\nmax_time = 5\n'
        '[check]\nbudgets = "tight.toml"\ndata = "data.npz"\nruns = 3\nduration = 0.01\n'
    )
    message = refused(["build", config, "-o", work / "dist"], code=1, says="no candidate")
    assert "optimize" in message
    assert not list((work / "dist").glob("*.mlpack"))
