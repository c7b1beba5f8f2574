"""Class 18: pack never loses an included file to another of the same name, and its manifest never
claims more golden samples than it stores."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np

from tests.helpers.hostile import refused, succeeds


def test_duplicate_include_names(work: Path) -> None:
    for folder in ("a", "b"):
        (work / folder).mkdir()
        (work / folder / "labels.txt").write_text(folder)
    message = refused(
        [
            "pack",
            work / "m.onnx",
            "-o",
            work / "p.mlpack",
            "--include",
            work / "a/labels.txt",
            "--include",
            work / "b/labels.txt",
        ],
        says="files/labels.txt",
    )
    assert "rename" in message and not (work / "p.mlpack").exists()


def test_golden_clamped_to_the_data(work: Path) -> None:
    np.savez(work / "rows.npz", x=np.ones((450, 16), np.float32))
    out = succeeds(
        ["pack", work / "m.onnx", "-o", work / "p.mlpack", "--golden", "1000", "--golden-data", work / "rows.npz"]
    )
    assert "450 golden samples" in out
    with zipfile.ZipFile(work / "p.mlpack") as archive:
        manifest = json.loads(archive.read("manifest.json"))
        with archive.open("golden/inputs.npz") as handle:
            stored = np.load(handle)["x"].shape[0]
    assert manifest["golden"]["count"] == stored == 450
    succeeds(["verify", work / "p.mlpack", "--run"])
