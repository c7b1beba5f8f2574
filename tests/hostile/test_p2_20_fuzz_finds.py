"""What the CLI fuzzer (test_p2_fuzz_cli) found, kept as plain regression cases: a lone .npy given as
data, and a manifest whose ``check`` section is a number, are bad input (exit 2), not bugs."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tests.helpers.hostile import refused, repack


def test_a_lone_npy_as_data(work: Path) -> None:
    # A .npy is a data kind since issue 20 (the one input of a one-input model); a scalar one is bad input.
    np.save(work / "x.npy", np.float32(0.5))
    refused(["optimize", work / "m.onnx", "-o", work / "o.onnx", "--data", work / "x.npy"], says="has 0 dimensions")


def test_a_manifest_section_of_the_wrong_type(work: Path, package: Path) -> None:
    forged = repack(package, work / "f.mlpack", lambda m: m.update(check=0))
    refused(["verify", forged, "--json"], says="'check' must be a table")
