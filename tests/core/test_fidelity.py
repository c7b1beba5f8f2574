"""The fidelity module on hand-made outputs: what an output means, its decisions, their confidence."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from mlpack.budget.spec import load_budget_file, resolve
from mlpack.core.fidelity import (
    OutputDiff,
    OutputKind,
    OutputRule,
    Tolerance,
    compare_outputs,
    interpret,
    parse_rules,
    trials_needed,
    wilson_lower,
)
from mlpack.errors import BadInputError, ConfigError

RNG = np.random.default_rng(0)
BAR = Tolerance(atol=None, min_agreement=0.99)


def _softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize(
    "name, values, kind, axis",
    [
        ("probs", _softmax(RNG.standard_normal((8, 5))), OutputKind.CLASSES, 1),
        ("out", _softmax(RNG.standard_normal((4, 30, 12))), OutputKind.CLASSES, 2),  # per frame
        ("out", np.log(_softmax(RNG.standard_normal((8, 5)))), OutputKind.CLASSES, 1),
        ("out", 1 / (1 + np.exp(-RNG.standard_normal((4, 30, 12)))), OutputKind.PROBABILITIES, None),
        ("mask", 1 / (1 + np.exp(-RNG.standard_normal((2, 1, 8, 8)))), OutputKind.PROBABILITIES, None),
        ("logits", RNG.standard_normal((8, 5)), OutputKind.CLASSES, 1),
        ("out", RNG.standard_normal((2, 21, 8, 8)), OutputKind.CLASSES, 1),  # N, C, H, W segmentation
        ("out", RNG.standard_normal((2, 150, 64, 48)), OutputKind.CLASSES, 1),  # N, C, H, W, C > H
        ("out", RNG.standard_normal((2, 16, 16, 3)), OutputKind.CLASSES, 3),  # N, H, W, C segmentation
        ("out", RNG.standard_normal((2, 32, 48, 5)), OutputKind.CLASSES, 3),  # N, H, W, C, not square
        ("last_hidden_state", RNG.standard_normal((2, 7, 32)), OutputKind.VALUES, None),
        ("out", RNG.standard_normal((8, 1)), OutputKind.VALUES, None),
        ("label", np.array([1, 2, 3]), OutputKind.LABELS, None),
    ],
)
def test_what_an_output_means_is_inferred_and_said(name, values, kind, axis) -> None:
    meaning = interpret(name, values)
    assert meaning.kind is kind and meaning.because
    if axis is not None:
        assert meaning.axis == axis


def test_a_stated_meaning_wins() -> None:
    logits = RNG.standard_normal((8, 5))
    assert interpret("logits", logits, OutputRule("logits", OutputKind.VALUES)).kind is OutputKind.VALUES
    rule = OutputRule.parse("notes=0.3,unsure=0.1")
    meaning = interpret("notes", logits, rule)
    assert (meaning.kind, meaning.threshold, meaning.unsure) == (OutputKind.PROBABILITIES, 0.3, 0.1)
    with pytest.raises(BadInputError, match="threshold"):
        OutputRule.parse("notes=loud")
    with pytest.raises(BadInputError, match="more than once"):
        parse_rules(["a=0.3", "a=0.4"])


def test_the_lower_bound_decides_not_the_point() -> None:
    assert wilson_lower(1.0, 40) < 0.99  # 40 of 40 does not show 0.99
    assert wilson_lower(1.0, 12 * 172 * 88) > 0.999  # a frame grid is plenty
    needed = trials_needed(1.0, 0.99)
    assert needed is not None and wilson_lower(1.0, needed) >= 0.99 > wilson_lower(1.0, needed - 1)
    assert trials_needed(0.98, 0.99) is None


def test_forty_samples_cannot_show_ninety_nine_percent() -> None:
    logits = RNG.standard_normal((40, 5)) * 4
    comparison = compare_outputs([logits], [logits], names=["logits"], tolerance=BAR, label="40 samples")
    assert not comparison.passed and comparison.unshowable
    assert "more samples would show it" in comparison.failure_text()
    lowered = Tolerance(atol=None, min_agreement=0.9)
    assert compare_outputs([logits], [logits], names=["logits"], tolerance=lowered, label="x").passed
    generated = compare_outputs([logits], [logits], names=["logits"], tolerance=BAR, label="x", generated=True)
    assert generated.passed and generated.outputs[0].note  # noted, not failed, on generated inputs


def test_samples_the_reference_leaves_nan_are_not_judged_and_said() -> None:
    """A NaN input gives NaN in FP32 and a number in QDQ INT8: that sample was judged "changed",
    every INT8 group fell back under a made-up reason, and the run passed with FP32 compute."""
    logits = RNG.standard_normal((4000, 5)) * 4
    reference, candidate = logits.copy(), logits.copy()
    reference[[7, 900]] = np.nan  # the candidate gives numbers there
    boxes = RNG.random((4000, 4))
    comparison = compare_outputs(
        [reference, boxes], [candidate, boxes], names=["logits", "box"], tolerance=BAR, label="x"
    )
    assert comparison.passed, comparison.failure_text()
    logits_diff = comparison.outputs[0]
    assert logits_diff.decisions is not None and logits_diff.decisions.samples == 3998
    assert all("2 of 4000 samples not judged" in (o.note or "") for o in comparison.outputs)

    candidate[11, 0] = np.nan  # a NaN the reference does not give is a change
    assert not compare_outputs([reference], [candidate], names=["logits"], tolerance=BAR, label="x").passed
    nothing = compare_outputs([np.full((8, 5), np.nan)], [logits[:8]], names=["logits"], tolerance=BAR, label="x")
    assert not nothing.passed and "nothing judged" in (nothing.outputs[0].note or "")


def test_an_output_nan_in_both_models_everywhere_is_not_a_pass() -> None:
    """Every input holding NaN, the FP32 reference and a candidate that repeats its NaN (dynamic
    INT8 does) passed with cosine 1.0 and max error 0: nothing had been compared."""
    nan = np.full((64, 5), np.nan)
    comparison = compare_outputs([nan], [nan.copy()], names=["logits"], tolerance=BAR, label="x")
    assert not comparison.passed
    assert "the reference gives NaN on all its elements" in (comparison.outputs[0].problem or "")


def test_rare_positives_cannot_hide_in_the_zeros() -> None:
    """99% of the elements agree (mostly zeros), but the active ones are lost: F1 fails it."""
    reference = np.full((64, 100, 10), 0.01)
    active = RNG.random(reference.shape) < 0.02
    reference[active] = 0.95
    candidate = reference.copy()
    candidate[active & (RNG.random(reference.shape) < 0.3)] = 0.2  # 30% of the positives missed
    comparison = compare_outputs([reference], [candidate], names=["frames"], tolerance=BAR, label="x")
    decisions = comparison.outputs[0].decisions
    assert decisions is not None and decisions.agreement > 0.99
    assert decisions.f1 is not None and decisions.f1 < 0.9
    assert not comparison.passed and "F1" in comparison.failure_text()


def _pitch_like(frames: int = 3000, voiced_share: float = 0.4) -> tuple[np.ndarray, np.ndarray]:
    """Per-frame distributions over 360 bins: peaked where voiced, flat noise elsewhere."""
    logits = RNG.normal(0, 0.02, (frames, 360))
    voiced = RNG.random(frames) < voiced_share
    logits[voiced, RNG.integers(0, 360, voiced.sum())] += 6.0
    return logits, voiced


def test_unsure_frames_are_set_apart_but_a_real_loss_still_fails() -> None:
    logits, voiced = _pitch_like()
    noisy = logits + RNG.normal(0, 0.02, logits.shape)  # flips the unvoiced argmax, keeps the voiced
    comparison = compare_outputs([logits], [noisy], names=["pitch"], tolerance=BAR, label="x")
    decisions = comparison.outputs[0].decisions
    assert decisions is not None
    assert comparison.passed, comparison.failure_text()
    assert decisions.unsure >= (~voiced).sum() * 0.95 and decisions.unsure_changed > 100
    assert decisions.judged >= voiced.sum() * 0.95
    lost = noisy.copy()
    flip = np.flatnonzero(voiced)[:60]
    lost[flip] = np.roll(lost[flip], 7, axis=1)  # confident voiced frames move to another bin
    failed = compare_outputs([logits], [lost], names=["pitch"], tolerance=BAR, label="x")
    assert not failed.passed and failed.outputs[0].decisions.lost == 60  # type: ignore[union-attr]


def test_boxes_are_matched_by_overlap_where_named() -> None:
    boxes = np.zeros((4, 6, 4))
    boxes[..., 0] = np.arange(6) * 100.0  # far apart: a moved box cannot land on another
    boxes[..., 2:] = boxes[..., :2] + 20
    scores = RNG.choice([0.05, 0.9], size=(4, 6))
    tolerance = BAR.with_rules(parse_rules(["boxes=boxes,scores=scores", "scores=0.5"]))
    shifted = boxes + 2.0  # IoU about 0.8: still the same detections
    kept = compare_outputs(
        [boxes, scores], [shifted, scores], names=["boxes", "scores"], tolerance=tolerance, label="x"
    )
    decisions = kept.outputs[0].decisions
    assert decisions is not None and decisions.lost == 0 and decisions.judged == int((scores > 0.5).sum())
    moved = boxes + 15.0  # IoU about 0.07: lost
    lost = compare_outputs([boxes, scores], [moved, scores], names=["boxes", "scores"], tolerance=tolerance, label="x")
    assert lost.outputs[0].decisions.kept == 0  # type: ignore[union-attr]


def test_boxes_named_on_an_output_without_four_corners_per_row_are_refused() -> None:
    """A detector's (N, cells, 4 + classes) output named as boxes was cut into 4-tuples across
    rows and samples: coordinates and class scores mixed, judged as boxes of samples that do not exist."""
    head = RNG.standard_normal((8, 64, 9))
    tolerance = BAR.with_rules(parse_rules(["det=boxes"]))
    with pytest.raises(BadInputError, match=r"output 'det' has shape \(8, 64, 9\): boxes are the four corners"):
        compare_outputs([head], [head], names=["det"], tolerance=tolerance, label="x")


def _detection_head(samples: int = 400, anchors: int = 200, classes: int = 3) -> np.ndarray:
    """A YOLOv8-style raw head (N, 4 + C, anchors): centre and size in pixels, sigmoid class scores,
    five confident anchors per image."""
    rng = np.random.default_rng(1)
    head = np.empty((samples, 4 + classes, anchors), np.float32)
    head[:, :2] = rng.uniform(0, 320, (samples, 2, anchors))
    head[:, 2:4] = rng.uniform(10, 60, (samples, 2, anchors))
    head[:, 4:] = rng.uniform(0.0, 0.1, (samples, classes, anchors))
    for i in range(samples):
        for anchor in rng.choice(anchors, 5, replace=False):
            head[i, 4 + rng.integers(classes), anchor] = rng.uniform(0.6, 0.95)
    return head


@pytest.mark.parametrize("layout", ["N,4+C,anchors", "N,anchors,4+C"])
def test_a_detection_head_is_judged_by_its_boxes_and_classes(layout: str) -> None:
    """A raw YOLO head was read as logits over the anchors: per image, which anchor had the largest
    x, or the best score of each class, none of them a detection; a class changed on 5% of the
    boxes passed."""
    head = _detection_head()
    as_given = head if layout == "N,4+C,anchors" else head.transpose(0, 2, 1)
    meaning = interpret("output0", as_given)
    assert meaning.kind is OutputKind.BOXES and meaning.scale == "cxcywh"
    assert meaning.axis == (1 if layout == "N,4+C,anchors" else 2) and "detection head" in meaning.because

    def judged(candidate: np.ndarray) -> tuple[bool, float]:
        got = candidate if layout == "N,4+C,anchors" else candidate.transpose(0, 2, 1)
        diff = compare_outputs([as_given], [got], names=["output0"], tolerance=BAR, label="x").outputs[0]
        assert diff.decisions is not None and diff.decisions.judged == 2000
        return diff.passed, diff.decisions.agreement

    noisy = head + np.random.default_rng(2).normal(0, 1e-3, head.shape).astype(np.float32)
    assert judged(noisy) == (True, 1.0)
    flipped = head.copy()
    sure = np.argwhere(head[:, 4:].max(axis=1) > 0.5)[::20]  # one confident box in twenty
    for i, anchor in sure:
        flipped[i, 4:, anchor] = np.roll(flipped[i, 4:, anchor], 1)  # same score, next class
    passed, agreement = judged(flipped)
    assert not passed and agreement == pytest.approx(0.95, abs=0.001)
    moved = head.copy()
    moved[sure[:, 0], 0, sure[:, 1]] += 40  # the box moved by its own size: no longer the same box
    assert judged(moved) == (False, pytest.approx(0.95, abs=0.001))


def test_boxes_a_candidate_adds_where_the_reference_has_none_fail() -> None:
    """Images where the reference detects nothing (empty scenes, generated inputs): the "nothing
    judged" rule passed a candidate that saw three objects in each, with F1 0 over 192 boxes."""
    empty = _detection_head(samples=64)
    empty[:, 4:] = np.minimum(empty[:, 4:], 0.1)  # no score clears 0.25
    seeing = empty.copy()
    seeing[:, 4, :3] = 0.3  # three boxes per image the reference does not make

    def diff(candidate: np.ndarray) -> OutputDiff:
        return compare_outputs([empty], [candidate], names=["output0"], tolerance=BAR, label="x").outputs[0]

    added = diff(seeing)
    assert not added.passed and "the candidate makes 192 active decisions where the reference is sure of none" in (
        added.problem or ""
    )
    same = diff(empty.copy())
    assert same.passed and "the reference makes none of these decisions" in (same.note or "")


def test_a_head_whose_every_anchor_clears_the_threshold_is_matched_in_bounded_memory() -> None:
    """Every anchor of a YOLOv5 head can clear 0.25 (objectness read as a score, untrained class
    scores of the background): box pairs were matched all at once, 3,000 anchors took 0.6 GB and a
    640x640 image's 25,200 about 40 GB."""
    import tracemalloc

    head = _detection_head(samples=1, anchors=3000, classes=1)
    head[:, 4:] = 0.9  # every anchor a detection
    tracemalloc.start()
    try:
        diff = compare_outputs([head], [head.copy()], names=["output0"], tolerance=BAR, label="x").outputs[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert diff.decisions is not None and diff.decisions.judged == 3000 and diff.decisions.kept == 3000
    assert peak < 100 * 2**20, f"{peak / 2**20:.0f} MB"


def test_comparing_large_outputs_holds_a_fraction_of_them_at_once() -> None:
    """float64 copies of both outputs, their differences and their cosines took six times the two
    outputs' memory: about 18 GB for a YOLOv8 head (84 x 8400) on 512 images."""
    import tracemalloc

    rng = np.random.default_rng(5)
    values = rng.standard_normal((64, 84, 2100)).astype(np.float32)  # 45 MB, named like values
    noisy = values + np.float32(1e-3)
    tracemalloc.start()
    try:
        diff = compare_outputs([values], [noisy], names=["features"], tolerance=BAR, label="x").outputs[0]
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert diff.passed and diff.max_abs_error == pytest.approx(1e-3, rel=0.01)
    assert peak < values.nbytes, f"{peak / 2**20:.0f} MB against {values.nbytes / 2**20:.0f} MB of output"


def test_a_yolov5_head_scores_its_boxes_by_objectness_times_class() -> None:
    """YOLOv5 and YOLOX put objectness first; their class scores, never trained on background, clear
    0.25 on most anchors, so the best score made every anchor (2000 an image) a detection."""
    rng = np.random.default_rng(4)
    head = _detection_head().transpose(0, 2, 1)  # (N, anchors, 4 + 3): centre, size, class scores
    classes = head[..., 4:].copy()
    sure = classes.max(axis=-1) > 0.5
    v5 = np.concatenate([head[..., :4], np.where(sure, 0.9, 0.01)[..., None], classes], axis=-1)
    v5[..., 5:] = np.where(sure[..., None], classes, rng.uniform(0.0, 0.9, classes.shape))  # background
    meaning = interpret("output0", v5)
    assert meaning.kind is OutputKind.BOXES and meaning.objectness and "objectness times" in meaning.because
    judged = compare_outputs([v5], [v5], names=["output0"], tolerance=BAR, label="x").outputs[0]
    assert judged.decisions is not None and judged.decisions.judged == 2000  # the objects, not every anchor
    assert not interpret("output0", head).objectness  # YOLOv8: the first score is a class


def test_outputs_shaped_like_a_head_are_not_read_as_one_unless_they_are() -> None:
    """A sequence model's (N, T, F) output with sigmoid features was read as boxes and failed on
    noise a values reading passes; so was one named hidden_state."""
    rng = np.random.default_rng(3)
    sequence = np.concatenate([rng.normal(0, 3, (64, 50, 4)), rng.random((64, 50, 4))], axis=-1)
    assert interpret("out", sequence).kind is not OutputKind.BOXES  # a negative "size": no box
    head = _detection_head(samples=4).transpose(0, 2, 1)
    assert interpret("hidden_state", head).kind is OutputKind.VALUES  # the name says so


def test_a_box_with_an_infinite_coordinate_is_lost_alone_and_fails_the_check() -> None:
    """One Inf coordinate spread every box of its class to NaN, and NaN boxes matched at IoU 1; and
    a candidate's Inf where the reference is finite passed wherever the cosine held."""
    from mlpack.core.fidelity.boxes import judge_head

    head = _detection_head()
    candidate = head.copy()
    i, anchor = np.argwhere(head[:, 4:].max(axis=1) > 0.5)[0]
    candidate[i, 2, anchor] = np.inf
    decisions = judge_head(interpret("output0", head), head, candidate, 0.95)
    assert (decisions.judged, decisions.kept) == (2000, 1999)
    diff = compare_outputs([head], [candidate], names=["output0"], tolerance=BAR, label="x").outputs[0]
    assert not diff.passed and "Inf where the reference has a finite value" in (diff.problem or "")
    logits = RNG.standard_normal((4000, 5))
    blown = logits.copy()
    blown[9, 2] = -np.inf
    assert compare_outputs([logits], [logits], names=["y"], tolerance=BAR, label="x").passed
    assert not compare_outputs([logits], [blown], names=["y"], tolerance=BAR, label="x").passed


def test_a_detection_head_stated_as_boxes_is_read_as_one() -> None:
    head = _detection_head(samples=8)
    meaning = interpret("output0", head, OutputRule("output0", OutputKind.BOXES, threshold=0.5))
    assert meaning.kind is OutputKind.BOXES and meaning.threshold == 0.5 and meaning.because.startswith("stated")
    assert meaning.axis == 1


def test_budget_threshold_table(tmp_path: Path) -> None:
    path = tmp_path / "b.toml"
    path.write_text(
        '[budget]\nmin = { agreement = 0.99 }\nthreshold = { frames = 0.3, pitch = "classes,unsure=0.1" }\n'
    )
    rules = {r.name: r for r in resolve(load_budget_file(path), None).threshold}
    assert rules["frames"].threshold == 0.3 and rules["pitch"].kind is OutputKind.CLASSES
    path.write_text('[budget]\nthreshold = { frames = "loud" }\n')
    with pytest.raises(ConfigError, match="b.toml:2"):
        load_budget_file(path)
