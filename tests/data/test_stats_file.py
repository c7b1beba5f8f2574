"""The statistics file: it reads back bit for bit, ties at edges land alike, and a hostile or
stale file is refused with exit 2 and one line naming what is wrong."""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from mlpack.artifact.manifest import DATA_STATS, MANIFEST, seal
from mlpack.artifact.pack import pack
from mlpack.cli import app
from mlpack.data.collect import observe_arrays, record_arrays
from mlpack.data.stats import SCHEMA, parse_stats
from mlpack.errors import DataError, ExitCode
from tests.helpers.driftdraws import confident, integers, numeric, scored
from tests.helpers.hostile import without_progress
from tests.helpers.models import make_gemm_mlp


def test_statistics_read_back_bit_for_bit() -> None:
    rng = np.random.default_rng(0)
    tensors = numeric(3000, rng) + confident(3000, rng) + integers(3000, rng)
    recorded = record_arrays(tensors)
    again = parse_stats(recorded.to_json(), source="round trip")
    assert again == recorded and again.schema == SCHEMA == "mlpack.datastats/2"
    edges = [e for t in recorded.tensors for f in t.features for e in f.bins]
    assert len(edges) > 30
    assert [e.hex() for e in edges] == [e.hex() for t in again.tensors for f in t.features for e in f.bins]
    confidence = recorded.tensors[1].features[1]
    assert confidence.bins[-1] == 1.0 and any(0.999999 < e < 1.0 for e in confidence.bins)  # 6 digits would merge them


def test_ties_at_edges_land_in_the_same_bins_on_both_sides() -> None:
    """The recorded data binned again gives the recorded counts: confidences of exactly 1.0 and
    whole-number features fall in the same bin on both sides of a saved file."""
    rng = np.random.default_rng(1)
    tensors = confident(1000, rng) + integers(1000, rng)
    saved = parse_stats(record_arrays(tensors).to_json(), source="saved")
    odd = {name: np.take(a, np.arange(1, 1000, 2), axis=view.batch_axis) for name, _, view, a in tensors}
    again = observe_arrays(saved, odd)  # the samples that were counted, binned into the saved edges
    for recorded, observed in zip(saved.tensors, again.tensors, strict=True):
        for ref, new in zip(recorded.features, observed.features, strict=True):
            assert ref.counts == new.counts, ref.name
    assert not any(f.drifted for f in scored(tensors, tensors))


def test_older_statistics_are_refused_with_how_to_re_record() -> None:
    old = json.dumps({"schema": "mlpack.datastats/1", "samples": 10, "tensors": []}).encode()
    with pytest.raises(DataError, match=r"older mlpack.datastats/1 format.*re-record them with mlpack pack"):
        parse_stats(old, source="old.json")


def _tweak(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Set one value, addressed like ``tensors.0.features.1.bins``."""

    def apply(doc: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        node: Any = doc
        for key in parents:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[int(last) if isinstance(node, list) else last] = value

    return apply


def _numeric_bins(doc: dict[str, Any]) -> list[float]:
    return doc["tensors"][0]["features"][0]["bins"]


HOSTILE: list[tuple[str, Callable[[dict[str, Any]], None], str]] = [
    ("no tensors", _tweak("tensors", []), "tensors: no tensors recorded"),
    ("no features", _tweak("tensors.0.features", []), "tensors[0].features: no features recorded"),
    ("edges out of order", lambda d: _numeric_bins(d).reverse(), "edges must be strictly ascending"),
    ("a count short", lambda d: d["tensors"][0]["features"][0]["counts"].pop(), "counts for"),
    ("NaN share", _tweak("tensors.0.features.0.proportions.1", float("nan")), "NaN is not a number"),
    ("shares off", _tweak("tensors.0.features.0.proportions.1", 0.9), "the shares sum to"),
    ("axis far away", _tweak("tensors.0.view.axis", 7), "outside 'x'"),
    ("negative axis", _tweak("tensors.0.view.axis", -1), "view.axis: must be null or an axis number"),
    ("negative count", _tweak("tensors.0.features.0.counts.0", -3), "whole numbers, 0 or more"),
    ("share as text", _tweak("tensors.0.features.0.proportions.0", "0.1"), "finite shares"),
    ("infinite edge", _tweak("tensors.0.features.0.bins.0", float("-inf")), "-Infinity is not a number"),
    ("unknown view", _tweak("tensors.0.view.kind", "spectral"), "view.kind: must be one of"),
    ("samples missing", _tweak("samples", None), "samples: must be a whole number"),
]


@pytest.fixture(scope="module")
def packed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("stats-file")
    model = make_gemm_mlp(folder / "mlp.onnx")
    data = folder / "val.npz"
    np.savez(data, x=np.random.default_rng(0).standard_normal((300, 16)).astype(np.float32))
    return {
        "folder": folder,
        "model": model,
        "data": data,
        "package": pack(model, folder / "m.mlpack", data=data).output,
    }


def _resealed(package: Path, target: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    """The package with its statistics edited and every hash recomputed, as another tool might."""
    with zipfile.ZipFile(package) as src:
        entries = {info.filename: src.read(info) for info in src.infolist()}
    doc = json.loads(entries[DATA_STATS])
    edit(doc)
    raw = json.dumps(doc).encode()  # NaN written as NaN, as a careless tool would
    manifest = {k: v for k, v in json.loads(entries[MANIFEST]).items() if k != "manifest_sha256"}
    manifest["files"][DATA_STATS] = {"sha256": hashlib.sha256(raw).hexdigest(), "size": len(raw)}
    manifest["data_stats"]["size_bytes"] = len(raw)
    entries |= {DATA_STATS: raw, MANIFEST: json.dumps(seal(manifest)).encode()}
    with zipfile.ZipFile(target, "w") as dst:
        for name, content in entries.items():
            dst.writestr(name, content)
    return target


@pytest.mark.parametrize(("case", "edit", "message"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_hostile_statistics_exit_2_in_one_line(packed: dict[str, Path], runner, tmp_path: Path, case, edit, message):
    hostile = _resealed(packed["package"], tmp_path / "hostile.mlpack", edit)
    assert runner.invoke(app, ["verify", str(hostile)]).exit_code == 0  # sealed: only reading them tells
    result = runner.invoke(app, ["drift", str(hostile), "--data", str(packed["data"])])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert message in result.output and "Traceback" not in result.output
    shown = without_progress(result.output)
    assert len(shown.strip().splitlines()) == 1 or len(" ".join(shown.split())) < 400
