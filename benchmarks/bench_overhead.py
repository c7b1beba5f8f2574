"""What mlpack's harness adds to the measured latency, against a plain onnxruntime loop.

The same model, inputs and thread count are timed by a plain `session.run` loop written here
and by `mlpack bench`. Both run in a fresh process each round (the same model's p50 moves by
25-30% from one process to the next on a shared VM, so a loop in this long-lived process would
not be comparable), in alternating order (ABBA) so that drift hits both alike. Prints the
median p50 of each over the rounds and their ratio. Target: ratio <= 1.03.

    .venv/bin/python benchmarks/bench_overhead.py [--rounds 16] [--runs 1000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

from mlpack.bench.measure import benchmark
from mlpack.bench.settings import BenchSettings
from mlpack.core.onnxio import load_model
from mlpack.core.signature import signature_of
from mlpack.data.generate import generate_inputs


def build_model(path: Path, width: int = 512, layers: int = 4) -> Path:
    """An MLP big enough (about a millisecond) for percent-level overheads to show."""
    rng = np.random.default_rng(0)
    nodes, inits, current = [], [], "x"
    for i in range(layers):
        inits.append(numpy_helper.from_array((rng.standard_normal((width, width)) * 0.05).astype(np.float32), f"w{i}"))
        inits.append(numpy_helper.from_array(np.zeros(width, np.float32), f"b{i}"))
        nodes.append(helper.make_node("Gemm", [current, f"w{i}", f"b{i}"], [f"h{i}"]))
        nodes.append(helper.make_node("Relu", [f"h{i}"], [f"r{i}"]))
        current = f"r{i}"
    graph = helper.make_graph(
        nodes,
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info(current, TensorProto.FLOAT, ["batch", width])],
        inits,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def plain_loop(path: Path, threads: int, batch: int, runs: int, warmup: int) -> float:
    feeds = generate_inputs(signature_of(load_model(path)).inputs, batch_size=batch, seed=0)
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    for _ in range(warmup):
        session.run(None, feeds)
    samples = []
    for _ in range(runs):
        started = time.perf_counter_ns()
        session.run(None, feeds)
        samples.append((time.perf_counter_ns() - started) / 1e6)
    return float(np.percentile(samples, 50))


def plain_in_fresh_process(model: Path, threads: int, batch: int, runs: int) -> float:
    done = subprocess.run(
        [sys.executable, __file__, "--plain", str(model), str(threads), str(batch), str(runs)],
        capture_output=True,
        text=True,
        check=True,
    )
    return float(done.stdout)


def mlpack_bench(model: Path, threads: int, batch: int, runs: int) -> float:
    settings = BenchSettings(runs=runs, duration_s=0.0, warmup=20, threads=(threads,), batch_sizes=(batch,), seed=0)
    return benchmark([model], settings=settings).measurements[0].latency_ms.p50


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--plain":  # the plain loop's own process
        model, threads, batch, runs = sys.argv[2], int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
        print(plain_loop(Path(model), threads, batch, runs, warmup=20))
        return
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=16)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "mlp.onnx")
        print(f"{'threads':>7} {'plain p50 ms':>13} {'mlpack p50 ms':>14} {'ratio':>7}")
        for threads in (1, 2):
            plain, harness = [], []
            for round_index in range(args.rounds):
                order = (0, 1) if round_index % 4 in (0, 3) else (1, 0)  # ABBA
                for which in order:
                    if which == 0:
                        plain.append(plain_in_fresh_process(model, threads, args.batch, args.runs))
                    else:
                        harness.append(mlpack_bench(model, threads, args.batch, args.runs))
            p, h = statistics.median(plain), statistics.median(harness)
            print(f"{threads:>7} {p:13.4f} {h:14.4f} {h / p:7.3f}")
        print("target: ratio <= 1.03 (mlpack's harness adds at most 3% to the p50)")


if __name__ == "__main__":
    main()
