"""What bench is asked to measure: one frozen settings object the CLI builds and every caller passes."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.bench.adaptive import Adaptive
from mlpack.bench.stats import PERCENTILE_METHOD
from mlpack.core.choices import ExecutionMode, GraphOptimization
from mlpack.core.validate import max_threads
from mlpack.data.feeds import FeedOptions
from mlpack.errors import BadInputError


@dataclass(frozen=True)
class BenchSettings:
    runs: int = 100  # minimum timed runs per configuration
    duration_s: float = 2.0  # minimum timed seconds per configuration
    warmup: int = 10
    batch_sizes: tuple[int, ...] = (1,)
    threads: tuple[int | None, ...] = (None,)  # None: onnxruntime's default (one per physical core)
    execution_mode: ExecutionMode = ExecutionMode.SEQUENTIAL
    graph_optimization: GraphOptimization = GraphOptimization.ALL
    spinning: bool | None = None  # None: on for one configuration, off when interleaving several
    data: Path | None = None
    seed: int = 0
    feeding: FeedOptions = FeedOptions()  # state pairs (one streaming step is timed) and --set values
    profile: bool = False
    latency_budget_ms: float | None = None
    # Set: stop each configuration when its p50 is precise enough or its time is spent, and
    # ``runs``/``duration_s`` are not used; None: at least ``runs`` runs and ``duration_s`` seconds.
    adaptive: Adaptive | None = None

    def validate(self) -> None:
        if self.adaptive is not None:
            self.adaptive.validate()
        if self.runs < 1:
            raise BadInputError(f"--runs must be at least 1, got {self.runs}.")
        if self.warmup < 0:
            raise BadInputError(f"--warmup cannot be negative, got {self.warmup}.")
        if self.duration_s < 0:
            raise BadInputError(f"--duration cannot be negative, got {self.duration_s}.")
        if not self.batch_sizes or any(b < 1 for b in self.batch_sizes):
            raise BadInputError(f"batch sizes must be positive, got {list(self.batch_sizes)}.")
        if any(t is not None and t < 1 for t in self.threads):
            raise BadInputError(f"thread counts must be positive, got {list(self.threads)}.")
        if any(t is not None and t > max_threads() for t in self.threads):
            raise BadInputError(
                f"thread counts must be at most {max_threads()} on this machine, got {list(self.threads)}."
            )
        if self.latency_budget_ms is not None and self.latency_budget_ms <= 0:
            raise BadInputError(f"--latency-budget must be positive, got {self.latency_budget_ms}.")

    def to_dict(self) -> dict[str, Any]:
        return {
            "runs": self.runs,
            "duration_s": self.duration_s,
            "warmup": self.warmup,
            "batch_sizes": list(self.batch_sizes),
            "threads": list(self.threads),
            "execution_mode": self.execution_mode.value,
            "graph_optimization": self.graph_optimization.value,
            "spinning": self.spinning,
            "data": str(self.data) if self.data else None,
            "seed": self.seed,
            "feeding": self.feeding.to_dict(),
            "profile": self.profile,
            "latency_budget_ms": self.latency_budget_ms,
            "adaptive": self.adaptive.to_dict() if self.adaptive else None,
            "percentile_method": PERCENTILE_METHOD,
            "timer": "time.perf_counter_ns around session.run only",
        }
