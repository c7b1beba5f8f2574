"""The notes a measurement carries say something: no noise warning for microsecond jitter, and a
warning when --threads asks for more threads than there are CPUs."""

from __future__ import annotations

from pathlib import Path

from mlpack.bench.measure import _measurement_notes, benchmark
from mlpack.bench.settings import BenchSettings
from mlpack.bench.stats import NOISE_FLOOR_MS, summarize
from mlpack.core.sysinfo import available_cpus


def test_microsecond_jitter_is_not_called_noise() -> None:
    tiny = summarize([0.014, 0.013, 0.015, 0.060, 0.014, 0.013])  # a 14 µs model and one 60 µs hiccup
    assert tiny.cv > 0.5 and tiny.std < NOISE_FLOOR_MS
    assert _measurement_notes(tiny, 10.0, None) == []
    noisy = summarize([1.0, 1.1, 0.9, 2.5, 1.0, 1.4])  # a millisecond model spread by a busy machine
    assert any("coefficient of variation" in note for note in _measurement_notes(noisy, 10.0, None))


def test_more_threads_than_cpus_is_said(gemm_mlp: Path) -> None:
    cores = len(available_cpus())
    settings = BenchSettings(runs=3, duration_s=0.0, warmup=1, threads=(1, cores + 2))
    result = benchmark([gemm_mlp], settings=settings)
    over = [m for m in result.measurements if any("more than the" in w for w in m.warnings)]
    assert over and all(f"--threads {cores + 2} is more than the {cores} CPUs" in w for w in over[0].warnings[:1])
