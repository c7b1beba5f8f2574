"""The .mlpack artifact (pack, verify, run, inspect), hostile archives, and mlpack build / init."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlpack.cli import app
from mlpack.errors import ArchiveError, ExitCode, TamperError
from mlpack.artifact.package import MANIFEST, pack, read_manifest, run_package, verify

from .conftest import runtime_only_env


@pytest.fixture
def package(gemm_mlp: Path, tmp_path: Path) -> Path:
    labels = tmp_path / "labels.txt"
    labels.write_text("a\nb\nc\nd\n")
    return pack(
        gemm_mlp,
        tmp_path / "m.mlpack",
        name="mlp",
        version="2.0.0",
        include=(labels,),
        preprocessing={"mean": 0.5},
        golden=3,
        model_card={"intended_use": "tests"},
    ).output


def test_manifest_has_what_a_device_needs(package: Path) -> None:
    manifest = read_manifest(package)
    assert manifest["format"] == "mlpack.package/1" and manifest["name"] == "mlp" and manifest["version"] == "2.0.0"
    assert set(manifest["files"]) == {"model/mlp.onnx", "files/labels.txt", "golden/inputs.npz", "golden/outputs.npz"}
    assert all(len(f["sha256"]) == 64 for f in manifest["files"].values())
    assert manifest["model"]["signature"]["inputs"] == [{"name": "x", "shape": ["batch", 16], "dtype": "float32"}]
    assert manifest["model"]["opset"] == 17
    assert manifest["preprocessing"] == {"mean": 0.5}
    assert manifest["model_card"]["intended_use"] == "tests"
    assert manifest["golden"]["count"] == 3
    for key in ("mlpack", "onnx", "onnxruntime", "torch", "git_commit", "created"):
        assert key in manifest["provenance"]


def test_verify_and_run_golden(package: Path, runner) -> None:
    result = verify(package, run=True)
    assert result.ok and result.golden is not None and result.golden.passed and result.files_checked == 4
    cli = runner.invoke(app, ["verify", str(package), "--run"])
    assert cli.exit_code == 0 and "verified" in cli.output


def _rewrite(package: Path, target: Path, change) -> Path:
    """Copy the package, passing every (name, bytes) through ``change``."""
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            data = change(info.filename, src.read(info))
            if data is not None:
                dst.writestr(info.filename, data)
    return target


def _flip(data: bytes, offset: int) -> bytes:
    return data[:offset] + bytes([data[offset] ^ 0x01]) + data[offset + 1 :]


@pytest.mark.parametrize("offset", [10, 500, -20])
def test_any_changed_byte_of_the_model_is_detected(package: Path, tmp_path: Path, runner, offset: int) -> None:
    tampered = _rewrite(
        package,
        tmp_path / "t.mlpack",
        lambda name, data: _flip(data, offset % len(data)) if name == "model/mlp.onnx" else data,
    )
    with pytest.raises(TamperError, match="model/mlp.onnx"):
        verify(tampered)
    result = runner.invoke(app, ["verify", str(tampered)])
    assert result.exit_code == ExitCode.FAILED and "model/mlp.onnx" in result.output


def test_a_changed_manifest_is_detected(package: Path, tmp_path: Path, runner) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        return data.replace(b'"2.0.0"', b'"2.0.1"')

    tampered = _rewrite(package, tmp_path / "t.mlpack", edit)
    result = runner.invoke(app, ["verify", str(tampered)])
    assert result.exit_code == ExitCode.FAILED and "manifest.json was modified" in result.output
    flipped = _rewrite(package, tmp_path / "f.mlpack", lambda n, d: _flip(d, 40) if n == MANIFEST else d)
    assert runner.invoke(app, ["verify", str(flipped)]).exit_code == ExitCode.FAILED


def test_bytes_changed_inside_the_zip_are_detected(package: Path, tmp_path: Path) -> None:
    """Flip a byte of the stored (compressed) data in place: the zip CRC or the hash catches it."""
    raw = bytearray(package.read_bytes())
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo("model/mlp.onnx")
    raw[info.header_offset + 30 + len(info.filename) + 50] ^= 0xFF
    damaged = tmp_path / "d.mlpack"
    damaged.write_bytes(bytes(raw))
    with pytest.raises((TamperError, ArchiveError)):
        verify(damaged)


def test_added_and_removed_files_are_detected(package: Path, tmp_path: Path) -> None:
    added = _rewrite(package, tmp_path / "a.mlpack", lambda n, d: d)
    with zipfile.ZipFile(added, "a") as archive:
        archive.writestr("files/extra.py", b"print('hi')")
    with pytest.raises(TamperError, match="not in the manifest"):
        verify(added)
    removed = _rewrite(package, tmp_path / "r.mlpack", lambda n, d: None if n == "files/labels.txt" else d)
    with pytest.raises(TamperError, match="missing"):
        verify(removed)


def _hostile(tmp_path: Path, build) -> Path:
    path = tmp_path / "hostile.mlpack"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(MANIFEST, "{}")
        build(archive)
    return path


def _symlink(archive: zipfile.ZipFile) -> None:
    info = zipfile.ZipInfo("model/link.onnx")
    info.external_attr = 0o120777 << 16
    archive.writestr(info, "/etc/passwd")


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda a: a.writestr("/etc/evil", b"x"), "absolute path"),
        (lambda a: a.writestr("../../evil", b"x"), "'..'"),
        (lambda a: a.writestr("model/../../evil", b"x"), "'..'"),
        (_symlink, "symbolic link"),
        (lambda a: (a.writestr("model/m.onnx", b"1"), a.writestr("model/m.onnx", b"2")), "appears twice"),
        (
            lambda a: a.writestr("model/bomb.bin", b"\0" * (80 * 1024**2), compress_type=zipfile.ZIP_DEFLATED),
            "archive bomb",
        ),
    ],
)
def test_hostile_archives_are_refused_and_write_nothing(tmp_path: Path, runner, build, message: str) -> None:
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we write on purpose
        hostile = _hostile(tmp_path, build)
    before = set(os.listdir(tmp_path))
    for command in (["verify", str(hostile)], ["inspect", str(hostile)]):
        result = runner.invoke(app, command)
        assert result.exit_code == ExitCode.BAD_INPUT, result.output
        assert message in result.output
    assert set(os.listdir(tmp_path)) == before
    assert not (tmp_path.parent / "evil").exists()


def test_run_checks_inputs_against_the_signature(package: Path, tmp_path: Path, runner) -> None:
    good = tmp_path / "in.npz"
    np.savez(good, x=np.ones((5, 16), np.float32))
    out = tmp_path / "out.npz"
    result = run_package(package, good, out)
    assert result.samples == 5 and result.outputs == {"y": [5, 4]}
    with np.load(out) as outputs:
        assert outputs["y"].shape == (5, 4)
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.ones((5, 15), np.float32))
    cli = runner.invoke(app, ["run", str(package), "-i", str(bad), "-o", str(tmp_path / "o2.npz")])
    assert cli.exit_code == ExitCode.BAD_INPUT and "dimension 1 must be 16" in cli.output
    assert not (tmp_path / "o2.npz").exists()


def test_inspect_shows_the_manifest(package: Path, runner) -> None:
    result = runner.invoke(app, ["inspect", str(package)])
    assert result.exit_code == 0 and "mlp 2.0.0" in result.output and "files/labels.txt" in result.output
    as_json = runner.invoke(app, ["inspect", str(package), "--json"])
    assert json.loads(as_json.stdout)["name"] == "mlp"


def test_pack_bad_input(gemm_mlp: Path, tmp_path: Path, runner) -> None:
    out = tmp_path / "p.mlpack"
    missing = runner.invoke(app, ["pack", str(tmp_path / "nope.onnx"), "-o", str(out)])
    assert missing.exit_code == ExitCode.BAD_INPUT and "not found" in missing.output
    bad_meta = runner.invoke(app, ["pack", str(gemm_mlp), "-o", str(out), "--meta", "novalue"])
    assert bad_meta.exit_code == ExitCode.BAD_INPUT and "KEY=VALUE" in bad_meta.output
    not_a_report = tmp_path / "r.json"
    not_a_report.write_text("{}")
    bad_report = runner.invoke(app, ["pack", str(gemm_mlp), "-o", str(out), "--report", str(not_a_report)])
    assert bad_report.exit_code == ExitCode.BAD_INPUT
    assert not out.exists()


def test_runtime_only_install_packs_verifies_runs_and_inspects(gemm_mlp: Path, tmp_path: Path) -> None:
    env = runtime_only_env(tmp_path)
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=np.ones((2, 16), np.float32))
    cli = [sys.executable, "-m", "mlpack.cli"]
    package = tmp_path / "p.mlpack"
    for args in (
        ["pack", str(gemm_mlp), "-o", str(package)],
        ["verify", str(package), "--run"],
        ["run", str(package), "-i", str(inputs), "-o", str(tmp_path / "out.npz")],
        ["inspect", str(package)],
    ):
        done = subprocess.run([*cli, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stderr)


# --- build and init ------------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A build config around a tiny torch model, with its own budgets."""
    shutil.copy(Path(__file__).parent / "tiny_models.py", tmp_path / "models.py")
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
    shutil.copy(Path(__file__).parent / "tiny_models.py", tmp_path / "models.py")
    config = tmp_path / "mlpack.toml"
    result = runner.invoke(app, ["init", "models.py:mlp", "-o", str(config), "--input", "x:1x16"])
    assert result.exit_code == 0 and config.is_file()
    again = runner.invoke(app, ["init", "models.py:mlp", "-o", str(config)])
    assert again.exit_code == ExitCode.BAD_INPUT and "--force" in again.output
    built = runner.invoke(app, ["build", str(config), "--out", str(tmp_path / "dist")])
    assert built.exit_code == 0, built.output
