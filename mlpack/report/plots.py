"""Charts of bench results (matplotlib, an optional extra)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.fileio import atomic_path
from mlpack.errors import MissingDependencyError

if TYPE_CHECKING:
    from mlpack.bench.results import BenchResult


def plot_bench(result: BenchResult, destination: Path) -> Path:
    """Latency percentiles per configuration, and the batch-size trade-off when batches were swept."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise MissingDependencyError("--plot needs matplotlib: pip install 'mlpack-edge[plot]'.") from exc

    measurements = result.measurements
    batches = sorted({m.batch_size for m in measurements})
    figure, axes = plt.subplots(
        1, 2 if len(batches) > 1 else 1, figsize=(12 if len(batches) > 1 else 7, 4.5), squeeze=False
    )
    left = axes[0][0]
    labels = [f"{m.name}\nb{m.batch_size} t{m.threads or 'def'}" for m in measurements]
    width = 0.2
    for offset, name in enumerate(("p50", "p90", "p95", "p99")):
        positions = [i + (offset - 1.5) * width for i in range(len(measurements))]
        left.bar(positions, [m.latency_ms.percentile(name) for m in measurements], width, label=name)
    left.set_xticks(range(len(measurements)), labels, fontsize=7)
    left.set_ylabel("latency (ms)")
    left.set_title("Latency percentiles")
    left.legend()
    if len(batches) > 1:
        right = axes[0][1]
        for key in sorted({(m.name, m.threads) for m in measurements}, key=str):
            rows = sorted((m for m in measurements if (m.name, m.threads) == key), key=lambda m: m.batch_size)
            right.plot(
                [m.throughput_sps for m in rows],
                [m.latency_ms.p95 for m in rows],
                marker="o",
                label=f"{key[0]} (threads {key[1] or 'default'})",
            )
            for m in rows:
                right.annotate(f"b{m.batch_size}", (m.throughput_sps, m.latency_ms.p95), fontsize=7)
        budget = result.settings.get("latency_budget_ms")
        if budget:
            right.axhline(budget, color="red", linestyle="--", label=f"budget {budget} ms")
        right.set_xlabel("throughput (samples/s)")
        right.set_ylabel("p95 latency (ms)")
        right.set_title("Batch size: throughput against latency")
        right.legend(fontsize=7)
    figure.tight_layout()
    with atomic_path(Path(destination)) as tmp:
        figure.savefig(tmp, format="png", dpi=120)
    plt.close(figure)
    return Path(destination)
