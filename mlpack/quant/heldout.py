"""One data file, two jobs: calibrate static INT8 on its first samples, judge fidelity on the rest.

Ranges fitted to a sample always cover that sample: judging a static model on the samples it
was calibrated on flatters it. When auto has one pool of real inputs (``--data``, or only
``--calibration``), the first eighth of it (at most ``CALIBRATION_SAMPLES``) calibrates and the
rest is what every check judges; the report names the split.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.batching import data_batch_axes
from mlpack.core.signature import TensorSpec
from mlpack.data.feeds import BLOCK_SAMPLES, Feeds
from mlpack.errors import MlpackError

if TYPE_CHECKING:
    import numpy as np

CALIBRATION_SAMPLES = 128  # enough for min/max ranges; the rest is kept for judging
CALIBRATION_SHARE = 8  # at most one eighth of the pool calibrates


@dataclass(frozen=True)
class Split:
    calibration: Path  # the first samples, written as an .npz
    judged: Feeds  # the rest, in blocks
    calibrated_on: int
    judged_on: int

    def describe(self, pool: str) -> str:
        return (
            f"{pool} split: samples 0-{self.calibrated_on - 1} ({self.calibrated_on}) calibrate static INT8, "
            f"the other {self.judged_on} judge the outputs"
        )


def split_pool(feeds: Feeds, specs: tuple[TensorSpec, ...], workdir: Path) -> Split | None:
    """The calibration part of ``feeds`` written to ``workdir``, and the rest; None where the feeds
    do not split into samples (a stream carrying state, ONNX test sets, a single sample)."""
    import numpy as np

    if feeds.state or feeds.generated or feeds.expected:
        return None
    try:
        axes = data_batch_axes(specs, feeds.first, source="the data").axes
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
    if total < 2:
        return None
    count = max(1, min(CALIBRATION_SAMPLES, total // CALIBRATION_SHARE))
    path = workdir / "auto-calibration.npz"
    np.savez(path, **_take(joined, axes, 0, count))  # type: ignore[arg-type]
    starts = range(count, total, BLOCK_SAMPLES)
    blocks = tuple(_take(joined, axes, start, min(total, start + BLOCK_SAMPLES)) for start in starts)
    label = f"{total - count} held-out samples of {feeds.label}"
    return Split(path, replace(feeds, calls=blocks, label=label), count, total - count)


def _take(arrays: dict[str, Any], axes: dict[str, int | None], start: int, stop: int) -> dict[str, np.ndarray]:
    import numpy as np

    return {
        name: np.take(value, range(start, stop), axis=axes[name]) if axes.get(name) is not None else value
        for name, value in arrays.items()
    }
