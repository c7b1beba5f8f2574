"""What an output means, inferred from its values, its dtype and its name, unless the user says.

- integers or booleans: labels, each element a decision;
- values in [0, 1] that sum to 1 over an axis: class probabilities over that axis (per position);
- values in [0, 1] that do not: independent probabilities (sigmoid, multi-label, masks),
  thresholded per element at 0.5;
- log-probabilities (at most 0, log-sum-exp 0 over the last axis): class scores;
- a name that says values (embedding, hidden, feature, box, audio...): values;
- a single-stage detector's raw head, (N, 4 + C, anchors) or (N, anchors, 4 + C) with box
  coordinates beyond [-1, 1] (sizes, or far corners, never negative) and scores in [0, 1]:
  boxes, matched by class and overlap;
- other real values with two or more entries on the class axis (the last; of a 4-D
  image-shaped output axis 1, or axis 3 where the shape says channels last): logits, top-1 per position;
- anything else: values (regression), judged by cosine, relative error and SNR.

Every meaning carries the reason it was chosen, for the report; ``--threshold NAME=VALUE``
overrides it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from mlpack.core.fidelity.tolerance import OutputKind, OutputRule

if TYPE_CHECKING:
    import numpy as np

DEFAULT_THRESHOLD = 0.5
# A detection head's boxes count from this score on: what detectors report by default (ultralytics'
# conf=0.25), so the check sees the detections a user would.
HEAD_THRESHOLD = 0.25
_SUM_TOLERANCE = 1e-3
_VALUE_NAMES = re.compile(
    r"emb|hidden|feature|feat|latent|vector|pool|bbox|box|coord|depth|disp|flow|wave|audio|mel|spec|recon|regress|value|state"
)


@dataclass(frozen=True)
class Meaning:
    """How one output is judged, and why."""

    name: str
    kind: OutputKind
    because: str
    axis: int | None = None  # class scores: the axis the classes lie on; a detection head: its entries'
    scale: str = ""  # class scores: "probabilities", "log-probabilities" or "logits"; a head: "xyxy" or "cxcywh"
    threshold: float | None = None  # probabilities: active at or above
    unsure: float | None = None  # the user's unsure level; None: inferred from the reference
    scores: str | None = None  # boxes: the output with each box's score
    objectness: bool = False  # a detection head whose first score is objectness (YOLOv5, YOLOX)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value,
            "because": self.because,
            "axis": self.axis,
            "scale": self.scale or None,
            "threshold": self.threshold,
            "unsure": self.unsure,
            "scores": self.scores,
            "objectness": self.objectness,
        }


def interpret(name: str, reference: np.ndarray, rule: OutputRule | None = None) -> Meaning:
    """The meaning of output ``name`` whose reference values are ``reference``."""
    import numpy as np

    array = np.asarray(reference)
    if rule is not None and rule.kind is not None:
        return _stated(name, array, rule)
    unsure = rule.unsure if rule else None
    if array.dtype.kind in "biu":
        return Meaning(name, OutputKind.LABELS, f"{array.dtype} values: each element is a decision", unsure=unsure)
    if array.dtype.kind != "f" or array.ndim == 0 or array.size == 0:
        return Meaning(name, OutputKind.VALUES, "not a floating-point tensor with elements")
    inferred = _from_values(name, array)
    return Meaning(**{**inferred.__dict__, "unsure": unsure})


def _stated(name: str, array: np.ndarray, rule: OutputRule) -> Meaning:
    assert rule.kind is not None
    said = f"--threshold {name}={rule.kind.value}"
    if rule.kind is OutputKind.PROBABILITIES:
        threshold = DEFAULT_THRESHOLD if rule.threshold is None else rule.threshold
        return Meaning(name, rule.kind, f"stated: active at {threshold:g}", threshold=threshold, unsure=rule.unsure)
    if rule.kind is OutputKind.CLASSES:
        axis, scale, _ = _class_axis(array)
        return Meaning(name, rule.kind, f"stated ({said}); {scale} over axis {axis}", axis, scale, unsure=rule.unsure)
    threshold = HEAD_THRESHOLD if rule.threshold is None else rule.threshold
    head = _detection_head(name, array, threshold) if rule.kind is OutputKind.BOXES and rule.scores is None else None
    if head is not None:
        return replace(head, because=f"stated ({said}); {head.because}", unsure=rule.unsure)
    return Meaning(name, rule.kind, f"stated ({said})", unsure=rule.unsure, scores=rule.scores)


def _from_values(name: str, array: np.ndarray) -> Meaning:
    import numpy as np

    span = _finite_span(array)
    if span is None:
        return Meaning(name, OutputKind.VALUES, "no finite values")
    low, high = span
    if low >= 0.0 and high <= 1.0:
        axis = _summing_axis(array, lambda a: a)
        if axis is not None:
            return Meaning(
                name, OutputKind.CLASSES, f"values in [0, 1] summing to 1 over axis {axis}", axis, "probabilities"
            )
        return Meaning(
            name,
            OutputKind.PROBABILITIES,
            "values in [0, 1] that do not sum to 1: independent probabilities, active at 0.5",
            threshold=DEFAULT_THRESHOLD,
        )
    if high <= 0.0 and array.ndim >= 1 and array.shape[-1] >= 2 and _summing_axis(array, np.exp) == array.ndim - 1:
        return Meaning(
            name, OutputKind.CLASSES, "log-probabilities over the last axis", array.ndim - 1, "log-probabilities"
        )
    if _VALUE_NAMES.search(name.lower()):
        return Meaning(name, OutputKind.VALUES, f"named like values ('{name}')")
    head = _detection_head(name, array)
    if head is not None:
        return replace(head, because=f"{head.because} (say --threshold {name}=values if it is not)")
    axis, scale, size = _class_axis(array)
    if array.ndim >= 2 and size >= 2:
        return Meaning(
            name,
            OutputKind.CLASSES,
            f"real values over {size} entries on axis {axis}: taken as logits, top-1 per position "
            f"(say --threshold {name}=values if they are not)",
            axis,
            scale,
        )
    return Meaning(name, OutputKind.VALUES, "one value per sample: regression")


def _detection_head(name: str, array: np.ndarray, threshold: float = HEAD_THRESHOLD) -> Meaning | None:
    """A single-stage detector's raw head, (N, 4 + C, anchors) or (N, anchors, 4 + C) as YOLOv5/v8
    and YOLOX export it: per anchor, 4 box coordinates (pixels: not all within [-1, 1]) and class (or
    objectness) scores in [0, 1]. Read as logits it was C + 4 "top-1 anchor" decisions per image,
    none of them the detections the model makes."""
    import numpy as np

    if array.ndim != 3:
        return None
    for axis in (2, 1):
        entries, anchors = array.shape[axis], array.shape[3 - axis]
        if not 5 <= entries < anchors:
            continue
        head = np.moveaxis(array, axis, -1)  # a view: heads can hold a gigabyte
        coordinates, scores = head[..., :4], head[..., 4:]
        if not (float(scores.min()) >= 0.0 and float(scores.max()) <= 1.0):  # False on NaN too
            continue
        if not (np.isfinite(coordinates).all() and float(np.abs(coordinates).max()) > 1.0):
            continue
        if float(coordinates[..., 2:].min()) < 0.0:  # sizes (or far corners) of boxes are never negative
            continue
        corners = _corners_layout(coordinates)
        objectness = _objectness_first(scores, threshold)
        scored = (
            f"objectness and {entries - 5} class scores in [0, 1] on axis {axis}; boxes whose objectness times "
            "best class score"
            if objectness
            else f"{entries - 4} scores in [0, 1] on axis {axis}; boxes whose best score"
        )
        return Meaning(
            name,
            OutputKind.BOXES,
            f"a detection head: per anchor ({anchors} on axis {3 - axis}), 4 box coordinates ({corners}) and "
            f"{scored} clears {threshold:g} matched by class at IoU >= 0.5",
            axis,
            corners,
            threshold=threshold,
            objectness=objectness,
        )
    return None


def _objectness_first(scores: np.ndarray, threshold: float) -> bool:
    """Whether the first score is objectness (YOLOv5, YOLOX: confidence = objectness x class score)
    rather than one class among the others (YOLOv8): objects are rare, so objectness clears the
    threshold on few anchors, while class scores, never trained on background, clear it on most."""
    if scores.shape[-1] < 2:
        return False
    first = float((scores[..., 0] >= threshold).mean())
    best_class = float((scores[..., 1:].max(axis=-1) >= threshold).mean())
    return first < 0.1 and best_class > 0.5


def _corners_layout(coordinates: np.ndarray) -> str:
    """ "xyxy" where every box's third and fourth coordinates are at least its first and second
    (corners), else "cxcywh" (centre and size, what YOLO heads give)."""
    import numpy as np

    ordered = np.all(coordinates[..., 2] >= coordinates[..., 0]) and np.all(coordinates[..., 3] >= coordinates[..., 1])
    return "xyxy" if ordered else "cxcywh"


def _class_axis(array: np.ndarray) -> tuple[int, str, int]:
    """(axis, scale, size) of class scores: where probabilities sum to 1, else the last axis, or
    a 4-D output's channel axis (N, C, H, W or N, H, W, C)."""

    if array.ndim == 0:
        return 0, "logits", 1
    span = _finite_span(array)
    if span is not None and span[0] >= 0.0 and span[1] <= 1.0:
        axis = _summing_axis(array, lambda a: a)
        if axis is not None:
            return axis, "probabilities", array.shape[axis]
    axis = _image_class_axis(array.shape) if array.ndim == 4 else array.ndim - 1
    return axis, "logits", array.shape[axis]


def _image_class_axis(shape: tuple[int, ...]) -> int:
    """The class axis of a 4-D output: 1 (N, C, H, W) unless the shape says channels last
    (N, H, W, C): a square image on axes 1-2 and not on 2-3, or a last axis of a few classes
    (at most 32) shorter than both axes before it."""
    if shape[2] == shape[3]:
        return 1
    if shape[1] == shape[2] or shape[3] < min(shape[1], shape[2], 33):
        return 3
    return 1


def _finite_span(array: np.ndarray) -> tuple[float, float] | None:
    """The lowest and highest finite values, None where there are none (without copying them out:
    outputs can hold gigabytes)."""
    import numpy as np

    finite = np.isfinite(array)
    if not finite.any():
        return None
    return float(np.min(array, where=finite, initial=np.inf)), float(np.max(array, where=finite, initial=-np.inf))


def _summing_axis(array: np.ndarray, transform: Any) -> int | None:
    """The axis (of two or more entries) over which ``transform(array)`` sums to 1 everywhere."""
    import numpy as np

    order = [array.ndim - 1] + ([1] if array.ndim == 4 else [])
    for axis in order:
        if array.shape[axis] < 2:
            continue
        sums = np.sum(transform(array.astype(np.float64)), axis=axis)
        if np.all(np.abs(sums - 1.0) <= _SUM_TOLERANCE):
            return axis
    return None
