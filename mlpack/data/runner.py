"""Running a model over a whole data set in batches (or as a stream), in-process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.batching import batch_symbol
from mlpack.core.onnxio import create_session, run_session
from mlpack.core.signature import TensorSpec
from mlpack.data.feeds import FeedOptions, feeds_from_dataset
from mlpack.errors import DataError

if TYPE_CHECKING:
    import numpy as np

    from mlpack.data.dataset import Dataset
    from mlpack.data.feeds import FeedOptions

DEFAULT_BATCH = 256


def predict(
    model: Path,
    dataset: Dataset,
    *,
    batch_size: int = DEFAULT_BATCH,
    threads: int | None = None,
    options: FeedOptions | None = None,
) -> list[np.ndarray]:
    """Every output of ``model`` on every sample of ``dataset``, joined over the calls.

    Args:
        model: the ONNX file.
        dataset: the inputs (samples on each input's batch axis, or calls used as given).
        batch_size: samples per call.
        threads: onnxruntime intra-op threads (None: its default).
        options: with state pairs, the samples run as a stream of one-sample calls.
    """
    session = create_session(Path(model), threads=threads)
    if dataset.whole or (options is not None and options.streaming):
        runs = feeds_from_dataset(dataset, options or FeedOptions(), source="the data").run(session)
    else:
        runs = [run_session(session, call) for call in dataset.feeds(batch_size)]
    return [_join([run[i] for run in runs], axis) for i, axis in enumerate(_output_batch_axes(session))]


def _output_batch_axes(session: Any) -> list[int]:
    """Where each output carries the batch: the axis named like the inputs' batch, else 0."""
    inputs = tuple(
        TensorSpec(i.name, tuple(d if isinstance(d, (int, str)) else None for d in i.shape), "float32")
        for i in session.get_inputs()
    )
    symbol = batch_symbol(inputs)
    axes = []
    for output in session.get_outputs():
        shape = list(output.shape or [])
        axes.append(shape.index(symbol) if symbol is not None and symbol in shape else 0)
    return axes


def _join(chunks: list[Any], axis: int) -> np.ndarray:
    import numpy as np

    if len(chunks) == 1:
        return chunks[0]
    if all(getattr(c, "ndim", 1) == 0 for c in chunks):
        return np.stack(chunks)
    try:
        return np.concatenate(chunks, axis=axis if chunks[0].ndim > axis else 0)
    except (ValueError, AttributeError) as exc:
        raise DataError(f"the outputs of the {len(chunks)} calls cannot be joined into one array: {exc}") from exc
