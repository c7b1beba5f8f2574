"""Second probe, item 12: an ``input_0.pb`` that is a folder, and an input spec with a non-ASCII digit,
are bad input (exit 2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused


def test_input_pb_that_is_a_folder(work: Path, package: Path) -> None:
    (work / "td" / "test_data_set_0" / "input_0.pb").mkdir(parents=True)
    refused(["run", package, "--data", work / "td", "-o", work / "o.npz"], says="input_0.pb")


@pytest.mark.parametrize("spec", ["x:²x16", "x:1x١٦", "x:0x16", "x:16x", "x:1x99999999999999999999999"])
def test_init_with_odd_digits(tmp_path: Path, spec: str) -> None:
    refused(["init", "-o", tmp_path / "mlpack.toml", "--input", spec], says="x:")
    assert not (tmp_path / "mlpack.toml").exists()
