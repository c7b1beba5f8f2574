"""Second probe, item 15: errors about a package's contents name the package the user gave, never the
temporary folder it was extracted into."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.helpers.hostile import CliRunner, app, refused, repack


@pytest.mark.parametrize("case", ["wrong-shape", "unknown-set", "unknown-state"])
def test_run_errors_name_the_package(work: Path, package: Path, case: str) -> None:
    np.savez(work / "bad.npz", x=np.zeros((3, 7), np.float32))
    extra = {"wrong-shape": [], "unknown-set": ["--set", "nosuch=1"], "unknown-state": ["--state", "y=nosuch"]}[case]
    data = work / ("bad.npz" if case == "wrong-shape" else "data.npz")
    message = refused(["run", package, "--data", data, "-o", work / "o.npz", *extra])
    assert "mlpack-package-" not in message and "/tmp" not in message.replace(str(work), "")
    assert "m.mlpack" in message or str(data) in message or "nosuch" in message


def test_an_unloadable_packaged_model_names_the_package(work: Path, package: Path) -> None:
    import hashlib

    broken = b"\x08\x07 not a model"

    def edit(manifest: dict) -> None:
        model = manifest["model"]["path"]
        manifest["files"][model]["sha256"] = hashlib.sha256(broken).hexdigest()

    import json
    import zipfile

    with zipfile.ZipFile(package) as archive:
        model_name = json.loads(archive.read("manifest.json"))["model"]["path"]
    forged = repack(package, work / "forged.mlpack", edit, extra={model_name: broken})
    for args in (["run", forged, "--data", work / "data.npz", "-o", work / "o.npz"], ["verify", forged, "--run"]):
        result = CliRunner().invoke(app, [str(a) for a in args])
        assert result.exit_code in (1, 2), (result.exit_code, result.stderr)
        assert "mlpack-package-" not in result.stderr and "forged.mlpack!" in result.stderr, result.stderr
