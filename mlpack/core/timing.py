"""A quick in-process latency comparison of models, interleaved, for choices made while optimising.

This is not ``mlpack bench`` (fresh worker processes, memory, statistics for reports): it only
answers "is B faster than A on this CPU?" while a model is being built. Both sessions live in one
process and are timed in alternating blocks, so drift of the machine hits them alike; the answer
is the ratio of medians.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

BLOCK_RUNS = 5


def p50_ratios(models: list[Path], feeds: dict[str, Any], *, seconds: float = 1.5, min_runs: int = 30) -> list[float]:
    """Median latency of each model divided by the first model's, timed interleaved in one process."""
    import statistics

    from mlpack.core.onnxio import create_session

    sessions = [create_session(m) for m in models]
    for session in sessions:  # warm-up: first runs allocate and tune kernels
        for _ in range(3):
            session.run(None, feeds)
    samples: list[list[float]] = [[] for _ in sessions]
    started = time.perf_counter()
    while time.perf_counter() - started < seconds or min(len(s) for s in samples) < min_runs:
        for session, taken in zip(sessions, samples, strict=True):
            for _ in range(BLOCK_RUNS):
                began = time.perf_counter_ns()
                session.run(None, feeds)
                taken.append((time.perf_counter_ns() - began) / 1e6)
        if time.perf_counter() - started > 20 * seconds:  # a very slow model: enough is enough
            break
    medians = [statistics.median(s) for s in samples]
    return [m / medians[0] for m in medians]
