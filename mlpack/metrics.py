"""Quality metrics over model outputs: pure numpy, no model running here."""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlpack.errors import DataError

if TYPE_CHECKING:
    import numpy as np


def top1_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return topk_accuracy(logits, labels, k=1)


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, *, k: int) -> float:
    """Share of samples whose label is among the k highest scores."""
    import numpy as np

    if logits.ndim != 2:
        raise DataError(f"accuracy needs class scores of shape (samples, classes), got {tuple(logits.shape)}.")
    if len(logits) != len(labels):
        raise DataError(f"{len(labels)} labels for {len(logits)} predictions.")
    if len(labels) == 0:
        raise DataError("accuracy over zero samples is undefined.")
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels.reshape(-1, 1), axis=1)))
