"""A cold `mlpack build` of the digits example against a warm re-run with nothing changed.

Both run the real command in a subprocess, as a user or CI would, into a fresh output folder
(cold) and then into the same folder again (warm). Target: warm under 10% of cold.

    .venv/bin/python benchmarks/build_cache.py [--rounds 3]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MLPACK = str(Path(sys.executable).parent / "mlpack")


def timed(args: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(args, check=True, capture_output=True)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    subprocess.run([sys.executable, str(ROOT / "examples/digits/train.py"), "--if-missing"], check=True)
    config = str(ROOT / "examples/digits/mlpack.toml")
    cold, warm = [], []
    for _ in range(args.rounds):
        out = Path(tempfile.mkdtemp(prefix="mlpack-bench-build-"))
        try:
            cold.append(timed([MLPACK, "build", config, "-o", str(out)]))
            warm.append(timed([MLPACK, "build", config, "-o", str(out)]))
        finally:
            shutil.rmtree(out)
    c, w = statistics.median(cold), statistics.median(warm)
    print(f"cold build (median of {args.rounds}): {c:.2f} s   {[round(x, 2) for x in cold]}")
    print(f"warm re-run, nothing changed:    {w:.2f} s   {[round(x, 2) for x in warm]}")
    print(f"warm / cold = {w / c:.3f}  (target < 0.10)")


if __name__ == "__main__":
    main()
