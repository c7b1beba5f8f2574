"""The timers speed decisions go through: at every batch size the model will run at, on every device.

:class:`DecisionTimer` is what ``optimize`` hands its passes: it asks its timer (this host, a
device, or a :class:`FleetTimer` of devices) at each batch size and answers with the slowest
ratio, so INT8 compute stays only where it is not slower at any batch size (a GRU tagger whose
INT8 compute gained at batch 1 ran 1.17x FP32 at batch 8), and records each question and where it
was measured for the report. :class:`FleetTimer` answers with the slowest device's ratio.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlpack.core.sysinfo import MeasuredOn
from mlpack.errors import BadInputError
from mlpack.quant.samples import batch_of
from mlpack.quant.timing import Timer


def ratios_each(timer: Timer, models: list[Path], feed_sets: Sequence[dict[str, Any]]) -> list[list[float]]:
    """The timer's ratios for each feed set: in one go where it can (a device: one SSH job)."""
    each = getattr(timer, "p50_ratios_each", None)
    if each is not None:
        return list(each(models, feed_sets))
    return [timer.p50_ratios(models, feeds) for feeds in feed_sets]


def devices_of(timer: Timer) -> tuple[MeasuredOn, ...]:
    """Every machine a timer measures on (a fleet's each)."""
    return tuple(getattr(timer, "devices", None) or (timer.measured_on,))


class FleetTimer:
    """Several devices decide together: each model's ratio is the slowest device's.

    Args:
        timers: one per device, asked in turn.
    """

    def __init__(self, timers: Sequence[Timer]) -> None:
        if not timers:
            raise ValueError("a fleet needs at least one timer")
        self.timers = tuple(timers)
        self.last: dict[str, list[list[float]]] = {}  # device -> its ratios per feed set, of the last question

    @property
    def devices(self) -> tuple[MeasuredOn, ...]:
        return tuple(t.measured_on for t in self.timers)

    @property
    def measured_on(self) -> MeasuredOn:
        """The fleet as one machine: the instruction sets every device has, everything else listed."""
        each = self.devices
        shared = [flag for flag in each[0].isa if all(flag in d.isa for d in each)]
        return MeasuredOn(
            " + ".join(d.device for d in each),
            " / ".join(dict.fromkeys(d.cpu for d in each)),
            tuple(shared),
            " / ".join(dict.fromkeys(d.onnxruntime for d in each)),
        )

    def p50_ratios(self, models: list[Path], feeds: dict[str, Any]) -> list[float]:
        return self.p50_ratios_each(models, [feeds])[0]

    def p50_ratios_each(self, models: list[Path], feed_sets: Sequence[dict[str, Any]]) -> list[list[float]]:
        self.last = {t.measured_on.device: ratios_each(t, models, feed_sets) for t in self.timers}
        per_device = list(self.last.values())
        return [[max(d[s][m] for d in per_device) for m in range(len(models))] for s in range(len(feed_sets))]


class DecisionTimer:
    """The timer a run's passes use: every batch size asked, the slowest answer given, all recorded.

    Args:
        timer: where to measure (this host, a device, a fleet).
        batch_sizes: the batch sizes the model will run at; each ratio is the largest over them.
            A model that takes no batch to resize is timed on its inputs as they are.
    """

    def __init__(self, timer: Timer, batch_sizes: Sequence[int] = (1,)) -> None:
        if not batch_sizes or any(b < 1 for b in batch_sizes):
            raise BadInputError(f"--batch-sizes must be positive whole numbers, got {list(batch_sizes)}.")
        self.timer = timer
        self.batch_sizes = tuple(dict.fromkeys(batch_sizes))
        self.timings: list[dict[str, Any]] = []  # one per question: the models, each batch's and device's ratios

    @property
    def measured_on(self) -> MeasuredOn:
        return self.timer.measured_on

    def p50_ratios(self, models: list[Path], feeds: dict[str, Any]) -> list[float]:
        runs = self.p50_ratio_runs(models, feeds)
        return [max(ratios[m] for ratios in runs) for m in range(len(models))]

    def p50_ratio_runs(self, models: list[Path], feeds: dict[str, Any]) -> list[list[float]]:
        """Each measurement's ratios apart: one list per batch size (per device, on a fleet), each
        against ``models[0]`` as measured there. What compares two models other than the first (a
        group's INT8 cut-out with its FP32 one) needs them: the worst ratio of each model, taken
        over batch sizes apart, is not the worst ratio between two of them."""
        sizes, sets = self._feed_sets(models[0], feeds)
        per_set = ratios_each(self.timer, models, sets)
        worst = [max(ratios[m] for ratios in per_set) for m in range(len(models))]
        record: dict[str, Any] = {"models": [m.name for m in models], "ratios": worst}
        record["batch_sizes"] = {str(b): ratios for b, ratios in zip(sizes, per_set, strict=True)}
        by_device: dict[str, list[list[float]]] = getattr(self.timer, "last", None) or {}
        if by_device:
            record["devices"] = {d: dict(zip(sizes, rs, strict=True)) for d, rs in by_device.items()}
        self.timings.append(record)
        return [ratios for each in by_device.values() for ratios in each] or per_set

    def _feed_sets(self, model: Path, feeds: dict[str, Any]) -> tuple[list[str], list[dict[str, Any]]]:
        """The inputs at each batch size; the inputs as given where the model takes no batch."""
        if self.batch_sizes == (1,):
            return ["1"], [feeds]
        sets = [(str(b), batch_of(model, feeds, b)) for b in self.batch_sizes]
        usable = [(b, s) for b, s in sets if s is not None]
        if not usable:
            return ["as given"], [feeds]
        return [b for b, _ in usable], [s for _, s in usable]

    def record(self) -> dict[str, Any] | None:
        """Where the run's speed decisions were measured, and each question's answers; None if none was asked."""
        if not self.timings:
            return None
        return {
            "measured_on": [d.as_dict() for d in devices_of(self.timer)],
            "batch_sizes": list(self.batch_sizes),
            "timings": self.timings,
        }
