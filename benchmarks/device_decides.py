"""Where auto's speed decisions are measured changes what it decides: this host against a device.

Runs ``optimize --quantize auto`` (through the API) on the same models three ways, one after the
other: timed here, timed over SSH on this same host (the tests' asyncssh server on 127.0.0.1, so
the difference is the cost of deciding over SSH), and timed on a device (``--target``, e.g. the
emulated ARM device of tools/arm-device/). Prints each timing and each weight's decision side by
side, and the wall times. Under emulation absolute times mean nothing; the ratios and the
decisions are what it shows (qemu speeds integer SIMD more than float: not a real board's figures).

    tools/arm-device/serve.sh start --cpu cortex-a76 && eval "$(tools/arm-device/serve.sh env)"
    PYTHONPATH=. .venv/bin/python benchmarks/device_decides.py \\
        --target "$MLPACK_ARM_TARGET" --device-home "$MLPACK_ARM_HOME" [--batch-sizes 1,4]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def conv_net(path: Path, *, channels: int = 32, size: int = 16, seed: int = 0) -> Path:
    """Two 3x3 convolutions, pooled, then a classifier: the shape of a small image model."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    rng = np.random.default_rng(seed)

    def weight(name: str, *shape: int) -> onnx.TensorProto:
        return numpy_helper.from_array((rng.standard_normal(shape) * 0.1).astype(np.float32), name)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2", "b2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["p"], name="pool"),
        helper.make_node("Flatten", ["p"], ["f"], name="flatten"),
        helper.make_node("Gemm", ["f", "w3", "b3"], ["y"], name="classifier", transB=1),
    ]
    initializers = [
        weight("w1", channels, 3, 3, 3),
        weight("b1", channels),
        weight("w2", channels * 2, channels, 3, 3),
        weight("b2", channels * 2),
        weight("w3", 10, channels * 2),
        weight("b3", 10),
    ]
    graph = helper.make_graph(
        nodes,
        "conv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 3, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 10])],
        initializers,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), str(path))
    return path


def _images(path: Path, samples: int) -> Path:
    """Inputs for the conv net: its first eighth calibrates static INT8, the rest judges (auto's split)."""
    import numpy as np

    rng = np.random.default_rng(0)
    np.savez(path, x=rng.normal(0, 1, (samples, 3, 16, 16)).astype(np.float32))
    return path


class Stopwatch:
    """A timer that counts the seconds its questions took (SSH, copying and the device's start-up included)."""

    def __init__(self, timer: Any) -> None:
        self.timer, self.seconds, self.questions = timer, 0.0, 0

    @property
    def measured_on(self) -> Any:
        return self.timer.measured_on

    def p50_ratios(self, models: list[Path], feeds: dict[str, Any]) -> list[float]:
        return self.p50_ratios_each(models, [feeds])[0]

    def p50_ratios_each(self, models: list[Path], feed_sets: list[dict[str, Any]]) -> list[list[float]]:
        from mlpack.quant.timers import ratios_each

        started = time.perf_counter()
        try:
            return ratios_each(self.timer, models, feed_sets)
        finally:
            self.seconds += time.perf_counter() - started
            self.questions += 1


def decide(model: Path, out: Path, timer: Any, sizes: tuple[int, ...], data: Path | None) -> tuple[Any, float]:
    from mlpack.quant.optimize import optimize
    from mlpack.quant.settings import QuantMode

    started = time.perf_counter()
    result = optimize(model, out, quantize=QuantMode.AUTO, timer=timer, batch_sizes=sizes, data=data)
    return result, time.perf_counter() - started


def show(name: str, runs: dict[str, tuple[Any, float]], sizes: tuple[int, ...]) -> None:
    where, width = list(runs), 24
    print(f"\n== {name}")
    for label, (result, seconds) in runs.items():
        for device in (result.speed_decisions or {}).get("measured_on", []):
            isa = ",".join(device["isa"]) or "-"
            print(f"  {label:9} {seconds:6.1f} s wall; {device['device']}: {device['cpu']} [{isa}]")
    batches = "/".join(str(b) for b in sizes)
    print(f"  {'p50 / unquantised at batch ' + batches:34}" + "".join(f"{w:>{width}}" for w in where))
    timings = [r.speed_decisions["timings"] if r.speed_decisions else [] for r, _ in runs.values()]
    for index in range(max(len(t) for t in timings)):
        label = next(t[index]["models"][1] for t in timings if len(t) > index)
        cells = [
            "/".join(f"{r[1]:.2f}" for r in t[index]["batch_sizes"].values()) if len(t) > index else "-"
            for t in timings
        ]
        print(f"  {label:34}" + "".join(f"{c:>{width}}" for c in cells))
    print(f"  {'weight: decision':34}" + "".join(f"{w:>{width}}" for w in where))
    tensors = [{t["tensor"]: t["representation"] for t in r.tensors} for r, _ in runs.values()]
    for tensor in tensors[0]:
        print(f"  {tensor:34}" + "".join(f"{t.get(tensor, '-'):>{width}}" for t in tensors))
    sizes_after = [f"{r.size_ratio:.3f}" for r, _ in runs.values()]
    latency = [f"{r.latency_ratio:.2f}" if r.latency_ratio else "-" for r, _ in runs.values()]
    print(f"  {'size / FP32':34}" + "".join(f"{c:>{width}}" for c in sizes_after))
    print(f"  {'latency / FP32 (where measured)':34}" + "".join(f"{c:>{width}}" for c in latency))


def main() -> None:
    import asyncssh

    from mlpack.quant.timing import LocalTimer
    from mlpack.remote.timer import RemoteTimer
    from tests.helpers.models import make_gemm_mlp
    from tests.remote.ssh_server import LocalSSHServer, session_env, write_client_home

    parser = argparse.ArgumentParser()
    parser.add_argument("--target", help="the device: ssh://[user@]host[:port] (omit: host and SSH only)")
    parser.add_argument("--device-home", help="HOME whose ~/.ssh reaches the device (serve.sh env)")
    parser.add_argument("--batch-sizes", default="1,4")
    parser.add_argument("--timeout", type=float, default=3600.0)
    parser.add_argument(
        "--conv-data", type=int, default=512, help="samples given to the conv net as --data (static INT8 needs data)"
    )
    args = parser.parse_args()
    sizes = tuple(int(b) for b in args.batch_sizes.split(","))
    own_home = os.environ.get("HOME", "/root")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        models = {
            "MLP 256-1024-10": make_gemm_mlp(tmp / "mlp.onnx", width=256, hidden=1024),
            "conv net 3-32-64, 16x16": conv_net(tmp / "conv.onnx"),
        }
        data = {"conv": _images(tmp / "conv.npz", args.conv_data) if args.conv_data else None}
        key = asyncssh.generate_private_key("ssh-ed25519")
        (tmp / "authorized_keys").write_text(key.export_public_key().decode())
        server = LocalSSHServer(tmp / "d", tmp / "authorized_keys", env=session_env(TMPDIR=tmp_name))
        with server:
            ssh_home = str(write_client_home(tmp / "home", [server], key=key))
            os.environ.pop("SSH_AUTH_SOCK", None)
            for name, model in models.items():
                runs: dict[str, tuple[Any, float]] = {}
                watches: dict[str, Stopwatch] = {}
                places = [("host", own_home, LocalTimer()), ("host/ssh", ssh_home, f"ssh://127.0.0.1:{server.port}")]
                if args.target:
                    places.append(("device", args.device_home or own_home, args.target))
                for label, home, where in places:
                    os.environ["HOME"] = home
                    timer = RemoteTimer(where, timeout_s=args.timeout) if isinstance(where, str) else where
                    watches[label] = Stopwatch(timer)
                    out = tmp / f"{model.stem}-{label.replace('/', '-')}.onnx"
                    runs[label] = decide(model, out, watches[label], sizes, data.get(model.stem))
                show(name, runs, sizes)
                spent = [
                    f"{label}: {w.questions} questions, {w.seconds:.1f} s answering" for label, w in watches.items()
                ]
                print("  time in the timer (the rest of the wall time is the host's own work): " + "; ".join(spent))
        os.environ["HOME"] = own_home


if __name__ == "__main__":
    main()
