"""Verification samples within a stated memory bound, whatever the size of the data file.

optimize holds its verification inputs, the source model's outputs on them, and each candidate's
outputs with the fidelity check's working copies while it compares them. Read whole, a large
``--data`` file decides that memory (an audio model's data set held at once peaked at 1.8 GB).
Here the .npz is read lazily, a block of rows at a time, and only as many samples are kept as fit
the bound with their outputs: the first block is run to learn how large one sample's outputs are.
The report names the bound and how many samples it held.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from mlpack.core.batching import batch_symbol
from mlpack.core.onnxio import create_session, run_session
from mlpack.core.signature import Signature, TensorSpec
from mlpack.data.sources import NpzFile, open_source
from mlpack.errors import InputSpecError

if TYPE_CHECKING:
    from collections.abc import Generator

    import numpy as np

    from mlpack.data.feeds import FeedOptions

# Copies of one sample's outputs alive at once while a candidate is compared (in units of the
# outputs' own size): the reference's and the candidate's, both joined over the blocks, their
# float64 forms, and the fidelity check's per-element errors, margins and cosines. Measured with
# tracemalloc: 19 for class scores, 29 for thresholded probabilities.
HELD_COPIES = 32


@dataclass(frozen=True)
class Bounded:
    """The samples kept for verification, and what bounded them."""

    calls: tuple[dict[str, np.ndarray], ...]  # blocks of rows, in file order
    kept: int
    total: int  # samples in the file
    memory: int  # the bound, in bytes
    per_sample: int  # bytes one kept sample costs: its inputs and HELD_COPIES of its outputs

    def label(self, source: str) -> str:
        if self.kept == self.total:
            return f"{self.total} samples from {source}"
        return (
            f"the first {self.kept} of {self.total} samples from {source} (as many as the memory bound "
            f"of {_size(self.memory)} holds with their outputs, {_size(self.per_sample)} a sample; "
            "--calibration-memory raises it)"
        )


def bounded_calls(
    model: Path, signature: Signature, data: Path, *, options: FeedOptions, memory: int, block: int
) -> Bounded | None:
    """Blocks of ``block`` samples read lazily from ``data``, as many as ``memory`` holds; None
    where the data is not rows of an .npz on every input's named batch axis 0 (test sets, streams
    carrying state, inputs given by value, .npy files: those are read as before).

    Args:
        model: the source ONNX model (its first block's outputs size the rest).
        signature: its signature.
        data: the data file.
        options: how the model is fed; state pairs or values given disable the bound.
        memory: bytes the kept samples and their outputs may take.
        block: samples per call (the activations a session holds at once).
    """
    source = open_source(data)
    if type(source) is not NpzFile or options.streaming or options.values or not _rows_first(signature.inputs):
        return None
    specs = signature.inputs
    try:
        total = source.count(specs)
    except InputSpecError:  # arrays that are not rows of samples (one call as given): read as before
        return None
    blocks = cast("Generator[dict[str, Any], None, None]", source.batches(specs, batch_size=block))
    try:
        first = next(blocks)
        per_sample = _per_sample(model, first)
        keep = min(total, max(_rows(first), memory // per_sample))
        calls, kept = [], 0
        for call in _chained(first, blocks):
            rows = min(_rows(call), keep - kept)
            calls.append(call if rows == _rows(call) else {k: v[:rows] for k, v in call.items()})
            kept += rows
            if kept >= keep:
                break
    finally:
        blocks.close()  # closes the archive
    return Bounded(tuple(calls), kept, total, memory, per_sample)


def _rows_first(specs: tuple[TensorSpec, ...]) -> bool:
    """Every input carries the batch on axis 0, named as such: rows of the file are samples."""
    symbol = batch_symbol(specs)
    return symbol is not None and bool(specs) and all(s.shape and s.shape[0] == symbol for s in specs)


def _per_sample(model: Path, first: dict[str, np.ndarray]) -> int:
    import numpy as np

    rows = _rows(first)
    outputs = run_session(create_session(model), first)
    produced = sum(np.asarray(o).nbytes for o in outputs if isinstance(o, np.ndarray))
    inputs = sum(v.nbytes for v in first.values())
    return max(1, math.ceil((inputs + HELD_COPIES * produced) / rows))


def _rows(call: dict[str, Any]) -> int:
    return int(len(next(iter(call.values()))))


def _chained(first: dict[str, Any], rest: Any) -> Any:
    yield first
    yield from rest


def _size(count: int) -> str:
    for unit, scale in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if count >= scale:
            return f"{count / scale:.3g} {unit}"
    return f"{count} B"
