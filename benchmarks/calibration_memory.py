"""Static INT8 calibration memory: raw onnxruntime against mlpack, on a BERT-base-size encoder.

Both start from the same FP32 model (benchmarks/bert_model.py: 110M parameters) and the same
calibration file (256 samples of 128 tokens by default), run onnxruntime's pre-processing, then
calibrate and quantise (QDQ, per-channel, U8 activations, S8 weights). Raw onnxruntime gets a
reader of ``--raw-batch`` samples per batch, as a user would write it; mlpack runs at its
defaults (``--calibration-batch 32``, ``--calibration-memory 1GB``). Each run is a child
process, so its peak RSS (``getrusage``) is its own; the ratios are from this one run.

    .venv/bin/python benchmarks/calibration_memory.py               # 256 samples (minutes, ~10 GB)
    .venv/bin/python benchmarks/calibration_memory.py --quick       # 32 samples
    .venv/bin/python benchmarks/calibration_memory.py --method percentile --samples 64
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bert_model import bert_model, calibration_data  # noqa: E402

METHODS = {"minmax": "MinMax", "entropy": "Entropy", "percentile": "Percentile"}


def _raw(model: Path, calibration: Path, method: str, batch: int, workdir: Path) -> None:
    import numpy as np
    from onnxruntime import quantization as q
    from onnxruntime.quantization.shape_inference import quant_pre_process

    prepared = workdir / "pre.onnx"
    quant_pre_process(str(model), str(prepared))
    data = np.load(calibration)
    arrays = {name: data[name] for name in data.files}
    samples = len(next(iter(arrays.values())))

    class Reader(q.CalibrationDataReader):
        def __init__(self) -> None:
            self.start = 0

        def get_next(self) -> dict | None:
            if self.start >= samples:
                return None
            feeds = {name: a[self.start : self.start + batch] for name, a in arrays.items()}
            self.start += batch
            return feeds

    q.quantize_static(
        str(prepared),
        str(workdir / "raw.onnx"),
        Reader(),
        quant_format=q.QuantFormat.QDQ,
        per_channel=True,
        activation_type=q.QuantType.QUInt8,
        weight_type=q.QuantType.QInt8,
        calibrate_method=getattr(q.CalibrationMethod, METHODS[method]),
    )


def _mlpack(model: Path, calibration: Path, method: str, workdir: Path) -> str:
    from mlpack.quant.modes.static import quantize_static
    from mlpack.quant.passes import PassLog
    from mlpack.quant.settings import CalibrationMethod, QuantizeSettings

    log = PassLog()
    settings = QuantizeSettings(calibration=calibration, calibration_method=CalibrationMethod(method))
    quantize_static(model, workdir / "mlpack.onnx", settings, log)
    return log.steps[-1]


def child(kind: str, model: Path, calibration: Path, method: str, batch: int) -> None:
    """One measured run; prints its seconds, peak RSS and what it did as one JSON line."""
    started = time.perf_counter()
    note = ""
    with tempfile.TemporaryDirectory(prefix="calib-bench-") as tmp:
        if kind == "raw":
            _raw(model, calibration, method, batch, Path(tmp))
        else:
            note = _mlpack(model, calibration, method, Path(tmp))
    seconds = time.perf_counter() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux
    sys.stdout.write(json.dumps({"seconds": seconds, "peak_bytes": peak, "note": note}) + "\n")


def measure(kind: str, model: Path, calibration: Path, method: str, batch: int) -> dict:
    command = [sys.executable, __file__, "--child", kind, "--method", method, "--raw-batch", str(batch)]
    command += ["--model", str(model), "--calibration", str(calibration)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"{kind} run failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=256, help="calibration samples of 128 tokens")
    parser.add_argument("--quick", action="store_true", help="32 samples")
    parser.add_argument("--method", choices=sorted(METHODS), default="minmax")
    parser.add_argument("--raw-batch", type=int, default=16, help="raw onnxruntime's reader batch")
    parser.add_argument("--child", choices=("raw", "mlpack"), help=argparse.SUPPRESS)
    parser.add_argument("--model", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--calibration", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.model, args.calibration, args.method, args.raw_batch)
        return 0
    samples = 32 if args.quick else args.samples
    model, calibration = bert_model(), calibration_data(samples)
    out = sys.stdout.write
    out(f"model {model} ({model.stat().st_size / 1e6:.0f} MB), {samples} samples x 128 tokens, {args.method}\n")
    raw = measure("raw", model, calibration, args.method, args.raw_batch)
    out(f"raw onnxruntime (batch {args.raw_batch}): {raw['seconds']:.1f} s, peak {raw['peak_bytes'] / 2**30:.2f} GiB\n")
    ours = measure("mlpack", model, calibration, args.method, args.raw_batch)
    out(f"mlpack (defaults): {ours['seconds']:.1f} s, peak {ours['peak_bytes'] / 2**30:.2f} GiB\n  {ours['note']}\n")
    out(
        f"ratios mlpack/raw: peak {ours['peak_bytes'] / raw['peak_bytes']:.2f}x, "
        f"time {ours['seconds'] / raw['seconds']:.2f}x\n"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
