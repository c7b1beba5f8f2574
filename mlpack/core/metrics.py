"""Quality metrics over model outputs: pure numpy, no model running here.

Classification (integer labels, one score per class): accuracy (top-1, top-k) and per-class
recall, on the first output (the one labels describe). Regression or embeddings (float targets):
MAE, RMSE and cosine similarity to the targets. Against a reference model's outputs: every output
judged by the fidelity module as optimize judges it (its meaning, its decisions with their lower
bound, cosine and max abs error), the figures of the output that holds least, and the accuracy
drop. Every metric again per slice, with the best-minus-worst gap.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Union

from mlpack.core.fidelity import (
    Decisions,
    Meaning,
    OutputDiff,
    Tolerance,
    compare_outputs,
    interpret,
    judge_decisions,
    mean_cosine,
)
from mlpack.errors import DataError

if TYPE_CHECKING:
    import numpy as np

TOP_K = (3, 5)
# Every output of a model (the first is the one labels describe), or that one output alone.
Outputs = Union["np.ndarray", Sequence["np.ndarray"]]


@dataclass(frozen=True)
class QualityReport:
    task: str  # "classification", "regression" or "unlabelled"
    num_samples: int
    metrics: dict[str, float]
    per_slice: dict[str, dict[str, float]]  # slice id -> metrics on that slice
    slice_gap: dict[str, float]  # metric -> best slice minus worst slice
    slice_sizes: dict[str, int]
    # Against a reference: every output's meaning and decisions over every sample, as optimize
    # judges them (the same module, so the same figures on the same files), and those of the
    # output whose decisions hold least (the one the agreement metrics are).
    meaning: Meaning | None = None
    decisions: Decisions | None = None
    outputs: tuple[OutputDiff, ...] = ()

    @property
    def decided(self) -> tuple[OutputDiff, ...]:
        """The outputs that carry decisions."""
        return tuple(o for o in self.outputs if o.decisions is not None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "meaning": self.meaning.to_dict() if self.meaning else None,
            "decisions": self.decisions.to_dict() if self.decisions else None,
            "outputs": [_output_dict(o) for o in self.outputs],
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
    """What one output means and its decisions against the reference's, as the fidelity check judges."""
    meaning = interpret(name, reference, tolerance.rule(name))
    return meaning, judge_decisions(meaning, reference, outputs, tolerance.confidence)


def reference_fidelity(
    outputs: Outputs, reference: Outputs, *, names: Sequence[str] | None = None, tolerance: Tolerance = Tolerance()
) -> tuple[OutputDiff, ...]:
    """Every output against the reference's, judged by the fidelity module as optimize judges it
    (boxes with their scores, the user's rules per output); no bar is applied here.

    Raises:
        DataError: the two models give different outputs or shapes.
    """
    import numpy as np

    mine, theirs = _as_outputs(outputs), _as_outputs(reference)
    names = _names(names, len(mine))
    if len(mine) != len(theirs):
        raise DataError(f"the reference model gives {len(theirs)} outputs, the model {len(mine)}.")
    for name, out, ref in zip(names, mine, theirs, strict=True):
        if np.shape(ref) != np.shape(out):
            raise DataError(
                f"the reference model's output '{name}' has shape {np.shape(ref)}, the model's {np.shape(out)}."
            )
    judged = [i for i, ref in enumerate(theirs) if _numeric(ref)]  # sequences and maps: not judged
    bare = Tolerance(atol=None, outputs=tolerance.outputs, confidence=tolerance.confidence)
    compared = compare_outputs(
        [theirs[i] for i in judged],
        [mine[i] for i in judged],
        names=[names[i] for i in judged],
        tolerance=bare,
        label="the evaluation data",
    )
    return compared.outputs


def weakest(outputs: Sequence[OutputDiff], figure: str = "agreement") -> OutputDiff | None:
    """The output whose decisions hold least on ``figure`` (``agreement`` or ``f1``): the lowest
    lower bound among those with decisions the reference is sure of (any with decisions else)."""

    def low(diff: OutputDiff) -> float | None:
        decisions = diff.decisions
        if decisions is None:
            return None
        return decisions.agreement_low if figure == "agreement" else decisions.f1_low

    held = [o for o in outputs if low(o) is not None]
    sure = [o for o in held if o.decisions and o.decisions.judged] or held
    return min(sure, key=lambda o: low(o) or 0.0, default=None)


def decision_metrics(decisions: Decisions | Sequence[OutputDiff] | None) -> dict[str, float]:
    """The decision figures by metric name: ``agreement`` (among the decisions the reference is sure
    of) with its lower bound, ``f1`` of active decisions where decisions are sparse, each of the
    output that holds least; the counts over every output."""
    if decisions is None:
        return {}
    if isinstance(decisions, Decisions):
        return _decision_metrics([decisions], decisions, decisions)
    agree, f1 = weakest(decisions, "agreement"), weakest(decisions, "f1")
    every = [o.decisions for o in decisions if o.decisions is not None]
    if agree is None or agree.decisions is None:
        return {}
    return _decision_metrics(every, agree.decisions, f1.decisions if f1 is not None else None)


def _decision_metrics(every: Sequence[Decisions], agree: Decisions, f1: Decisions | None) -> dict[str, float]:
    metrics = {
        "agreement": agree.agreement,
        "agreement_low": agree.agreement_low,
        "decisions": float(sum(d.judged for d in every)),
        "decisions_lost": float(sum(d.lost for d in every)),
        "decisions_unsure": float(sum(d.unsure for d in every)),
    }
    if f1 is not None and f1.f1 is not None and f1.f1_low is not None:
        metrics["f1"], metrics["f1_low"] = f1.f1, f1.f1_low
    return metrics


def quality_metrics(
    outputs: Outputs,
    labels: np.ndarray | None,
    *,
    reference: Outputs | None = None,
    names: Sequence[str] | None = None,
    tolerance: Tolerance = Tolerance(),
) -> dict[str, float]:
    """Every metric that the inputs allow, by name (labels describe the first output)."""
    return _quality_metrics(outputs, labels, reference, names, tolerance)[0]


def _quality_metrics(
    outputs: Outputs,
    labels: np.ndarray | None,
    reference: Outputs | None,
    names: Sequence[str] | None,
    tolerance: Tolerance,
) -> tuple[dict[str, float], tuple[OutputDiff, ...]]:
    import numpy as np

    first = _as_outputs(outputs)[0]
    metrics: dict[str, float] = {}
    classification = labels is not None and is_classification(first, labels)
    if labels is not None and classification:
        metrics["accuracy"] = top1_accuracy(first, labels)
        for k in TOP_K:
            if first.shape[1] > k:
                metrics[f"top{k}_accuracy"] = topk_accuracy(first, labels, k=k)
        for cls, recall in per_class_recall(first, labels).items():
            metrics[f"recall_class_{cls}"] = recall
    elif labels is not None:
        metrics["mae"] = mae(first, labels)
        metrics["rmse"] = rmse(first, labels)
        metrics["cosine_to_targets"] = mean_cosine(labels.astype(np.float64), first.astype(np.float64))
    if reference is None:
        return metrics, ()
    diffs = reference_fidelity(outputs, reference, names=names, tolerance=tolerance)
    metrics.update(decision_metrics(diffs))
    if diffs:  # over every output judged: the largest error, the lowest cosine (as optimize reads them)
        metrics["max_abs_error"] = max(d.max_abs_error for d in diffs)
        metrics["mean_cosine"] = min(d.cosine_similarity for d in diffs)
    if labels is not None and classification:
        metrics["reference_accuracy"] = top1_accuracy(_as_outputs(reference)[0], labels)
        metrics["accuracy_drop"] = metrics["reference_accuracy"] - metrics["accuracy"]
    return metrics, diffs


def evaluate(
    outputs: Outputs,
    labels: np.ndarray | None,
    *,
    reference: Outputs | None = None,
    slices: np.ndarray | None = None,
    names: Sequence[str] | None = None,
    tolerance: Tolerance = Tolerance(),
) -> QualityReport:
    """Metrics over all samples and per slice, with the gap between the best and worst slice.

    Args:
        outputs: the model's outputs, every one (or the one array of a one-output model); labels
            describe the first.
        labels: integer classes or float targets, if any.
        reference: the reference model's outputs on the same samples, in the same order, if any.
        slices: one group id per sample, if any.
        names: the outputs' names (their meaning may be stated per output).
        tolerance: the fidelity bar and per-output rules decisions are judged with.
    """
    import numpy as np

    first = _as_outputs(outputs)[0]
    n = len(first)
    if labels is not None and len(labels) != n:
        raise DataError(f"{len(labels)} labels for {n} samples.")
    if slices is not None and len(slices) != n:
        raise DataError(f"{len(slices)} slice ids for {n} samples.")
    task = "unlabelled" if labels is None else ("classification" if is_classification(first, labels) else "regression")
    overall, diffs = _quality_metrics(outputs, labels, reference, names, tolerance)
    per_slice: dict[str, dict[str, float]] = {}
    sizes: dict[str, int] = {}
    if slices is not None:
        for group in np.unique(slices):
            mask = slices == group
            key = str(group.item() if hasattr(group, "item") else group)
            sizes[key] = int(mask.sum())
            mine, theirs, kept = _sliced(outputs, reference, names, mask, n)
            per_slice[key] = quality_metrics(
                mine, None if labels is None else labels[mask], reference=theirs, names=kept, tolerance=tolerance
            )
    gap: dict[str, float] = {}
    if per_slice:
        shared = set.intersection(*(set(m) for m in per_slice.values()))
        for metric in sorted(shared):
            values = [m[metric] for m in per_slice.values()]
            gap[metric] = float(max(values) - min(values))
    worst = weakest(diffs)
    return QualityReport(
        task=task,
        num_samples=n,
        metrics=overall,
        per_slice=per_slice,
        slice_gap=gap,
        slice_sizes=sizes,
        meaning=worst.meaning if worst else (diffs[0].meaning if diffs else None),
        decisions=worst.decisions if worst else None,
        outputs=diffs,
    )


def _sliced(
    outputs: Outputs, reference: Outputs | None, names: Sequence[str] | None, mask: np.ndarray, n: int
) -> tuple[list[np.ndarray], list[np.ndarray] | None, list[str]]:
    """The outputs (and the reference's) of one slice's samples: those with a row per sample."""
    import numpy as np

    mine = _as_outputs(outputs)
    every = _names(names, len(mine))
    rows = [i for i, out in enumerate(mine) if i == 0 or (_numeric(out) and np.ndim(out) and len(out) == n)]
    theirs = None if reference is None else [_as_outputs(reference)[i][mask] for i in rows]
    return [mine[i][mask] for i in rows], theirs, [every[i] for i in rows]


def _as_outputs(outputs: Outputs) -> list[Any]:
    import numpy as np

    return [outputs] if isinstance(outputs, np.ndarray) else list(outputs)


def _names(names: Sequence[str] | None, count: int) -> list[str]:
    if names is None:
        return ["output"] if count == 1 else [f"output_{i}" for i in range(count)]
    return list(names)


def _numeric(value: Any) -> bool:
    import numpy as np

    return isinstance(value, np.ndarray) and value.dtype.kind in "fiub"


def _output_dict(diff: OutputDiff) -> dict[str, Any]:
    """What one output was judged as, against the reference, without a bar's pass or fail."""
    return {
        "name": diff.name,
        "meaning": diff.meaning.to_dict() if diff.meaning else None,
        "decisions": diff.decisions.to_dict() if diff.decisions else None,
        "max_abs_error": diff.max_abs_error,
        "cosine_similarity": diff.cosine_similarity,
        "snr_db": diff.snr_db,
        "relative_error": diff.relative_error,
    }


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
