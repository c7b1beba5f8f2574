"""Every --quantize mode on every model family: size ratio, fidelity and latency ratio to FP32.

For each family (the digits CNN and transformer, a Conv1d pitch net, a 2-layer LSTM, a GRU, a
transformer encoder with a 20k x 256 embedding table, and the convolutional families built in
``conv_families.py``: a MobileNet-like classifier, a YOLO-like detector, a conv audio tagger and
a U-Net-like segmenter, and at edge sizes a MobileNetV2-like classifier, a wider U-Net and a
wider tagger; all trained briefly so their weights look trained), each mode is built
with ``mlpack.optimize`` on the family's own data, then:

- size: the file against FP32 (the simplified export);
- fidelity, on held-out samples (the conv families' eval set, no sample mlpack saw): the lowest
  output cosine, and per output the decisions kept (top-1 per position, thresholded sigmoids:
  agreement and F1) with the 95% lower bound mlpack's own check uses;
- latency: p50 against FP32 at batch 1 and at batch 8, all modes of one family timed
  interleaved in one process with *default* onnxruntime sessions (what a user's code creates).

Beside mlpack's modes, on models with convolutions, raw onnxruntime ``quantize_static`` (QDQ,
per-channel INT8 weights, UINT8 activations, MinMax on the same first 128 samples auto
calibrates on) and, with ``--before PATH``, ``--quantize auto`` of another mlpack checkout (the
previous version), run in a subprocess. The calibration time of mlpack and of onnxruntime on the
same samples is printed per family, and ``--nodes FAMILY`` prints auto's decision per
convolution for one family.

A mode that mlpack refuses (its fail-closed check) is printed as refused, with the reason.

    python benchmarks/shrink.py [--families classifier,detector] [--quick] [--before ../main] [--nodes detector]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from conv_families import CONV_FAMILIES, export_conv_family  # noqa: E402

import mlpack  # noqa: E402
from mlpack.core.fidelity import Tolerance, compare_outputs  # noqa: E402
from mlpack.core.fileio import private_cwd  # noqa: E402
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
FAMILIES = ("digits-cnn", "digits-transformer", "conv1d", "lstm", "gru", "encoder", *CONV_FAMILIES)
CONV_MODES = ("none", "dynamic", "weights (default)", "auto", "fp16")  # int4 shrinks MatMuls only
CALIBRATION = 128  # the samples auto calibrates on (the first of --data), given to onnxruntime too
JUDGE = Tolerance(atol=None, min_cosine=None, min_agreement=0.99)


def family_model(name: str, folder: Path, size: str) -> tuple[Path, Path, Path]:
    """(model, the data mlpack is given, the data every mode is judged on)."""
    if name in CONV_FAMILIES:
        kept = (folder / f"{name}.onnx", folder / f"{name}.npz", folder / f"{name}.eval.npz")
        if all(path.is_file() for path in kept):  # --models: trained once, reused
            return kept
        sized = {"samples": 512, "held_out": 256, "steps": 120} if name == "detector-320" else {}  # 1.2 MB a sample
        return export_conv_family(name, folder, **{"steps": 10 if size == "tiny" else 40, **sized})
    if name.startswith("digits-"):
        from digits_models import HELDOUT, exported

        return exported(name.removeprefix("digits-"), folder).output, HELDOUT, HELDOUT
    from tests.families import export_family

    model, data = export_family(name, folder, size)
    return model, data, data


def feeds_of(model: Path, data: Path, count: int | None = None) -> dict[str, np.ndarray]:
    import onnxruntime as ort

    arrays = np.load(data)
    keys = [k for k in arrays.files if k not in ("labels", "slices")]
    names = [i.name for i in ort.InferenceSession(str(model)).get_inputs()]
    return {n: (arrays[n] if n in arrays else arrays[keys[0]])[:count] for n in names}


def outputs(model: Path, feeds: dict[str, np.ndarray], chunk: int | None = None) -> list[np.ndarray]:
    """The outputs on every sample, ``chunk`` at a time where given (images batched on axis 0: 512
    of 320x320 in one call held tens of GB of activations)."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(model))
    if chunk is None:
        return session.run(None, feeds)
    total = len(next(iter(feeds.values())))
    parts = [session.run(None, {k: v[i : i + chunk] for k, v in feeds.items()}) for i in range(0, total, chunk)]
    return [np.concatenate(column) for column in zip(*parts, strict=True)]


def fidelity(reference: list[np.ndarray], produced: list[np.ndarray], names: list[str]) -> tuple[str, str, str]:
    """(lowest cosine, worst agreement with its lower bound, worst F1 with its lower bound)."""
    judged = compare_outputs(reference, produced, names=names, tolerance=JUDGE, label="held-out samples")
    decided = [o.decisions for o in judged.outputs if o.decisions is not None and o.decisions.judged]
    agree = min(decided, key=lambda d: d.agreement_low, default=None)
    f1 = min((d for d in decided if d.f1 is not None), key=lambda d: d.f1_low or 0.0, default=None)
    return (
        f"{judged.min_cosine:.5f}",
        f"{agree.agreement:.4f} ({agree.agreement_low:.4f})" if agree else "",
        f"{f1.f1:.4f} ({f1.f1_low:.4f})" if f1 and f1.f1 is not None and f1.f1_low is not None else "",
    )


def has_convolutions(model: Path) -> bool:
    import onnx

    return any(n.op_type == "Conv" for n in onnx.load(str(model), load_external_data=False).graph.node)


def raw_static(source: Path, target: Path, data: Path) -> float:
    """onnxruntime's own static INT8 (pre-processed, QDQ, per-channel, U8S8, MinMax) on the first
    CALIBRATION samples of ``data``; returns its seconds."""
    from onnxruntime import quantization as q
    from onnxruntime.quantization.shape_inference import quant_pre_process

    feeds = feeds_of(source, data, CALIBRATION)

    started = time.perf_counter()
    prepared = target.with_suffix(".pre.onnx")
    with private_cwd(target.parent):  # onnxruntime writes scratch files into the working directory
        try:
            quant_pre_process(str(source), str(prepared))
        except Exception:  # onnxruntime's symbolic shape inference gives up on some graphs (Resize)
            quant_pre_process(str(source), str(prepared), skip_symbolic_shape=True)
    q.quantize_static(
        str(prepared),
        str(target),
        Batches(feeds),
        quant_format=q.QuantFormat.QDQ,
        per_channel=True,
        activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
    )
    return time.perf_counter() - started


class Batches:
    """onnxruntime's CalibrationDataReader over in-memory samples, 32 at a time."""

    def __init__(self, feeds: dict[str, np.ndarray]) -> None:
        count = len(next(iter(feeds.values())))
        self.batches = iter([{k: v[i : i + 32] for k, v in feeds.items()} for i in range(0, count, 32)])

    def get_next(self) -> dict[str, np.ndarray] | None:
        return next(self.batches, None)


def calibration_seconds(model: Path, data: Path, folder: Path) -> tuple[float, float]:
    """Ranges on the same CALIBRATION samples: mlpack's memory-bounded collection against
    onnxruntime's MinMax calibrator, for the tensors auto calibrates."""
    import onnx
    from onnxruntime.quantization.calibrate import MinMaxCalibrater

    from mlpack.core.signature import signature_of
    from mlpack.quant.convgroups import STATIC_OP_TYPES
    from mlpack.quant.ranges import collect_ranges

    samples = folder / "calibration.npz"
    np.savez(samples, **feeds_of(model, data, CALIBRATION))
    settings = QuantizeSettings(calibration=samples, op_types=STATIC_OP_TYPES)
    specs = signature_of(onnx.load(str(model))).inputs
    started = time.perf_counter()
    collect_ranges(model, settings, specs, folder)
    ours = time.perf_counter() - started
    started = time.perf_counter()
    calibrator = MinMaxCalibrater(str(model), list(STATIC_OP_TYPES), augmented_model_path=str(folder / "ort-aug.onnx"))
    calibrator.augment_graph()
    calibrator.create_inference_session()
    feeds = feeds_of(model, samples)
    calibrator.collect_data(Batches(feeds))
    calibrator.compute_data()
    return ours, time.perf_counter() - started


def auto_before(checkout: Path, source: Path, target: Path, data: Path) -> dict[str, Any]:
    """``--quantize auto`` of another mlpack checkout, in a subprocess (its own imports)."""
    command = [sys.executable, "-m", "mlpack.cli", "optimize", str(source), "-o", str(target)]
    command += ["--quantize", "auto", "--data", str(data), "--json"]
    done = subprocess.run(command, cwd=checkout, env={"PYTHONPATH": str(checkout), "PATH": ""}, capture_output=True)
    if done.returncode:
        raise mlpack.MlpackError(done.stdout.decode()[-200:] + done.stderr.decode()[-200:])
    return json.loads(done.stdout)


def run_family(name: str, folder: Path, trained: Path, size: str, before: Path | None, nodes: bool) -> list[str]:
    source, data, held_out = family_model(name, trained, size)
    conv = has_convolutions(source)
    built: dict[str, Path] = {}
    sizes: dict[str, int] = {}
    refused: dict[str, str] = {}
    decisions: tuple[dict[str, Any], ...] = ()
    for label, (mode, settings) in MODES.items():
        if conv and name in CONV_FAMILIES and label not in CONV_MODES:
            continue
        target = folder / f"{name}.{label.replace('/', '-').replace(' ', '')}.onnx"
        tolerance = Tolerance(atol=None, min_cosine=0.99) if mode is QuantMode.NONE else None
        try:
            result = mlpack.optimize(source, target, quantize=mode, settings=settings, data=data, tolerance=tolerance)
            built[label], sizes[label] = result.output, result.size_after
            decisions = result.nodes if mode is QuantMode.AUTO else decisions
        except mlpack.MlpackError as exc:
            refused[label] = str(exc).split(";")[0][:110]
    notes = []
    if conv:
        target = folder / f"{name}.ort-static.onnx"
        seconds = raw_static(built["none"], target, data)
        built["onnxruntime static"], sizes["onnxruntime static"] = target, target.stat().st_size
        ours, theirs = calibration_seconds(built["none"], data, folder)
        notes.append(
            f"{name}: onnxruntime quantize_static took {seconds:.1f} s; ranges on {CALIBRATION} samples: "
            f"mlpack {ours:.1f} s, onnxruntime's calibrator {theirs:.1f} s"
        )
    if before is not None:
        target = folder / f"{name}.auto-before.onnx"
        try:
            sizes["auto (before)"] = auto_before(before, source, target, data)["size_after"]
            built["auto (before)"] = target
        except mlpack.MlpackError as exc:
            refused["auto (before)"] = str(exc)[:110]
    rows = _rows(name, built, sizes, held_out)
    rows += [f"| {name} | {label} | refused | {reason} | | | | |" for label, reason in refused.items()]
    if nodes:
        notes += [f"{name} auto, per convolution:"] + [
            f"  {n['node']} ({'+'.join(n['ops'])}): {n['compute'].upper()}, {n['reason']}" for n in decisions
        ]
    return rows + [f"<!-- {note} -->" if not note.startswith("  ") else note for note in notes]


def _rows(name: str, built: dict[str, Path], sizes: dict[str, int], held_out: Path) -> list[str]:
    import onnxruntime as ort

    fp32 = built["none"]
    feeds = feeds_of(fp32, held_out)
    chunk = 32 if name in CONV_FAMILIES else None
    reference = outputs(fp32, feeds, chunk)
    names = [o.name for o in ort.InferenceSession(str(fp32)).get_outputs()]
    order = list(built)
    latency = {
        batch: p50_ratios([built[m] for m in order], feeds_of(fp32, held_out, batch), seconds=3.0) for batch in (1, 8)
    }
    rows = []
    for index, label in enumerate(order):
        cosine, agree, f1 = fidelity(reference, outputs(built[label], feeds, chunk), names)
        size_ratio = sizes[label] / sizes["none"]
        rows.append(
            f"| {name} | {label} | {size_ratio:.3f} | {cosine} | {agree} | {f1} | "
            f"{latency[1][index]:.2f} | {latency[8][index]:.2f} |"
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--families", default=",".join(FAMILIES))
    parser.add_argument("--quick", action="store_true", help="tiny models (seconds), not realistic sizes")
    parser.add_argument("--before", type=Path, help="another mlpack checkout: its --quantize auto, side by side")
    parser.add_argument("--nodes", default="", help="print auto's decision per convolution for this family")
    parser.add_argument("--models", type=Path, help="keep the trained conv families here and reuse them")
    args = parser.parse_args()
    print(
        "| family | mode | size / FP32 | lowest output cosine | decisions kept (95% lower bound) "
        "| F1 of active decisions (lower bound) | p50 / FP32 (batch 1) | p50 / FP32 (batch 8) |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory(prefix="mlpack-shrink-") as tmp:
        for name in args.families.split(","):
            folder = Path(tmp) / name
            folder.mkdir()
            size = "tiny" if args.quick else "realistic"
            trained = args.models if args.models and name in CONV_FAMILIES else folder
            trained.mkdir(parents=True, exist_ok=True)
            for row in run_family(name, folder, trained, size, args.before, name == args.nodes):
                print(row, flush=True)


if __name__ == "__main__":
    main()
