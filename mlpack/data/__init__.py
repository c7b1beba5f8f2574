"""Model inputs and their statistics: data files (.npz, streamed .npz, ONNX test-data folders),
generated inputs, the calls a stage makes from them (batches, test sets, streams), and the data
statistics a package records for drift.

:mod:`mlpack.data.sources` is the one place that decides what kind of data source a path is.
"""

from mlpack.data.dataset import Dataset
from mlpack.data.feeds import FeedOptions, model_feeds
from mlpack.data.runner import predict
from mlpack.data.sources import load_dataset

__all__ = ["Dataset", "FeedOptions", "load_dataset", "model_feeds", "predict"]
