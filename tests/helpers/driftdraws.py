"""Draws for drift tests: one kind of feature at a time, recorded and new data from the same law
(or moved), summarised by mlpack's own collectors and tested by its own scoring, without a model
in between (the model only computes the outputs; here they are computed in numpy)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from mlpack.budget.driftfeatures import FeatureDrift, score_stats
from mlpack.data.collect import observe_arrays, record_arrays
from mlpack.data.stats import View

Tensors = list[tuple[str, str, View, np.ndarray]]
Draw = Callable[[int, np.random.Generator], Tensors]


def _zipf(size: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1)
    return weights / weights.sum()


def numeric(n: int, rng: np.random.Generator) -> Tensors:
    """Four independent standard-normal columns of a table."""
    view = View("features", axis=1, groups=tuple((i, i + 1) for i in range(4)))
    return [("x", "input", view, rng.standard_normal((n, 4)).astype(np.float32))]


def integers(n: int, rng: np.random.Generator) -> Tensors:
    """A float feature holding 50 whole values (ties at every edge) and an integer column of 10 classes."""
    view = View("features", axis=1, groups=((0, 1),))
    grid = rng.integers(0, 50, (n, 1)).astype(np.float32)
    classes = View("categories", axis=1, groups=((0, 1),))
    return [("grid", "input", view, grid), ("c", "input", classes, rng.integers(0, 10, (n, 1)))]


def categories(n: int, rng: np.random.Generator) -> Tensors:
    """One categorical value per sample out of 1,000, Zipf-distributed: most seen rarely or never."""
    return [("c", "input", View("categories"), rng.choice(1000, size=n, p=_zipf(1000)))]


def tokens(n: int, rng: np.random.Generator) -> Tensors:
    """Eight token ids per sample out of a 50-word vocabulary, pooled."""
    return [("ids", "input", View("categories"), rng.choice(50, size=(n, 8), p=_zipf(50)))]


def confident(n: int, rng: np.random.Generator, *, prior: np.ndarray | None = None) -> Tensors:
    """Logits of a confident 10-class classifier: most confidences are exactly 1.0 in float64."""
    logits = rng.standard_normal((n, 10)) * 4
    chosen = rng.choice(10, size=n, p=prior) if prior is not None else rng.integers(0, 10, n)
    logits[np.arange(n), chosen] += rng.choice([12.0, 60.0], size=n, p=[0.3, 0.7])
    return [("logits", "output", View("classes"), logits.astype(np.float32))]


KINDS: dict[str, Draw] = {
    "numeric": numeric,
    "integers": integers,
    "categories": categories,
    "tokens": tokens,
    "confident": confident,
}


def scored(recorded: Tensors, new: Tensors, *, alpha: float = 0.05) -> tuple[FeatureDrift, ...]:
    """The drift of ``new`` against statistics recorded from ``recorded``."""
    reference = record_arrays(recorded)
    observed = observe_arrays(reference, {name: array for name, _, _, array in new})
    return score_stats(reference, observed, alpha=alpha, floors={})


def alarm_rate(draw: Draw, *, recorded: int, new: int, draws: int, seed: int) -> float:
    """How often any feature is said to have drifted when nothing moved."""
    rng = np.random.default_rng(seed)
    alarms = sum(any(f.drifted for f in scored(draw(recorded, rng), draw(new, rng))) for _ in range(draws))
    return alarms / draws
