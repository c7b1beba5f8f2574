"""How ``tune`` searches: its objective and time box, how candidates are measured and calibrated.

A leaf, so that the CLI can offer the objectives without importing the search.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlpack.core.fidelity import OutputRule
from mlpack.core.validate import check_number
from mlpack.data.feeds import FeedOptions
from mlpack.errors import BadInputError
from mlpack.pipeline.objective import Objective

MIN_CALIBRATION_MEMORY = 1 << 20


@dataclass(frozen=True)
class TuneSettings:
    """The options of ``mlpack tune`` that are not files.

    Attributes:
        objective: what "best" means among the candidates that fit: lowest p50 latency (the Pareto front's
            latency figure) or smallest file, chosen from the front of the candidates within budgets.
        max_time_s: time box for the whole search; building stops at a share of it and what was
            built is still measured and judged.
        runs: minimum timed runs per candidate.
        duration_s: minimum timed seconds per candidate.
        calibration_batch: static INT8: samples per calibration batch, at most.
        calibration_memory: static INT8: bytes of activations calibration may hold at once; the
            batch is capped to fit it (see ``mlpack.quant.ranges``).
        feeding: state pairs (candidates are verified and scored on the data as a stream) and
            inputs given by value; bench times one streaming step.
        thresholds: what outputs mean (``--threshold NAME=VALUE``), over the budget file's
            ``threshold`` table: candidates are built and scored judging decisions so.

    Raises:
        BadInputError: a value out of its range, named as its option (exit 2).
    """

    objective: Objective = Objective.LATENCY
    max_time_s: float = 300.0
    runs: int = 50
    duration_s: float = 0.5
    calibration_batch: int = 32
    calibration_memory: int = 1 << 30
    feeding: FeedOptions = FeedOptions()
    thresholds: tuple[OutputRule, ...] = ()

    def __post_init__(self) -> None:
        check_number(self.max_time_s, name="--max-time", minimum=0, exclusive_minimum=True)
        check_number(self.runs, name="--runs", minimum=1)
        check_number(self.duration_s, name="--duration", minimum=0)
        check_number(self.calibration_batch, name="--calibration-batch", minimum=1)
        if self.calibration_memory < MIN_CALIBRATION_MEMORY:
            raise BadInputError(f"--calibration-memory must be at least 1MB, got {self.calibration_memory} bytes.")
