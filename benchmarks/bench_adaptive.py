"""The adaptive bench on a BERT-base-size encoder (benchmarks/bert_model.py): batch 1, 8 and 32.

With a fixed 100 runs per configuration this sweep took 602 s on a 2-core machine. The adaptive
rule stops each configuration when its p50's 95% interval is within +-2%, or when its time budget
is spent (a minimum of 3 runs first); the precision each figure reached is printed beside it.

    .venv/bin/python benchmarks/bench_adaptive.py [--max-time 5] [--precision 0.02]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))


def main() -> None:
    from bert_model import bert_model, token_data

    from mlpack.bench.adaptive import Adaptive
    from mlpack.bench.measure import benchmark
    from mlpack.bench.settings import BenchSettings

    parser = argparse.ArgumentParser()
    parser.add_argument("--max-time", type=float, default=5.0, help="timed seconds per configuration at most")
    parser.add_argument("--precision", type=float, default=0.02)
    args = parser.parse_args()
    model = bert_model()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "tokens.npz"
        np.savez(data, **token_data(64))
        settings = BenchSettings(
            batch_sizes=(1, 8, 32),
            data=data,
            adaptive=Adaptive(precision=args.precision, max_seconds=args.max_time),
        )
        started = time.perf_counter()
        result = benchmark([model], settings=settings)
        wall = time.perf_counter() - started
    print(
        f"{model.name} ({model.stat().st_size / 1e6:.0f} MB), {result.system['cpu_model']}, "
        f"{result.system['logical_cores']} cores; precision target ±{args.precision:.0%}, {args.max_time:g} s per batch"
    )
    print(f"{'batch':>5} {'runs':>5} {'p50 ms':>10} {'precision':>14} {'stopped by':>12} {'first ms':>10}")
    for m in result.measurements:
        assert m.precision is not None
        print(
            f"{m.batch_size:>5} {m.latency_ms.count:>5} {m.latency_ms.p50:>10.1f} {m.precision.describe():>14} "
            f"{m.precision.stopped_by:>12} {m.first_inference_ms:>10.1f}"
        )
    print(f"whole sweep: {wall:.1f} s wall (target <= 60 s; 602 s with a fixed 100 runs each)")


if __name__ == "__main__":
    main()
