"""Collecting data statistics: stream a data file through a model, one block of rows at a time.

``record_stats`` learns the bins (quantile edges from a bounded uniform sample of each feature,
top-k categories) and the shares of the recorded data; ``observe_stats`` bins new data into a
recording's bins, so that the two can be compared bin by bin. Memory stays at one block of
inputs and outputs plus a fixed-size sample per feature, whatever the file's size.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.onnxio import create_session, load_model, run_session
from mlpack.core.signature import signature_of
from mlpack.data.npzstream import count_samples, iter_blocks
from mlpack.data.stats import CATEGORICAL, MAX_BYTES, NUMERIC, DataStats, FeatureStats, TensorStats, View
from mlpack.errors import DataError

if TYPE_CHECKING:
    from collections.abc import Iterator

    import numpy as np

    from mlpack.core.signature import Signature, TensorSpec

BINS = 10  # deciles: the usual PSI binning
TOP_K = 32  # categories kept by name; the rest share one "other" bin
MAX_FEATURES = 192  # over all tensors: keeps the statistics well under MAX_BYTES
PER_COLUMN_CATEGORIES = 16  # an integer input this narrow is a row of categorical features
SAMPLE_SIZE = 4096  # values kept per feature to place the quantile edges
MIN_SAMPLES = 50  # 5 expected samples in each of the 10 bins: fewer and a score is noise
DEFAULT_BATCH = 256
_MAX_DISTINCT = 65536  # distinct values counted exactly per categorical feature before pruning


def record_stats(model: Path, data: Path, *, batch_size: int = DEFAULT_BATCH) -> DataStats:
    """The statistics of ``model``'s inputs and outputs on ``data``, with bins learned from it.

    Args:
        model: the ONNX model whose outputs are summarised along with its inputs.
        data: an .npz with one array per model input (``labels``/``slices`` are ignored), read in blocks.
        batch_size: rows per block (and per inference call).

    Raises:
        DataError, InputSpecError: the data does not fit the model's inputs, or holds fewer than
            ``MIN_SAMPLES`` samples (exit 2).
    """
    signature = _signature(model)
    samples = _samples(data, signature.inputs, what="record statistics")
    collectors: list[_TensorCollector] = []
    for inputs, outputs in _blocks(model, data, signature, batch_size):
        if not collectors:
            collectors = _plan(signature, inputs, outputs)
        for collector in collectors:
            collector.add(inputs if collector.role == "input" else outputs)
    stats = DataStats(samples=samples, tensors=tuple(c.finish() for c in collectors), source=Path(data).name)
    size = len(stats.to_json())
    if size > MAX_BYTES:
        raise DataError(
            f"the statistics of {len(collectors)} tensors take {size} bytes, over the {MAX_BYTES} the package allows; "
            "pack without --data for a model with this many inputs and outputs."
        )
    return stats


def observe_stats(reference: DataStats, model: Path, data: Path, *, batch_size: int = DEFAULT_BATCH) -> DataStats:
    """New data binned into ``reference``'s bins and categories, feature by feature.

    Args:
        reference: the recorded statistics whose views and bins are reused.
        model: the model whose outputs are summarised (its inputs must be those recorded).
        data: the new .npz, read in blocks.
        batch_size: rows per block (and per inference call).

    Raises:
        DataError, InputSpecError: the data does not fit the model, the model lacks a tensor the
            statistics describe, or there are fewer than ``MIN_SAMPLES`` samples (exit 2).
    """
    signature = _signature(model)
    names = {"input": {s.name for s in signature.inputs}, "output": {s.name for s in signature.outputs}}
    for tensor in reference.tensors:
        if tensor.name not in names.get(tensor.role, set()):
            raise DataError(
                f"the statistics describe {tensor.role} '{tensor.name}', which the model does not have; "
                "compare with the package the statistics were recorded for."
            )
    samples = _samples(data, signature.inputs, what="score drift")
    collectors = [_TensorCollector(t.name, t.role, t.view, reference=t) for t in reference.tensors]
    for inputs, outputs in _blocks(model, data, signature, batch_size):
        for collector in collectors:
            collector.add(inputs if collector.role == "input" else outputs)
    return DataStats(samples=samples, tensors=tuple(c.finish() for c in collectors), source=Path(data).name)


def _signature(model: Path) -> Signature:
    return signature_of(load_model(Path(model)))


def _samples(data: Path, specs: tuple[TensorSpec, ...], *, what: str) -> int:
    samples = count_samples(Path(data), specs)
    if samples < MIN_SAMPLES:
        raise DataError(
            f"{data} holds {samples} samples; to {what} mlpack needs at least {MIN_SAMPLES} "
            f"({BINS} bins with 5 expected samples each, or the scores are noise)."
        )
    return samples


def _blocks(
    model: Path, data: Path, signature: Signature, batch_size: int
) -> Iterator[tuple[dict[str, np.ndarray], dict[str, np.ndarray]]]:
    if batch_size < 1:
        raise DataError(f"--batch-size must be at least 1, got {batch_size}.")
    session = create_session(Path(model))
    for inputs in iter_blocks(Path(data), signature.inputs, batch_size=batch_size):
        outputs = run_session(session, inputs)
        yield inputs, {spec.name: value for spec, value in zip(signature.outputs, outputs, strict=True)}


# Views: how a tensor becomes features ------------------------------------------------------------


def _plan(
    signature: Signature, inputs: dict[str, np.ndarray], outputs: dict[str, np.ndarray]
) -> list[_TensorCollector]:
    """One collector per tensor, its view chosen from the spec and the first block."""
    tensors = [("input", s, inputs[s.name]) for s in signature.inputs]
    tensors += [("output", s, outputs[s.name]) for s in signature.outputs]
    cap = max(1, MAX_FEATURES // max(1, len(tensors)))
    return [
        _TensorCollector(spec.name, role, view_for(spec, array, role=role, cap=cap)) for role, spec, array in tensors
    ]


def view_for(spec: TensorSpec, array: np.ndarray, *, role: str, cap: int) -> View:
    """How a tensor is summarised: per feature or channel, pooled, as categories, lengths or classes.

    A fixed dimension after the batch is a feature or channel axis (axis 1: NCHW images,
    [batch, channels, time] audio, [batch, channels, freq, time] spectrograms; else a fixed last
    axis); a symbolic one is a length, whose positions are pooled.

    Args:
        spec: the tensor's signature entry.
        array: a first block of its values.
        role: "input" or "output".
        cap: the most features this tensor may have; wider axes are pooled into groups.
    """
    import numpy as np

    floating = np.issubdtype(array.dtype, np.floating)
    if role == "output" and floating and array.ndim == 2 and array.shape[1] >= 2:
        rows = array.astype(np.float64)
        probabilities = bool(np.all((rows >= 0) & (rows <= 1)) and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3))
        return View("classes", probabilities=probabilities)
    if not floating and role == "input" and "mask" in spec.name.lower() and array.ndim >= 2:
        return View("lengths")
    axis = _feature_axis(spec, array.ndim)
    if not floating:
        if axis == 1 and array.ndim == 2 and array.shape[1] <= PER_COLUMN_CATEGORIES:
            return View("categories", axis=1, groups=tuple((i, i + 1) for i in range(array.shape[1])))
        return View("categories")
    if axis is None:
        return View("pooled")
    return View("features", axis=axis, groups=_groups(array.shape[axis], cap))


def _feature_axis(spec: TensorSpec, ndim: int) -> int | None:
    if ndim < 2:
        return None
    if len(spec.shape) == ndim and isinstance(spec.shape[1], int):
        return 1
    if ndim > 2 and len(spec.shape) == ndim and isinstance(spec.shape[-1], int):
        return ndim - 1
    return None


def _groups(size: int, cap: int) -> tuple[tuple[int, int], ...]:
    """Positions 0..size split into at most ``cap`` contiguous groups of (nearly) equal width."""
    count = min(size, cap)
    bounds = [round(i * size / count) for i in range(count + 1)]
    return tuple((bounds[i], bounds[i + 1]) for i in range(count))


def feature_names(name: str, view: View, ndim: int) -> list[str]:
    """The features' names, as reports show them: ``x[3]``, ``image[channel 0]``, ``mask (length)``."""
    if view.kind == "classes":
        return [f"{name} (predicted class)", f"{name} (confidence)"]
    if view.kind == "lengths":
        return [f"{name} (sequence length)"]
    if not view.groups:
        return [name]
    where = "channel " if view.axis == 1 and ndim > 2 else ("..., " if view.axis not in (None, 1) else "")
    return [f"{name}[{where}{a}]" if b == a + 1 else f"{name}[{where}{a}:{b}]" for a, b in view.groups]


def feature_values(view: View, array: np.ndarray) -> list[np.ndarray]:
    """One flat array of values per feature of ``view``, from a block of the tensor."""
    import numpy as np

    if view.kind == "classes":
        scores = array.astype(np.float64)
        if not view.probabilities:
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
        return [np.argmax(scores, axis=1), scores.max(axis=1)]
    if view.kind == "lengths":
        return [(array.reshape(array.shape[0], -1) != 0).sum(axis=1)]
    if view.axis is None or not view.groups:
        return [array.reshape(-1)]
    columns = np.moveaxis(array, view.axis, -1)
    columns = columns.reshape(-1, columns.shape[-1])
    return [columns[:, a:b].reshape(-1) for a, b in view.groups]


def _per_sample(view: View, ndim: int) -> bool:
    """Whether each sample gives one value per feature: only then are the counts independent draws."""
    if view.kind in ("classes", "lengths"):
        return True
    if view.axis is None or not view.groups:
        return ndim == 1
    return ndim == 2 and all(b == a + 1 for a, b in view.groups)


# Collectors ---------------------------------------------------------------------------------------


class _TensorCollector:
    """Every feature of one tensor, fed block by block."""

    def __init__(self, name: str, role: str, view: View, *, reference: TensorStats | None = None) -> None:
        self.name, self.role, self.view, self.reference = name, role, view, reference
        self.features: list[_Numeric | _Categorical] = []
        self.ndim = 0

    def add(self, tensors: dict[str, np.ndarray]) -> None:
        array = tensors[self.name]
        values = feature_values(self.view, array)
        if not self.features:
            self.ndim = array.ndim
            self.features = [self._collector(index) for index in range(len(values))]
        for collector, part in zip(self.features, values, strict=True):
            collector.add(part)

    def _collector(self, index: int) -> _Numeric | _Categorical:
        import numpy as np

        known = self.reference.features[index] if self.reference else None
        # The predicted class is a category; a confidence, a length or a float value is a number.
        categorical = self.view.kind == "categories" or (self.view.kind == "classes" and index == 0)
        if categorical:
            return _Categorical(tuple(int(b) for b in known.bins) if known else None)
        return _Numeric(np.asarray(known.bins) if known else None, seed=index)

    def finish(self) -> TensorStats:
        names = feature_names(self.name, self.view, self.ndim)
        per_sample = _per_sample(self.view, self.ndim)
        features = tuple(c.finish(name, per_sample) for c, name in zip(self.features, names, strict=True))
        return TensorStats(self.name, self.role, self.view, features)


class _Numeric:
    """Moments and non-finite counts, plus a uniform sample (learning edges) or bin counts (given edges)."""

    def __init__(self, edges: np.ndarray | None, *, seed: int) -> None:
        import numpy as np

        self.rng = np.random.default_rng(seed)
        self.edges = edges
        self.counts = None if edges is None else np.zeros(len(edges) + 1, dtype=np.int64)
        self.sample = np.empty(0)
        self.count = self.finite = self.nan = self.inf = 0
        self.mean = self.m2 = 0.0
        self.low, self.high = math.inf, -math.inf

    def add(self, values: np.ndarray) -> None:
        import numpy as np

        values = values.astype(np.float64, copy=False).reshape(-1)
        nan, inf = np.isnan(values), np.isinf(values)
        finite = values[~(nan | inf)]
        self.count += values.size
        self.nan += int(nan.sum())
        self.inf += int(inf.sum())
        if finite.size:
            self._moments(finite)
            if self.counts is not None and self.edges is not None:
                self.counts += np.bincount(np.searchsorted(self.edges, finite), minlength=len(self.counts))
            else:
                self._keep_sample(finite)
        self.finite += finite.size

    def _moments(self, finite: np.ndarray) -> None:
        # Chan's pairwise update: stable over many blocks, unlike a running sum of squares.
        n, mean = finite.size, float(finite.mean())
        total = self.finite + n
        delta = mean - self.mean
        self.m2 += float(((finite - mean) ** 2).sum()) + delta**2 * self.finite * n / total
        self.mean += delta * n / total
        self.low, self.high = min(self.low, float(finite.min())), max(self.high, float(finite.max()))

    def _keep_sample(self, finite: np.ndarray) -> None:
        """Keep a uniform sample of every finite value so far: how many survive from the old sample
        and how many come from this block is a hypergeometric draw, so no value is favoured."""
        import numpy as np

        keep = min(SAMPLE_SIZE, self.finite + finite.size)
        from_old = int(self.rng.hypergeometric(self.finite, finite.size, keep)) if self.finite else 0
        old = self.sample if from_old == self.sample.size else self.rng.choice(self.sample, from_old, replace=False)
        fresh = keep - from_old
        new = finite if fresh == finite.size else self.rng.choice(finite, fresh, replace=False)
        self.sample = np.concatenate([old, new])

    def finish(self, name: str, per_sample: bool) -> FeatureStats:
        import numpy as np

        if self.edges is None:
            quantiles = np.quantile(self.sample, np.linspace(0, 1, BINS + 1)[1:-1]) if self.sample.size else np.empty(0)
            edges = np.unique(np.asarray(quantiles, dtype=np.float64))
            counts = np.bincount(np.searchsorted(edges, self.sample), minlength=len(edges) + 1)
            shares = counts / max(1, self.sample.size) * (self.finite / max(1, self.count))
        else:
            edges = self.edges
            shares = self.counts / max(1, self.count) if self.counts is not None else np.zeros(len(edges) + 1)
        finite = self.finite > 0
        summary = {
            "mean": self.mean if finite else math.nan,
            "std": math.sqrt(self.m2 / self.finite) if finite else math.nan,
            "min": self.low if finite else math.nan,
            "max": self.high if finite else math.nan,
            "nan_rate": self.nan / max(1, self.count),
            "inf_rate": self.inf / max(1, self.count),
        }
        proportions = (*(float(s) for s in shares), (self.nan + self.inf) / max(1, self.count))
        return FeatureStats(name, NUMERIC, tuple(float(e) for e in edges), proportions, self.count, per_sample, summary)


class _Categorical:
    """Counts per value; the top-k are chosen at the end (learning) or given (observing)."""

    def __init__(self, categories: tuple[int, ...] | None) -> None:
        self.categories = categories
        self.counts: dict[int, int] = {}
        self.count = 0

    def add(self, values: np.ndarray) -> None:
        import numpy as np

        found, counts = np.unique(values.reshape(-1).astype(np.int64), return_counts=True)
        self.count += int(counts.sum())
        for value, count in zip(found.tolist(), counts.tolist(), strict=True):
            self.counts[value] = self.counts.get(value, 0) + count
        if len(self.counts) > _MAX_DISTINCT:
            # A vocabulary this large: the rare values can only ever be "other"; keep the frequent half.
            kept = sorted(self.counts.items(), key=lambda item: -item[1])[: _MAX_DISTINCT // 2]
            self.counts = dict(kept)

    def finish(self, name: str, per_sample: bool) -> FeatureStats:
        categories = self.categories
        if categories is None:
            ranked = sorted(self.counts.items(), key=lambda item: (-item[1], item[0]))
            categories = tuple(value for value, _ in ranked[:TOP_K])
        shares = [self.counts.get(c, 0) / max(1, self.count) for c in categories]
        other = max(0.0, 1.0 - sum(shares)) if self.count else 0.0
        return FeatureStats(
            name, CATEGORICAL, tuple(float(c) for c in categories), (*shares, other), self.count, per_sample
        )
