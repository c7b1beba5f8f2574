"""Class 14: labels, compare inputs, build caches and pickles of the wrong shape or type are bad input
(exit 2) or, for the cache, only cost a rebuild; never an internal error."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile import refused, succeeds


@pytest.mark.parametrize("labels", [np.array(3), np.array([["a", "b"]] * 40)], ids=["zero_dimensional", "strings_2d"])
def test_bad_labels(work: Path, labels: np.ndarray) -> None:
    np.savez(work / "bad.npz", x=np.ones((40, 16), np.float32), labels=labels)
    (work / "acc.toml").write_text("[budget]\nmin_accuracy = 0.1\n")
    refused(["check", work / "m.onnx", "-b", work / "acc.toml", "--data", work / "bad.npz"], says="labels")


def test_compare_fields_of_the_wrong_type(work: Path) -> None:
    out = succeeds(["bench", work / "m.onnx", "--runs", "5", "--duration", "0.01", "--json", "-"])
    good = json.loads(out)
    bad = json.loads(out)
    for measurement in bad["results"] if "results" in bad else bad.get("measurements", []):
        for key in measurement:
            if isinstance(measurement[key], dict):
                measurement[key] = "fast"
    (work / "a.json").write_text(json.dumps(good))
    (work / "b.json").write_text(json.dumps(bad))
    refused(["compare", work / "a.json", work / "b.json"])


def test_build_cache_holding_a_list(work: Path) -> None:
    config = work / "mlpack.toml"
    config.write_text('[model]\nsource = "m.onnx"\n')
    out = work / "dist"
    out.mkdir()
    (out / ".mlpack-build.json").write_text("[]")
    succeeds(["build", config, "-o", out])
    assert list(out.glob("*.mlpack"))


def test_trusted_pickle_whose_class_cannot_be_imported(tmp_path: Path) -> None:
    import sys
    import types

    import torch

    # A full pickle of a class from a module that no longer exists where it is loaded.
    gone = types.ModuleType("gone_module")
    exec("import torch\nclass Net(torch.nn.Module):\n    pass\n", gone.__dict__)
    sys.modules["gone_module"] = gone
    try:
        torch.save(gone.Net(), tmp_path / "full.pt")
    finally:
        del sys.modules["gone_module"]
    message = refused(["export", tmp_path / "full.pt", "--trust-pickle", "-o", tmp_path / "o.onnx", "-i", "x:1x4"])
    assert "full.pt" in message and "gone_module" in message and not (tmp_path / "o.onnx").exists()
