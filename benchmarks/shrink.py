"""Every --quantize mode on every model family: size ratio, fidelity and latency ratio to FP32.

For each family (the digits CNN and transformer, a Conv1d pitch net, a 2-layer LSTM, a GRU, and a
transformer encoder with a 20k x 256 embedding table, all trained briefly so their weights look
trained), each mode is built with ``mlpack.optimize`` on the family's own data, then:

- size: the file against FP32 (the simplified export);
- fidelity: mean output cosine against FP32 and top-1 agreement with FP32's decisions (plus
  accuracy where the data has labels), on the family's data;
- latency: p50 against FP32 at batch 1, all modes of one family timed interleaved in one process
  with *default* onnxruntime sessions (what a user's code creates).

A mode that mlpack refuses (its fail-closed check) is printed as refused, with the reason.

    python benchmarks/shrink.py [--families conv1d,lstm] [--quick]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import mlpack  # noqa: E402
from mlpack.core.fidelity import Tolerance, mean_cosine  # noqa: E402
from mlpack.quant.settings import QuantizeSettings, QuantMode  # noqa: E402
from mlpack.quant.timing import p50_ratios  # noqa: E402

MODES: dict[str, tuple[QuantMode, QuantizeSettings]] = {
    "none": (QuantMode.NONE, QuantizeSettings()),
    "dynamic": (QuantMode.DYNAMIC, QuantizeSettings()),
    "weights/channel": (QuantMode.WEIGHTS, QuantizeSettings(block_size=0)),
    "weights/block32": (QuantMode.WEIGHTS, QuantizeSettings(block_size=32)),
    "weights (default)": (QuantMode.WEIGHTS, QuantizeSettings()),
    "int4": (QuantMode.INT4, QuantizeSettings()),
    "auto": (QuantMode.AUTO, QuantizeSettings()),
    "fp16": (QuantMode.FP16, QuantizeSettings()),
}
FAMILIES = ("digits-cnn", "digits-transformer", "conv1d", "lstm", "gru", "encoder")


def family_model(name: str, folder: Path, size: str) -> tuple[Path, Path]:
    if name.startswith("digits-"):
        from digits_models import HELDOUT, exported

        return exported(name.removeprefix("digits-"), folder).output, HELDOUT
    from tests.families import export_family

    return export_family(name, folder, size)


def outputs(model: Path, data: Path) -> np.ndarray:
    import onnxruntime as ort

    session = ort.InferenceSession(str(model))
    arrays = np.load(data)
    names = [i.name for i in session.get_inputs()]
    feeds = {
        n: arrays[n] if n in arrays else arrays[[k for k in arrays.files if k not in ("labels", "slices")][0]]
        for n in names
    }
    return session.run(None, feeds)[0]


def one_sample(model: Path, data: Path) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    arrays = np.load(data)
    keys = [k for k in arrays.files if k not in ("labels", "slices")]
    names = [i.name for i in ort.InferenceSession(str(model)).get_inputs()]
    return {n: (arrays[n] if n in arrays else arrays[keys[0]])[:1] for n in names}


def run_family(name: str, folder: Path, size: str) -> list[str]:
    source, data = family_model(name, folder, size)
    built: dict[str, mlpack.OptimizeResult] = {}
    refused: dict[str, str] = {}
    for label, (mode, settings) in MODES.items():
        target = folder / f"{name}.{label.replace('/', '-').replace(' ', '')}.onnx"
        tolerance = Tolerance(atol=None, min_cosine=0.99) if mode is QuantMode.NONE else None
        try:
            built[label] = mlpack.optimize(
                source, target, quantize=mode, settings=settings, data=data, tolerance=tolerance
            )
        except mlpack.MlpackError as exc:
            refused[label] = str(exc).split(";")[0][:110]
    fp32 = built["none"].output
    labels = np.load(data)["labels"] if "labels" in np.load(data).files else None
    reference = outputs(fp32, data)
    order = list(built)
    ratios = p50_ratios([built[m].output for m in order], one_sample(fp32, data), seconds=3.0)
    rows = []
    for label, ratio in zip(order, ratios, strict=True):
        result = built[label]
        produced = outputs(result.output, data)
        cosine = mean_cosine(reference, produced)
        agree = float(np.mean(produced.argmax(-1) == reference.argmax(-1))) if reference.ndim == 2 else float("nan")
        accuracy = (
            float(np.mean(produced.argmax(-1) == labels))
            if labels is not None and reference.ndim == 2
            else float("nan")
        )
        size_ratio = result.size_after / built["none"].size_after
        rows.append(
            f"| {name} | {label} | {size_ratio:.3f} | {cosine:.5f} | {agree:.4f} | {accuracy:.4f} | {ratio:.2f} |"
        )
    for label, reason in refused.items():
        rows.append(f"| {name} | {label} | refused | {reason} | | | |")
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--quick", action="store_true", help="tiny models (seconds), not realistic sizes")
    args = parser.parse_args()
    print("| family | mode | size / FP32 | output cosine | agreement with FP32 | accuracy | p50 / FP32 (batch 1) |")
    print("|---|---|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="mlpack-shrink-") as tmp:
        for name in args.families.split(","):
            folder = Path(tmp) / name
            folder.mkdir()
            for row in run_family(name, folder, "tiny" if args.quick else "realistic"):
                print(row, flush=True)


if __name__ == "__main__":
    main()
