"""Wall time and peak memory of `mlpack --help` against `python -c pass`, measured in one run.

Each command runs N times in alternation; peak memory is the child's max RSS and CPU time its user
plus system time (getrusage), which a busy machine inflates less than the wall time.
Target: `mlpack --help` under 0.2 s and under 80 MiB on a quiet machine.

    .venv/bin/python benchmarks/cli_startup.py [--runs 15]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

MLPACK = str(Path(sys.executable).parent / "mlpack")  # the installed console script, as users run it
COMMANDS = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "mlpack --help": [MLPACK, "--help"],
    "python -c 'import mlpack'": [sys.executable, "-c", "import mlpack"],
}


# pip installs a package with its bytecode compiled; this machine sets PYTHONDONTWRITEBYTECODE,
# which would make every run compile mlpack from source. Measure the installed situation.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"} | {"COLUMNS": "100"}


def run_once(argv: list[str]) -> tuple[float, float, float]:
    """(wall seconds, peak RSS MiB, CPU seconds) of one child process."""
    started = time.perf_counter()
    pid = os.posix_spawn(
        argv[0],
        argv,
        ENV,
        file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)],
    )
    _, status, usage = os.wait4(pid, 0)
    wall = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"{argv} failed")
    return wall, usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime  # Linux reports KiB


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    # Warm the file cache and write the bytecode once, as `pip install` would have.
    subprocess.run(COMMANDS["mlpack --help"], capture_output=True, check=True, env=ENV)
    samples: dict[str, list[tuple[float, float, float]]] = {name: [] for name in COMMANDS}
    for _ in range(args.runs):
        for name, argv in COMMANDS.items():
            samples[name].append(run_once(argv))
    base_wall = statistics.median(w for w, _, _ in samples["python -c pass"])
    print(f"{'command':28} {'median s':>9} {'p90 s':>7} {'CPU s':>7} {'peak MiB':>9} {'vs pass':>8}")
    for name, runs in samples.items():
        walls = sorted(w for w, _, _ in runs)
        median = statistics.median(walls)
        p90 = walls[int(0.9 * (len(walls) - 1))]
        cpu = statistics.median(c for _, _, c in runs)
        peak = max(m for _, m, _ in runs)
        print(f"{name:28} {median:9.3f} {p90:7.3f} {cpu:7.3f} {peak:9.1f} {median / base_wall:7.1f}x")
    help_wall = statistics.median(w for w, _, _ in samples["mlpack --help"])
    help_peak = max(m for _, m, _ in samples["mlpack --help"])
    verdict = "meets" if help_wall < 0.2 and help_peak < 80 else "MISSES"
    print(f"mlpack --help: {help_wall:.3f} s, {help_peak:.1f} MiB -> {verdict} the target (< 0.2 s, < 80 MiB)")


if __name__ == "__main__":
    main()
