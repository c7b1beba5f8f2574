"""Collecting data statistics: stream a data file through a model, one block of rows at a time.

``record_stats`` learns the bins (quantile edges from a bounded uniform sample of each feature,
top-k categories) and the counts of the recorded data; ``observe_stats`` bins new data into a
recording's bins, so that the two can be compared bin by bin. A plain file (every input batched on
axis 0, nothing given by value) is read in blocks, so memory stays at one block plus a fixed-size
sample per feature; a model fed with ``--set`` values, state pairs (``--state``) or a batch on
another axis is read the way every other command reads it (:mod:`mlpack.data.feeds`).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.batching import batch_symbol, signature_batch_axes, takes_one_sample
from mlpack.core.onnxio import create_session, load_model, run_session
from mlpack.core.signature import signature_of
from mlpack.data.collectors import BINS, SAMPLE_SIZE, TensorCollector
from mlpack.data.feeds import FeedOptions, model_dataset
from mlpack.data.npzstream import count_samples, iter_blocks
from mlpack.data.sources import NpzFile, open_source
from mlpack.data.stats import MAX_BYTES, DataStats, View
from mlpack.data.views import check_view, view_for
from mlpack.errors import DataError, InputSpecError

if TYPE_CHECKING:
    import numpy as np

    from mlpack.core.signature import Signature
    from mlpack.data.dataset import Dataset

__all__ = [
    "BINS",
    "DEFAULT_BATCH",
    "MIN_SAMPLES",
    "SAMPLE_SIZE",
    "observe_arrays",
    "observe_stats",
    "record_arrays",
    "record_stats",
]

TOP_K = 1024  # categories kept by name (all of them, up to this many); the rest share one "other" bin
MIN_TOP_K = 32  # the fewest kept before statistics too large for the package are refused
MAX_FEATURES = 192  # over all tensors: keeps the statistics well under MAX_BYTES
MIN_SAMPLES = 50  # fewer and no test can tell a shift from noise
DEFAULT_BATCH = 256
Arrays = dict[str, "np.ndarray"]


def record_stats(
    model: Path,
    data: Path,
    *,
    batch_size: int = DEFAULT_BATCH,
    feeding: FeedOptions = FeedOptions(),
    channel_axes: Mapping[str, int | None] | None = None,
) -> DataStats:
    """The statistics of ``model``'s inputs and outputs on ``data``, with bins learned from it.

    Args:
        model: the ONNX model whose outputs are summarised along with its inputs.
        data: an .npz with one array per model input (``labels``/``slices`` are ignored).
        batch_size: rows per block (and per inference call).
        feeding: inputs given by value (not summarised: they are not data) and state pairs (the
            samples run as a stream; state inputs are not summarised either).
        channel_axes: tensor name -> the axis whose positions are features (None: pool every
            value); other tensors take it from the signature.

    Raises:
        DataError, InputSpecError: the data does not fit the model's inputs, a channel axis names
            what the model lacks, or there are fewer than ``MIN_SAMPLES`` samples (exit 2).
    """
    signature = _signature(model)
    blocks = _Blocks(model, data, signature, batch_size, feeding, what="record statistics")
    axes = dict(channel_axes or {})
    unknown = sorted(set(axes) - {s.name for s in (*signature.inputs, *signature.outputs)})
    if unknown:
        raise InputSpecError(f"--channel-axis names {unknown}, which the model has neither as input nor output.")
    collectors: list[TensorCollector] = []
    for inputs, outputs in blocks:
        if not collectors:
            collectors = _plan(signature, blocks, inputs, outputs, axes)
        for collector in collectors:
            collector.add((inputs if collector.role == "input" else outputs)[collector.name])
    if not collectors:
        raise DataError(f"{data}: the model has no input or output whose values can be summarised.")
    return _fitted(collectors, blocks.samples, Path(data).name)


def _fitted(collectors: list[TensorCollector], samples: int, source: str) -> DataStats:
    """The statistics, with fewer categories kept by name until they fit in ``MAX_BYTES``."""
    top_k = TOP_K
    while True:
        stats = DataStats(samples=samples, tensors=tuple(c.finish(top_k) for c in collectors), source=source)
        size = len(stats.to_json())
        if size <= MAX_BYTES:
            return stats
        if top_k <= MIN_TOP_K:
            raise DataError(
                f"the statistics of {len(collectors)} tensors take {size} bytes, over the {MAX_BYTES} the package "
                "allows; pack without --data for a model with this many inputs and outputs."
            )
        top_k //= 2


def observe_stats(
    reference: DataStats,
    model: Path,
    data: Path,
    *,
    batch_size: int = DEFAULT_BATCH,
    feeding: FeedOptions = FeedOptions(),
) -> DataStats:
    """New data binned into ``reference``'s bins and categories, feature by feature.

    Args:
        reference: the recorded statistics whose views and bins are reused.
        model: the model whose outputs are summarised (its inputs must be those recorded).
        data: the new .npz, read in blocks.
        batch_size: rows per block (and per inference call).
        feeding: inputs given by value and state pairs, as when the statistics were recorded.

    Raises:
        DataError, InputSpecError: the data does not fit the model, the model lacks a tensor the
            statistics describe (or a view that fits it), or there are fewer than ``MIN_SAMPLES``
            samples (exit 2).
    """
    signature = _signature(model)
    blocks = _Blocks(model, data, signature, batch_size, feeding, what="score drift")
    specs = {"input": {s.name: s for s in signature.inputs}, "output": {s.name: s for s in signature.outputs}}
    for index, tensor in enumerate(reference.tensors):
        spec = specs[tensor.role].get(tensor.name)
        if spec is None or tensor.name in blocks.skipped:
            how = "does not have" if spec is None else "feeds by value or as state"
            raise DataError(
                f"the statistics describe {tensor.role} '{tensor.name}', which the model {how}; "
                "compare with the package the statistics were recorded for."
            )
        check_view(tensor.view, spec, where=f"statistics tensors[{index}] ({tensor.name})")
    collectors = [TensorCollector(t.name, t.role, t.view, reference=t) for t in reference.tensors]
    for inputs, outputs in blocks:
        for collector in collectors:
            collector.add((inputs if collector.role == "input" else outputs)[collector.name])
    tensors = tuple(c.finish(0) for c in collectors)
    return DataStats(samples=blocks.samples, tensors=tensors, source=Path(data).name)


def record_arrays(
    tensors: Sequence[tuple[str, str, View, np.ndarray]], *, source: str = "arrays", batch_size: int = DEFAULT_BATCH
) -> DataStats:
    """Statistics of arrays already in memory, each cut by the view given: (name, role, view, array),
    the samples on each view's batch axis. What ``record_stats`` does once the model has run.

    Args:
        tensors: the tensors to summarise; every array holds the same number of samples.
        source: what the statistics are said to come from.
        batch_size: samples fed to the collectors at a time.
    """
    collectors = [TensorCollector(name, role, view) for name, role, view, _ in tensors]
    samples = _feed(collectors, [(view, array) for _, _, view, array in tensors], batch_size)
    return _fitted(collectors, samples, source)


def observe_arrays(
    reference: DataStats, arrays: Mapping[str, np.ndarray], *, batch_size: int = DEFAULT_BATCH
) -> DataStats:
    """Arrays in memory binned into ``reference``'s bins, by tensor name (what ``observe_stats`` does
    once the model has run)."""
    collectors = [TensorCollector(t.name, t.role, t.view, reference=t) for t in reference.tensors]
    samples = _feed(collectors, [(t.view, arrays[t.name]) for t in reference.tensors], batch_size)
    return DataStats(samples=samples, tensors=tuple(c.finish(0) for c in collectors), source="arrays")


def _feed(collectors: list[TensorCollector], cut: list[tuple[View, np.ndarray]], batch_size: int) -> int:
    import numpy as np

    samples = {array.shape[view.batch_axis] for view, array in cut}
    if len(samples) != 1:
        raise DataError(f"the arrays disagree on the number of samples ({sorted(samples)}).")
    count = samples.pop()
    for start in range(0, count, batch_size):
        for collector, (view, array) in zip(collectors, cut, strict=True):
            block = np.take(array, np.arange(start, min(count, start + batch_size)), axis=view.batch_axis)
            collector.add(block)
    return count


def _signature(model: Path) -> Signature:
    return signature_of(load_model(Path(model)))


def _plan(
    signature: Signature, blocks: _Blocks, inputs: Arrays, outputs: Arrays, axes: dict[str, int | None]
) -> list[TensorCollector]:
    """One collector per tensor that holds samples (a scalar per call holds none), its view chosen
    from the spec and the first block."""
    tensors = [("input", s, inputs[s.name]) for s in signature.inputs if s.name in inputs]
    tensors += [("output", s, outputs[s.name]) for s in signature.outputs if s.name in outputs]
    tensors = [(role, spec, array) for role, spec, array in tensors if array.ndim > 0]
    cap = max(1, MAX_FEATURES // max(1, len(tensors)))
    collectors = []
    for role, spec, array in tensors:
        batch_axis = blocks.axes.get(spec.name) or 0  # tensors without one were left out of the blocks
        channel = axes.get(spec.name, "auto")
        view = view_for(spec, array, role=role, cap=cap, batch_axis=batch_axis, channel_axis=channel)
        collectors.append(TensorCollector(spec.name, role, view))
    return collectors


class _Blocks:
    """The data file as (inputs, outputs) blocks of samples, with each summarised tensor's batch axis.

    Inputs given by value or carried as state are left out of the blocks (``skipped``): they are
    not samples of the data. Outputs carry the batch on the axis named like the inputs' batch.
    """

    def __init__(
        self, model: Path, data: Path, signature: Signature, batch_size: int, feeding: FeedOptions, *, what: str
    ) -> None:
        if batch_size < 1:
            raise DataError(f"--batch-size must be at least 1, got {batch_size}.")
        feeding.check(signature)
        self.model, self.data, self.signature = Path(model), Path(data), signature
        self.batch_size, self.feeding = batch_size, feeding
        self.skipped = {v.name for v in feeding.values} | {p.input for p in feeding.state}
        input_axes = signature_batch_axes(signature.inputs).axes
        # A model fixed at batch 1 (no input with a scalar beside it) reads its samples on axis 0, a block of one each.
        one_each = takes_one_sample(signature.inputs) and all(s.shape for s in signature.inputs)
        # Streamed a block at a time from an .npz; any other kind of data file is read through the dataset.
        streamable = isinstance(open_source(self.data), NpzFile)
        self.plain = streamable and not self.skipped and (one_each or all(axis == 0 for axis in input_axes.values()))
        self.dataset: Dataset | None = None
        if self.plain:
            self.samples = count_samples(self.data, signature.inputs)
            self.axes: dict[str, int | None] = {name: 0 for name in input_axes}
        else:
            self.dataset = model_dataset(self.data, signature.inputs, options=feeding)
            if self.dataset.whole:
                raise DataError(f"{data} is one call as given, not samples; statistics need samples to {what}.")
            self.samples = self.dataset.num_samples
            self.axes = {s.name: self.dataset.axis(s.name) for s in signature.inputs}
        self.axes |= _output_axes(signature)
        self.skipped |= {name for name, axis in self.axes.items() if axis is None}
        if self.samples < MIN_SAMPLES:
            raise DataError(
                f"{data} holds {self.samples} samples; to {what} mlpack needs at least {MIN_SAMPLES} "
                "(fewer and no test can tell a shift from noise)."
            )

    def __iter__(self) -> Iterator[tuple[Arrays, Arrays]]:
        session = create_session(self.model)
        names = [s.name for s in self.signature.outputs]
        carried: Arrays = {}
        for call in self._calls():
            produced = run_session(session, {**call, **carried})
            outputs = dict(zip(names, produced, strict=True))
            carried = {p.input: outputs[p.output] for p in self.feeding.state}
            yield self._kept(call), self._kept(outputs)

    def _calls(self) -> Iterator[Arrays]:
        if self.dataset is None:
            yield from iter_blocks(self.data, self.signature.inputs, batch_size=self.batch_size)
        elif self.feeding.streaming:  # one sample per call, the state carried from call to call
            for index in range(self.samples):
                yield self.dataset.batch(index, index + 1)
        else:
            yield from self.dataset.feeds(self.batch_size)

    def _kept(self, arrays: Arrays) -> Arrays:
        return {name: array for name, array in arrays.items() if name not in self.skipped}


def _output_axes(signature: Signature) -> dict[str, int | None]:
    """Each output's batch axis: where it has the inputs' batch dimension name, else axis 0."""
    symbol = batch_symbol(signature.inputs)
    return {s.name: s.shape.index(symbol) if symbol is not None and symbol in s.shape else 0 for s in signature.outputs}
