"""Comparing two models' outputs on the same inputs: the fail-closed check after every transform.

Each output is judged for what it means (``meaning``): numeric closeness (max error, cosine,
relative error, SNR) always, and the decisions it carries (``decisions``, ``boxes``) where it
carries any, with the confidence the data allows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from mlpack.core.fidelity.boxes import judge_boxes, judge_head
from mlpack.core.fidelity.closeness import closeness
from mlpack.core.fidelity.decisions import Decisions, judge_decisions
from mlpack.core.fidelity.meaning import DEFAULT_THRESHOLD, Meaning, interpret
from mlpack.core.fidelity.tolerance import OutputKind, Tolerance

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class OutputDiff:
    name: str
    max_abs_error: float
    max_rel_error: float
    cosine_similarity: float
    passed: bool
    problem: str | None = None
    agreement: float | None = None  # decisions kept, among those the reference is sure of
    meaning: Meaning | None = None
    decisions: Decisions | None = None
    snr_db: float | None = None
    relative_error: float | None = None  # ||candidate - reference|| / ||reference||
    note: str | None = None  # what the check could not show, where that does not fail it
    # The checks this output failed, by the tolerance field that states each (atol, min_cosine,
    # min_agreement) or "shape"/"nan" (NaN or Inf) where no tolerance could pass it: refusals name their options.
    failed_checks: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["meaning"] = self.meaning.to_dict() if self.meaning else None
        out["decisions"] = self.decisions.to_dict() if self.decisions else None
        return out


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

    @property
    def decisions_lost(self) -> int:
        return sum(o.decisions.lost for o in self.outputs if o.decisions)

    @property
    def worst_decisions(self) -> Decisions | None:
        """The output whose decisions hold least (lowest lower bound), where any output decides."""
        judged = [o.decisions for o in self.outputs if o.decisions is not None]
        return min(judged, key=lambda d: min(d.agreement_low, d.f1_low if d.f1_low is not None else 1.0), default=None)

    @property
    def unshowable(self) -> tuple[OutputDiff, ...]:
        """Failed outputs whose decisions these inputs could not show at the bar even if every one
        were kept: only more data (or a lower bar) helps, not a finer model."""
        bar = self.tolerance.min_agreement
        if bar is None:
            return ()
        return tuple(o for o in self.outputs if not o.passed and o.decisions and not o.decisions.can_show(bar))

    def failure_text(self) -> str:
        bad = [o for o in self.outputs if not o.passed]
        return "; ".join(
            o.problem
            or f"output '{o.name}': max abs error {o.max_abs_error:.3g}, cosine {o.cosine_similarity:.6f}"
            + (f", decisions agree {o.agreement:.4f}" if o.agreement is not None else "")
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
    generated: bool = False,
) -> Comparison:
    """Every output of ``candidate`` against ``reference``'s, judged as ``tolerance`` says.

    Args:
        reference: the reference model's outputs.
        candidate: the candidate's outputs, in the same order.
        names: the outputs' names (for meanings, rules and reports).
        tolerance: the bar, with any per-output rules.
        label: what the inputs were, for the report.
        generated: the inputs were generated: a decision bar the data cannot show is noted, and
            fails only on a clear loss.
    """
    import numpy as np

    undefined = _undefined_samples(reference, candidate)
    note = None
    if undefined is not None:
        reference, candidate, note = _judgeable(reference, candidate, undefined)
    pairs = dict(zip(names, zip(reference, candidate, strict=True), strict=True))
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # Inf and NaN are judged, not warned of
        diffs = tuple(
            _compare_one(name, ref, cand, tolerance, pairs, generated)
            for name, ref, cand in zip(names, reference, candidate, strict=True)
        )
    if note is not None:
        diffs = tuple(replace(d, note="; ".join(filter(None, (note, d.note)))) for d in diffs)
    return Comparison(label=label, outputs=diffs, tolerance=tolerance)


def _undefined_samples(reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray]) -> np.ndarray | None:
    """The samples (first axis, shared by every output) where a reference output holds NaN and the
    candidate's a number, if any.

    The reference decides nothing there (NaN in, NaN out is the usual cause), so nothing can be
    kept or lost: judging the candidate's numbers as changes would refuse every transform for a
    fault of the data. (A NaN the candidate repeats is no difference and stays in.)
    """
    import numpy as np

    refs, cands = [np.asarray(r) for r in reference], [np.asarray(c) for c in candidate]
    lengths = {a.shape[0] if a.ndim else None for a in refs + cands}
    if len(lengths) != 1 or None in lengths:
        return None
    (samples,) = lengths
    rows = [
        (np.isnan(ref) & ~_nan(cand)).reshape(samples, -1).any(axis=1)
        for ref, cand in zip(refs, cands, strict=True)
        if ref.dtype.kind == "f" and ref.shape == cand.shape and ref.size
    ]
    undefined = np.logical_or.reduce(rows) if rows else None
    return undefined if undefined is not None and undefined.any() else None


def _judgeable(
    reference: Sequence[np.ndarray], candidate: Sequence[np.ndarray], undefined: np.ndarray
) -> tuple[list[np.ndarray], list[np.ndarray], str]:
    """Both sides without the samples the reference leaves undefined, and the note that says so.
    Where that is every sample, all are kept: nothing could be judged, and the NaN check fails."""
    import numpy as np

    left_out, samples = int(undefined.sum()), int(undefined.size)
    if left_out == samples:
        return list(reference), list(candidate), f"the reference gives NaN on all {samples} samples: nothing judged"
    keep = ~undefined
    note = f"{left_out} of {samples} samples not judged: the reference gives NaN there (NaN or Inf in their inputs?)"
    return [np.asarray(r)[keep] for r in reference], [np.asarray(c)[keep] for c in candidate], note


def _compare_one(
    name: str,
    reference: np.ndarray,
    candidate: np.ndarray,
    tol: Tolerance,
    pairs: dict[str, tuple[Any, Any]],
    generated: bool,
) -> OutputDiff:
    import numpy as np

    ref = np.asarray(reference)
    cand = np.asarray(candidate)
    if ref.shape != cand.shape:
        problem = f"output '{name}' has shape {cand.shape}, the reference has {ref.shape}"
        return OutputDiff(name, float("inf"), float("inf"), 0.0, False, problem, failed_checks=("shape",))
    ref_nan, cand_nan = _nan(ref), _nan(cand)
    if np.any(ref_nan != cand_nan):
        problem = f"output '{name}' has NaN where the reference has none (or the reverse)"
        return OutputDiff(name, float("nan"), float("nan"), 0.0, False, problem, failed_checks=("nan",))
    if ref.size and ref_nan.all():  # NaN in both everywhere: cosine 1 and error 0 of nothing compared
        problem = (
            f"output '{name}': the reference gives NaN on all its elements (NaN or Inf in the inputs?): nothing judged"
        )
        return OutputDiff(name, float("nan"), float("nan"), 0.0, False, problem, failed_checks=("nan",))
    del ref_nan, cand_nan
    if cand.dtype.kind == "f" and np.any(np.isinf(cand) & np.isfinite(ref)):  # a blown-up value no bar passes
        problem = f"output '{name}' has Inf where the reference has a finite value"
        return OutputDiff(name, float("inf"), float("inf"), 0.0, False, problem, failed_checks=("nan",))
    close = closeness(ref, cand, tol.atol, tol.rtol)
    cosine = close.cosine
    failed: list[str] = []
    if not close.within_atol:
        failed.append("atol")
    if tol.min_cosine is not None and not cosine >= tol.min_cosine:
        failed.append("min_cosine")
    meaning = interpret(name, ref, tol.rule(name))
    decisions = _decisions(meaning, ref, cand, tol, pairs)
    said: str | None = None
    held = True
    if decisions is not None and tol.min_agreement is not None:
        held, said = decisions.judge(tol.min_agreement, generated=generated)
        if not held:
            failed.append("min_agreement")
    passed = not failed
    return OutputDiff(
        name,
        close.max_abs_error,
        close.max_rel_error,
        cosine,
        bool(passed),
        None if held or said is None else f"output '{name}': {said}",
        agreement=decisions.agreement if decisions is not None else None,
        meaning=meaning,
        decisions=decisions,
        snr_db=close.snr_db,
        relative_error=close.relative_error,
        note=said if held else None,
        failed_checks=tuple(failed),
    )


def _nan(array: np.ndarray) -> np.ndarray:
    """Where ``array`` is NaN (nowhere for integers and booleans), without a float64 copy."""
    import numpy as np

    return np.isnan(array) if array.dtype.kind in "fc" else np.zeros(array.shape, dtype=bool)


def _decisions(
    meaning: Meaning, ref: np.ndarray, cand: np.ndarray, tol: Tolerance, pairs: dict[str, tuple[Any, Any]]
) -> Decisions | None:
    if meaning.kind is not OutputKind.BOXES:
        return judge_decisions(meaning, ref, cand, tol.confidence)
    if meaning.scale:  # a detection head: boxes and scores in one output
        return judge_head(meaning, ref, cand, tol.confidence)
    scores, threshold = _box_scores(meaning, ref, tol, pairs)
    return judge_boxes(meaning, (ref, cand), scores, threshold, tol.confidence)


def _box_scores(
    meaning: Meaning, boxes: np.ndarray, tol: Tolerance, pairs: dict[str, tuple[Any, Any]]
) -> tuple[tuple[Any, Any] | None, float]:
    """The (reference, candidate) scores of the boxes, and the threshold a box counts at."""
    import numpy as np

    named = meaning.scores
    if named is None:  # the output shaped like the boxes, one score (or one per class) per box
        leading = boxes.shape[:-1]
        named = next(
            (n for n, (r, _) in pairs.items() if n != meaning.name and np.shape(r)[: len(leading)] == leading), None
        )
    if named is None or named not in pairs:
        return None, DEFAULT_THRESHOLD
    rule = tol.rule(named)
    threshold = rule.threshold if rule is not None and rule.threshold is not None else DEFAULT_THRESHOLD
    return pairs[named], threshold


def top1_agreement(reference: np.ndarray, candidate: np.ndarray) -> float | None:
    """Share of samples whose arg-max class is the reference's; None unless samples x classes."""
    import numpy as np

    if reference.ndim != 2 or reference.shape[1] < 2 or reference.shape[0] == 0:
        return None
    return float(np.mean(reference.argmax(axis=1) == candidate.argmax(axis=1)))
