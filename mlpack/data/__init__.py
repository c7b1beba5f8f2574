"""Model inputs and their statistics: data files (.npz, streamed .npz, ONNX test-data folders),
generated inputs, the calls a stage makes from them (batches, test sets, streams), and the data
statistics a package records for drift.

:mod:`mlpack.data.sources` is the one interface over every kind of data source, and the one place
that decides which kind a path is (:func:`open_source`).
"""

from mlpack.data.dataset import Dataset
from mlpack.data.feeds import FeedOptions, model_feeds
from mlpack.data.runner import predict
from mlpack.data.sources import FILE_KINDS, DataFile, DataSource, GeneratedInputs, load_dataset, open_source

__all__ = [
    "FILE_KINDS",
    "DataFile",
    "DataSource",
    "Dataset",
    "FeedOptions",
    "GeneratedInputs",
    "load_dataset",
    "model_feeds",
    "open_source",
    "predict",
]
