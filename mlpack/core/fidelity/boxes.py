"""Detections: the reference's boxes matched with the candidate's by overlap (IoU), per sample.

Judged where the user names the box output (``--threshold boxes=boxes``, optionally
``,scores=OUTPUT``; else the probabilities output shaped like the boxes gives the scores), with
boxes as corners (x1, y1, x2, y2) on the last axis; and on a single-stage detector's raw head
(``judge_head``: boxes and scores in one output, see ``meaning._detection_head``). A reference
box counts when its score clears the scores' threshold; it is kept when a candidate box above the
threshold overlaps it at IoU 0.5 or more (greedy, best overlap first). Boxes scored within the
unsure level of the threshold are set apart; extra candidate boxes count against the F1.
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from mlpack.core.fidelity.decisions import Decisions, unsure_level
from mlpack.core.fidelity.meaning import Meaning
from mlpack.errors import BadInputError

if TYPE_CHECKING:
    import numpy as np

MIN_IOU = 0.5
_PAIRS_AT_ONCE = 1 << 20  # box pairs whose overlap is computed in one block (about 16 MB per array)


def judge_boxes(
    meaning: Meaning,
    boxes: tuple[np.ndarray, np.ndarray],
    scores: tuple[np.ndarray, np.ndarray] | None,
    threshold: float,
    confidence: float,
) -> Decisions:
    """Matched boxes of two models; ``boxes`` and ``scores`` are (reference, candidate) pairs."""
    import numpy as np

    ref_boxes, cand_boxes = (np.asarray(b, dtype=np.float64) for b in boxes)
    if ref_boxes.ndim < 2 or ref_boxes.shape[-1] != 4:
        # Read as 4-tuples regardless, a (N, cells, 4 + classes) output became other "samples" of
        # coordinates and class scores mixed: a verdict on nothing the model decides.
        raise BadInputError(
            f"output '{meaning.name}' has shape {ref_boxes.shape}: boxes are the four corners (x1, y1, x2, y2) on "
            "the last axis, one box per row.",
            hint="Name an output of shape (..., boxes, 4) as boxes, or judge this one as values "
            f"(--threshold {meaning.name}=values).",
        )
    count = ref_boxes.shape[-2]
    ref_boxes, cand_boxes = ref_boxes.reshape(-1, count, 4), cand_boxes.reshape(-1, count, 4)
    if scores is None:
        ref_scores = np.ones(ref_boxes.shape[:2])
        cand_scores = np.ones(cand_boxes.shape[:2])
    else:
        ref_scores, cand_scores = (_per_box(s, ref_boxes.shape[:2]) for s in scores)
    margin = np.abs(ref_scores - threshold)
    level, because = unsure_level(margin.ravel(), meaning.unsure, "score's distance to the threshold")
    if scores is None:
        level, because = 0.0, "no scores: every box counts"
    counts = np.zeros(4, dtype=np.int64)  # kept, judged, extra candidate boxes, unsure
    for index in range(ref_boxes.shape[0]):
        counts += _match_sample(
            ref_boxes[index], cand_boxes[index], ref_scores[index], cand_scores[index], threshold, level
        )
    kept, judged, extra, unsure = (int(c) for c in counts)
    active = kept + ((judged - kept) + extra) / 2
    return Decisions(
        f"each box scored >= {threshold:g}, matched at IoU >= {MIN_IOU:g}",
        judged,
        kept,
        unsure,
        0,
        level,
        because,
        int(np.asarray(boxes[0]).shape[0]) if np.asarray(boxes[0]).ndim else 1,
        confidence,
        f1=(kept / active) if active else None,
        active=active,
        reference_active=judged,
    )


def judge_head(meaning: Meaning, reference: np.ndarray, candidate: np.ndarray, confidence: float) -> Decisions:
    """The detections of a single-stage head (see ``meaning._detection_head``): per anchor, its box
    and its best score, each box moved by its best class so that only boxes of one class overlap
    (a class changed is a box lost and one extra), then matched as ``judge_boxes`` does."""
    import numpy as np

    assert meaning.axis is not None and meaning.threshold is not None
    heads = [np.moveaxis(np.asarray(a), meaning.axis, -1) for a in (reference, candidate)]  # views
    corners = [_corners(head[..., :4].astype(np.float64), meaning.scale) for head in heads]
    spread = max(float(np.abs(c[np.isfinite(c)]).max(initial=0.0)) for c in corners) * 4 + 1  # finite
    classes = 5 if meaning.objectness else 4  # where the class scores start
    boxes = tuple(
        c + head[..., classes:].argmax(axis=-1)[..., None] * spread for c, head in zip(corners, heads, strict=True)
    )
    scores = tuple(_confidence(head, meaning.objectness) for head in heads)
    decisions = judge_boxes(meaning, (boxes[0], boxes[1]), (scores[0], scores[1]), meaning.threshold, confidence)
    return replace(
        decisions,
        what=f"each anchor's box whose best score is >= {meaning.threshold:g}, matched by class at IoU >= {MIN_IOU:g}",
    )


def _confidence(head: np.ndarray, objectness: bool) -> np.ndarray:
    """Each anchor's score: its best class score, times its objectness where the head has one."""
    import numpy as np

    if objectness:
        return head[..., 4].astype(np.float64) * head[..., 5:].max(axis=-1)
    return head[..., 4:].max(axis=-1).astype(np.float64)


def _corners(coordinates: np.ndarray, layout: str) -> np.ndarray:
    import numpy as np

    if layout == "xyxy":
        return coordinates
    centre, size = coordinates[..., :2], np.abs(coordinates[..., 2:]) / 2
    return np.concatenate([centre - size, centre + size], axis=-1)


def _per_box(scores: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """One score per box: the highest class score where scores are per class."""
    import numpy as np

    array = np.asarray(scores, dtype=np.float64)
    if array.size == shape[0] * shape[1]:
        return array.reshape(shape)
    return array.reshape(shape[0], shape[1], -1).max(axis=-1)


def _match_sample(
    ref: np.ndarray, cand: np.ndarray, ref_scores: np.ndarray, cand_scores: np.ndarray, threshold: float, level: float
) -> np.ndarray:
    """(kept, judged, extra candidate boxes, unsure) for one sample."""
    import numpy as np

    sure = ref_scores >= threshold + level
    unsure = np.abs(ref_scores - threshold) < level
    wanted = np.flatnonzero(sure | unsure)
    offered = np.flatnonzero(cand_scores >= threshold)
    overlap, rows, columns = _overlapping(ref[wanted], cand[offered])
    matched_ref: set[int] = set()
    matched_cand: set[int] = set()
    for index in np.argsort(-overlap, kind="stable"):  # best overlap first
        i, j = int(rows[index]), int(columns[index])
        if i not in matched_ref and j not in matched_cand:
            matched_ref.add(i)
            matched_cand.add(j)
    kept = sum(1 for i in matched_ref if sure[wanted[i]])
    return np.array([kept, int(sure.sum()), offered.size - len(matched_cand), int(unsure.sum())])


def _overlapping(ref: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(IoU, reference box, candidate box) of the pairs that overlap at MIN_IOU or more, a block of
    reference boxes at a time: a head's every anchor can clear the threshold (25,200 of them in a
    YOLOv5 image), and all pairs at once were tens of gigabytes."""
    import numpy as np

    step = max(1, _PAIRS_AT_ONCE // max(len(cand), 1))
    found = []
    for start in range(0, len(ref) if len(cand) else 0, step):
        overlap = _iou(ref[start : start + step], cand)
        rows, columns = np.nonzero(overlap >= MIN_IOU)
        found.append((overlap[rows, columns], rows + start, columns))
    if not found:
        return np.zeros(0), np.zeros(0, np.int64), np.zeros(0, np.int64)
    overlap, rows, columns = (np.concatenate(parts) for parts in zip(*found, strict=True))
    return overlap, rows, columns


def _iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    import numpy as np

    a_lo, a_hi = np.minimum(a[:, :2], a[:, 2:]), np.maximum(a[:, :2], a[:, 2:])
    b_lo, b_hi = np.minimum(b[:, :2], b[:, 2:]), np.maximum(b[:, :2], b[:, 2:])
    lo = np.maximum(a_lo[:, None], b_lo[None])
    hi = np.minimum(a_hi[:, None], b_hi[None])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    area_a = np.prod(a_hi - a_lo, axis=-1)[:, None]
    area_b = np.prod(b_hi - b_lo, axis=-1)[None]
    union = area_a + area_b - inter
    # Two boxes that are one point overlap fully; a box with a NaN coordinate (an Inf one) overlaps nothing.
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), np.where(union == 0, 1.0, 0.0))
