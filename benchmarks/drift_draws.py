"""The draws ``drift_power.py`` scores: numpy only, so a drift library in another environment can
score exactly the same arrays (``drift_power_alibi.py``).

Each draw is a recorded set (2,000 samples by default) and a new set of ``n`` samples of:
- ``x``: a table of 8 standard-normal features; the class is the sign of x[0] * x[1];
- ``cat``: one of 20 categories per sample (Zipf-like shares);
- ``flag``: a feature that is constant (1.0) in the recorded data;
- ``logits``: the outputs of a classifier, 3 * [p, -p] with p = x[0] * x[1] (computed here in numpy,
  as the model would).

Every draw is seeded by (its cell, its index), so two processes draw the same arrays in any order.
"""

from __future__ import annotations

import numpy as np

CATEGORIES = 20
NEW_CATEGORY = 99
# shift kind -> (sizes tried, features that count as caught, a label for the size)
SHIFTS: dict[str, tuple[tuple[float, ...], tuple[str, ...], str]] = {
    "mean shift x[2]": ((0.25, 0.5, 0.75), ("x[2]",), "SD"),
    "scale x[2]": ((1.25, 1.5), ("x[2]",), "x SD"),
    "class prior P(1)": ((0.6, 0.7), ("logits (predicted class)", "logits (confidence)"), "from 0.5"),
    "new category": ((0.05, 0.1), ("cat",), "share"),
    "constant moves down": ((0.02, 0.05), ("flag",), "share"),
    "constant moves up": ((0.02, 0.05), ("flag",), "share"),
    "NaN rate up x[4]": ((0.01, 0.05), ("x[4]",), "share"),
}
COLUMNS = [f"x[{i}]" for i in range(8)] + ["cat", "flag", "logits (predicted class)", "logits (confidence)"]


def draw(n: int, seed: list[int], shift: str | None = None, size: float = 0.0) -> dict[str, np.ndarray]:
    """``n`` samples, moved by ``shift`` of ``size`` (None: drawn from the recorded distribution)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8))
    class_one = size if shift == "class prior P(1)" else 0.5
    # x1's sign relative to x0's sets the class; x0 is symmetric, so x1 stays standard normal.
    x[:, 1] = np.abs(x[:, 1]) * np.sign(x[:, 0]) * np.where(rng.random(n) < class_one, 1, -1)
    weights = 1.0 / np.arange(1, CATEGORIES + 1)
    cat = rng.choice(CATEGORIES, size=n, p=weights / weights.sum())
    flag = np.ones(n)
    moved = rng.random(n) < size
    if shift == "mean shift x[2]":
        x[:, 2] += size
    elif shift == "scale x[2]":
        x[:, 2] *= size
    elif shift == "new category":
        cat[moved] = NEW_CATEGORY
    elif shift == "constant moves down":
        flag[moved] = 0.0
    elif shift == "constant moves up":
        flag[moved] = 2.0
    elif shift == "NaN rate up x[4]":
        x[moved, 4] = np.nan
    p = x[:, 0] * x[:, 1]
    logits = 3 * np.stack([p, -p], axis=1)
    return {"x": x.astype(np.float32), "cat": cat.astype(np.int64), "flag": flag.astype(np.float32), "logits": logits}


def columns(arrays: dict[str, np.ndarray]) -> np.ndarray:
    """The draw as one table, a column per feature (``COLUMNS``), for libraries that take one."""
    logits = arrays["logits"].astype(np.float64)
    scores = np.exp(logits - logits.max(axis=1, keepdims=True))
    scores /= scores.sum(axis=1, keepdims=True)
    parts = [arrays["x"], arrays["cat"][:, None], arrays["flag"][:, None]]
    parts += [np.argmax(scores, axis=1)[:, None], scores.max(axis=1)[:, None]]
    return np.concatenate([p.astype(np.float64) for p in parts], axis=1)


def cells(sizes: list[int], null_repeats: int, repeats: int) -> list[tuple[str | None, float, int, int]]:
    """Every (shift, size, n, draws) to score, the null first."""
    todo: list[tuple[str | None, float, int, int]] = [(None, 0.0, n, null_repeats) for n in sizes]
    for shift, (magnitudes, _, _) in SHIFTS.items():
        todo += [(shift, size, n, repeats) for size in magnitudes for n in sizes]
    return todo


def seeds(cell: int, index: int) -> tuple[list[int], list[int]]:
    """The recorded set's and the new set's seeds for one draw of one cell."""
    return [2026, cell, index, 0], [2026, cell, index, 1]
