"""How often a latency budget set right at the measured p95 flips, with and without mlpack's rule.

A latency check whose limit sits at the model's p95 is the worst case for flaky CI: the
measurement alone decides. This script sets the limit at (a calibrated) p95 times --factor and
runs, many times in one session:

- `mlpack check` (bootstrap confidence interval of the p95, re-measured when too close to call,
  "inconclusive" if still undecided), and
- a naive check: one measurement of the same size, pass if its p95 <= limit.

Prints how often each said pass, fail and inconclusive. A naive check that says both pass and
fail on the same model is flaky; mlpack's check should say pass or fail only when it is sure.

    .venv/bin/python benchmarks/check_flake_rate.py [--trials 20] [--factor 1.0]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from bench_overhead import build_model  # noqa: E402

from mlpack.bench.measure import benchmark
from mlpack.bench.settings import BenchSettings  # noqa: E402
from mlpack.budget.check import check  # noqa: E402
from mlpack.budget.settings import CheckSettings  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--factor", type=float, default=1.0, help="limit = calibrated p95 x factor")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--threads", type=int, default=None, help="intra-op threads (default: onnxruntime's)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(Path(tmp) / "mlp.onnx", width=512, layers=4)
        # Calibrate what the check estimates: the p95 of a process of this size, averaged over processes.
        settings = BenchSettings(runs=args.runs, duration_s=0.0, warmup=20, threads=(args.threads,))
        calibration = [benchmark([model], settings=settings).measurements[0].latency_ms.p95 for _ in range(10)]
        typical = statistics.fmean(calibration)
        limit = typical * args.factor
        budgets = Path(tmp) / "budgets.toml"
        device = ""
        if args.threads:
            device = f"[device.bench]\nthreads = {args.threads}\n"
        budgets.write_text(f"{device}[budget]\nmax_latency_ms = {{ p95 = {limit:.6f} }}\n")
        print(
            f"threads: {args.threads or 'default'}; calibrated p95 {typical:.4f} ms "
            f"(10 processes, {min(calibration):.4f}-{max(calibration):.4f}); limit {limit:.4f} ms; "
            f"{args.trials} trials of {args.runs} runs each"
        )
        mlpack_says: Counter[str] = Counter()
        naive_says: Counter[str] = Counter()
        remeasures = 0
        for _ in range(args.trials):
            result = check(
                model,
                budgets=budgets,
                device="bench" if args.threads else None,
                settings=CheckSettings(runs=args.runs, duration_s=0.0, warmup=20),
            )
            mlpack_says[result.verdicts[0].status.value] += 1
            remeasures += result.remeasured
            naive = benchmark([model], settings=settings)
            naive_says["pass" if naive.measurements[0].latency_ms.p95 <= limit else "fail"] += 1
    print(f"{'check':14} {'pass':>5} {'fail':>5} {'inconclusive':>13} {'flaky':>6}")
    for name, counts in (("mlpack check", mlpack_says), ("naive single", naive_says)):
        flaky = "YES" if counts["pass"] > 0 and counts["fail"] > 0 else "no"
        print(f"{name:14} {counts['pass']:5d} {counts['fail']:5d} {counts['inconclusive']:13d} {flaky:>6}")
    print(f"mlpack re-measured {remeasures} times in {args.trials} trials")


if __name__ == "__main__":
    main()
