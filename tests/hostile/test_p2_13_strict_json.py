"""Second probe, item 13: JSON reports never hold bare NaN or Infinity (strict parsers reject them):
one writer maps them to null."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from tests.helpers.hostile import CliRunner, app


def _strict(text: str) -> object:
    def refuse(name: str) -> object:
        raise AssertionError(f"bare {name} in JSON")

    return json.loads(text, parse_constant=refuse)


def test_writer_maps_non_finite_to_null() -> None:
    from mlpack.core.jsonout import dumps

    text = dumps({"a": math.nan, "b": [math.inf, -math.inf, 1.0], "c": np.float32("nan"), "d": np.int64(3)})
    assert _strict(text) == {"a": None, "b": [None, None, 1.0], "c": None, "d": 3}


def test_check_json_on_constant_outputs_is_strict(work: Path) -> None:
    budget = work / "b.toml"
    budget.write_text("[budget]\nmax_size_mb = 5\nmin_cosine = 0.5\n")
    np.savez(work / "zeros.npz", x=np.zeros((8, 16), np.float32))  # cosine of zero vectors: undefined
    result = CliRunner().invoke(
        app,
        [
            "check",
            str(work / "m.onnx"),
            "-b",
            str(budget),
            "--reference",
            str(work / "m.onnx"),
            "--data",
            str(work / "zeros.npz"),
            "--runs",
            "3",
            "--duration",
            "0.01",
            "--json",
            "-",
        ],
    )
    assert result.exit_code in (0, 1, 2), result.stderr
    if result.exit_code != 2:
        _strict(result.stdout)
