"""mlpack build and init: one config, the whole chain, cached stages."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlpack.artifact.verify import verify
from mlpack.cli import app
from mlpack.core.inputspec import parse_input_spec
from mlpack.core.sourceref import SourceKind, SourceRef
from mlpack.errors import ExitCode
from mlpack.pipeline.cache import STATE_FILE, StageCache
from mlpack.pipeline.config import ModelConfig, PackConfig, load_build_config
from mlpack.pipeline.init import init
from mlpack.quant.settings import QuantMode


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
    cli = runner.invoke(app, ["build", str(project), "-o", str(out), "--json"])
    assert cli.exit_code == 0 and json.loads(cli.stdout)["package"] == str(out / "tiny-1.2.3.mlpack")


def test_a_failing_stage_stops_the_build_and_writes_no_package(project: Path, tmp_path: Path, runner) -> None:
    (tmp_path / "budgets.toml").write_text('[budget]\nmax_size_mb = "1 KB"\n')
    out = tmp_path / "dist"
    result = runner.invoke(app, ["build", str(project), "-o", str(out)])
    assert result.exit_code == ExitCode.FAILED
    assert "check stage" in result.output and "max_size_mb" in result.output
    assert not list(out.glob("*.mlpack"))
    assert json.loads((out / "build.json").read_text())["exit_code"] == 1


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda t: t.replace('quantize = "dynamic"', 'quantize = "dynamic"\nspeed = 11'), ":9: 'optimize.speed'"),
        (lambda t: t.replace("golden = 2", 'golden = "two"'), "'pack.golden': must be a whole number"),
        (lambda t: t.replace('quantize = "dynamic"', 'quantize = "int3"'), ":8: 'optimize.quantize': must be one of"),
        (lambda t: t.replace('quantize = "dynamic"', 'quantize = "int3"'), ", tune, got 'int3'"),
        (lambda t: t.replace("[check]", "[check]\nruns = true"), ":11: 'check.runs': must be a whole number, got a"),
        (lambda t: t.replace("[check]", '[check]\nduration = "1s"'), "'check.duration': must be a number, got str"),
        (lambda t: t.replace("[check]", "[check]\nruns = -1"), "'check.runs': cannot be negative"),
        (
            lambda t: t.replace('quantize = "dynamic"', 'calibration_method = "median"'),
            ":8: 'optimize.calibration_method': must be one of minmax, entropy, percentile, got 'median'",
        ),
        (lambda t: t.replace('["x:1x16"]', '["x:1x-3"]'), ":5: 'model.inputs': input spec 'x:1x-3'"),
        (lambda t: t.replace('["x:1x16"]', '"x:1x16"'), "'model.inputs': must be a list, got str"),
        (lambda t: t.replace('budgets = "budgets.toml"', 'device = "rpi4"'), "[check] needs budgets"),
        (lambda t: t.replace('"dynamic"', '"tune"'), ":8: 'optimize.quantize': quantize = \"tune\" needs [check]"),
        (lambda t: t.replace("[pack]", "[deploy]"), "unknown section"),
        (lambda t: t.replace('source = "models.py:mlp"\n', ""), "[model] source"),
        (lambda t: t.replace("models.py:mlp", "missing.py:mlp"), "not found"),
    ],
)
def test_build_config_mistakes(project: Path, tmp_path: Path, runner, edit, message: str) -> None:
    project.write_text(edit(project.read_text()))
    result = runner.invoke(app, ["build", str(project), "-o", str(tmp_path / "dist")])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert message in result.output and "Traceback" not in result.output


def test_init_writes_a_config_that_builds(tmp_path: Path, runner) -> None:
    shutil.copy(Path(__file__).parent.parent / "tiny_models.py", tmp_path / "models.py")
    config = tmp_path / "mlpack.toml"
    result = runner.invoke(app, ["init", "models.py:mlp", "-o", str(config), "--input", "x:1x16"])
    assert result.exit_code == 0 and config.is_file()
    again = runner.invoke(app, ["init", "models.py:mlp", "-o", str(config)])
    assert again.exit_code == ExitCode.BAD_INPUT and "--force" in again.output
    built = runner.invoke(app, ["build", str(config), "-o", str(tmp_path / "dist")])
    assert built.exit_code == 0, built.output


def test_build_json_says_ok_for_failures_too(project: Path, tmp_path: Path, runner) -> None:
    (tmp_path / "budgets.toml").write_text('[budget]\nmax_size_mb = "1 KB"\n')
    result = runner.invoke(app, ["build", str(project), "-o", str(tmp_path / "dist"), "--json"])
    assert result.exit_code == ExitCode.FAILED
    payload = json.loads(result.stdout)
    assert payload["ok"] is False and payload["exit_code"] == 1 and payload["package"] is None


def test_tune_without_a_fitting_candidate_exits_1(project: Path, tmp_path: Path, runner) -> None:
    """No candidate within the budgets is a broken budget (exit 1), as in mlpack tune, not a bug (exit 4)."""
    np.savez(tmp_path / "val.npz", x=np.random.default_rng(0).standard_normal((8, 16)).astype(np.float32))
    (tmp_path / "budgets.toml").write_text('[budget]\nmax_size_mb = "1 KB"\n')
    project.write_text(
        project.read_text()
        .replace('quantize = "dynamic"', 'quantize = "tune"\nmax_time = 0.001')
        .replace('budgets = "budgets.toml"', 'budgets = "budgets.toml"\ndata = "val.npz"')
    )
    out = tmp_path / "dist"
    result = runner.invoke(app, ["build", str(project), "-o", str(out)])
    assert result.exit_code == ExitCode.FAILED, result.output
    assert "tune found no candidate" in result.output and "Traceback" not in result.output
    built = json.loads((out / "build.json").read_text())
    assert built["ok"] is False and [s["status"] for s in built["stages"]] == ["built", "failed"]


@pytest.mark.parametrize("damage", [b"[]", b"garbage{", b'{"export": []}', b'{"export": {"key": 1}}', b"\xff\xfe"])
def test_a_damaged_cache_only_costs_a_rebuild(tmp_path: Path, damage: bytes) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    (out / STATE_FILE).write_bytes(damage)
    cache = StageCache(out)
    model = tmp_path / "model.onnx"
    model.write_bytes(b"onnx")
    key = cache.key("export", {"opset": 18}, [model])
    assert cache.fresh("export", key) is None
    cache.store("export", key, [model], {"size_bytes": 4})
    assert StageCache(out).fresh("export", key) == {"size_bytes": 4}


def test_a_build_over_a_damaged_cache_rebuilds(project: Path, tmp_path: Path, runner) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    (out / STATE_FILE).write_text("[]")
    result = runner.invoke(app, ["build", str(project), "-o", str(out), "--json"])
    assert result.exit_code == 0, result.output
    assert [s["status"] for s in json.loads(result.stdout)["stages"]] == ["built"] * 4


@pytest.mark.parametrize("source", [r"C:\models\m.py:build", 'my "best" model.py:build', "models/ünï\tcode.pt"])
def test_init_quotes_what_the_user_typed(tmp_path: Path, runner, source: str) -> None:
    config = tmp_path / "mlpack.toml"
    result = runner.invoke(app, ["init", source, "-o", str(config), "--input", "x:1x16"])
    assert result.exit_code == 0, result.output
    loaded = load_build_config(config)
    assert str(loaded.model.source) == str(SourceRef.parse(source).relative_to(tmp_path))
    assert loaded.model.inputs == (parse_input_spec("x:1x16"),)


def test_init_shows_the_defaults_the_build_uses(tmp_path: Path) -> None:
    config = init(tmp_path / "mlpack.toml", source="models.py:mlp")
    loaded = load_build_config(config)
    assert loaded.model.name == "models" and loaded.model.version == ModelConfig.version
    assert loaded.pack.golden == PackConfig().golden
    # As the README recommends: auto, checked against a starter budget file written beside it (issue 25).
    assert loaded.optimize.quantize is QuantMode.AUTO
    assert loaded.check is not None and loaded.check.budgets == tmp_path / "budgets.toml"
    assert "max_latency_ms" in (tmp_path / "budgets.toml").read_text()
    (tmp_path / "budgets.toml").write_text("[budget]\nmax_size_mb = 1\n")
    init(tmp_path / "mlpack.toml", source="models.py:mlp", force=True)
    assert (tmp_path / "budgets.toml").read_text() == "[budget]\nmax_size_mb = 1\n"  # the user's, kept


@pytest.mark.parametrize(
    ("text", "kind", "target", "attr"),
    [
        ("pkg.models:build", SourceKind.MODULE, "pkg.models", "build"),
        ("models.py:mlp", SourceKind.FILE, "models.py", "mlp"),
        (r"C:\models\m.py:build", SourceKind.FILE, r"C:\models\m.py", "build"),
        (r"C:\models\m.pt", SourceKind.PATH, r"C:\models\m.pt", None),
        ("model.onnx", SourceKind.PATH, "model.onnx", None),
        ("dir/pkg:build", SourceKind.PATH, "dir/pkg:build", None),
        (":build", SourceKind.PATH, ":build", None),
    ],
)
def test_one_reading_of_a_model_source(text: str, kind: SourceKind, target: str, attr: str | None) -> None:
    ref = SourceRef.parse(text)
    assert (ref.kind, ref.target, ref.attr) == (kind, target, attr) and str(ref) == text
