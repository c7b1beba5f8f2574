"""Every tune candidate against FP32, on the digits CNN and the digits transformer encoder.

For each model: `mlpack tune` with examples/digits/budgets.toml builds the candidates, measures
their latency interleaved in one run (ratios to FP32 come from that run), scores them on the
held-out split, and picks one. Prints size ratio, latency ratio and accuracy per candidate,
the chosen one, and the tune wall time. Targets: static INT8 at most 0.30 of the FP32 size; the
chosen candidate's accuracy drop within the budget; tune on the digits CNN under 60 s.

    .venv/bin/python benchmarks/tune_candidates.py
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from mlpack.pipeline.tune import tune

sys.path.insert(0, str(Path(__file__).parent))
from digits_models import CALIBRATION, DIGITS, HELDOUT, exported  # noqa: E402


def main() -> None:
    budgets = DIGITS / "budgets.toml"
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("cnn", "transformer"):
            fp32 = exported(name, Path(tmp))
            started = time.perf_counter()
            result = tune(
                fp32.output,
                Path(tmp) / f"{name}.best.onnx",
                budgets=budgets,
                data=HELDOUT,
                calibration=CALIBRATION,
            )
            wall = time.perf_counter() - started
            base = next(c for c in result.candidates if c.spec.name == "fp32")
            print(f"\n{name}: tune {wall:.1f} s, chose {result.chosen}; INT8 acceleration: {result.int8_acceleration}")
            print(f"{'candidate':32} {'size ratio':>10} {'p50 ratio':>10} {'accuracy':>9} {'drop pp':>8}  budgets")
            for c in result.candidates:
                if c.status != "built":
                    print(f"{c.spec.name:32} {c.status}: {c.reason}")
                    continue
                accuracy = c.metrics["accuracy"]
                drop = (base.metrics["accuracy"] - accuracy) * 100
                verdict = "met" if c.meets_budgets else "broken: " + ", ".join(c.broken())
                marks = (" <- chosen" if c.spec.name == result.chosen else "") + (
                    " (slower than FP32)" if c.slower_than_fp32 else ""
                )
                print(
                    f"{c.spec.name:32} {(c.size_bytes or 0) / (base.size_bytes or 1):10.3f} "
                    f"{c.latency_ratio or 0:10.2f} {accuracy:9.4f} {drop:8.2f}  {verdict}{marks}"
                )


if __name__ == "__main__":
    main()
