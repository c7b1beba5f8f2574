"""The decisions an output carries, judged against the reference's, with stated confidence.

A decision the reference itself is not sure of (a top-1 whose margin to the runner-up is tiny, an
element within a hair of its threshold) can flip under any rounding; counting it as lost would
fail a faithful model (a pitch tracker's unvoiced frames), and counting it as kept would hide
nothing. Such decisions are reported apart. The level below which the reference is unsure is
the user's where stated; else, where the reference's margins fall into two clearly separate
groups (a flat distribution on some positions, a peaked one on others), the gap between them;
else a small default.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlpack.core.fidelity.confidence import trials_needed, wilson_lower, wilson_upper
from mlpack.core.fidelity.meaning import Meaning
from mlpack.core.fidelity.tolerance import OutputKind

if TYPE_CHECKING:
    import numpy as np

DEFAULT_UNSURE = 0.05  # class-probability margin, or distance to the threshold
MAX_UNSURE = 0.25  # an inferred level never sets apart decisions surer than this
_SEPARATION = 0.85  # between-group share of the variance of log margins: two clear groups
_INFER_AT_MOST = 200_000  # margins looked at to infer the level


@dataclass(frozen=True)
class Decisions:
    """Decisions of one output: how many were judged, kept, and set apart as unsure."""

    what: str  # what one decision is, for people
    judged: int  # decisions the reference is sure of
    kept: int  # of those, the same in the candidate
    unsure: int  # set apart: the reference is not sure
    unsure_changed: int  # of those, different in the candidate (not counted as lost)
    unsure_level: float
    unsure_because: str
    samples: int  # samples the decisions come from, to say how many more would show a bar
    confidence: float
    f1: float | None = None  # of the active decisions, where decisions are sparse (thresholds, boxes)
    active: float = 0.0  # active decisions behind the F1: the mean of the two models' counts
    reference_active: int = 0  # sure decisions active in the reference

    @property
    def agreement(self) -> float:
        return self.kept / self.judged if self.judged else 1.0

    @property
    def lost(self) -> int:
        return self.judged - self.kept

    @property
    def agreement_low(self) -> float:
        return wilson_lower(self.agreement, self.judged, self.confidence)

    @property
    def f1_low(self) -> float | None:
        return None if self.f1 is None else wilson_lower(self.f1, self.active, self.confidence)

    def can_show(self, bar: float) -> bool:
        """Whether these data could show ``bar`` at all: with every sure decision kept. Where the
        reference is sure of no decision, there is nothing to show (``judge`` notes it)."""
        if self.judged == 0:
            return True
        agree = wilson_lower(1.0, self.judged, self.confidence) >= bar
        return agree and (self.f1 is None or wilson_lower(1.0, self.reference_active, self.confidence) >= bar)

    def judge(self, bar: float, *, generated: bool = False) -> tuple[bool, str | None]:
        """Whether the decisions hold ``bar`` at the stated confidence, and what to say if not.

        On generated inputs a bar the data cannot show is noted but passes (the decisions are not
        the task's); only a clear loss (the upper bound below the bar) fails there.
        """
        if self.judged == 0 and not self.active:  # nothing the reference is sure of, nothing the candidate adds
            if not self.unsure:  # boxes: none scored above the threshold in the reference
                return True, f"the reference makes none of these decisions ({self.what}) on its {self.samples} samples"
            return True, f"the reference is sure of none of its {self.unsure} decisions; none judged"
        figures = []  # where the reference is sure of none but the candidate adds boxes, only the F1 judges
        if self.judged:
            figures.append(("agreement", self.agreement, float(self.judged), self.judged / max(self.samples, 1)))
        if self.f1 is not None:
            figures.append(("F1 of active decisions", self.f1, self.active, self.active / max(self.samples, 1)))
        for label, share, trials, per_sample in figures:
            low = wilson_lower(share, trials, self.confidence)
            if low >= bar:
                continue
            clear_loss = wilson_upper(share, trials, self.confidence) < bar
            if generated and not clear_loss:
                return True, f"{label} {share:.4f} over {trials:.0f} decisions of generated inputs cannot show {bar:g}"
            return False, self._problem(label, share, trials, per_sample, low, bar)
        return True, None

    def _problem(self, label: str, share: float, trials: float, per_sample: float, low: float, bar: float) -> str:
        bound = f"{self.confidence:.0%} lower bound {low:.4f}"
        if not self.judged:  # only boxes the candidate adds: each half an active decision
            made = f"the candidate makes {2 * self.active:.0f} active decisions"
            return f"{label} {share:.4f} ({bound}) < {bar:g}: {made} where the reference is sure of none"
        if share < bar or trials_needed(share, bar, self.confidence) is None:
            return f"{label} {share:.4f} ({bound}) < {bar:g}: {self.lost} of {self.judged} sure decisions changed"
        if trials == 0 or per_sample == 0:
            return f"no active decision the reference is sure of: {label} cannot be shown >= {bar:g}"
        needed = trials_needed(share, bar, self.confidence) or 0
        more = max(1, math.ceil((needed - trials) / per_sample))
        return (
            f"{label} {share:.4f} over {trials:.0f} decisions shows only >= {low:.4f} at {self.confidence:.0%} "
            f"confidence, not {bar:g}: about {more} more samples would show it (or lower --min-agreement)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "what": self.what,
            "judged": self.judged,
            "kept": self.kept,
            "lost": self.lost,
            "agreement": self.agreement,
            "agreement_low": self.agreement_low,
            "f1": self.f1,
            "f1_low": self.f1_low,
            "active": self.active,
            "unsure": self.unsure,
            "unsure_changed": self.unsure_changed,
            "unsure_level": self.unsure_level,
            "unsure_because": self.unsure_because,
            "samples": self.samples,
            "confidence": self.confidence,
        }


def judge_decisions(
    meaning: Meaning, reference: np.ndarray, candidate: np.ndarray, confidence: float
) -> Decisions | None:
    """The decisions of one output of two models; None for values (nothing decided)."""
    import numpy as np

    ref, cand = np.asarray(reference), np.asarray(candidate)
    samples = int(ref.shape[0]) if ref.ndim else 1
    if meaning.kind is OutputKind.LABELS:
        same = ref == cand
        return Decisions(
            "each element", int(same.size), int(same.sum()), 0, 0, 0.0, "labels are exact", samples, confidence
        )
    if meaning.kind is OutputKind.CLASSES:
        return _classes(meaning, ref, cand, samples, confidence)
    if meaning.kind is OutputKind.PROBABILITIES:
        return _thresholded(meaning, ref, cand, samples, confidence)
    return None


def _classes(meaning: Meaning, ref: np.ndarray, cand: np.ndarray, samples: int, confidence: float) -> Decisions:
    import numpy as np

    axis = meaning.axis if meaning.axis is not None else ref.ndim - 1
    probs = _probabilities(ref.astype(np.float64), axis, meaning.scale)
    top2 = -np.partition(-probs, 1, axis=axis).take([0, 1], axis=axis)
    margin = (top2.take(0, axis=axis) - top2.take(1, axis=axis)).ravel()
    same = (np.argmax(ref, axis=axis) == np.argmax(cand, axis=axis)).ravel()
    level, because = unsure_level(margin, meaning.unsure, "top-1 margin")
    sure = margin >= level
    positions = "per position" if ref.ndim > 2 else "per sample"
    return _counted(f"top-1 of {ref.shape[axis]} classes {positions}", same, sure, level, because, samples, confidence)


def _counted(
    what: str,
    same: np.ndarray,
    sure: np.ndarray,
    level: float,
    because: str,
    samples: int,
    confidence: float,
    **extra: Any,
) -> Decisions:
    """Decisions from which ones agree and which the reference is sure of: sure ones are judged,
    unsure ones are counted apart (and how many of them changed)."""
    return Decisions(
        what,
        int(sure.sum()),
        int((same & sure).sum()),
        int((~sure).sum()),
        int((~same & ~sure).sum()),
        level,
        because,
        samples,
        confidence,
        **extra,
    )


def _probabilities(values: np.ndarray, axis: int, scale: str) -> np.ndarray:
    import numpy as np

    if scale == "probabilities":
        return values
    if scale == "log-probabilities":
        return np.exp(values)
    shifted = np.exp(values - np.max(values, axis=axis, keepdims=True))
    return shifted / np.sum(shifted, axis=axis, keepdims=True)


def _thresholded(meaning: Meaning, ref: np.ndarray, cand: np.ndarray, samples: int, confidence: float) -> Decisions:
    import numpy as np

    threshold = 0.5 if meaning.threshold is None else meaning.threshold
    margin = np.abs(ref.astype(np.float64) - threshold).ravel()
    level, because = unsure_level(margin, meaning.unsure, "distance to the threshold")
    sure = margin >= level
    ref_on, cand_on = (ref >= threshold).ravel(), (cand >= threshold).ravel()
    same = ref_on == cand_on
    tp = int((ref_on & cand_on & sure).sum())
    wrong = int((~same & sure).sum())
    active = tp + wrong / 2
    return _counted(
        f"each element active at >= {threshold:g}",
        same,
        sure,
        level,
        because,
        samples,
        confidence,
        f1=(tp / active) if active else None,
        active=active,
        reference_active=int((ref_on & sure).sum()),
    )


def unsure_level(margins: np.ndarray, stated: float | None, what: str) -> tuple[float, str]:
    """The level below which the reference is unsure of a decision, and why that level."""
    import numpy as np

    if stated is not None:
        return stated, f"{what} below {stated:g} (stated)"
    values = np.asarray(margins, dtype=np.float64)
    if values.size > _INFER_AT_MOST:
        values = values[:: math.ceil(values.size / _INFER_AT_MOST)]
    split = _two_groups(np.log10(np.maximum(values, 1e-12)))
    if split is not None and DEFAULT_UNSURE < 10**split <= MAX_UNSURE:
        level = float(10**split)
        share = float(np.mean(values < level))
        return level, f"{what} below {level:.3g}: the reference's margins form two groups ({share:.0%} in the lower)"
    return DEFAULT_UNSURE, f"{what} below {DEFAULT_UNSURE:g} (default)"


def _two_groups(logs: np.ndarray) -> float | None:
    """Where ``logs`` split into two clearly separate groups (Otsu's criterion), or None."""
    import numpy as np

    if logs.size < 20:
        return None
    ordered = np.sort(logs)
    n = ordered.size
    total_var = float(np.var(ordered))
    if total_var <= 1e-12:
        return None
    counts = np.arange(1, n)
    left_sum = np.cumsum(ordered)[:-1]
    left_mean = left_sum / counts
    right_mean = (ordered.sum() - left_sum) / (n - counts)
    weight = counts / n
    between = weight * (1 - weight) * (left_mean - right_mean) ** 2
    best = int(np.argmax(between))
    low_share = weight[best]
    if between[best] / total_var < _SEPARATION or not 0.01 <= low_share <= 0.99:
        return None
    return float((ordered[best] + ordered[best + 1]) / 2)
