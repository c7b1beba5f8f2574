"""How ``check`` (and ``diff``, which checks twice) measures and judges: one frozen settings object
the CLI builds and every caller passes, which checks its own values."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlpack.bench.settings import BenchSettings
from mlpack.core.fidelity import OutputRule
from mlpack.core.validate import check_number
from mlpack.data.feeds import FeedOptions


@dataclass(frozen=True)
class CheckSettings:
    """The options of ``mlpack check`` that are not files.

    Attributes:
        runs: minimum timed runs per measuring process.
        duration_s: minimum timed seconds per measuring process.
        warmup: untimed runs before timing, per process.
        confidence: confidence of the latency intervals, in [0.5, 1): below 0.5 an interval says
            nothing, and at 1 it is infinitely wide.
        max_remeasure: extra rounds of processes measured while a latency verdict is too close to
            call; after that it stays inconclusive (exit 3).
        feeding: state pairs (the data runs as a stream carrying them) and inputs given by value.
        thresholds: what outputs mean (``--threshold NAME=VALUE``), over the budget file's
            ``threshold`` table: decisions against the reference are judged as optimize judges them.

    Raises:
        BadInputError: a value out of its range, named as its option (exit 2).
    """

    runs: int = 100
    duration_s: float = 1.0
    warmup: int = 10
    confidence: float = 0.95
    max_remeasure: int = 2
    feeding: FeedOptions = FeedOptions()
    thresholds: tuple[OutputRule, ...] = ()

    def __post_init__(self) -> None:
        check_number(self.runs, name="--runs", minimum=1)
        check_number(self.duration_s, name="--duration", minimum=0)
        check_number(self.warmup, name="--warmup", minimum=0)
        check_number(self.confidence, name="--confidence", minimum=0.5, maximum=1, exclusive_maximum=True)
        check_number(self.max_remeasure, name="--max-remeasure", minimum=0)

    def bench_settings(self, data: Path | None = None) -> BenchSettings:
        """How each measuring process times the model."""
        return BenchSettings(
            runs=self.runs, duration_s=self.duration_s, warmup=self.warmup, data=data, feeding=self.feeding
        )

    def to_args(self) -> list[str]:
        """The same settings as ``mlpack check`` options, for a check run on a device."""
        return [
            *("--runs", str(self.runs), "--duration", repr(self.duration_s), "--warmup", str(self.warmup)),
            *("--confidence", repr(self.confidence), "--max-remeasure", str(self.max_remeasure)),
            *self.feeding.to_args(),
            *(f"--threshold={_rule_text(rule)}" for rule in self.thresholds),
        ]


def _rule_text(rule: OutputRule) -> str:
    """A rule as ``--threshold`` takes it."""
    head = f"{rule.threshold:g}" if rule.threshold is not None else (rule.kind.value if rule.kind else "values")
    extras = ([f"unsure={rule.unsure:g}"] if rule.unsure is not None else []) + (
        [f"scores={rule.scores}"] if rule.scores else []
    )
    return ",".join([f"{rule.name}={head}", *extras])
