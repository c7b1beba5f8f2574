"""Collectors: the statistics of one tensor's features, fed one block of values at a time.

Learning (no reference), the recorded samples are split in two, alternately: the even samples
place the bins (a numeric feature's edges from a bounded uniform sample of their values and their
exact minimum and maximum; a categorical feature's most frequent values), the odd samples are
counted into them. The counts are then a plain multinomial sample over bins that do not depend on
them, as the new data's counts are, and a two-sample test between the two has its textbook null
distribution. (Counting the values that placed the bins would not: quantile bins hold exactly a
tenth of those values each, no value lies below their minimum, no category falls outside them.)
Moments, ranges and NaN/Inf rates cover every value, for people.

Observing (given a recorded feature): every value is counted into the recorded bins or categories.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from mlpack.data.stats import CATEGORICAL, NUMERIC, FeatureStats, TensorStats, View, bin_counts, numeric_edges
from mlpack.data.views import feature_names, feature_values, per_sample

if TYPE_CHECKING:
    import numpy as np

BINS = 10  # deciles inside the recorded range
SAMPLE_SIZE = 4096  # values kept per feature to place the edges; the recorded counts are taken on them
_MAX_DISTINCT = 65536  # distinct values counted exactly per categorical feature before pruning


class TensorCollector:
    """Every feature of one tensor, fed block by block (``reference``: observe into its bins)."""

    def __init__(self, name: str, role: str, view: View, *, reference: TensorStats | None = None) -> None:
        self.name, self.role, self.view, self.reference = name, role, view, reference
        self.features: list[Numeric | Categorical] = []
        self.ndim = 0
        self.seen = 0  # samples so far

    def add(self, array: np.ndarray) -> None:
        import numpy as np

        values = feature_values(self.view, array)
        samples = int(array.shape[self.view.batch_axis])
        if not self.features:
            self.ndim = array.ndim
            self.features = [self._collector(index) for index in range(len(values))]
        # Learning: odd samples are counted, even ones place the bins. Observing: every one is counted.
        counted = np.ones(samples, dtype=bool) if self.reference else (self.seen + np.arange(samples)) % 2 == 1
        for collector, part in zip(self.features, values, strict=True):
            collector.add(part, np.repeat(counted, part.size // samples) if samples else counted)
        self.seen += samples

    def _collector(self, index: int) -> Numeric | Categorical:
        import numpy as np

        known = self.reference.features[index] if self.reference else None
        # The predicted class is a category; a confidence, a length or a float value is a number.
        categorical = self.view.kind == "categories" or (self.view.kind == "classes" and index == 0)
        if categorical:
            return Categorical(tuple(int(b) for b in known.bins) if known else None)
        return Numeric(np.asarray(known.bins, dtype=np.float64) if known else None, seed=index)

    def finish(self, top_k: int) -> TensorStats:
        """The tensor's statistics, keeping at most ``top_k`` categories per categorical feature."""
        names = feature_names(self.name, self.view, self.ndim)
        alone = per_sample(self.view, self.ndim)
        counted = self.seen if self.reference else self.seen // 2
        features = tuple(c.finish(name, alone, top_k, counted) for c, name in zip(self.features, names, strict=True))
        return TensorStats(self.name, self.role, self.view, features)


class _Reservoir:
    """A uniform sample of at most ``SAMPLE_SIZE`` of the values added so far: how many survive from
    the old sample and how many come from a new block is a hypergeometric draw, so no value is favoured."""

    def __init__(self, rng: np.random.Generator) -> None:
        import numpy as np

        self.rng, self.seen, self.sample = rng, 0, np.empty(0)

    def add(self, values: np.ndarray) -> None:
        import numpy as np

        if not values.size:
            return
        keep = min(SAMPLE_SIZE, self.seen + values.size)
        from_old = int(self.rng.hypergeometric(self.seen, values.size, keep)) if self.seen else 0
        old = self.sample if from_old == self.sample.size else self.rng.choice(self.sample, from_old, replace=False)
        fresh = keep - from_old
        new = values if fresh == values.size else self.rng.choice(values, fresh, replace=False)
        self.sample = np.concatenate([old, new])
        self.seen += values.size


class Numeric:
    """Moments and non-finite counts of every value, plus (learning) the placing samples' range and
    a sample of their finite values, and a sample of the counted samples' values; or (observing) the
    count of every value in the given bins."""

    def __init__(self, edges: np.ndarray | None, *, seed: int) -> None:
        import numpy as np

        rng = np.random.default_rng(seed)
        self.edges = edges
        self.counts = None if edges is None else np.zeros(len(edges) + 2, dtype=np.int64)
        self.placing, self.counted = _Reservoir(rng), _Reservoir(rng)
        self.count = self.finite = self.nan = self.inf = 0
        self.mean = self.m2 = 0.0
        self.low, self.high = math.inf, -math.inf  # every value's, for people
        self.edge_low, self.edge_high = math.inf, -math.inf  # the placing samples'

    def add(self, values: np.ndarray, counted: np.ndarray) -> None:
        import numpy as np

        values = values.astype(np.float64, copy=False).reshape(-1)
        nan, inf = np.isnan(values), np.isinf(values)
        finite = values[~(nan | inf)]
        if finite.size:
            self._moments(finite)
        if self.counts is not None and self.edges is not None:
            self.counts += bin_counts(self.edges, values)
        else:
            placing = values[~counted]
            placing = placing[np.isfinite(placing)]
            if placing.size:
                self.edge_low = min(self.edge_low, float(placing.min()))
                self.edge_high = max(self.edge_high, float(placing.max()))
            self.placing.add(placing)
            self.counted.add(values[counted])
        self.count += values.size
        self.nan += int(nan.sum())
        self.inf += int(inf.sum())
        self.finite += finite.size

    def _moments(self, finite: np.ndarray) -> None:
        # Chan's pairwise update: stable over many blocks, unlike a running sum of squares.
        n, mean = finite.size, float(finite.mean())
        total = self.finite + n
        delta = mean - self.mean
        self.m2 += float(((finite - mean) ** 2).sum()) + delta**2 * self.finite * n / total
        self.mean += delta * n / total
        self.low, self.high = min(self.low, float(finite.min())), max(self.high, float(finite.max()))

    def finish(self, name: str, alone: bool, top_k: int, samples: int) -> FeatureStats:
        import numpy as np

        if self.edges is None:
            edges = numeric_edges(self.placing.sample, self.edge_low, self.edge_high, BINS)
            counts = bin_counts(edges, self.counted.sample)
        else:
            edges = self.edges
            counts = self.counts if self.counts is not None else np.zeros(len(edges) + 2, dtype=np.int64)
        summary = {"nan_rate": self.nan / max(1, self.count), "inf_rate": self.inf / max(1, self.count)}
        if self.finite:
            summary |= {"mean": self.mean, "std": math.sqrt(self.m2 / self.finite), "min": self.low, "max": self.high}
        return FeatureStats(
            name,
            NUMERIC,
            tuple(float(e) for e in edges),
            tuple(int(c) for c in counts),
            self.count,
            alone,
            summary,
            samples=samples,
        )


class Categorical:
    """Counts per value, apart for the placing and the counted samples (learning: the top-k of the
    placing samples become the categories) or of every value (observing: categories given)."""

    def __init__(self, categories: tuple[int, ...] | None) -> None:
        self.categories = categories
        self.placing: dict[int, int] = {}
        self.counts: dict[int, int] = {}
        self.count = self.counted = 0

    def add(self, values: np.ndarray, counted: np.ndarray) -> None:
        values = values.reshape(-1)
        self.count += values.size
        if self.categories is None:
            _count_into(self.placing, values[~counted])
        part = values[counted] if self.categories is None else values
        self.counted += part.size
        _count_into(self.counts, part)

    def finish(self, name: str, alone: bool, top_k: int, samples: int) -> FeatureStats:
        categories = self.categories
        if categories is None:
            ranked = sorted(self.placing.items(), key=lambda item: (-item[1], item[0]))
            categories = tuple(value for value, _ in ranked[:top_k])
        counts = [self.counts.get(c, 0) for c in categories]
        other = self.counted - sum(counts)
        return FeatureStats(
            name,
            CATEGORICAL,
            tuple(float(c) for c in categories),
            (*counts, other),
            self.count,
            alone,
            samples=samples,
        )


def _count_into(counts: dict[int, int], values: np.ndarray) -> None:
    import numpy as np

    found, times = np.unique(values.astype(np.int64), return_counts=True)
    for value, count in zip(found.tolist(), times.tolist(), strict=True):
        counts[value] = counts.get(value, 0) + count
    if len(counts) > _MAX_DISTINCT:
        # A vocabulary this large: the rare values can only ever be "other"; keep the frequent half.
        kept = sorted(counts.items(), key=lambda item: -item[1])[: _MAX_DISTINCT // 2]
        counts.clear()
        counts.update(kept)
