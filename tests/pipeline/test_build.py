"""mlpack build and init: one config, the whole chain, cached stages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlpack.artifact.package import verify
from mlpack.cli import app
from mlpack.errors import ExitCode


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A build config around a tiny torch model, with its own budgets."""
    shutil.copy(Path(__file__).parent.parent / "tiny_models.py", tmp_path / "models.py")
    (tmp_path / "budgets.toml").write_text("[budget]\nmax_size_mb = 5\n")
    config = tmp_path / "mlpack.toml"
    config.write_text(
        '[model]\nname = "tiny"\nversion = "1.2.3"\nsource = "models.py:mlp"\ninputs = ["x:1x16"]\n\n'
        '[optimize]\nquantize = "dynamic"\n\n[check]\nbudgets = "budgets.toml"\n\n[pack]\ngolden = 2\n'
    )
    return config


def test_build_cold_then_warm(project: Path, tmp_path: Path, runner) -> None:
    from mlpack.pipeline.build import build

    out = tmp_path / "dist"
    cold = build(project, out=out)
    assert cold.exit_code == ExitCode.OK and cold.package == out / "tiny-1.2.3.mlpack"
    assert [s.status for s in cold.stages] == ["built"] * 4
    assert verify(cold.package, run=True).ok
    for report in ("build.json", "build.md", "check.json", "check.md", "model.onnx", "model.opt.onnx"):
        assert (out / report).is_file()
    warm = build(project, out=out)
    assert [s.status for s in warm.stages] == ["up to date"] * 4
    (tmp_path / "budgets.toml").write_text("[budget]\nmax_size_mb = 4\n")  # only the check and pack change
    changed = build(project, out=out)
    assert [s.status for s in changed.stages] == ["up to date", "up to date", "built", "built"]
    cli = runner.invoke(app, ["build", str(project), "--out", str(out), "--json"])
    assert cli.exit_code == 0 and json.loads(cli.stdout)["package"] == str(out / "tiny-1.2.3.mlpack")


def test_a_failing_stage_stops_the_build_and_writes_no_package(project: Path, tmp_path: Path, runner) -> None:
    (tmp_path / "budgets.toml").write_text('[budget]\nmax_size_mb = "1 KB"\n')
    out = tmp_path / "dist"
    result = runner.invoke(app, ["build", str(project), "--out", str(out)])
    assert result.exit_code == ExitCode.FAILED
    assert "check stage" in result.output and "max_size_mb" in result.output
    assert not list(out.glob("*.mlpack"))
    assert json.loads((out / "build.json").read_text())["exit_code"] == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('quantize = "dynamic"', 'quantize = "dynamic"\nspeed = 11'), ":9: 'optimize.speed'"),
        (lambda t: t.replace("golden = 2", 'golden = "two"'), "'pack.golden': must be a whole number"),
        (lambda t: t.replace('quantize = "dynamic"', 'quantize = "int3"'), "must be one of none, dynamic"),
        (lambda t: t.replace("[pack]", "[deploy]"), "unknown section"),
        (lambda t: t.replace('source = "models.py:mlp"\n', ""), "[model] source"),
        (lambda t: t.replace("models.py:mlp", "missing.py:mlp"), "not found"),
    ],
)
def test_build_config_mistakes(project: Path, tmp_path: Path, runner, edit, message: str) -> None:
    project.write_text(edit(project.read_text()))
    result = runner.invoke(app, ["build", str(project), "--out", str(tmp_path / "dist")])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert message in result.output and "Traceback" not in result.output


def test_init_writes_a_config_that_builds(tmp_path: Path, runner) -> None:
    shutil.copy(Path(__file__).parent.parent / "tiny_models.py", tmp_path / "models.py")
    config = tmp_path / "mlpack.toml"
    result = runner.invoke(app, ["init", "models.py:mlp", "-o", str(config), "--input", "x:1x16"])
    assert result.exit_code == 0 and config.is_file()
    again = runner.invoke(app, ["init", "models.py:mlp", "-o", str(config)])
    assert again.exit_code == ExitCode.BAD_INPUT and "--force" in again.output
    built = runner.invoke(app, ["build", str(config), "--out", str(tmp_path / "dist")])
    assert built.exit_code == 0, built.output
