"""How often `mlpack drift` catches a shift of a given size, and how often it cries wolf.

Draws (see ``drift_draws.py``): a table of 8 standard-normal features, a categorical input of 20
values, a feature that was constant when recorded, and a classifier's outputs (whose class is the
sign of x[0] * x[1], so a class prior can move while every input's marginal stays put). Each draw
records fresh statistics of 2,000 samples and scores ``n`` new ones, either from the recorded
distribution (false alarms: any of the 12 features said to have drifted) or moved in one way
(detections: a moved feature said to have drifted). The statistics and the tests are mlpack's own
(``record_arrays``, ``observe_arrays``, ``score_stats``: what ``mlpack drift`` runs once the model
has run); the model's outputs are computed in numpy.

With ``--compare PYTHON`` the same draws are also scored by alibi-detect's TabularDrift (a
Kolmogorov-Smirnov test per numeric column on the raw values, chi-square per categorical column,
Bonferroni-corrected), run by that interpreter (a separate venv: never a dependency of mlpack).

    .venv/bin/python benchmarks/drift_power.py [--repeats 100] [--null-repeats 400] [--sizes 50,200,1000,5000]
        [--alpha 0.05] [--compare /path/to/venv/bin/python]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drift_draws import SHIFTS, cells, draw, seeds  # noqa: E402

from mlpack.budget.driftfeatures import score_stats  # noqa: E402
from mlpack.data.collect import observe_arrays, record_arrays  # noqa: E402
from mlpack.data.stats import View  # noqa: E402

RECORDED = 2000
VIEWS = {
    "x": View("features", axis=1, groups=tuple((i, i + 1) for i in range(8))),
    "cat": View("categories"),
    "flag": View("pooled"),
    "logits": View("classes"),
}
ROLES = {"x": "input", "cat": "input", "flag": "input", "logits": "output"}


def flagged(recorded: dict[str, np.ndarray], new: dict[str, np.ndarray], alpha: float) -> set[str]:
    """The features mlpack says have drifted."""
    reference = record_arrays([(name, ROLES[name], VIEWS[name], array) for name, array in recorded.items()])
    observed = observe_arrays(reference, new)
    return {f.feature for f in score_stats(reference, observed, alpha=alpha, floors={}) if f.drifted}


def rates(sizes: list[int], null_repeats: int, repeats: int, alpha: float) -> dict[str, float]:
    """Detection (or false-alarm) rate per cell, keyed like ``cell_key``."""
    found = {}
    for cell, (shift, size, n, draws) in enumerate(cells(sizes, null_repeats, repeats)):
        caught = 0
        for index in range(draws):
            ref_seed, new_seed = seeds(cell, index)
            said = flagged(draw(RECORDED, ref_seed), draw(n, new_seed, shift, size), alpha)
            caught += bool(said if shift is None else said & set(SHIFTS[shift][1]))
        found[cell_key(shift, size, n)] = caught / draws
    return found


def cell_key(shift: str | None, size: float, n: int) -> str:
    return f"{shift or 'no shift'}|{size:g}|{n}"


def compare(python: str, args: argparse.Namespace) -> dict[str, float] | None:
    """The same cells scored by the other library, or None (and why, on stderr) where it cannot run."""
    script = Path(__file__).resolve().parent / "drift_power_alibi.py"
    command = [python, str(script), "--sizes", args.sizes, "--repeats", str(args.repeats)]
    command += ["--null-repeats", str(args.null_repeats), "--alpha", str(args.alpha)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.stderr.write(f"the comparison did not run: {done.stderr.strip().splitlines()[-1:]}\n")
        return None
    return json.loads(done.stdout)


def table(sizes: list[int], ours: dict[str, float], theirs: dict[str, float] | None, alpha: float) -> None:
    def row(label: str, shift: str | None, size: float) -> str:
        cells_ = []
        for n in sizes:
            key = cell_key(shift, size, n)
            cells_.append(f"{ours[key]:.0%}" + (f" / {theirs[key]:.0%}" if theirs else ""))
        return f"| {label} | " + " | ".join(cells_) + " |"

    who = "mlpack / alibi-detect" if theirs else "mlpack"
    print(f"Detection rate ({who}), alpha {alpha:g} over all 12 features, {RECORDED} recorded samples\n")
    print("| shift | " + " | ".join(f"n={n}" for n in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    print(row("no shift: false alarms", None, 0.0))
    for shift, (magnitudes, _, unit) in SHIFTS.items():
        for size in magnitudes:
            print(row(f"{shift} {size:g} {unit}", shift, size))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=100, help="draws per shift, size and n")
    parser.add_argument("--null-repeats", type=int, default=400, help="draws without a shift, per n")
    parser.add_argument("--sizes", default="50,200,1000,5000", help="new samples per draw")
    parser.add_argument("--alpha", type=float, default=0.05, help="false-alarm rate over all features")
    parser.add_argument("--compare", metavar="PYTHON", help="an interpreter with alibi-detect installed")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    ours = rates(sizes, args.null_repeats, args.repeats, args.alpha)
    spent = time.perf_counter() - started
    theirs = compare(args.compare, args) if args.compare else None
    table(sizes, ours, theirs, args.alpha)
    print(f"\n{args.null_repeats} null draws and {args.repeats} shifted draws per cell; mlpack {spent:.0f} s")


if __name__ == "__main__":
    main()
