"""Second probe, item 17: ``compare`` given result files with the right schema but wrong JSON types is
bad input (exit 2), not an internal error."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.helpers.hostile import refused


@pytest.mark.parametrize(
    "body",
    [
        {"measurements": 3},
        {"measurements": [3]},
        {"measurements": [{"latency_ms": "fast"}]},
        {"system": []},
        {"measurements": "abc", "created": 5},
        {"measurements": [None]},
        {"results": {"a": 1}},
        {"created": "now", "system": [], "settings": {}, "measurements": [], "results": [7]},
        {"created": "now", "system": {}, "settings": {}, "device": "pi", "measurements": []},
    ],
)
def test_wrong_types(tmp_path: Path, body: dict) -> None:
    from mlpack.bench.results import FLEET_SCHEMA, SCHEMA

    for n, schema in enumerate((SCHEMA, FLEET_SCHEMA)):
        a, b = tmp_path / f"a{n}.json", tmp_path / f"b{n}.json"
        a.write_text(json.dumps({"schema": schema, **body}))
        b.write_text(json.dumps({"schema": schema, **body}))
        refused(["compare", a, b])
