"""The draws of ``drift_power.py`` scored by alibi-detect's TabularDrift, for comparison.

Run by ``drift_power.py --compare PYTHON`` with an interpreter that has alibi-detect (a separate
venv; alibi-detect is never a dependency of mlpack). Prints the rates per cell as JSON.
TabularDrift keeps the raw reference data: a Kolmogorov-Smirnov test per numeric column, a
chi-square test per categorical column, Bonferroni over the columns.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from drift_draws import COLUMNS, SHIFTS, cells, columns, draw, seeds  # noqa: E402

RECORDED = 2000
CATEGORICAL = {COLUMNS.index("cat"): None, COLUMNS.index("logits (predicted class)"): None}


def main() -> None:
    from alibi_detect.cd import TabularDrift

    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=100)
    parser.add_argument("--null-repeats", type=int, default=400)
    parser.add_argument("--sizes", default="50,200,1000,5000")
    parser.add_argument("--alpha", type=float, default=0.05)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    found = {}
    for cell, (shift, size, n, draws) in enumerate(cells(sizes, args.null_repeats, args.repeats)):
        caught = 0
        for index in range(draws):
            ref_seed, new_seed = seeds(cell, index)
            detector = TabularDrift(
                columns(draw(RECORDED, ref_seed)), p_val=args.alpha, categories_per_feature=CATEGORICAL
            )
            # Batch mode: Bonferroni over the columns (the threshold is p_val / columns), as mlpack corrects.
            said = detector.predict(columns(draw(n, new_seed, shift, size)), drift_type="batch")["data"]
            moved = {COLUMNS[i] for i, p in enumerate(said["p_val"]) if p < said["threshold"]}
            caught += bool(moved if shift is None else moved & set(SHIFTS[shift][1]))
        found[f"{shift or 'no shift'}|{size:g}|{n}"] = caught / draws
    json.dump(found, sys.stdout)


if __name__ == "__main__":
    main()
