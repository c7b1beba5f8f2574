"""Dynamic INT8 (per-channel and per-tensor) and FP16 against FP32, on both digits models.

Prints, for each model and mode: size, size ratio to FP32, held-out accuracy and its change,
and the output cosine similarity to FP32, all measured in this one run.

    .venv/bin/python benchmarks/quantize_size.py
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

import mlpack
from mlpack.core.metrics import top1_accuracy
from mlpack.data.runner import predict
from mlpack.data.sources import load_dataset
from mlpack.errors import MlpackError
from mlpack.quant.settings import QuantizeSettings

sys.path.insert(0, str(Path(__file__).parent))
from digits_models import HELDOUT, exported  # noqa: E402


def main() -> int:
    console = Console(width=140)
    table = Table(title="digits models: optimised vs FP32 (sizes include everything on disk)")
    for column in ("model", "mode", "size KB", "size ratio", "accuracy", "change pp", "cosine"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for name in ("cnn", "transformer"):
            fp32 = exported(name, Path(tmp))
            data = load_dataset(HELDOUT, fp32.signature.inputs, need_labels=True)
            assert data.labels is not None
            base = top1_accuracy(predict(fp32.output, data)[0], data.labels)
            table.add_row(name, "fp32", f"{fp32.size_bytes / 1024:.1f}", "1.000", f"{base:.2%}", "", "1")
            for label, mode, per_channel in (
                ("int8 per-channel", mlpack.QuantMode.DYNAMIC, True),
                ("int8 per-tensor", mlpack.QuantMode.DYNAMIC, False),
                ("fp16", mlpack.QuantMode.FP16, True),
            ):
                target = Path(tmp) / f"{name}.{label.replace(' ', '_')}.onnx"
                try:
                    result = mlpack.optimize(
                        fp32.output,
                        target,
                        quantize=mode,
                        settings=QuantizeSettings(per_channel=per_channel),
                        data=HELDOUT,
                    )
                except MlpackError as exc:
                    table.add_row(name, label, "-", "-", "-", "-", f"failed: {exc}"[:60])
                    continue
                accuracy = top1_accuracy(predict(result.output, data)[0], data.labels)
                table.add_row(
                    name,
                    label,
                    f"{result.size_after / 1024:.1f}",
                    f"{result.size_after / fp32.size_bytes:.3f}",
                    f"{accuracy:.2%}",
                    f"{(accuracy - base) * 100:+.2f}",
                    f"{result.comparison.min_cosine:.5f}",
                )
    console.print(table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
