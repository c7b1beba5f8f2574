"""Data statistics: a compact, bounded summary of a model's inputs and outputs on a data set.

A package records them for its validation data (``mlpack pack --data``) so that new data can be
compared with it later (``mlpack drift``) without the validation data itself. Every tensor becomes
one or more *features*, each summarised in a way that new data can be binned into alike:

- numeric features: quantile bin edges learned on the recorded data, the share of values in each
  bin plus one bin for NaN/Inf, and mean, std, min, max, NaN and Inf rates;
- categorical features: the most frequent values (top-k) and their shares, plus one "other" share.

How a tensor becomes features (its *view*) is recorded with it, so new data is cut the same way.
Collecting the statistics from data lives in :mod:`mlpack.data.collect`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from mlpack.errors import DataError

SCHEMA = "mlpack.datastats/1"
MAX_BYTES = 256 * 1024  # the bound the package promises, whatever the data's size

TOP_SHOWN = 3  # categories an overview names
NUMERIC = "numeric"
CATEGORICAL = "categorical"


@dataclass(frozen=True)
class FeatureStats:
    """One feature's summary; ``proportions`` has one share per bin (numeric: one more bin than
    inner edges, then the NaN/Inf bin) or per category (categorical: then the "other" share)."""

    name: str
    kind: str  # NUMERIC or CATEGORICAL
    bins: tuple[float, ...]  # numeric: inner bin edges, ascending; categorical: the category values
    proportions: tuple[float, ...]
    values: int  # how many values the summary covers (pooled features hold many per sample)
    per_sample: bool  # one value per sample: the counts are independent draws (a test is valid)
    summary: dict[str, float] = field(default_factory=dict)  # numeric: mean, std, min, max, nan_rate, inf_rate

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "bins": [_short(b) for b in self.bins],
            "proportions": [_short(p) for p in self.proportions],
            "values": self.values,
            "per_sample": self.per_sample,
            "summary": {k: _short(v) for k, v in self.summary.items()},
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeatureStats:
        return cls(
            name=str(data["name"]),
            kind=str(data["kind"]),
            bins=tuple(float(b) for b in data["bins"]),
            proportions=tuple(float(p) for p in data["proportions"]),
            values=int(data["values"]),
            per_sample=bool(data["per_sample"]),
            summary={str(k): float(v) for k, v in data.get("summary", {}).items()},
        )


@dataclass(frozen=True)
class View:
    """How a tensor becomes features; the same view cuts the recorded data and new data.

    ``kind``: ``features`` (one feature per position on ``axis``, or per group of positions),
    ``pooled`` (every value of the tensor as one feature), ``lengths`` (a mask: tokens per sample),
    ``categories`` (integer values: per position on ``axis``, or pooled when ``axis`` is None),
    ``classes`` (class scores: the predicted class and its confidence, softmaxed unless
    ``probabilities``).
    """

    kind: str
    axis: int | None = None
    groups: tuple[tuple[int, int], ...] = ()  # [start, stop) positions on ``axis`` per feature
    probabilities: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "axis": self.axis,
            "groups": [list(g) for g in self.groups],
            "probabilities": self.probabilities,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> View:
        axis = data.get("axis")
        return cls(
            kind=str(data["kind"]),
            axis=None if axis is None else int(axis),
            groups=tuple((int(a), int(b)) for a, b in data.get("groups", [])),
            probabilities=bool(data.get("probabilities", False)),
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
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True).encode()

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DataStats:
        return cls(
            samples=int(data["samples"]),
            tensors=tuple(TensorStats.from_dict(t) for t in data["tensors"]),
            source=data.get("source"),
            schema=str(data["schema"]),
        )


def parse_stats(raw: bytes, *, source: str) -> DataStats:
    """Data statistics from their JSON form.

    Args:
        raw: the JSON bytes (a package's ``stats/data.json``, or a file saved from one).
        source: where they came from, for error messages.

    Raises:
        DataError: not JSON, another schema, or a malformed entry (exit 2).
    """
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{source} is not a JSON statistics file: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise DataError(f"{source} is not an mlpack statistics file ({SCHEMA}); record one with mlpack pack --data.")
    try:
        return DataStats.from_dict(data)
    except (KeyError, TypeError, ValueError) as exc:
        raise DataError(f"{source}: malformed statistics ({type(exc).__name__}: {exc}).") from exc


def _short(value: float) -> float:
    """Six significant digits: a bin edge or share needs no more, and the file stays small."""
    return float(f"{value:.6g}")
