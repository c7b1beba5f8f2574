"""A tune candidate as it is built and measured, the Pareto front among the candidates that meet
every budget, and the choice made from that front."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpack.budget.verdicts import Verdict
from mlpack.pipeline.objective import Objective
from mlpack.pipeline.tune_candidates import CandidateSpec


@dataclass
class Candidate:
    spec: CandidateSpec
    status: str = "pending"  # built, failed, skipped
    reason: str | None = None
    path: Path | None = None
    size_bytes: int | None = None
    build_seconds: float = 0.0
    latency_ms: dict[str, float] = field(default_factory=dict)
    latency_ratio: float | None = None  # p50 against FP32, measured interleaved
    metrics: dict[str, float] = field(default_factory=dict)
    slice_gap: dict[str, float] = field(default_factory=dict)
    verdicts: list[Verdict] = field(default_factory=list)
    slower_than_fp32: bool = False
    pareto: bool = False
    kept_in_float: int = 0

    @property
    def meets_budgets(self) -> bool:
        return self.status == "built" and not any(v.blocking for v in self.verdicts)

    def broken(self) -> list[str]:
        return [v.budget for v in self.verdicts if v.blocking]

    def to_dict(self, fp32_size: int | None) -> dict[str, Any]:
        return {
            "name": self.spec.name,
            "quantize": self.spec.quantize.value,
            "status": self.status,
            "reason": self.reason,
            "size_bytes": self.size_bytes,
            "size_ratio": self.size_bytes / fp32_size if self.size_bytes and fp32_size else None,
            "latency_ms": self.latency_ms,
            "latency_ratio": self.latency_ratio,
            "metrics": self.metrics,
            "slice_gap": self.slice_gap,
            "verdicts": [v.to_dict() for v in self.verdicts],
            "meets_budgets": self.meets_budgets,
            "broken_budgets": self.broken(),
            "slower_than_fp32": self.slower_than_fp32,
            "pareto": self.pareto,
            "build_seconds": self.build_seconds,
            "kept_in_float": self.kept_in_float,
        }



def score_of(c: Candidate) -> float:
    return c.metrics.get("accuracy", c.metrics.get("agreement", c.metrics.get("mean_cosine", 0.0)))


def objectives(c: Candidate) -> tuple[float, float, float]:
    """What the Pareto front trades off, each lower-is-better: size, p50 latency, minus accuracy."""
    return (float(c.size_bytes or 0), c.latency_ms.get("p50", float("inf")), -score_of(c))


def mark_front(built: list[Candidate]) -> None:
    """The front the choice is made from: among the candidates that meet every budget, one is on it
    when no other is at least as good on all three and better on one."""
    fitting = [c for c in built if c.meets_budgets]
    for c in built:
        mine = objectives(c)
        c.pareto = c.meets_budgets and not any(
            all(t <= m for t, m in zip(objectives(o), mine, strict=True)) and objectives(o) != mine
            for o in fitting
            if o is not c
        )


def choose(built: list[Candidate], objective: Objective) -> Candidate | None:
    """The best candidate on the front by the objective's own figure, then the front's others in order:
    p50 latency (the front's latency, the statistic interleaved runs tell apart), or file size.
    The lexicographic minimum over the front's three figures is never dominated, so it lies on the front."""
    eligible = [c for c in built if c.meets_budgets]
    if objective is Objective.LATENCY:
        # A model slower than FP32 (quantised or FP16) is never the fast choice, whatever else it saves.
        eligible = [c for c in eligible if not c.slower_than_fp32]
        return min(eligible, key=lambda c: (objectives(c)[1], objectives(c)[0], objectives(c)[2]), default=None)
    return min(eligible, key=objectives, default=None)
