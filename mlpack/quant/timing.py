"""A quick in-process latency comparison of models, for choices made while optimising.

This is not ``mlpack bench`` (fresh worker processes, memory, statistics for reports): it only
answers "is B slower than A on this CPU?" while a model is being built. All sessions live in one
process, with thread spinning off (an idle session's spinning workers would steal cores from the
one being timed), and are timed in alternating rounds; each round gives each model's median and
its ratio to the first model's, and the answer is the median of those per-round ratios, so drift
of a shared machine hits both sides of every ratio alike.
"""

from __future__ import annotations

import statistics
import time
from collections import Counter
from pathlib import Path
from typing import Any, Protocol

from mlpack.core.onnxio import create_session
from mlpack.core.sysinfo import MeasuredOn, measured_here

ROUND_RUNS = 7


class Timer(Protocol):
    """Answers "how fast is each model against the first?" somewhere: this host or a device.

    Every timing that drives a decision (auto's INT8-vs-FP32 choices, its latency guard, tune's
    candidates) goes through one of these, so the place it was measured is a setting, not a given.
    """

    @property
    def measured_on(self) -> MeasuredOn: ...

    def p50_ratios(self, models: list[Path], feeds: dict[str, Any]) -> list[float]: ...


class LocalTimer:
    """Times on the machine running mlpack, in this process (see ``p50_ratios``)."""

    @property
    def measured_on(self) -> MeasuredOn:
        return measured_here()

    def p50_ratios(self, models: list[Path], feeds: dict[str, Any]) -> list[float]:
        return p50_ratios(models, feeds)


def p50_ratios(models: list[Path], feeds: dict[str, Any], *, seconds: float = 1.5, min_rounds: int = 9) -> list[float]:
    """Each model's median latency over the first model's, timed interleaved in one process."""
    sessions = [create_session(m, allow_spinning=False) for m in models]
    for session in sessions:  # warm-up: first runs allocate and tune kernels
        for _ in range(3):
            session.run(None, feeds)
    ratios: list[list[float]] = [[] for _ in sessions]
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or len(ratios[0]) < min_rounds:
        medians = [_median_of_runs(session, feeds) for session in sessions]
        for taken, median in zip(ratios, medians, strict=True):
            taken.append(median / medians[0])
        if time.perf_counter() - started > 20 * seconds:  # a very slow model: enough is enough
            break
    return [statistics.median(r) for r in ratios]


def _median_of_runs(session: Any, feeds: dict[str, Any]) -> float:
    times = []
    for _ in range(ROUND_RUNS):
        began = time.perf_counter_ns()
        session.run(None, feeds)
        times.append(time.perf_counter_ns() - began)
    return statistics.median(times)


def folded_ops(model: Path, workdir: Path) -> Counter[str]:
    """The op types of the graph a default session really runs, after its load-time folding."""
    import onnx
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    target = workdir / f"{model.stem}.folded.onnx"
    options.optimized_model_filepath = str(target)
    ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    return Counter(node.op_type for node in onnx.load(str(target), load_external_data=False).graph.node)
