"""The main job, end to end on the digits example: train (or reuse) → export → INT8 → compare.

python examples/digits/run.py
"""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console
from rich.table import Table

import mlpack
from mlpack.data import load_dataset
from mlpack.metrics import top1_accuracy
from mlpack.report.terminal import human_size
from mlpack.runner import predict

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"


def main() -> int:
    sys.path.insert(0, str(HERE))
    import train

    console = Console()
    OUT.mkdir(exist_ok=True)
    weights = OUT / "cnn.pt"
    if not weights.exists():
        with console.status("training the digits CNN (a few seconds)..."):
            train.save_data(OUT)
            train.train("cnn", OUT, epochs=15)
    heldout = OUT / "heldout.npz"

    with console.status("exporting to ONNX and verifying against PyTorch..."):
        exported = mlpack.export(
            f"{HERE / 'model.py'}:cnn",
            OUT / "model.onnx",
            weights=weights,
            inputs=(mlpack.parse_input_spec("x:1x1x8x8"),),
        )
    console.print(
        f"exported with the {exported.exporter} exporter, max abs error vs PyTorch "
        f"{max(c.max_abs_error for c in exported.checks):.2g}"
    )
    with console.status("simplifying and quantising to dynamic INT8..."):
        optimized = mlpack.optimize(
            exported.output, OUT / "model.int8.onnx", quantize=mlpack.QuantMode.DYNAMIC, data=heldout
        )

    dataset = load_dataset(heldout, exported.signature.inputs, need_labels=True)
    assert dataset.labels is not None
    table = Table(title=f"digits CNN, {dataset.num_samples} held-out samples")
    for column in ("model", "size", "size ratio", "accuracy", "change"):
        table.add_column(column, justify="right")
    base_accuracy = top1_accuracy(predict(exported.output, dataset)[0], dataset.labels)
    table.add_row("FP32 (exported)", human_size(exported.size_bytes), "1.00", f"{base_accuracy:.2%}", "")
    accuracy = top1_accuracy(predict(optimized.output, dataset)[0], dataset.labels)
    table.add_row(
        "dynamic INT8",
        human_size(optimized.size_after),
        f"{optimized.size_after / exported.size_bytes:.2f}",
        f"{accuracy:.2%}",
        f"{(accuracy - base_accuracy) * 100:+.2f} pp",
    )
    console.print(table)
    console.print(
        f"outputs vs FP32: cosine {optimized.comparison.min_cosine:.5f}, "
        f"max abs error {optimized.comparison.max_abs_error:.3g}; files in {OUT}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
