"""Statistics of any input layout: NHWC channels from the signature, the channel axis from the
user (``--channel-axis NAME=AXIS`` on pack and drift), and pack --data fed like every other command:
inputs given by value (``--set``), a stream carrying state (``--state``), a batch on axis 1."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlpack.artifact.pack import pack
from mlpack.budget.drift import drift, load_reference
from mlpack.cli import app
from mlpack.data.feeds import FeedOptions
from mlpack.errors import ExitCode


def _save(graph: onnx.GraphProto, path: Path) -> Path:
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 18)]), path)
    return path


def nhwc_model(path: Path) -> Path:
    """y = the mean of each channel of an NHWC image [batch, 8, 8, 3]."""
    img = helper.make_tensor_value_info("img", TensorProto.FLOAT, ["batch", 8, 8, 3])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])
    axes = numpy_helper.from_array(np.array([1, 2], np.int64), "axes")
    node = helper.make_node("ReduceMean", ["img", "axes"], ["y"], keepdims=0)
    return _save(helper.make_graph([node], "nhwc", [img], [y], [axes]), path)


def gain_model(path: Path) -> Path:
    """y = x * gain, with gain a scalar given by value."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    gain = helper.make_tensor_value_info("gain", TensorProto.FLOAT, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    return _save(helper.make_graph([helper.make_node("Mul", ["x", "gain"], ["y"])], "gain", [x, gain], [y]), path)


def state_model(path: Path) -> Path:
    """new_state = state + mean(x) per sample, prob = sigmoid(sum(x)); state is [2, batch, 4]."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    state = helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, "batch", 4])
    prob = helper.make_tensor_value_info("prob", TensorProto.FLOAT, ["batch", 1])
    new_state = helper.make_tensor_value_info("new_state", TensorProto.FLOAT, [2, "batch", 4])
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes1"], ["xm"], keepdims=1),
        helper.make_node("Add", ["state", "xm"], ["new_state"]),
        helper.make_node("ReduceSum", ["x", "axes1"], ["xs"], keepdims=1),
        helper.make_node("Sigmoid", ["xs"], ["prob"]),
    ]
    inits = [numpy_helper.from_array(np.array([1], np.int64), "axes1")]
    return _save(helper.make_graph(nodes, "stateful", [x, state], [prob, new_state], inits), path)


def _npz(path: Path, **arrays: np.ndarray) -> Path:
    np.savez(path, **arrays)
    return path


def _images(n: int, seed: int, bright: float = 0.0) -> np.ndarray:
    images = np.random.default_rng(seed).uniform(0, 1, (n, 8, 8, 3)).astype(np.float32)
    images[..., 2] += bright
    return images


def test_nhwc_channels_come_from_the_signature(tmp_path: Path) -> None:
    model = nhwc_model(tmp_path / "nhwc.onnx")
    package = pack(model, tmp_path / "p.mlpack", data=_npz(tmp_path / "val.npz", img=_images(300, 0))).output
    (img, _) = load_reference(package).tensors
    assert img.view.axis == 3 and [f.name for f in img.features] == [f"img[channel {c}]" for c in range(3)]
    assert drift(package, data=_npz(tmp_path / "same.npz", img=_images(200, 1))).ok
    moved = drift(package, data=_npz(tmp_path / "moved.npz", img=_images(200, 2, bright=0.3)))
    assert {f.feature for f in moved.drifted if f.role == "input"} == {"img[channel 2]"}


def test_the_channel_axis_from_the_user_and_checked_by_drift(tmp_path: Path, runner) -> None:
    model = nhwc_model(tmp_path / "nhwc.onnx")
    val = _npz(tmp_path / "val.npz", img=_images(300, 0))
    package = tmp_path / "rows.mlpack"
    cli = runner.invoke(app, ["pack", str(model), "-o", str(package), "--data", str(val), "--channel-axis", "img=1"])
    assert cli.exit_code == 0, cli.output
    (img, _) = load_reference(package).tensors
    assert img.view.axis == 1 and len(img.features) == 8
    same = _npz(tmp_path / "same.npz", img=_images(200, 1))
    assert runner.invoke(app, ["drift", str(package), "--data", str(same), "--channel-axis", "img=1"]).exit_code == 0
    other = runner.invoke(app, ["drift", str(package), "--data", str(same), "--channel-axis", "img=3"])
    assert other.exit_code == ExitCode.BAD_INPUT and "--channel-axis img=3" in other.output
    for bad, said in (("nope=1", "neither as input nor output"), ("img=9", "has 4 axes"), ("img", "NAME=AXIS")):
        cli = runner.invoke(
            app, ["pack", str(model), "-o", str(tmp_path / "x.mlpack"), "--data", str(val), "--channel-axis", bad]
        )
        assert cli.exit_code == ExitCode.BAD_INPUT and said in cli.output, cli.output


def test_pack_data_honours_set_values(tmp_path: Path, runner) -> None:
    model = gain_model(tmp_path / "gain.onnx")
    rng = np.random.default_rng(0)
    val = _npz(tmp_path / "val.npz", x=rng.standard_normal((300, 4)).astype(np.float32))
    package = tmp_path / "gain.mlpack"
    cli = runner.invoke(app, ["pack", str(model), "-o", str(package), "--data", str(val), "--set", "gain=2.0"])
    assert cli.exit_code == 0, cli.output
    assert [t.name for t in load_reference(package).tensors] == ["x", "y"]  # a value given is not data
    same = _npz(tmp_path / "same.npz", x=rng.standard_normal((200, 4)).astype(np.float32))
    assert drift(package, data=same).ok  # the package's own feeding gives gain again


def test_pack_data_honours_a_batch_on_axis_1(tmp_path: Path) -> None:
    model = state_model(tmp_path / "state.onnx")
    rng = np.random.default_rng(0)

    def data(name: str, n: int, shift: float = 0.0) -> Path:
        state = (rng.standard_normal((2, n, 4)) + shift).astype(np.float32)
        return _npz(tmp_path / name, x=rng.standard_normal((n, 4)).astype(np.float32), state=state)

    package = pack(model, tmp_path / "state.mlpack", data=data("val.npz", 400)).output
    tensors = {t.name: t for t in load_reference(package).tensors}
    assert tensors["state"].view.batch_axis == 1 and tensors["new_state"].view.batch_axis == 1
    assert load_reference(package).samples == 400
    assert drift(package, data=data("same.npz", 300)).ok
    moved = drift(package, data=data("moved.npz", 300, shift=1.0))
    assert {f.tensor for f in moved.drifted} == {"state", "new_state"}


def test_pack_data_honours_state_pairs(tmp_path: Path) -> None:
    model = state_model(tmp_path / "state.onnx")
    rng = np.random.default_rng(1)
    val = _npz(tmp_path / "val.npz", x=rng.standard_normal((120, 4)).astype(np.float32))
    feeding = FeedOptions.parse(state=["new_state=state"])
    package = pack(model, tmp_path / "stream.mlpack", data=val, feeding=feeding, golden=0).output
    recorded = load_reference(package)
    assert [t.name for t in recorded.tensors] == ["x", "prob", "new_state"] and recorded.samples == 120
    same = _npz(tmp_path / "same.npz", x=rng.standard_normal((120, 4)).astype(np.float32))
    assert {f.tensor for f in drift(package, data=same).features} == {"x", "prob", "new_state"}


@pytest.mark.parametrize("axis", ["none", "2"])
def test_channel_axis_none_pools_and_another_axis_cuts_there(tmp_path: Path, axis: str) -> None:
    from mlpack.data.views import parse_channel_axes

    model = nhwc_model(tmp_path / "nhwc.onnx")
    val = _npz(tmp_path / "val.npz", img=_images(300, 0))
    package = pack(model, tmp_path / "p.mlpack", data=val, channel_axes=parse_channel_axes([f"img={axis}"])).output
    (img, _) = load_reference(package).tensors
    assert (img.view.kind, img.view.axis, len(img.features)) == (
        ("pooled", None, 1) if axis == "none" else ("features", 2, 8)
    )
