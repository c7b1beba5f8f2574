"""Quality metrics over model outputs: pure numpy, no model running here.

Classification (integer labels, one score per class): accuracy (top-1, top-k) and per-class
recall. Regression or embeddings (float targets): MAE, RMSE and cosine similarity to the
targets. Against a reference model's outputs: class agreement, max abs error, mean cosine
similarity and the accuracy drop. Every metric again per slice, with the best-minus-worst gap.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlpack.core.fidelity import Decisions, Meaning, Tolerance, interpret, judge_decisions, mean_cosine
from mlpack.errors import DataError

if TYPE_CHECKING:
    import numpy as np

TOP_K = (3, 5)


@dataclass(frozen=True)
class QualityReport:
    task: str  # "classification", "regression" or "unlabelled"
    num_samples: int
    metrics: dict[str, float]
    per_slice: dict[str, dict[str, float]]  # slice id -> metrics on that slice
    slice_gap: dict[str, float]  # metric -> best slice minus worst slice
    slice_sizes: dict[str, int]
    # Against a reference: what the first output means, and its decisions over every sample, as
    # optimize judges them (the same module, so the same figures on the same files).
    meaning: Meaning | None = None
    decisions: Decisions | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "meaning": self.meaning.to_dict() if self.meaning else None,
            "decisions": self.decisions.to_dict() if self.decisions else None,
            "num_samples": self.num_samples,
            "metrics": self.metrics,
            "per_slice": self.per_slice,
            "slice_gap": self.slice_gap,
            "slice_sizes": self.slice_sizes,
        }


def top1_accuracy(logits: np.ndarray, labels: np.ndarray) -> float:
    return topk_accuracy(logits, labels, k=1)


def topk_accuracy(logits: np.ndarray, labels: np.ndarray, *, k: int) -> float:
    """Share of samples whose label is among the k highest scores."""
    import numpy as np

    _check_scores(logits, labels)
    top = np.argsort(-logits, axis=1, kind="stable")[:, :k]
    return float(np.mean(np.any(top == labels.reshape(-1, 1), axis=1)))


def per_class_recall(logits: np.ndarray, labels: np.ndarray) -> dict[int, float]:
    import numpy as np

    _check_scores(logits, labels)
    predicted = np.argmax(logits, axis=1)
    return {int(c): float(np.mean(predicted[labels == c] == c)) for c in np.unique(labels)}


def mae(outputs: np.ndarray, targets: np.ndarray) -> float:
    import numpy as np

    _check_targets(outputs, targets)
    return float(np.mean(np.abs(outputs.astype(np.float64) - targets)))


def rmse(outputs: np.ndarray, targets: np.ndarray) -> float:
    import numpy as np

    _check_targets(outputs, targets)
    return float(np.sqrt(np.mean((outputs.astype(np.float64) - targets) ** 2)))


def agreement(outputs: np.ndarray, reference: np.ndarray) -> float:
    """Share of samples where both models predict the same class (every decision, unsure or not;
    the judged figure is ``reference_decisions``')."""
    import numpy as np

    return float(np.mean(np.argmax(outputs, axis=-1) == np.argmax(reference, axis=-1)))


def is_classification(outputs: np.ndarray, labels: np.ndarray) -> bool:
    import numpy as np

    return outputs.ndim == 2 and labels.ndim == 1 and np.issubdtype(labels.dtype, np.integer)


def reference_decisions(
    outputs: np.ndarray, reference: np.ndarray, *, name: str, tolerance: Tolerance
) -> tuple[Meaning, Decisions | None]:
    """What the output means and its decisions against the reference's, as the fidelity check judges."""
    meaning = interpret(name, reference, tolerance.rule(name))
    return meaning, judge_decisions(meaning, reference, outputs, tolerance.confidence)


def decision_metrics(decisions: Decisions | None) -> dict[str, float]:
    """The decision figures by metric name: ``agreement`` (among the decisions the reference is sure
    of) with its lower bound, ``f1`` of active decisions where decisions are sparse, and counts."""
    if decisions is None:
        return {}
    metrics = {
        "agreement": decisions.agreement,
        "agreement_low": decisions.agreement_low,
        "decisions": float(decisions.judged),
        "decisions_lost": float(decisions.lost),
        "decisions_unsure": float(decisions.unsure),
    }
    if decisions.f1 is not None and decisions.f1_low is not None:
        metrics["f1"], metrics["f1_low"] = decisions.f1, decisions.f1_low
    return metrics


def quality_metrics(
    outputs: np.ndarray,
    labels: np.ndarray | None,
    *,
    reference: np.ndarray | None = None,
    name: str = "output",
    tolerance: Tolerance = Tolerance(),
) -> dict[str, float]:
    """Every metric that the inputs allow, by name."""
    import numpy as np

    metrics: dict[str, float] = {}
    classification = labels is not None and is_classification(outputs, labels)
    if labels is not None and classification:
        metrics["accuracy"] = top1_accuracy(outputs, labels)
        for k in TOP_K:
            if outputs.shape[1] > k:
                metrics[f"top{k}_accuracy"] = topk_accuracy(outputs, labels, k=k)
        for cls, recall in per_class_recall(outputs, labels).items():
            metrics[f"recall_class_{cls}"] = recall
    elif labels is not None:
        metrics["mae"] = mae(outputs, labels)
        metrics["rmse"] = rmse(outputs, labels)
        metrics["cosine_to_targets"] = mean_cosine(labels.astype(np.float64), outputs.astype(np.float64))
    if reference is not None:
        if reference.shape != outputs.shape:
            raise DataError(f"the reference model's output has shape {reference.shape}, the model's {outputs.shape}.")
        metrics.update(decision_metrics(reference_decisions(outputs, reference, name=name, tolerance=tolerance)[1]))
        metrics["max_abs_error"] = (
            float(np.max(np.abs(outputs.astype(np.float64) - reference))) if outputs.size else 0.0
        )
        metrics["mean_cosine"] = mean_cosine(reference.astype(np.float64), outputs.astype(np.float64))
        if labels is not None and classification:
            metrics["reference_accuracy"] = top1_accuracy(reference, labels)
            metrics["accuracy_drop"] = metrics["reference_accuracy"] - metrics["accuracy"]
    return metrics


def evaluate(
    outputs: np.ndarray,
    labels: np.ndarray | None,
    *,
    reference: np.ndarray | None = None,
    slices: np.ndarray | None = None,
    name: str = "output",
    tolerance: Tolerance = Tolerance(),
) -> QualityReport:
    """Metrics over all samples and per slice, with the gap between the best and worst slice.

    Args:
        outputs: the model's (first) output.
        labels: integer classes or float targets, if any.
        reference: the reference model's output on the same samples, if any.
        slices: one group id per sample, if any.
        name: the output's name (its meaning may be stated per output).
        tolerance: the fidelity bar and per-output rules decisions are judged with.
    """
    import numpy as np

    n = len(outputs)
    if labels is not None and len(labels) != n:
        raise DataError(f"{len(labels)} labels for {n} samples.")
    if slices is not None and len(slices) != n:
        raise DataError(f"{len(slices)} slice ids for {n} samples.")
    task = (
        "unlabelled" if labels is None else ("classification" if is_classification(outputs, labels) else "regression")
    )
    overall = quality_metrics(outputs, labels, reference=reference, name=name, tolerance=tolerance)
    meaning = decisions = None
    if reference is not None:
        meaning, decisions = reference_decisions(outputs, reference, name=name, tolerance=tolerance)
    per_slice: dict[str, dict[str, float]] = {}
    sizes: dict[str, int] = {}
    if slices is not None:
        for group in np.unique(slices):
            mask = slices == group
            name = str(group.item() if hasattr(group, "item") else group)
            sizes[name] = int(mask.sum())
            per_slice[name] = quality_metrics(
                outputs[mask],
                None if labels is None else labels[mask],
                reference=None if reference is None else reference[mask],
                name=name,
                tolerance=tolerance,
            )
    gap: dict[str, float] = {}
    if per_slice:
        shared = set.intersection(*(set(m) for m in per_slice.values()))
        for metric in sorted(shared):
            values = [m[metric] for m in per_slice.values()]
            gap[metric] = float(max(values) - min(values))
    return QualityReport(
        task=task,
        num_samples=n,
        metrics=overall,
        per_slice=per_slice,
        slice_gap=gap,
        slice_sizes=sizes,
        meaning=meaning,
        decisions=decisions,
    )


def _check_scores(logits: np.ndarray, labels: np.ndarray) -> None:
    if logits.ndim != 2:
        raise DataError(f"accuracy needs class scores of shape (samples, classes), got {tuple(logits.shape)}.")
    if len(logits) != len(labels):
        raise DataError(f"{len(labels)} labels for {len(logits)} predictions.")
    if len(labels) == 0:
        raise DataError("accuracy over zero samples is undefined.")
    if labels.min() < 0 or labels.max() >= logits.shape[1]:
        raise DataError(
            f"labels must be class indices in [0, {logits.shape[1] - 1}]; "
            f"found {int(labels.min())}..{int(labels.max())}."
        )


def _check_targets(outputs: np.ndarray, targets: np.ndarray) -> None:
    if outputs.shape != targets.shape:
        raise DataError(f"targets have shape {tuple(targets.shape)}, the model's outputs {tuple(outputs.shape)}.")
