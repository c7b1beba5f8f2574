"""Exporters' graph patterns through ``optimize --quantize auto``: size against the INT8-at-rest limit.

The limit is the file's size less 3/4 of its float tensors of >= 1024 values (wherever they live:
initializers, Constant nodes, subgraphs). Per pattern: size after auto, the limit, the fidelity
check's cosine and auto's latency ratio (measured interleaved against FP32 at batch 1).

    PYTHONPATH=. python benchmarks/exporter_patterns.py [--wide 8]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import mlpack
from mlpack.quant.settings import QuantMode
from tests.exporter_graphs import BUILDERS, int8_limit


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--wide", type=int, default=8, help="channel multiplier (larger weights)")
    args = parser.parse_args()
    print(f"{'pattern':14} {'source':>9} {'auto':>9} {'limit':>9} {'auto/src':>8} {'limit/src':>9} {'cosine':>8} lat")
    with tempfile.TemporaryDirectory() as folder:
        for name, build in BUILDERS.items():
            source = build(Path(folder) / f"{name}.onnx", wide=args.wide)
            result = mlpack.optimize(source, Path(folder) / f"{name}-auto.onnx", quantize=QuantMode.AUTO)
            size = source.stat().st_size
            cosine = min((o.cosine_similarity for o in result.comparison.outputs), default=float("nan"))
            ratio = f"{result.latency_ratio:.2f}x" if result.latency_ratio else "-"
            print(
                f"{name:14} {size:9,} {result.size_after:9,} {int8_limit(source):9,} {result.size_after / size:8.3f} "
                f"{int8_limit(source) / size:9.3f} {cosine:8.5f} {ratio}"
            )


if __name__ == "__main__":
    main()
