"""Second probe, item 5: a .pb tensor's external data is read relative to the .pb's own folder and
refused when it points outside it (absolute, ``..``), whatever the working directory."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from onnx import TensorProto

from tests.helpers.hostile import refused, succeeds


def _external_pb(path: Path, location: str, length: int = 64) -> None:
    tensor = TensorProto(name="x", data_type=TensorProto.FLOAT, dims=[1, 16])
    tensor.data_location = TensorProto.EXTERNAL
    for key, value in (("location", location), ("offset", "0"), ("length", str(length))):
        entry = tensor.external_data.add()
        entry.key, entry.value = key, value
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(tensor.SerializeToString())


@pytest.mark.parametrize("location", ["/etc/passwd", "../secret.bin", "secret.bin"])
def test_outside_or_cwd_relative_refused(
    work: Path, package: Path, location: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    (work / "secret.bin").write_bytes(np.ones(16, np.float32).tobytes())
    monkeypatch.chdir(work)  # the secret sits in the working directory, not beside the .pb
    _external_pb(work / "td" / "test_data_set_0" / "input_0.pb", location)
    refused(["run", package, "--data", work / "td", "-o", work / "o.npz"], says="input_0.pb")


def test_beside_the_pb_is_read(work: Path, package: Path) -> None:
    folder = work / "td" / "test_data_set_0"
    _external_pb(folder / "input_0.pb", "x.bin")
    (folder / "x.bin").write_bytes(np.ones(16, np.float32).tobytes())
    succeeds(["run", package, "--data", work / "td", "-o", work / "o.npz"])
