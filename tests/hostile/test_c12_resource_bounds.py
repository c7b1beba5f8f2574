"""Class 12: a small file cannot make mlpack allocate without bound: array headers are checked against
the file's size, golden counts and CPU sets are bounded (exit 2, at once)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from tests.helpers.hostile import forged_npz, refused


def test_npz_header_claims_238_gib(work: Path, package: Path) -> None:
    forged = forged_npz(work / "huge.npz", claimed=(2**30, 16, 16), held=np.ones((2, 16), np.float32))
    refused(["run", package, "--data", forged, "-o", work / "out.npz"], says="truncated")
    assert not (work / "out.npz").exists()


def test_golden_count_bounded(work: Path) -> None:
    refused(["pack", work / "m.onnx", "-o", work / "p.mlpack", "--golden", "1000000000"], says="--golden")
    assert not (work / "p.mlpack").exists()


def test_cpu_set_bounded(work: Path) -> None:
    devices = work / "d.toml"
    devices.write_text('[device.big]\nthreads = 1\ncpus = "0-20000000"\n')
    started = time.perf_counter()
    refused(["devices", "--devices", devices], says="cpus")
    assert time.perf_counter() - started < 5


def test_cpu_list_bounded(work: Path) -> None:
    devices = work / "d.toml"
    devices.write_text("[device.big]\nthreads = 1\ncpus = [0, 99999999]\n")
    refused(["devices", "--devices", devices], says="cpus")
