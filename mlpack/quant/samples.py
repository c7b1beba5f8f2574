"""A few samples of the verification inputs, sliced along each input's own batch axis.

Latency is compared at batch 1 (the batch most edge deployments run), and sensitivity and the
per-layer report are measured on a few samples: what they hold at once stays small whatever the
size of ``--data``.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from mlpack.core.batching import data_batch_axes
from mlpack.core.signature import signature_of
from mlpack.errors import MlpackError


@functools.lru_cache(maxsize=4)
def _input_specs(model: Path, modified_ns: int) -> tuple[Any, ...]:
    """The model's input specs, read once per file version: a single-file BERT-size model is 0.44 GB
    to parse, and auto slices samples several times."""
    import onnx

    return signature_of(onnx.load(str(model), load_external_data=False)).inputs


def first_samples(model: Path, feeds: dict[str, Any], count: int) -> dict[str, Any]:
    """The first ``count`` samples of every batched input, along its own batch axis; the rest whole.

    Latency is compared at batch 1 (the batch most edge deployments run), and sensitivity is
    ranked on a few samples: exposing every activation of a BERT-size model costs about 250 MB
    per sample.
    """
    import numpy as np

    try:
        specs = _input_specs(model, model.stat().st_mtime_ns)
        axes = data_batch_axes(specs, feeds, source="the verification inputs").axes
    except MlpackError:  # no reading of the batch fits: the inputs are one call, used whole
        return feeds
    return {
        name: np.take(value, range(min(count, value.shape[axis])), axis=axis) if axes.get(name) is not None else value
        for name, value in feeds.items()
        for axis in [axes.get(name) or 0]
    }


def batch_of(model: Path, feeds: dict[str, Any], size: int) -> dict[str, Any] | None:
    """The inputs at batch ``size``: the samples of ``feeds`` taken in turn along each input's own
    batch axis (repeated where there are fewer); None where the model takes no batch to resize."""
    import numpy as np

    try:
        specs = _input_specs(model, model.stat().st_mtime_ns)
        found = data_batch_axes(specs, feeds, source="the verification inputs")
    except MlpackError:
        return None
    if not found.batched:
        return None
    axes = found.axes
    return {
        name: value if axes.get(name) is None else np.take(value, range(size), axis=axes[name], mode="wrap")
        for name, value in feeds.items()
    }
