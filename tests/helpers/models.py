"""Models and data the tests build: a Gemm MLP, a classifier static INT8 breaks, tiny PyTorch sources."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

TESTS = Path(__file__).resolve().parent.parent
TINY = TESTS / "tiny_models.py"


def tiny(name: str) -> str:
    return f"{TINY}:{name}"


def make_gemm_mlp(path: Path, *, width: int = 16, hidden: int = 64, seed: int = 0, batch: int | str = "batch") -> Path:
    """A two-layer float MLP written with onnx.helper: fast to build, Gemm like torch's Linear.
    ``batch``: its batch dimension (1: fixed at one sample per call, as many exports leave it)."""
    rng = np.random.default_rng(seed)
    w1 = numpy_helper.from_array(rng.standard_normal((hidden, width)).astype(np.float32) * 0.2, "w1")
    b1 = numpy_helper.from_array(rng.standard_normal(hidden).astype(np.float32) * 0.1, "b1")
    w2 = numpy_helper.from_array(rng.standard_normal((4, hidden)).astype(np.float32) * 0.2, "w2")
    b2 = numpy_helper.from_array(rng.standard_normal(4).astype(np.float32) * 0.1, "b2")
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["x", "w1", "b1"], ["h"], transB=1),
            helper.make_node("Relu", ["h"], ["r"]),
            helper.make_node("Gemm", ["r", "w2", "b2"], ["y"], transB=1),
        ],
        "mlp",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [batch, 4])],
        [w1, b1, w2, b2],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return path


def make_wide_range_classifier(folder: Path, *, samples: int = 300) -> dict[str, Path]:
    """A classifier that full static INT8 breaks: one hidden channel is scaled by 1000 (and then
    ignored by the head), so a per-tensor activation range rounds away the channels that decide.
    Returns the model, calibration data and labelled evaluation data (labels = float decisions)."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    w1 = rng.standard_normal((16, 64)).astype(np.float32) * 0.5
    b1 = np.zeros(64, np.float32)
    scale = np.ones(64, np.float32)
    scale[0] = 1000.0
    b1[0] = 3.0  # keep the wide channel active
    w2 = rng.standard_normal((64, 4)).astype(np.float32) * 0.3
    w2[0] = 0.0
    inits = [numpy_helper.from_array(a, n) for a, n in ((w1, "w1"), (b1, "b1"), (scale, "scale"), (w2, "w2"))]
    graph = helper.make_graph(
        [
            helper.make_node("MatMul", ["x", "w1"], ["h0"], name="fc1"),
            helper.make_node("Add", ["h0", "b1"], ["h1"], name="bias1"),
            helper.make_node("Relu", ["h1"], ["h"], name="relu1"),
            helper.make_node("Mul", ["h", "scale"], ["wide"], name="widen"),
            helper.make_node("MatMul", ["wide", "w2"], ["logits"], name="head"),
        ],
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 16])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 4])],
        inits,
    )
    model = folder / "wide.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    x = rng.standard_normal((samples, 16)).astype(np.float32)
    (logits,) = ort.InferenceSession(str(model)).run(None, {"x": x})
    np.savez(folder / "calib.npz", x=x[: samples // 2])
    np.savez(folder / "eval.npz", x=x[samples // 2 :], labels=logits[samples // 2 :].argmax(axis=1))
    return {"model": model, "calibration": folder / "calib.npz", "eval": folder / "eval.npz"}


def make_convnet(folder: Path, *, wide: bool = False, samples: int = 1024) -> tuple[Path, Path]:
    """A small conv net (3x3 conv, 1x1 conv, 1x1 conv, pooled, a Gemm head: 8 logits). ``wide``: its middle
    activation breaks static INT8: conv1 makes one channel 1000x wider (conv2 then ignores it), so
    a per-tensor UINT8 range for conv1's output and conv2's input rounds away the channels that
    decide; conv0's tensors keep ordinary ranges. Returns the model and ``samples`` inputs (.npz)."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((32, 4, 3, 3)).astype(np.float32) * 0.3
    w1 = rng.standard_normal((32, 32, 1, 1)).astype(np.float32) * 0.3
    b1 = np.zeros(32, np.float32)
    if wide:
        w1[0] *= 1000.0
        b1[0] = 3000.0  # keep the wide channel active
    w2 = rng.standard_normal((32, 32, 1, 1)).astype(np.float32) * 0.3
    w2[:, 0] = 0.0
    w3 = rng.standard_normal((32, 32)).astype(np.float32) * 0.3
    arrays = ((w0, "w0"), (w1, "w1"), (b1, "b1"), (w2, "w2"), (w3, "w3"))
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w0"], ["c0"], name="conv0", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
            helper.make_node("Conv", ["r0", "w1", "b1"], ["c1"], name="conv1"),
            helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
            helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2"),
            helper.make_node("GlobalAveragePool", ["c2"], ["pooled"], name="pool"),
            helper.make_node("Flatten", ["pooled"], ["flat"], name="flatten"),
            helper.make_node("Gemm", ["flat", "w3"], ["logits"], name="head", transB=1),
        ],
        "wideconv",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 32])],
        [numpy_helper.from_array(a, n) for a, n in arrays],
    )
    name = "wideconv" if wide else "convnet"
    model = folder / f"{name}.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    x = rng.standard_normal((samples, 4, 8, 8)).astype(np.float32)
    ort.InferenceSession(str(model)).run(None, {"x": x[:2]})  # it loads and runs
    np.savez(folder / f"{name}.npz", x=x)
    return model, folder / f"{name}.npz"


def make_residual_convnet(folder: Path, *, samples: int = 512) -> tuple[Path, Path]:
    """A conv net with a residual Add static INT8 breaks while its convolutions are fine alone:
    conv0 (3x3, Relu) feeds a narrow 1x1 branch and a wide one that writes only channel 0, 1000x
    wider; ``add`` sums them, so its output's one per-tensor range rounds away the narrow branch's
    channels, which decide; each branch's own range is harmless (the wide one's other channels are
    exact zeros). The head reads channels 1-31 (a float Slice), spatially averaged, through a Gemm.
    Returns the model and ``samples`` inputs (.npz)."""
    import onnxruntime as ort

    rng = np.random.default_rng(0)
    w0 = rng.standard_normal((32, 4, 3, 3)).astype(np.float32) * 0.3
    narrow = rng.standard_normal((32, 32, 1, 1)).astype(np.float32) * 0.3
    wide = np.zeros((32, 32, 1, 1), np.float32)
    wide[0] = rng.standard_normal((32, 1, 1)).astype(np.float32) * 1000.0
    wide_b = np.zeros(32, np.float32)
    wide_b[0] = 3000.0
    head = rng.standard_normal((8, 31)).astype(np.float32) * 0.3
    arrays = ((w0, "w0"), (narrow, "wn"), (wide, "ww"), (wide_b, "bw"), (head, "wh"))
    consts = (
        (np.array([1], np.int64), "s_start"),
        (np.array([32], np.int64), "s_end"),
        (np.array([1], np.int64), "s_axis"),
    )
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w0"], ["c0"], name="conv0", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["c0"], ["r0"], name="relu0"),
            helper.make_node("Conv", ["r0", "wn"], ["n"], name="narrow"),
            helper.make_node("Conv", ["r0", "ww", "bw"], ["w"], name="wide"),
            helper.make_node("Add", ["n", "w"], ["s"], name="add"),
            helper.make_node("Slice", ["s", "s_start", "s_end", "s_axis"], ["kept"], name="slice"),
            helper.make_node("ReduceMean", ["kept"], ["mean"], name="mean", axes=[2, 3], keepdims=0),
            helper.make_node("Gemm", ["mean", "wh"], ["logits"], name="head", transB=1),
        ],
        "residual",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 8])],
        [numpy_helper.from_array(a, n) for a, n in (*arrays, *consts)],
    )
    model = folder / "residual.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    x = rng.standard_normal((samples, 4, 8, 8)).astype(np.float32)
    ort.InferenceSession(str(model)).run(None, {"x": x[:2]})  # it loads and runs
    np.savez(folder / "residual.npz", x=x)
    return model, folder / "residual.npz"
