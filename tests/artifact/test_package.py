"""The .mlpack artifact (pack, verify, run, inspect), hostile archives, and mlpack build / init."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlpack.artifact.manifest import MANIFEST, read_manifest, seal
from mlpack.artifact.pack import pack
from mlpack.artifact.run import run_package
from mlpack.artifact.verify import verify
from mlpack.cli import app
from mlpack.errors import ExitCode, TamperError
from tests.helpers.processes import runtime_only_env


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
    assert result.exit_code == ExitCode.OK and result.problems == ()
    cli = runner.invoke(app, ["verify", str(package), "--run"])
    assert cli.exit_code == 0 and "verified" in cli.output
    as_json = json.loads(runner.invoke(app, ["verify", str(package), "--json"]).stdout)
    assert as_json["ok"] is True and as_json["exit_code"] == 0 and as_json["problems"] == []


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
    verdict = verify(tampered)
    assert not verdict.ok and verdict.exit_code == ExitCode.FAILED
    assert verdict.problems == ("'model/mlp.onnx' changed after packing (SHA-256 mismatch).",)
    result = runner.invoke(app, ["verify", str(tampered)])
    assert result.exit_code == ExitCode.FAILED and "verification failed" in result.output
    assert "model/mlp.onnx" in result.output


def test_a_changed_manifest_is_detected(package: Path, tmp_path: Path, runner) -> None:
    def edit(name: str, data: bytes) -> bytes:
        if name != MANIFEST:
            return data
        return data.replace(b'"2.0.0"', b'"2.0.1"')

    tampered = _rewrite(package, tmp_path / "t.mlpack", edit)
    result = runner.invoke(app, ["verify", str(tampered)])
    assert result.exit_code == ExitCode.FAILED and "manifest.json was modified" in result.output
    assert "mlp 2.0.1" in result.output  # the verdict still names what the package claims to be
    flipped = _rewrite(package, tmp_path / "f.mlpack", lambda n, d: _flip(d, 40) if n == MANIFEST else d)
    assert runner.invoke(app, ["verify", str(flipped)]).exit_code == ExitCode.FAILED
    with pytest.raises(TamperError, match="manifest.json was modified"):
        read_manifest(tampered)  # inspect and run refuse it outright


def test_bytes_changed_inside_the_zip_are_detected(package: Path, tmp_path: Path) -> None:
    """Flip a byte of the stored (compressed) data in place: the zip CRC or the hash catches it."""
    raw = bytearray(package.read_bytes())
    with zipfile.ZipFile(package) as archive:
        info = archive.getinfo("model/mlp.onnx")
    raw[info.header_offset + 30 + len(info.filename) + 50] ^= 0xFF
    damaged = tmp_path / "d.mlpack"
    damaged.write_bytes(bytes(raw))
    result = verify(damaged)
    assert not result.ok and result.exit_code == ExitCode.FAILED
    assert len(result.problems) == 1 and "'model/mlp.onnx' is corrupt or was modified" in result.problems[0]


def test_added_and_removed_files_are_detected(package: Path, tmp_path: Path) -> None:
    added = _rewrite(package, tmp_path / "a.mlpack", lambda n, d: d)
    with zipfile.ZipFile(added, "a") as archive:
        archive.writestr("files/extra.py", b"print('hi')")
    assert verify(added).problems == ("'files/extra.py' is not in the manifest: it was added after packing.",)
    removed = _rewrite(package, tmp_path / "r.mlpack", lambda n, d: None if n == "files/labels.txt" else d)
    assert verify(removed).problems == ("'files/labels.txt' is listed in the manifest but missing.",)
    both = _rewrite(added, tmp_path / "b.mlpack", lambda n, d: None if n == "files/labels.txt" else d)
    assert len(verify(both).problems) == 2  # every entry is named, not only the first


def test_verify_json_on_a_tampered_package(package: Path, tmp_path: Path, runner) -> None:
    tampered = _rewrite(package, tmp_path / "t.mlpack", lambda n, d: b"new labels" if n == "files/labels.txt" else d)
    result = runner.invoke(app, ["verify", str(tampered), "--run", "--json"])
    assert result.exit_code == ExitCode.FAILED
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is False and verdict["exit_code"] == 1 and verdict["golden"] is None
    assert verdict["problems"] == ["'files/labels.txt' changed after packing (SHA-256 mismatch)."]
    assert verdict["name"] == "mlp" and verdict["files_checked"] == 4
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=np.ones((1, 16), np.float32))
    refused = runner.invoke(app, ["run", str(tampered), "--data", str(inputs), "-o", str(tmp_path / "out.npz")])
    assert refused.exit_code == ExitCode.FAILED and "files/labels.txt" in refused.output
    assert not (tmp_path / "out.npz").exists()


def _resealed(package: Path, target: Path, change) -> Path:
    """A consistent forgery: ``change(name, bytes)`` edits files, the manifest is rehashed to match."""
    import hashlib

    with zipfile.ZipFile(package) as src:
        files = {name: change(name, src.read(name)) for name in src.namelist() if name != MANIFEST}
        manifest = json.loads(src.read(MANIFEST))
    for name, data in files.items():
        manifest["files"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    manifest = seal({k: v for k, v in manifest.items() if k != "manifest_sha256"})
    with zipfile.ZipFile(target, "w") as dst:
        dst.writestr(MANIFEST, json.dumps(manifest))
        for name, data in files.items():
            dst.writestr(name, data)
    return target


def test_a_golden_mismatch_is_a_failed_verdict(package: Path, tmp_path: Path, runner) -> None:
    import io

    def shift_outputs(name: str, data: bytes) -> bytes:
        if name != "golden/outputs.npz":
            return data
        with np.load(io.BytesIO(data)) as outputs:
            shifted = {k: outputs[k] + 1.0 for k in outputs.files}
        buffer = io.BytesIO()
        np.savez(buffer, **shifted)
        return buffer.getvalue()

    forged = _resealed(package, tmp_path / "g.mlpack", shift_outputs)
    assert verify(forged).ok  # without --run the files and the signature all agree
    result = runner.invoke(app, ["verify", str(forged), "--run", "--json"])
    assert result.exit_code == ExitCode.FAILED
    verdict = json.loads(result.stdout)
    assert verdict["ok"] is False and verdict["signature_ok"] is True and verdict["golden"]["passed"] is False
    assert len(verdict["problems"]) == 1 and verdict["problems"][0].startswith("'golden/outputs.npz': ")
    human = runner.invoke(app, ["verify", str(forged), "--run"])
    assert human.exit_code == ExitCode.FAILED and "golden/outputs.npz" in human.output


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
    cli = runner.invoke(app, ["run", str(package), "--data", str(bad), "-o", str(tmp_path / "o2.npz")])
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
        ["run", str(package), "--data", str(inputs), "-o", str(tmp_path / "out.npz")],
        ["inspect", str(package)],
    ):
        done = subprocess.run([*cli, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 0, (args, done.stderr)


# --- build and init ------------------------------------------------------------------------------
