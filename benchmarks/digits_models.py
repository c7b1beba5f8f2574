"""The digits example's models for the benchmarks: trained once, exported fresh on each run."""

from __future__ import annotations

import sys
from pathlib import Path

import mlpack

DIGITS = Path(__file__).resolve().parent.parent / "examples" / "digits"
OUT = DIGITS / "out"
HELDOUT = OUT / "heldout.npz"
CALIBRATION = OUT / "calib.npz"


def exported(name: str, folder: Path) -> mlpack.ExportResult:
    """``name`` ("cnn" or "transformer") trained if needed, exported to ``folder``; data files written."""
    sys.path.insert(0, str(DIGITS))
    import train

    OUT.mkdir(exist_ok=True)
    train.save_data(OUT)
    weights = OUT / f"{name}.pt"
    if not weights.exists():
        train.train(name, OUT, epochs=15)
    return mlpack.export(
        f"{DIGITS / 'model.py'}:{name}",
        folder / f"{name}.onnx",
        weights=weights,
        inputs=(mlpack.parse_input_spec("x:1x1x8x8"),),
    )
