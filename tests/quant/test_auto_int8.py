"""auto's INT8 compute for convolutions: static QDQ per group, decided by a Timer and by decisions.

Speed is never asserted (a noisy machine): the decision logic runs on a deterministic Timer
passed in the PassContext (the Timer is a seam, not what is tested here), and one real run
end to end checks the report says what it chose, per node, and which split it judged on.
"""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper, numpy_helper

from mlpack.cli import app
from mlpack.quant.int8compute import prepare
from mlpack.quant.int8format import int8_format
from mlpack.quant.modes.auto import Auto, _drop_costly, _Plan
from mlpack.quant.nodecost import node_costs
from mlpack.quant.passes import PassContext, PassLog, Reference
from mlpack.quant.settings import IntType, QuantizeSettings
from mlpack.quant.timers import DecisionTimer
from tests.helpers.models import make_convnet, make_residual_convnet
from tests.helpers.timers import ScriptedTimer


def _context(model: Path, data: Path, calibration: Path | None, tmp_path: Path, timer: ScriptedTimer) -> PassContext:
    feeds = {"x": np.load(data)["x"]}
    outputs = tuple(ort.InferenceSession(str(model)).run(None, feeds))
    reference = Reference(feeds, outputs, ("logits",), f"{len(feeds['x'])} samples")
    workdir = tmp_path / "work"
    workdir.mkdir()
    settings = QuantizeSettings(calibration=calibration)
    return PassContext(workdir, settings, reference, Auto.tolerance, PassLog(), model, timer)


def _split(data: Path, folder: Path, calibrate: int) -> tuple[Path, Path]:
    x = np.load(data)["x"]
    np.savez(folder / "calib.npz", x=x[:calibrate])
    np.savez(folder / "judge.npz", x=x[calibrate:])
    return folder / "calib.npz", folder / "judge.npz"


@pytest.fixture(scope="module")
def convnet(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_convnet(tmp_path_factory.mktemp("convnet"))


@pytest.fixture(scope="module")
def wide(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_convnet(tmp_path_factory.mktemp("wide"), wide=True)


def test_groups_measured_faster_compute_in_int8_and_the_report_says_why(convnet, tmp_path: Path) -> None:
    model, data = convnet
    calibration, judged = _split(data, tmp_path, 128)
    timer = ScriptedTimer(first_ratio=1.3)
    context = _context(model, judged, calibration, tmp_path, timer)
    result = Auto()(model, context)
    nodes = {n["node"]: n for n in context.log.nodes}
    assert len(nodes) == 3 and all(n["reason"] for n in nodes.values())
    int8 = [n for n in nodes.values() if n["compute"] == "int8"]
    fp32 = [n for n in nodes.values() if n["compute"] == "fp32"]
    assert len(int8) == 2 and all(n["reason"] == "INT8 compute: 2.0x faster" for n in int8)
    assert len(fp32) == 1 and fp32[0]["reason"].startswith("FP32 compute: slower here (INT8 1.30x")
    # All cut-outs in one timer call: FP32 and QDQ of each group, interleaved.
    group_calls = [c for c in timer.calls if any(name.startswith("group-") for name in c)]
    assert len(group_calls) == 1 and len(group_calls[0]) == 6
    ops = {n.op_type for n in onnx.load(str(result.model)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops and "ConvInteger" not in ops
    assert "MatMulInteger" in ops  # the Gemm head: dynamic INT8, measured faster by op kind
    assert any("U8S8 (avx512_vnni" in step for step in context.log.steps)
    assert any(t["representation"] == "int8-compute (static QDQ)" for t in context.log.tensors)
    assert context.log.latency_ratio == pytest.approx(0.6)


class WholeFasterTimer(ScriptedTimer):
    """The largest group is slower alone, yet the whole model is faster with every group INT8."""

    def _ratio(self, model: Path) -> float:
        if model.name == "auto-static-every.onnx":
            return 0.4
        return super()._ratio(model)


def test_every_group_int8_where_the_whole_model_is_faster_so(convnet, tmp_path: Path) -> None:
    model, data = convnet
    calibration, judged = _split(data, tmp_path, 128)
    context = _context(model, judged, calibration, tmp_path, WholeFasterTimer(first_ratio=1.3))
    Auto()(model, context)
    nodes = list(context.log.nodes)
    assert all(n["compute"] == "int8" for n in nodes)
    slow = [n for n in nodes if n["int8_ratio"] > 1]
    assert len(slow) == 1 and "alone, but the model measured 0.40x FP32" in slow[0]["reason"]


def test_groups_are_timed_at_every_batch_size_asked(convnet, tmp_path: Path) -> None:
    """--batch-sizes 1,8: the cut-outs take a batch like the model, so each group is timed at both."""
    model, data = convnet
    calibration, judged = _split(data, tmp_path, 128)
    scripted = ScriptedTimer()
    context = _context(model, judged, calibration, tmp_path, scripted)
    context = replace(context, timer=DecisionTimer(scripted, batch_sizes=(1, 8)))
    Auto()(model, context)
    group_calls = [b for call, b in zip(scripted.calls, scripted.batches, strict=True) if "group-0.onnx" in call]
    assert group_calls == [{1}, {8}]
    assert any("FP32 (interleaved, the slowest of batch 1, 8)" in step for step in context.log.steps)


class BatchScriptedTimer(ScriptedTimer):
    """Against the first FP32 cut-out: at batch 1 every other FP32 cut-out runs at 0.5 and its QDQ
    one at 0.6 (INT8 1.2x slower); at batch 8 the FP32 ones at 0.9, the QDQ ones at 0.6 (faster)."""

    def p50_ratios(self, models: list[Path], feeds: dict[str, Any]) -> list[float]:
        ratios = super().p50_ratios(models, feeds)
        if not any(m.name.startswith("group-") for m in models):
            return ratios
        eight = self.batches[-1] == {8}
        return [1.0, *((0.6 if m.name.endswith(".qdq.onnx") else 0.9 if eight else 0.5) for m in models[1:])]


def test_a_groups_ratio_is_its_worst_at_any_batch_size_not_a_ratio_of_worst_times(convnet, tmp_path: Path) -> None:
    """Each group's INT8 cut-out is compared with its FP32 one within each batch size: dividing the
    worst ratio of each (0.6 / 0.9) called a group faster that was 1.2x slower at batch 1."""
    model, data = convnet
    calibration, judged = _split(data, tmp_path, 128)
    scripted = BatchScriptedTimer()
    context = _context(model, judged, calibration, tmp_path, scripted)
    context = replace(context, timer=DecisionTimer(scripted, batch_sizes=(1, 8)))
    setup = prepare(model, context)
    assert setup is not None
    # The first cut-out pair is 0.6 / 1.0 at both sizes; the others 1.2x slower at batch 1.
    assert sorted(setup.ratios.values()) == pytest.approx([0.6, 1.2, 1.2])


def test_a_group_whose_int8_compute_costs_decisions_falls_back(wide, tmp_path: Path) -> None:
    model, data = wide
    calibration, judged = _split(data, tmp_path, 128)
    context = _context(model, judged, calibration, tmp_path, ScriptedTimer())
    Auto()(model, context)
    nodes = {n["node"]: n for n in context.log.nodes}
    # conv1 writes, and conv2 reads, the tensor whose range rounds the deciding channels away.
    assert nodes["conv0"]["compute"] == "int8"
    for name in ("conv1", "conv2"):
        assert nodes[name]["compute"] == "fp32"
        assert "fell back: its INT8 compute alone changed" in nodes[name]["reason"], nodes[name]


@pytest.fixture(scope="module")
def residual(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_residual_convnet(tmp_path_factory.mktemp("residual"))


def test_node_costs_cost_a_requantising_glue_node_alone(residual, tmp_path: Path) -> None:
    model, data = residual
    calibration, judged = _split(data, tmp_path, 128)
    context = _context(model, judged, calibration, tmp_path, ScriptedTimer())
    setup = prepare(model, context)
    assert setup is not None and setup.glue == {"add": "Add"}
    feeds = {"x": context.reference.feeds["x"][:64]}
    groups = list(setup.groups.values())
    costs = node_costs(setup.base, groups, setup.values, setup.format, feeds, context.tolerance, context.workdir)
    assert set(costs) == {"conv0", "narrow", "wide", "add"}
    # Each branch's own range is harmless; their sum's range rounds the narrow branch away.
    assert all(costs[n].decisions_lost == 0 for n in ("conv0", "narrow", "wide"))
    assert costs["add"].decisions_lost > 0 and costs["add"].cosine < 0.9
    # The Add is a fallback candidate only while it is INT8, i.e. fed by an INT8 group.
    assert not _drop_costly(_Plan({}, {}, static={"conv0"}), costs, 4, setup) and not setup.float_glue
    assert _drop_costly(_Plan({}, {}, static={"conv0", "wide"}), costs, 4, setup) and setup.float_glue == {"add"}


def test_a_glue_input_no_group_writes_is_rounded_under_the_glue_nodes_switch(tmp_path: Path) -> None:
    """SiLU behind a convolution: the Mul reads the Sigmoid's output, which no group writes."""
    rng = np.random.default_rng(1)
    weights = {"w": rng.standard_normal((32, 4, 3, 3)) * 0.3, "wh": rng.standard_normal((8, 32)) * 0.3}
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
            helper.make_node("Sigmoid", ["c"], ["g"], name="sigmoid"),
            helper.make_node("Mul", ["c", "g"], ["m"], name="silu"),
            helper.make_node("ReduceMean", ["m"], ["mean"], name="mean", axes=[2, 3], keepdims=0),
            helper.make_node("Gemm", ["mean", "wh"], ["logits"], name="head", transB=1),
        ],
        "silu",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 8, 8])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 8])],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()],
    )
    model = tmp_path / "silu.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    np.savez(tmp_path / "x.npz", x=rng.standard_normal((96, 4, 8, 8)).astype(np.float32))
    calibration, judged = _split(tmp_path / "x.npz", tmp_path, 64)
    context = _context(model, judged, calibration, tmp_path, ScriptedTimer())
    setup = prepare(model, context)
    assert setup is not None and setup.glue == {"sigmoid": "Sigmoid", "silu": "Mul"}
    feeds = {"x": context.reference.feeds["x"][:16]}
    groups = list(setup.groups.values())
    costs = node_costs(setup.base, groups, setup.values, setup.format, feeds, context.tolerance, context.workdir)
    assert set(costs) == {"conv", "sigmoid", "silu"}
    assert all(0.9 < cost.cosine < 1.0 for cost in costs.values())  # each switch rounds something, a little
    switched = {n.name: n for n in onnx.load(str(context.workdir / "node-costs.onnx")).graph.node}
    # The Mul reads the conv's output as the conv's switch rounds it, and the Sigmoid's under its own.
    assert list(switched["silu"].input) == ["conv__int8_out_x", "silu__int8_in1_x"]


def test_a_residual_add_whose_range_costs_decisions_falls_back_alone(residual, tmp_path: Path) -> None:
    model, data = residual
    calibration, judged = _split(data, tmp_path, 128)
    context = _context(model, judged, calibration, tmp_path, ScriptedTimer())
    result = Auto()(model, context)
    nodes = {n["node"]: n for n in context.log.nodes}
    assert all(nodes[name]["compute"] == "int8" for name in ("conv0", "narrow", "wide"))
    add = nodes["add"]
    assert add["compute"] == "fp32" and add["ops"] == ["Add"] and add["weight"] is None and add["int8_ratio"] is None
    assert add["reason"].startswith("fell back: its INT8 compute alone changed "), add
    assert result.comparison.passed
    assert any("outputs hold after 1 refinement round(s)" in step for step in context.log.steps)  # INT8, it failed
    graph = onnx.load(str(result.model)).graph
    quantised = {n.input[0] for n in graph.node if n.op_type == "QuantizeLinear"}
    assert {"n", "w"} <= quantised and "s" not in quantised  # the branches' outputs INT8, the sum float


def test_without_calibration_data_auto_says_static_int8_needs_it(convnet, tmp_path: Path) -> None:
    model, data = convnet
    context = _context(model, data, None, tmp_path, ScriptedTimer())
    Auto()(model, context)
    assert any("needs calibration data (static INT8)" in step for step in context.log.steps)
    assert not context.log.nodes


def test_auto_with_data_splits_it_and_reports_each_convolution(convnet, runner, tmp_path: Path) -> None:
    """The real thing, end to end: whatever this machine measures, every group has a decision and a
    reason, the split is stated, and the check judged the held-out samples only."""
    model, data = convnet
    out = tmp_path / "a.onnx"
    args = ["optimize", str(model), "-o", str(out), "--quantize", "auto", "--data", str(data), "--json"]
    result = runner.invoke(app, [*args, "--calibration-memory", "8MB"])  # holds all 1024 samples (5 KB each)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    split = "--data split: samples 0, 8, 16, ... (one in 8: 128) calibrate static INT8, the other 896"
    assert any(split in s for s in payload["steps"])
    assert "896 held-out samples" in payload["verified_on"]
    assert any("within 8.0 MB" in s for s in payload["steps"])
    assert len(payload["nodes"]) == 3
    assert all(n["compute"] in ("int8", "fp32") and n["reason"] for n in payload["nodes"])
    assert payload["latency_ratio"] <= 1.05


@pytest.mark.parametrize(
    "isa, activation, weight, reduce_range",
    [
        (("avx2", "avx512_vnni"), IntType.U8, IntType.S8, False),
        (("avx2", "fma"), IntType.U8, IntType.S8, True),
        (("asimd", "asimddp"), IntType.S8, IntType.S8, False),
        ((), IntType.U8, IntType.S8, True),
    ],
)
def test_int8_types_follow_the_instruction_set(isa, activation, weight, reduce_range) -> None:
    chosen = int8_format(isa)
    assert (chosen.activation, chosen.weight, chosen.reduce_range) == (activation, weight, reduce_range)
    assert chosen.why


def test_the_terminal_shows_each_convolutions_decision() -> None:
    from rich.console import Console

    from mlpack.cli.render_model import node_table

    console = Console(width=200, record=True)
    nodes = (
        {
            "node": "/conv0",
            "ops": ["Conv", "Relu"],
            "weight": "w0",
            "compute": "int8",
            "int8_ratio": 0.62,
            "reason": "INT8 compute: 1.6x faster",
        },
        {
            "node": "/conv1",
            "ops": ["Conv"],
            "weight": "w1",
            "compute": "fp32",
            "int8_ratio": None,
            "reason": "fell back: its INT8 compute alone changed 12 decisions",
        },
    )
    console.print(node_table(nodes))
    text = console.export_text()
    assert "INT8 compute: 1.6x faster" in text and "0.62" in text and "Conv+Relu" in text
    assert "fell back: its INT8 compute alone changed 12 decisions" in text


def test_glue_ops_stay_int8_only_downstream_of_an_int8_group(convnet) -> None:
    from mlpack.quant.convgroups import conv_groups, float_nodes

    model = onnx.load(str(convnet[0]))
    groups = conv_groups(model)
    assert [g.nodes for g in groups] == [("conv0", "relu0"), ("conv1", "relu1"), ("conv2",)]
    # conv0 alone in INT8: the other groups, and the pool behind float conv2, stay float.
    assert sorted(float_nodes(model, groups, {"conv0"})) == ["conv1", "conv2", "pool", "relu1"]
    # conv2 in INT8: the pool it feeds joins its INT8 region.
    assert sorted(float_nodes(model, groups, {"conv2"})) == ["conv0", "conv1", "relu0", "relu1"]
    # A glue op a fidelity fallback forced to float stays float though an INT8 group feeds it.
    assert "pool" in float_nodes(model, groups, {"conv2"}, forced_float={"pool"})


def test_a_pool_fed_by_float_stays_float_before_an_int8_group() -> None:
    """A uint8 MaxPool in the source layout ran 20x slower than its float kernel here: glue fed
    only by float stays float, and the quantisation starts at the INT8 group's input."""
    from mlpack.quant.convgroups import conv_groups, float_nodes

    weight = numpy_helper.from_array(np.ones((4, 4, 3, 3), np.float32), "w")
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w"], ["c0"], name="conv0", pads=[1, 1, 1, 1]),
            helper.make_node("MaxPool", ["c0"], ["p0"], name="pool0", kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Conv", ["p0", "w"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
            helper.make_node("MaxPool", ["c1"], ["y"], name="pool1", kernel_shape=[2, 2], strides=[2, 2]),
        ],
        "pools",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4, 8, 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [weight],
    )
    model = helper.make_model(graph)
    groups = conv_groups(model)
    assert sorted(float_nodes(model, groups, {"conv1"})) == ["conv0", "pool0"]
    assert sorted(float_nodes(model, groups, {"conv0"})) == ["conv1", "pool1"]


def test_an_opset_11_model_computes_in_static_int8(convnet, tmp_path: Path) -> None:
    """Per-channel scales need DequantizeLinear's axis (opset 13): onnxruntime wrote opset-11
    models no runtime loads, and auto gave up on static INT8 for them."""
    model, data = convnet
    old = onnx.load(str(model))
    old.opset_import[0].version = 11
    onnx.save(old, tmp_path / "opset11.onnx")
    calibration, judged = _split(data, tmp_path, 128)
    context = _context(tmp_path / "opset11.onnx", judged, calibration, tmp_path, ScriptedTimer())
    setup = prepare(tmp_path / "opset11.onnx", context)
    assert setup is not None, context.log.warnings
    assert len(setup.ratios) == 3 and not context.log.warnings
    built = setup.build(set(setup.groups), tmp_path / "every.onnx")
    session = ort.InferenceSession(str(built))
    assert session.run(None, {"x": context.reference.feeds["x"][:2]})[0].shape == (2, 32)


def test_a_convolution_whose_output_is_also_a_graph_output_keeps_its_negative_values(tmp_path: Path) -> None:
    """onnxruntime gives a Relu's input the Relu's range where the Relu reads it alone, though a
    graph output is that input too: the output lost its negative half (cosine 0.7), and auto
    dropped the group with a made-up reason."""
    rng = np.random.default_rng(2)
    weights = {"w0": rng.standard_normal((16, 4, 3, 3)) * 0.3, "w1": rng.standard_normal((8, 16, 3, 3)) * 0.2}
    graph = helper.make_graph(
        [
            helper.make_node("Conv", ["x", "w0"], ["features"], name="conv0", pads=[1, 1, 1, 1]),
            helper.make_node("Relu", ["features"], ["r0"], name="relu0"),
            helper.make_node("Conv", ["r0", "w1"], ["scores"], name="conv1", pads=[1, 1, 1, 1]),
        ],
        "features_out",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 4, 8, 8])],
        [
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 16, 8, 8]),
            helper.make_tensor_value_info("scores", TensorProto.FLOAT, ["batch", 8, 8, 8]),
        ],
        [numpy_helper.from_array(v.astype(np.float32), k) for k, v in weights.items()],
    )
    model = tmp_path / "features.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    x = rng.standard_normal((400, 4, 8, 8)).astype(np.float32)
    np.savez(tmp_path / "calib.npz", x=x[:64])
    feeds = {"x": x[64:]}
    outputs = tuple(ort.InferenceSession(str(model)).run(None, feeds))
    reference = Reference(feeds, outputs, ("features", "scores"), "336 samples")
    (tmp_path / "work").mkdir()
    settings = QuantizeSettings(calibration=tmp_path / "calib.npz")
    context = PassContext(tmp_path / "work", settings, reference, Auto.tolerance, PassLog(), model, ScriptedTimer())
    result = Auto()(model, context)
    assert result.comparison.passed
    assert [(n["node"], n["compute"]) for n in context.log.nodes] == [("conv0", "int8"), ("conv1", "int8")]
    features = ort.InferenceSession(str(result.model)).run(["features"], {"x": x[64:80]})[0]
    assert (features < -0.1).any()


def test_degenerate_samples_split_off_to_calibrate_are_named_as_the_users_not_as_a_temporary_file(
    convnet, tmp_path: Path
) -> None:
    model, data = convnet
    x = np.load(data)["x"][:16].copy()
    x[3, 0, 0, 0] = np.nan
    split = tmp_path / "work" / "auto-calibration.npz"  # where auto writes the split's first part
    context = _context(model, data, split, tmp_path, ScriptedTimer())
    np.savez(split, x=x)
    assert prepare(model, context) is None
    (warning,) = context.log.warnings
    assert "the samples split off the data to calibrate" in warning and "holds NaN" in warning
    assert str(context.workdir) not in warning
