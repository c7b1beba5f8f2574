"""Statistics in the package: recorded by pack --data, covered by the manifest's hashes."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mlpack.artifact.manifest import DATA_STATS, read_manifest
from mlpack.artifact.pack import pack
from mlpack.artifact.verify import verify
from mlpack.cli import app
from mlpack.errors import ExitCode


@pytest.fixture
def packed(gemm_mlp: Path, tmp_path: Path) -> Path:
    data = tmp_path / "val.npz"
    np.savez(data, x=np.random.default_rng(0).standard_normal((200, 16)).astype(np.float32))
    return pack(gemm_mlp, tmp_path / "m.mlpack", data=data).output


def _rewrite(package: Path, target: Path, name: str, data: bytes | None) -> Path:
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(target, "w") as dst:
        for info in src.infolist():
            if info.filename != name:
                dst.writestr(info.filename, src.read(info))
            elif data is not None:
                dst.writestr(info.filename, data)
    return target


def test_pack_data_cli_states_samples_and_size(gemm_mlp: Path, tmp_path: Path, runner) -> None:
    data = tmp_path / "val.npz"
    np.savez(data, x=np.random.default_rng(1).standard_normal((120, 16)).astype(np.float32))
    cli = runner.invoke(app, ["pack", str(gemm_mlp), "-o", str(tmp_path / "p.mlpack"), "--data", str(data)])
    assert cli.exit_code == 0 and "recorded statistics of 120 samples from val.npz" in cli.output
    as_json = runner.invoke(
        app, ["pack", str(gemm_mlp), "-o", str(tmp_path / "q.mlpack"), "--data", str(data), "--json"]
    )
    stats = json.loads(as_json.stdout)["manifest"]["data_stats"]
    assert stats["samples"] == 120 and stats["size_bytes"] <= stats["max_bytes"] == 256 * 1024


def test_a_package_without_data_has_no_statistics(gemm_mlp: Path, tmp_path: Path) -> None:
    manifest = pack(gemm_mlp, tmp_path / "bare.mlpack").manifest
    assert manifest["data_stats"] is None and DATA_STATS not in manifest["files"]


def test_verify_catches_tampered_statistics(packed: Path, tmp_path: Path, runner) -> None:
    assert verify(packed).ok and DATA_STATS in read_manifest(packed)["files"]
    with zipfile.ZipFile(packed) as archive:
        raw = json.loads(archive.read(DATA_STATS))
    raw["tensors"][0]["features"][0]["proportions"][0] += 0.01  # a quiet edit that would hide drift
    edited = _rewrite(packed, tmp_path / "edited.mlpack", DATA_STATS, json.dumps(raw).encode())
    result = verify(edited)
    assert not result.ok and result.exit_code == ExitCode.FAILED
    assert any(DATA_STATS in p and "changed after packing" in p for p in result.problems)
    removed = verify(_rewrite(packed, tmp_path / "removed.mlpack", DATA_STATS, None))
    assert any(DATA_STATS in p and "missing" in p for p in removed.problems)
    cli = runner.invoke(app, ["verify", str(edited)])
    assert cli.exit_code == ExitCode.FAILED and DATA_STATS in cli.output
