"""Data statistics: a compact, bounded summary of a model's inputs and outputs on a data set.

A package records them for its validation data (``mlpack pack --data``) so that new data can be
compared with it later (``mlpack drift``) without the validation data itself. Every tensor becomes
one or more *features*, each summarised in a way that new data can be binned into alike:

- numeric features: quantile bin edges learned on the recorded data (plus one edge just below the
  recorded minimum and one at the maximum, so values outside the recorded range have bins of
  their own), the count of values in each bin plus one bin for NaN/Inf, and mean, std, min, max,
  NaN and Inf rates;
- categorical features: the most frequent values (top-k) and their counts, plus one "other" count.

Edges are stored exactly (JSON numbers written by ``repr``), counts as integers: what is read back
is bit for bit what was recorded, so the recorded data binned again lands in the recorded bins,
ties at an edge included. How a tensor becomes features (its *view*) is recorded with it, so new
data is cut the same way. Collecting the statistics from data lives in :mod:`mlpack.data.collect`;
checking a statistics file before it is used, in :mod:`mlpack.data.statscheck`.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from mlpack.data.statscheck import stats_problem
from mlpack.errors import DataError

if TYPE_CHECKING:
    import numpy as np

SCHEMA = "mlpack.datastats/2"
OLD_SCHEMAS = ("mlpack.datastats/1",)  # rounded bin edges: refused with a message, never scored
MAX_BYTES = 256 * 1024  # the bound the package promises, whatever the data's size

TOP_SHOWN = 3  # categories an overview names
NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class FeatureStats:
    """One feature's summary: bins and the count of values in each.

    Numeric: ``bins`` are bin edges, ascending, stored as exact float64 values (JSON numbers
    written by ``repr``, which read back bit for bit). A value ``x`` falls in bin ``i`` when
    ``bins[i-1] < x <= bins[i]`` (``searchsorted(bins, x, "left")``): bin 0 is everything up to
    the first edge, one bin past the last edge, then one bin for NaN and Inf. Recorded edges start
    just below the recorded minimum and end at the recorded maximum, so bin 0 holds values below
    every recorded value and the last finite bin values above them, even for a constant feature.
    Categorical: ``bins`` are the category values, then one "other" count.

    Recorded, ``counts`` are taken on ``samples`` samples apart from those that placed the bins
    (numeric: on a uniform sample of at most ``SAMPLE_SIZE`` of their values), so they are a plain
    multinomial sample over those bins (see :mod:`mlpack.data.collectors`); new data's counts
    cover every value. ``values`` and ``summary`` cover every value, for people.
    """

    name: str
    kind: str  # NUMERIC or CATEGORICAL
    bins: tuple[float, ...]  # numeric: bin edges, ascending; categorical: the category values
    counts: tuple[int, ...]
    values: int  # how many values the summary covers (pooled features hold many per sample)
    per_sample: bool  # one value per sample: the counts are independent draws
    summary: dict[str, float] = field(default_factory=dict)  # numeric: mean, std, min, max, nan_rate, inf_rate
    samples: int = 0  # how many samples the counts were taken on

    @property
    def counted(self) -> int:
        """How many values the counts were taken on."""
        return sum(self.counts)

    @property
    def proportions(self) -> tuple[float, ...]:
        """The share of the counted values in each bin (all zero where nothing was counted)."""
        total = self.counted
        return tuple(c / total if total else 0.0 for c in self.counts)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "bins": list(self.bins),
            "counts": list(self.counts),
            "proportions": [_short(p) for p in self.proportions],  # for people; scores use the counts
            "values": self.values,
            "samples": self.samples,
            "per_sample": self.per_sample,
            "summary": dict(self.summary),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureStats:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            bins=tuple(float(b) for b in data["bins"]),
            counts=tuple(int(c) for c in data["counts"]),
            values=int(data["values"]),
            per_sample=bool(data["per_sample"]),
            summary={str(k): float(v) for k, v in data.get("summary", {}).items()},
            samples=int(data["samples"]),
        )


@dataclass(frozen=True)
class View:
    """How a tensor becomes features; the same view cuts the recorded data and new data.

    ``kind``: ``features`` (one feature per position on ``axis``, or per group of positions),
    ``pooled`` (every value of the tensor as one feature), ``lengths`` (a mask: tokens per sample),
    ``categories`` (integer values: per position on ``axis``, or pooled when ``axis`` is None),
    ``classes`` (class scores: the predicted class and its confidence, softmaxed unless
    ``probabilities``). ``axis`` and ``batch_axis`` count the tensor's axes as the model has them.
    """

    kind: str
    axis: int | None = None
    groups: tuple[tuple[int, int], ...] = ()  # [start, stop) positions on ``axis`` per feature
    probabilities: bool = False
    batch_axis: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "axis": self.axis,
            "groups": [list(g) for g in self.groups],
            "probabilities": self.probabilities,
            "batch_axis": self.batch_axis,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> View:
        axis = data.get("axis")
        return cls(
            kind=str(data["kind"]),
            axis=None if axis is None else int(axis),
            groups=tuple((int(a), int(b)) for a, b in data.get("groups", [])),
            probabilities=bool(data.get("probabilities", False)),
            batch_axis=int(data.get("batch_axis", 0)),
        )


@dataclass(frozen=True)
class TensorStats:
    name: str
    role: str  # "input" or "output"
    view: View
    features: tuple[FeatureStats, ...]

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "view": self.view.to_dict(),
            "features": [f.to_dict() for f in self.features],
        }

    def overview(self) -> dict[str, Any]:
        """In brief, for people: the view, how many features, the numeric features' range and the
        first categorical feature's most frequent values."""
        numeric_features = [f for f in self.features if f.kind == NUMERIC and f.summary]
        numeric = [f.summary for f in numeric_features]
        categorical = [f for f in self.features if f.kind == CATEGORICAL]
        brief: dict[str, Any] = {"name": self.name, "view": self.view.kind, "features": len(self.features)}
        if numeric:
            brief["numeric"] = {
                "mean": _short(sum(s.get("mean", 0.0) for s in numeric) / len(numeric)),
                "std": _short(sum(s.get("std", 0.0) for s in numeric) / len(numeric)),
                "min": _short(min(s.get("min", 0.0) for s in numeric)),
                "max": _short(max(s.get("max", 0.0) for s in numeric)),
                "nan_rate": _short(max(s.get("nan_rate", 0.0) for s in numeric)),
                "inf_rate": _short(max(s.get("inf_rate", 0.0) for s in numeric)),
            }
            if len(numeric_features) == 1:  # a single feature (a confidence, a length) says which
                brief["numeric"]["feature"] = numeric_features[0].name
        if categorical:
            first = categorical[0]
            ranked = sorted(zip(first.bins, first.proportions, strict=False), key=lambda c: -c[1])[:TOP_SHOWN]
            brief["categorical"] = {"feature": first.name, "top": [[_short(v), _short(p)] for v, p in ranked]}
        return brief

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TensorStats:
        return cls(
            name=str(data["name"]),
            role=str(data["role"]),
            view=View.from_dict(data["view"]),
            features=tuple(FeatureStats.from_dict(f) for f in data["features"]),
        )


@dataclass(frozen=True)
class DataStats:
    """The statistics of one data set: ``samples`` rows, every input and output tensor."""

    samples: int
    tensors: tuple[TensorStats, ...]
    source: str | None = None  # the data file they were computed from, for people
    schema: str = SCHEMA

    def role(self, role: str) -> tuple[TensorStats, ...]:
        """The tensors of one role, "input" or "output"."""
        return tuple(t for t in self.tensors if t.role == role)

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": self.schema,
            "samples": self.samples,
            "source": self.source,
            "tensors": [t.to_dict() for t in self.tensors],
        }

    def overview(self) -> dict[str, Any]:
        """What the statistics cover, in brief: sample count, and each input and output summarised."""
        return {
            "samples": self.samples,
            "source": self.source,
            "inputs": [t.overview() for t in self.role("input")],
            "outputs": [t.overview() for t in self.role("output")],
        }

    def to_json(self) -> bytes:
        """Compact JSON, as stored in a package (bounded by ``MAX_BYTES``)."""
        # Floats are written by repr, which reads back bit for bit: the edges scored are the edges saved.
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True, allow_nan=False).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataStats:
        return cls(
            samples=int(data["samples"]),
            tensors=tuple(TensorStats.from_dict(t) for t in data["tensors"]),
            source=data.get("source"),
            schema=str(data["schema"]),
        )


def parse_stats(raw: bytes, *, source: str) -> DataStats:
    """Data statistics from their JSON form, every structure checked (:mod:`mlpack.data.statscheck`).

    Args:
        raw: the JSON bytes (a package's ``stats/data.json``, or a file saved from one).
        source: where they came from, for error messages.

    Raises:
        DataError: not JSON, another schema, an older schema, or a malformed entry, named (exit 2).
    """
    try:
        data = json.loads(raw, parse_constant=_no_constant)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError) as exc:
        raise DataError(f"{source} is not a JSON statistics file: {exc}") from exc
    schema = data.get("schema") if isinstance(data, dict) else None
    if schema in OLD_SCHEMAS:
        raise DataError(
            f"{source} holds statistics in the older {schema} format, whose rounded bin edges make drift alarm "
            "on the recorded data itself; re-record them with mlpack pack MODEL -o PKG --data VAL.npz."
        )
    if schema != SCHEMA:
        raise DataError(f"{source} is not an mlpack statistics file ({SCHEMA}); record one with mlpack pack --data.")
    problem = stats_problem(data)
    if problem:
        raise DataError(f"{source}: malformed statistics: {problem}; re-record them with mlpack pack --data.")
    return DataStats.from_dict(data)


def numeric_edges(sample: np.ndarray, low: float, high: float, bins: int) -> np.ndarray:
    """Bin edges for a numeric feature: just below the recorded minimum ``low``, the ``bins``-quantiles
    of the finite ``sample`` inside, and the maximum ``high``; ascending, without repeats. No finite
    value recorded: no edges (one bin for every finite value).
    """
    import numpy as np

    if not sample.size or not (math.isfinite(low) and math.isfinite(high)):
        return np.empty(0, dtype=np.float64)
    inner = np.quantile(sample.astype(np.float64), np.linspace(0, 1, bins + 1)[1:-1])
    below = np.nextafter(low, -np.inf)
    outer = [below, high] if math.isfinite(below) else [high]
    return np.unique(np.concatenate([outer, inner]).astype(np.float64))


def bin_counts(edges: np.ndarray, values: np.ndarray) -> np.ndarray:
    """How many of ``values`` fall in each bin of ``edges`` (``FeatureStats``' rule), then NaN/Inf."""
    import numpy as np

    values = values.astype(np.float64, copy=False).reshape(-1)
    finite = np.isfinite(values)
    counts = np.bincount(np.searchsorted(edges, values[finite], side="left"), minlength=len(edges) + 1)
    return np.append(counts, int(values.size - int(finite.sum()))).astype(np.int64)


def _no_constant(name: str) -> float:
    raise ValueError(f"{name} is not a number JSON allows")


def _short(value: float) -> float:
    """Six significant digits, for what people read (shares, overviews); never for bin edges."""
    return float(f"{value:.6g}")
