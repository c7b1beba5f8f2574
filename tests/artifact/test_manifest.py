"""The typed manifest writes the JSON it reads, and packages made before it still verify."""

from __future__ import annotations

import dataclasses
import json
import zipfile
from pathlib import Path

from mlpack.artifact.manifest import MANIFEST, Manifest, manifest_hash, read_manifest, seal
from mlpack.artifact.pack import pack
from mlpack.artifact.verify import verify


def test_every_key_pack_writes_is_a_typed_field(gemm_mlp: Path, tmp_path: Path) -> None:
    packed = pack(gemm_mlp, tmp_path / "m.mlpack", golden=2, preprocessing={"mean": 0.5}).manifest
    stored = json.loads(zipfile.ZipFile(tmp_path / "m.mlpack").read(MANIFEST))
    read = read_manifest(tmp_path / "m.mlpack")
    assert isinstance(read, Manifest) and read == packed
    assert packed.to_dict() == stored == read.to_dict()
    assert dataclasses.replace(read).to_dict() == stored  # rebuilt from the typed fields alone
    assert manifest_hash(stored) == stored["manifest_sha256"] == read.manifest_sha256
    assert read.model.signature.inputs[0].name == "x" and read.golden is not None and read.golden.count == 2
    assert read["files"] == stored["files"]  # also a read-only mapping of its JSON form


def test_a_package_from_before_feeding_and_statistics_still_verifies(gemm_mlp: Path, tmp_path: Path) -> None:
    package = pack(gemm_mlp, tmp_path / "m.mlpack", golden=2).output
    old = tmp_path / "old.mlpack"
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(old, "w") as dst:
        stored = json.loads(src.read(MANIFEST))
        for name in src.namelist():
            if name != MANIFEST:
                dst.writestr(name, src.read(name))
        # The keys an older mlpack did not write yet.
        del stored["data_stats"], stored["model"]["feeding"], stored["manifest_sha256"]
        stored = seal(stored)
        dst.writestr(MANIFEST, json.dumps(stored, indent=2, sort_keys=True))
    assert verify(old, run=True).ok
    read = read_manifest(old)
    assert read.to_dict() == stored and read.data_stats is None and not read.model.feed_options().streaming
