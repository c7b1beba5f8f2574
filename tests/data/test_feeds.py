"""Inputs as models take them: batch axes per input, files that are one call, ONNX test-data
directories, state pairs run as streams, plausible generated inputs, --set values."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper
from typer.testing import CliRunner

from mlpack.cli import app
from mlpack.core.batching import data_batch_axes
from mlpack.core.fidelity import Tolerance, compare_outputs
from mlpack.core.onnxio import create_session, run_session
from mlpack.core.signature import TensorSpec, signature_of
from mlpack.data.feeds import FeedOptions, model_feeds
from mlpack.data.generate import generate_inputs, input_hints
from mlpack.errors import InputSpecError
from tests.helpers.hostile import without_progress

runner = CliRunner()


def _save(model: onnx.ModelProto, path: Path) -> Path:
    model.ir_version = 9
    del model.opset_import[:]
    model.opset_import.append(helper.make_opsetid("", 18))
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path


def _state_model(path: Path, decay: float = 1.0, *, unnamed: bool = False) -> Path:
    """prob = sigmoid(sum(x) + sum(state)); new_state = state * decay + mean(x) (state [2, batch, 4])."""
    batch: str | None = None if unnamed else "batch"
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [batch, 4])
    state = helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, batch, 4])
    prob = helper.make_tensor_value_info("prob", TensorProto.FLOAT, [batch, 1])
    new_state = helper.make_tensor_value_info("new_state", TensorProto.FLOAT, [2, batch, 4])
    nodes = [
        helper.make_node("ReduceMean", ["x", "axes1"], ["xm"], keepdims=1),  # [b, 1]
        helper.make_node("Mul", ["state", "decay"], ["scaled"]),
        helper.make_node("Add", ["scaled", "xm"], ["new_state"]),  # broadcast [2, b, 4] + [b, 1]
        helper.make_node("ReduceSum", ["new_state", "axes02"], ["ss"], keepdims=0),  # [b]
        helper.make_node("Unsqueeze", ["ss", "axes1"], ["ss1"]),
        helper.make_node("ReduceSum", ["x", "axes1"], ["xs"], keepdims=1),
        helper.make_node("Add", ["xs", "ss1"], ["logit"]),
        helper.make_node("Sigmoid", ["logit"], ["prob"]),
    ]
    inits = [
        numpy_helper.from_array(np.array([1], np.int64), "axes1"),
        numpy_helper.from_array(np.array([0, 2], np.int64), "axes02"),
        numpy_helper.from_array(np.array(decay, np.float32), "decay"),
    ]
    graph = helper.make_graph(nodes, "stateful", [x, state], [prob, new_state], inits)
    return _save(helper.make_model(graph), path)


def _scalar_model(path: Path) -> Path:
    """y = x * sr / 16000, with sr a scalar int64 sample rate."""
    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4])
    sr = helper.make_tensor_value_info("sr", TensorProto.INT64, [])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 4])
    nodes = [
        helper.make_node("Cast", ["sr"], ["srf"], to=TensorProto.FLOAT),
        helper.make_node("Div", ["srf", "k"], ["scale"]),
        helper.make_node("Mul", ["x", "scale"], ["y"]),
    ]
    inits = [numpy_helper.from_array(np.array(16000.0, np.float32), "k")]
    return _save(helper.make_model(helper.make_graph(nodes, "scalar", [x, sr], [y], inits)), path)


def _expand_model(path: Path) -> Path:
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, [3, 1])
    shape = helper.make_tensor_value_info("shape", TensorProto.INT64, [2])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [3, None])
    graph = helper.make_graph([helper.make_node("Expand", ["X", "shape"], ["Y"])], "expand", [x, shape], [y])
    return _save(helper.make_model(graph), path)


def _test_set(folder: Path, inputs: list[np.ndarray], outputs: list[np.ndarray] = ()) -> None:
    folder.mkdir(parents=True)
    for kind, arrays in (("input", inputs), ("output", outputs)):
        for k, array in enumerate(arrays):
            (folder / f"{kind}_{k}.pb").write_bytes(numpy_helper.from_array(array).SerializeToString())


def test_batch_axis_comes_from_the_dimension_name(tmp_path: Path) -> None:
    model = _state_model(tmp_path / "m.onnx")
    data = tmp_path / "d.npz"
    np.savez(data, x=np.ones((5, 4), np.float32), state=np.zeros((2, 5, 4), np.float32))
    feeds = model_feeds(model, signature_of(onnx.load(str(model))), data=data)
    assert feeds.first["state"].shape == (2, 5, 4)
    assert feeds.label.startswith("5 samples")


def test_unnamed_batch_axes_are_inferred_from_the_data_and_said(tmp_path: Path) -> None:
    specs = (TensorSpec("input", (None, None), "float32"), TensorSpec("state", (2, None, 128), "float32"))
    arrays = {"input": np.zeros((4, 576), np.float32), "state": np.zeros((2, 4, 128), np.float32)}
    found = data_batch_axes(specs, arrays, source="d.npz")
    assert found.axes == {"input": 0, "state": 1}
    assert "'state' on axis 1" in found.describe_inferred()


def test_ambiguous_unnamed_axes_are_one_line_that_says_how_to_name_them() -> None:
    specs = (TensorSpec("a", (None, None), "float32"), TensorSpec("b", (None, None), "float32"))
    arrays = {"a": np.zeros((4, 4), np.float32), "b": np.zeros((4, 4), np.float32)}
    with pytest.raises(InputSpecError, match="name the batch dimension"):
        data_batch_axes(specs, arrays, source="d.npz")


def test_scalar_input_is_fed_whole_with_every_batch(tmp_path: Path) -> None:
    model = _scalar_model(tmp_path / "s.onnx")
    data = tmp_path / "d.npz"
    np.savez(data, x=np.ones((3, 4), np.float32), sr=np.array(8000, np.int64))
    out = tmp_path / "o.onnx"
    result = runner.invoke(app, ["optimize", str(model), "-o", str(out), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert "3 samples" in result.output
    feeds = model_feeds(model, signature_of(onnx.load(str(model))), options=FeedOptions.parse((), ("sr=16000",)))
    assert feeds.first["sr"].shape == () and int(feeds.first["sr"]) == 16000
    assert feeds.generated


def test_a_file_that_cannot_be_split_is_one_call_and_says_so(tmp_path: Path) -> None:
    """Inputs that become a sequence: X and Y differ in their first dimension."""
    x = helper.make_tensor_value_info("X", TensorProto.FLOAT, ["p", 3])
    y = helper.make_tensor_value_info("Y", TensorProto.FLOAT, ["q", 3])
    z = helper.make_tensor_value_info("Z", TensorProto.FLOAT, [None, 3])
    nodes = [
        helper.make_node("SequenceConstruct", ["X", "Y"], ["seq"]),
        helper.make_node("ConcatFromSequence", ["seq"], ["Z"], axis=0),
    ]
    model = _save(helper.make_model(helper.make_graph(nodes, "seq", [x, y], [z])), tmp_path / "q.onnx")
    data = tmp_path / "d.npz"
    np.savez(data, X=np.ones((2, 3), np.float32), Y=np.zeros((5, 3), np.float32))
    out = tmp_path / "o.onnx"
    result = runner.invoke(app, ["optimize", str(model), "-o", str(out), "--data", str(data), "--json"])
    assert result.exit_code == 0, result.output
    assert "one call with the arrays as given" in result.output


def test_onnx_test_data_layout_with_a_shape_tensor(tmp_path: Path) -> None:
    model = _expand_model(tmp_path / "e.onnx")
    x = np.arange(3, dtype=np.float32).reshape(3, 1)
    shape = np.array([3, 4], np.int64)
    _test_set(tmp_path / "data" / "test_data_set_0", [x, shape], [np.broadcast_to(x, (3, 4)).copy()])
    _test_set(tmp_path / "data" / "test_data_set_1", [x, np.array([1, 2], np.int64)], [np.broadcast_to(x, (3, 2))])
    out = tmp_path / "o.onnx"
    result = runner.invoke(app, ["optimize", str(model), "-o", str(out), "--data", str(tmp_path / "data"), "--json"])
    assert result.exit_code == 0, result.output
    assert "2 test set(s)" in result.output


def test_a_test_set_missing_an_input_file_is_one_line_exit_2_nothing_written(tmp_path: Path) -> None:
    model = _expand_model(tmp_path / "e.onnx")
    _test_set(tmp_path / "data" / "test_data_set_0", [np.zeros((3, 1), np.float32)])
    out = tmp_path / "o.onnx"
    result = runner.invoke(app, ["optimize", str(model), "-o", str(out), "--data", str(tmp_path / "data")])
    assert result.exit_code == 2
    assert "lacks input files for the model inputs ['shape']" in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    ("pair", "message"),
    [
        ("nope=state", "has no output 'nope'"),
        ("new_state=nope", "has no input 'nope'"),
        ("prob=state", "must match in shape"),
        ("new_state", "takes OUTPUT=INPUT"),
    ],
)
def test_bad_state_pairs_are_one_line_exit_2_nothing_written(tmp_path: Path, pair: str, message: str) -> None:
    model = _state_model(tmp_path / "m.onnx")
    out = tmp_path / "o.onnx"
    result = runner.invoke(app, ["optimize", str(model), "-o", str(out), "--state", pair])
    assert result.exit_code == 2
    assert message in result.output
    assert len(without_progress(result.output).strip().splitlines()) <= 2
    assert not out.exists()


def test_stream_catches_drift_that_every_independent_call_hides(tmp_path: Path) -> None:
    reference = _state_model(tmp_path / "ref.onnx", decay=1.0)
    drifting = _state_model(tmp_path / "drift.onnx", decay=1.0 + 1e-6)
    signature = signature_of(onnx.load(str(reference)))
    rng = np.random.default_rng(0)
    data = tmp_path / "d.npz"
    np.savez(data, x=(0.1 * rng.standard_normal((64, 4)) + 0.5).astype(np.float32))
    tolerance = Tolerance(atol=1e-4, rtol=0.0)
    names = [o.name for o in signature.outputs]

    # Every call on its own, from any state the reference stream reached, passes the tolerance.
    stream = model_feeds(reference, signature, data=data, options=FeedOptions.parse(("new_state=state",)))
    reference_session, drifting_session = create_session(reference), create_session(drifting)
    reference_run = stream.run(reference_session)
    for run, call in zip(reference_run, stream.calls[1:], strict=False):
        single = {**call, "state": run[1]}
        got, want = run_session(drifting_session, single), run_session(reference_session, single)
        assert compare_outputs(want, got, names=names, tolerance=tolerance, label="one call").passed

    # The stream, carrying the state, drifts past the tolerance, and the check says so.
    comparison = stream.compare(reference_run, stream.run(drifting_session), names=names, tolerance=tolerance)
    assert not comparison.passed
    assert "stream of 64 calls" in comparison.label


def test_generated_ids_span_the_embedding_table_and_masks_are_ones(tmp_path: Path) -> None:
    ids = helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"])
    mask = helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])
    out = helper.make_tensor_value_info("h", TensorProto.FLOAT, ["batch", "seq", 8])
    table = numpy_helper.from_array(np.zeros((30000, 8), np.float32), "table")
    nodes = [
        helper.make_node("Cast", ["attention_mask"], ["m"], to=TensorProto.FLOAT),
        helper.make_node("Gather", ["table", "ids"], ["g"]),
        helper.make_node("Unsqueeze", ["m", "axes"], ["m3"]),
        helper.make_node("Mul", ["g", "m3"], ["h"]),
    ]
    axes = numpy_helper.from_array(np.array([2], np.int64), "axes")
    model = helper.make_model(helper.make_graph(nodes, "emb", [ids, mask], [out], [table, axes]))
    hints = input_hints(model)
    assert hints.index_ranges == {"ids": 30000}
    feeds = generate_inputs(signature_of(model).inputs, hints=hints)
    assert feeds["ids"].shape == (1, 128)  # a sentence's length, not 8 tokens
    assert feeds["ids"].max() > 1000
    assert np.all(feeds["attention_mask"] == 1)


def test_generated_inputs_the_model_rejects_say_so(tmp_path: Path) -> None:
    model = _expand_model(tmp_path / "e.onnx")
    feeds = model_feeds(model, signature_of(onnx.load(str(model))), options=FeedOptions.parse((), ("shape=[2,4]",)))
    with pytest.raises(InputSpecError, match="rejected generated inputs .* pass real ones with --data"):
        feeds.run(model)


def test_onnxruntime_log_lines_never_reach_the_terminal(tmp_path: Path, capfd: pytest.CaptureFixture[str]) -> None:
    model = _expand_model(tmp_path / "e.onnx")
    out = tmp_path / "o.onnx"
    data = tmp_path / "d.npz"
    np.savez(data, X=np.zeros((3, 1), np.float32), shape=np.array([2, 4], np.int64))  # 3 cannot expand to 2
    result = runner.invoke(app, ["optimize", str(model), "-o", str(out), "--data", str(data)])
    assert result.exit_code == 2
    captured = capfd.readouterr()
    assert "[E:onnxruntime" not in captured.err + captured.out
    assert not out.exists()
