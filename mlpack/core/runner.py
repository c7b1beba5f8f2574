"""Running a model over a whole data set in batches, in-process."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.onnxio import create_session, run_session

if TYPE_CHECKING:
    import numpy as np

    from mlpack.core.data import Dataset

DEFAULT_BATCH = 256


def predict(
    model: Path, dataset: Dataset, *, batch_size: int = DEFAULT_BATCH, threads: int | None = None
) -> list[np.ndarray]:
    """Every output of ``model`` on every sample of ``dataset``, concatenated over batches."""
    import numpy as np

    session = create_session(Path(model), threads=threads)
    chunks: list[list[np.ndarray]] = []
    for start in range(0, dataset.num_samples, batch_size):
        chunks.append(run_session(session, dataset.batch(start, start + batch_size)))
    return [np.concatenate([chunk[i] for chunk in chunks]) for i in range(len(chunks[0]))]
