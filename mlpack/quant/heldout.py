"""One data file, two jobs: calibrate static INT8 on its first samples, judge fidelity on the rest.

Ranges fitted to a sample always cover that sample: judging a static model on the samples it
was calibrated on flatters it. When auto has one pool of real inputs (``--data``, or only
``--calibration``), one sample in eight (at most ``CALIBRATION_SAMPLES``), spread over the whole
pool, calibrates and the rest is what every check judges; the report names the split. Spread,
not the first ones: a file in recording or label order would calibrate on its start alone (dim
samples first, say), and every range would be too narrow for the rest.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.batching import data_batch_axes, takes_one_sample
from mlpack.core.signature import TensorSpec
from mlpack.data.feeds import BLOCK_SAMPLES, Feeds
from mlpack.errors import MlpackError

if TYPE_CHECKING:
    import numpy as np

CALIBRATION_SAMPLES = 128  # enough for min/max ranges; the rest is kept for judging
CALIBRATION_SHARE = 8  # at most one eighth of the pool calibrates


@dataclass(frozen=True)
class Split:
    calibration: Path  # samples 0, stride, 2 * stride, ..., written as an .npz
    judged: Feeds  # the rest, in blocks
    calibrated_on: int
    judged_on: int
    stride: int
    not_finite: int = 0  # samples holding NaN or Inf: never calibrated on (they are judged, or noted)

    def describe(self, pool: str) -> str:
        if self.not_finite:
            which = f"one in {self.stride} of the samples without NaN or Inf ({self.calibrated_on})"
        elif self.calibrated_on == 1:
            which = "sample 0"
        else:
            which = f"samples 0, {self.stride}, {2 * self.stride}, ... (one in {self.stride}: {self.calibrated_on})"
        return f"{pool} split: {which} calibrate static INT8, the other {self.judged_on} judge the outputs"


def split_pool(feeds: Feeds, specs: tuple[TensorSpec, ...], workdir: Path) -> Split | None:
    """The calibration part of ``feeds`` written to ``workdir``, and the rest; None where the feeds
    do not split into samples (a stream carrying state, ONNX test sets, a single sample)."""
    import numpy as np

    if feeds.state or feeds.generated or feeds.expected:
        return None
    one_each = takes_one_sample(specs)  # each call one sample: split the calls, judge one per call
    try:
        axes: dict[str, int | None] = (
            {s.name: 0 if s.shape else None for s in specs}
            if one_each
            else data_batch_axes(specs, feeds.first, source="the data").axes
        )
    except MlpackError:
        return None
    batched = [name for name, axis in axes.items() if axis is not None and name in feeds.first]
    if not batched:
        return None
    joined = {
        name: np.concatenate([call[name] for call in feeds.calls], axis=axes[name]) if name in batched else value
        for name, value in feeds.first.items()
    }
    total = int(joined[batched[0]].shape[axes[batched[0]] or 0])
    finite = _finite_samples(joined, axes, batched, total)
    if total < 2 or not finite.size:
        return None
    count = max(1, min(CALIBRATION_SAMPLES, finite.size // CALIBRATION_SHARE))
    stride = finite.size // count
    picked = finite[np.arange(count) * stride]
    rest = np.setdiff1d(np.arange(total), picked)
    path = workdir / "auto-calibration.npz"
    np.savez(path, **_take(joined, axes, picked))  # type: ignore[arg-type]
    block = 1 if one_each else BLOCK_SAMPLES
    blocks = tuple(_take(joined, axes, rest[start : start + block]) for start in range(0, len(rest), block))
    label = f"{len(rest)} held-out samples of {feeds.label}"
    return Split(path, replace(feeds, calls=blocks, label=label), count, len(rest), stride, total - finite.size)


def _finite_samples(arrays: dict[str, Any], axes: dict[str, int | None], batched: list[str], total: int) -> np.ndarray:
    """The samples whose float inputs are all finite: a NaN or Inf would make every range it
    touches meaningless, where judged it is only left out of the check."""
    import numpy as np

    finite = np.ones(total, dtype=bool)
    for name in batched:
        array = np.asarray(arrays[name])
        if array.dtype.kind == "f":
            rows = np.moveaxis(array, axes[name] or 0, 0).reshape(total, -1)
            finite &= np.isfinite(rows).all(axis=1)
    return np.flatnonzero(finite)


def _take(arrays: dict[str, Any], axes: dict[str, int | None], indices: np.ndarray) -> dict[str, np.ndarray]:
    import numpy as np

    return {
        name: np.take(value, indices, axis=axes[name]) if axes.get(name) is not None else value
        for name, value in arrays.items()
    }
