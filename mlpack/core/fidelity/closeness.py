"""How close two models' outputs are in value: max and relative error, cosine, SNR.

Computed a block of samples at a time: a detector's raw head holds 2.8 MB a sample (84 x 8400
floats), and float64 copies of the whole of two such outputs, with their differences, took six
times the outputs' own memory (measured on 32 images; about 18 GB on 512).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

_BLOCK_ELEMENTS = 1 << 20  # elements of one output compared at once (8 MB per float64 copy)
_SNR_CAP_DB = 120.0


@dataclass(frozen=True)
class Closeness:
    max_abs_error: float
    max_rel_error: float
    cosine: float  # mean over samples (first axis); see ``mean_cosine``
    within_atol: bool  # every element within atol + rtol * |reference| (True where no atol is set)
    snr_db: float | None
    relative_error: float | None  # ||candidate - reference|| / ||reference||


def closeness(reference: np.ndarray, candidate: np.ndarray, atol: float | None, rtol: float) -> Closeness:
    """Both outputs (same shape; NaN in the same places, which are left out) compared in value."""
    samples = reference.shape[0] if reference.ndim else 1
    per_sample = reference.size // max(samples, 1)
    if reference.ndim == 0 or per_sample <= 1:  # one value a sample: the cosine is over all of them at once
        return _Sums.of(reference, candidate, atol, rtol).closeness(mean_cosine(reference, candidate))
    step = max(1, _BLOCK_ELEMENTS // per_sample)
    total, cosines = _Sums(), 0.0
    for start in range(0, samples, step):
        ref, cand = reference[start : start + step], candidate[start : start + step]
        total = total.plus(_Sums.of(ref, cand, atol, rtol))
        cosines += mean_cosine(ref, cand) * len(ref)
    return total.closeness(cosines / samples)


@dataclass(frozen=True)
class _Sums:
    """What the blocks of an output add up to, over the elements the reference gives (not NaN)."""

    compared: int = 0
    max_abs: float = 0.0
    max_rel: float = 0.0
    within: bool = True
    noise: float = 0.0  # sum of squared errors
    signal: float = 0.0  # sum of the reference's squares
    energy: float = 0.0  # sum of the candidate's squares

    @classmethod
    def of(cls, reference: np.ndarray, candidate: np.ndarray, atol: float | None, rtol: float) -> _Sums:
        import numpy as np

        ref = reference.astype(np.float64)
        finite = ~np.isnan(ref)
        ref = ref[finite]
        if not ref.size:
            return cls()
        cand = candidate.astype(np.float64)[finite]
        error = np.abs(ref - cand)
        return cls(
            compared=int(ref.size),
            max_abs=float(error.max()),
            max_rel=float((error / (np.abs(ref) + 1e-12)).max()),
            within=atol is None or bool(np.all(error <= atol + rtol * np.abs(ref))),
            noise=float(np.sum(error**2)),
            signal=float(np.sum(ref**2)),
            energy=float(np.sum(cand**2)),
        )

    def plus(self, other: _Sums) -> _Sums:
        return _Sums(
            self.compared + other.compared,
            max(self.max_abs, other.max_abs),
            max(self.max_rel, other.max_rel),
            self.within and other.within,
            self.noise + other.noise,
            self.signal + other.signal,
            self.energy + other.energy,
        )

    def closeness(self, cosine: float) -> Closeness:
        import math

        norm = math.sqrt(self.signal)
        relative = math.sqrt(self.noise) / norm if norm > 0 else math.sqrt(self.energy)
        return Closeness(
            max_abs_error=self.max_abs,
            max_rel_error=self.max_rel,
            cosine=cosine,
            within_atol=self.within,
            snr_db=_snr(self.signal, self.noise) if self.compared else None,
            relative_error=relative if self.compared else None,
        )


def _snr(signal: float, noise: float) -> float:
    import numpy as np

    if noise == 0:
        return _SNR_CAP_DB
    with np.errstate(divide="ignore"):  # an infinite error: -inf dB
        return float(min(10 * np.log10(max(signal, 1e-30) / noise), _SNR_CAP_DB))


def mean_cosine(a: np.ndarray, b: np.ndarray) -> float:
    """Mean over samples (first axis) of the cosine similarity of the flattened outputs.

    Two all-zero samples count as identical; exactly one all-zero sample counts as 0. Where each
    sample is one value (a regressor's output), a per-sample cosine is only its sign, and one
    value near zero crossing it costs a whole sample: the cosine is then taken over all samples
    as one vector.
    """
    import numpy as np

    if a.size == 0:
        return 1.0
    if a.ndim >= 1 and a.size == a.shape[0] and a.size > 1:
        a, b = a.reshape(1, -1), b.reshape(1, -1)
    a2 = np.nan_to_num(a.reshape(a.shape[0], -1) if a.ndim > 1 else a.reshape(1, -1)).astype(np.float64)
    b2 = np.nan_to_num(b.reshape(b.shape[0], -1) if b.ndim > 1 else b.reshape(1, -1)).astype(np.float64)
    norms = np.linalg.norm(a2, axis=1) * np.linalg.norm(b2, axis=1)
    dots = np.sum(a2 * b2, axis=1)
    both_zero = (np.linalg.norm(a2, axis=1) == 0) & (np.linalg.norm(b2, axis=1) == 0)
    cos = np.where(norms > 0, dots / np.where(norms > 0, norms, 1.0), np.where(both_zero, 1.0, 0.0))
    return float(np.mean(cos))
