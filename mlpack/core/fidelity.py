"""Comparing two models' outputs on the same inputs: the fail-closed check after every transform."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import numpy as np


# Decisions are judged only on enough samples to judge them: on 8 generated inputs one near-tie
# flip would read as 12% disagreement.
MIN_AGREEMENT_SAMPLES = 100


@dataclass(frozen=True)
class Tolerance:
    """An output passes if every element is within ``atol + rtol * |reference|`` (when atol is set),
    the mean per-sample cosine similarity is at least ``min_cosine`` (when set), and, for class
    scores (samples x classes) compared on 100+ samples, the top-1 decisions agree with the
    reference's on at least ``min_agreement`` of them (when set): logits can keep a cosine of
    0.999 while 4% of the decisions flip."""

    atol: float | None = 1e-4
    rtol: float = 1e-3
    min_cosine: float | None = None
    min_agreement: float | None = None

    def describe(self) -> str:
        parts = []
        if self.atol is not None:
            parts.append(f"|diff| <= {self.atol:g} + {self.rtol:g}*|ref|")
        if self.min_cosine is not None:
            parts.append(f"cosine >= {self.min_cosine:.10g}")
        if self.min_agreement is not None:
            parts.append(f"top-1 agreement >= {self.min_agreement:.10g} ({MIN_AGREEMENT_SAMPLES}+ samples)")
        return " and ".join(parts) or "none"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OutputDiff:
    name: str
    max_abs_error: float
    max_rel_error: float
    cosine_similarity: float
    passed: bool
    problem: str | None = None
    agreement: float | None = None  # top-1 decisions equal to the reference's, for class scores

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Comparison:
    """The outputs of a candidate model against a reference, on one set of inputs."""

    label: str
    outputs: tuple[OutputDiff, ...]
    tolerance: Tolerance

    @property
    def passed(self) -> bool:
        return all(o.passed for o in self.outputs)

    @property
    def max_abs_error(self) -> float:
        return max((o.max_abs_error for o in self.outputs), default=0.0)

    @property
    def min_cosine(self) -> float:
        return min((o.cosine_similarity for o in self.outputs), default=1.0)

    def failure_text(self) -> str:
        bad = [o for o in self.outputs if not o.passed]
        return "; ".join(
            o.problem
            or f"output '{o.name}': max abs error {o.max_abs_error:.3g}, cosine {o.cosine_similarity:.6f}"
            + (f", top-1 agreement {o.agreement:.4f}" if o.agreement is not None else "")
            for o in bad
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "passed": self.passed,
            "tolerance": self.tolerance.to_dict(),
            "outputs": [o.to_dict() for o in self.outputs],
        }


def compare_outputs(
    reference: Sequence[np.ndarray],
    candidate: Sequence[np.ndarray],
    *,
    names: Sequence[str],
    tolerance: Tolerance,
    label: str,
) -> Comparison:
    diffs = tuple(
        _compare_one(name, ref, cand, tolerance) for name, ref, cand in zip(names, reference, candidate, strict=True)
    )
    return Comparison(label=label, outputs=diffs, tolerance=tolerance)


def _compare_one(name: str, reference: np.ndarray, candidate: np.ndarray, tol: Tolerance) -> OutputDiff:
    import numpy as np

    ref = np.asarray(reference)
    cand = np.asarray(candidate)
    if ref.shape != cand.shape:
        return OutputDiff(
            name,
            float("inf"),
            float("inf"),
            0.0,
            False,
            f"output '{name}' has shape {cand.shape}, the reference has {ref.shape}",
        )
    ref64 = ref.astype(np.float64)
    cand64 = cand.astype(np.float64)
    if np.any(np.isnan(ref64) != np.isnan(cand64)):
        return OutputDiff(
            name,
            float("nan"),
            float("nan"),
            0.0,
            False,
            f"output '{name}' has NaN where the reference has none (or the reverse)",
        )
    finite = ~np.isnan(ref64)
    abs_err = np.abs(ref64 - cand64)[finite] if ref64.size else np.zeros(0)
    max_abs = float(abs_err.max()) if abs_err.size else 0.0
    rel = abs_err / (np.abs(ref64[finite]) + 1e-12) if abs_err.size else np.zeros(0)
    max_rel = float(rel.max()) if rel.size else 0.0
    cosine = mean_cosine(ref64, cand64)
    passed = True
    if tol.atol is not None and abs_err.size:
        passed &= bool(np.all(abs_err <= tol.atol + tol.rtol * np.abs(ref64[finite])))
    if tol.min_cosine is not None:
        passed &= cosine >= tol.min_cosine
    agreement = top1_agreement(ref64, cand64)
    if tol.min_agreement is not None and agreement is not None and ref.shape[0] >= MIN_AGREEMENT_SAMPLES:
        passed &= agreement >= tol.min_agreement
    return OutputDiff(name, max_abs, max_rel, cosine, bool(passed), agreement=agreement)


def top1_agreement(reference: np.ndarray, candidate: np.ndarray) -> float | None:
    """Share of samples whose arg-max class is the reference's; None unless samples x classes."""
    import numpy as np

    if reference.ndim != 2 or reference.shape[1] < 2 or reference.shape[0] == 0:
        return None
    return float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1)))


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over samples (first axis) of the cosine similarity of the flattened outputs.

    Two all-zero samples count as identical; exactly one all-zero sample counts as 0.
    """
    import numpy as np

    if a.size == 0:
        return 1.0
    a2 = np.nan_to_num(a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(1, -1)).astype(np.float64)
    b2 = np.nan_to_num(b.reshape(b.shape[0], -1) if b.ndim > 1 else b.reshape(1, -1)).astype(np.float64)
    norms = np.linalg.norm(a2, axis=1) * np.linalg.norm(b2, axis=1)
    dots = np.sum(a2 * b2, axis=1)
    both_zero = (np.linalg.norm(a2, axis=1) == 0) & (np.linalg.norm(b2, axis=1) == 0)
    cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), np.where(both_zero, 1.0, 0.0))
    return float(np.mean(cos))
