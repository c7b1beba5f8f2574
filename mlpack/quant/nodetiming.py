"""INT8 compute timed per convolution group, in the model's own shapes, through a Timer.

A 1x1 convolution, a depthwise one and a 3x3 one on 64 channels gain differently from INT8, so
each group (a Conv and its fused activation, see ``convgroups``) is cut out of the model with its
own weights, attributes and input shape (the activation it really reads, captured at batch 1),
once in FP32 and once as static QDQ on the model's calibrated ranges. Every pair is timed in one
call of the timer: each cut-out model declares every group's input (an unused input costs
nothing), so all of them take the same feeds and are timed interleaved, and a group's ratio is
its QDQ model's over its FP32 model's. Groups alike in every respect that decides speed are timed
once. The QDQ cut-out pays a QuantizeLinear before and a DequantizeLinear after, which a group
inside an INT8 region does not: the measure leans towards FP32, never towards a false gain.
Where the model takes a batch, so do the cut-outs (their axis 0): a timer asked for several batch
sizes (``--batch-sizes 1,8``) times each group at each, as it does the whole model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.onnxio import create_session, load_model, run_session, save_model
from mlpack.quant.convgroups import STATIC_OP_TYPES, ConvGroup
from mlpack.quant.qdq import quantize_on_ranges
from mlpack.quant.samples import batch_of
from mlpack.quant.settings import QuantizeSettings
from mlpack.quant.timing import Timer

if TYPE_CHECKING:
    import numpy as np
    import onnx

MAX_TIMED = 24  # distinct groups timed (two models each, in one timer call); the largest first


def time_groups(
    timer: Timer,
    model: Path,
    feeds: dict[str, Any],
    groups: list[ConvGroup],
    *,
    ranges: Any,
    settings: QuantizeSettings,
    workdir: Path,
) -> dict[str, float]:
    """INT8 (static QDQ) over FP32 latency of each group alone, by its Conv's name; groups left
    untimed (beyond ``MAX_TIMED`` distinct ones, or not cut out) are absent.

    Args:
        timer: where the decision is measured (this host, or a device).
        model: the FP32 model, every node named.
        feeds: one sample (batch 1) of the model's inputs.
        groups: the groups to time.
        ranges: onnxruntime's TensorsData calibrated on ``model`` (every group's tensors).
        settings: the static settings (types, reduce_range, per-channel).
        workdir: a folder for the cut-out models.
    """
    loaded = load_model(model, check=False)
    activations = _capture(model, feeds, sorted({g.input for g in groups}), workdir)
    batched = batch_of(model, feeds, 2) is not None  # the model takes a batch: the cut-outs too
    distinct: dict[tuple[Any, ...], list[ConvGroup]] = {}
    for group in groups:
        if group.input in activations:
            distinct.setdefault((group.spec, activations[group.input].shape), []).append(group)
    timed = sorted(distinct, key=lambda key: -_work(key))[:MAX_TIMED]
    # Each cut-out reads its own alias of its input: one group's input may be another's output.
    inputs = {_alias(i): activations[distinct[key][0].input] for i, key in enumerate(timed)}
    cache = _aliased_ranges(ranges, [distinct[key][0].input for key in timed], workdir / "groups-ranges.json")
    qdq = replace(settings, op_types=STATIC_OP_TYPES, exclude_nodes=(), calibration_cache=None)
    models = []
    for index, key in enumerate(timed):
        cut = _cut_out(loaded, distinct[key][0], _alias(index), inputs, batched=batched)
        fp32 = save_model(cut, workdir / f"group-{index}.onnx")
        quantised = workdir / f"group-{index}.qdq.onnx"
        quantize_on_ranges(fp32, quantised, cache, qdq)
        models += [fp32, quantised]
    if not models:
        return {}
    # Each cut-out pair compared within each measurement (batch size, device), the worst kept.
    runs = getattr(timer, "p50_ratio_runs", None)
    measured = runs(models, inputs) if runs is not None else [timer.p50_ratios(models, inputs)]
    return {
        group.node: max(ratios[2 * index + 1] / ratios[2 * index] for ratios in measured)
        for index, key in enumerate(timed)
        for group in distinct[key]
    }


def _alias(index: int) -> str:
    return f"mlpack_group_input_{index}"


def _aliased_ranges(ranges: Any, sources: list[str], path: Path) -> Path:
    """The calibration cache with each alias given its source tensor's range."""
    from onnxruntime.quantization.calibrate import TensorsData, save_tensors_data

    data = dict(ranges.data) | {_alias(i): ranges.data[name] for i, name in enumerate(sources) if name in ranges.data}
    save_tensors_data(TensorsData(ranges.calibration_method, data), path)
    return path


def _work(key: tuple[Any, ...]) -> float:
    """A size of a group's work, to time the largest first: input elements times weight elements."""
    import numpy as np

    spec, shape = key
    return float(np.prod(shape)) * float(np.prod(spec[2]))


def _capture(model: Path, feeds: dict[str, Any], tensors: list[str], workdir: Path) -> dict[str, np.ndarray]:
    """The values of ``tensors`` on ``feeds``: model inputs as given, the rest exposed and run once."""
    import onnx
    from onnx import TensorProto, helper

    found = {name: feeds[name] for name in tensors if name in feeds}
    wanted = [name for name in tensors if name not in feeds]
    if not wanted:
        return found
    exposed = onnx.load(str(model))
    listed = {o.name for o in exposed.graph.output}
    for name in wanted:
        if name not in listed:
            exposed.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    path = save_model(exposed, workdir / "groups-capture.onnx")
    del exposed
    session = create_session(path)
    names = [o.name for o in session.get_outputs()]
    values = dict(zip(names, run_session(session, feeds), strict=True))
    return found | {name: values[name] for name in wanted if name in values}


def _cut_out(
    model: onnx.ModelProto, group: ConvGroup, alias: str, inputs: dict[str, np.ndarray], *, batched: bool
) -> onnx.ModelProto:
    """The group's nodes alone, reading ``alias`` for their input; every other group's input declared
    too, with a ``batch`` axis 0 where ``batched``."""
    from onnx import NodeProto, TensorProto, helper

    nodes = []
    for original in (n for n in model.graph.node if n.name in group.nodes):
        node = NodeProto()
        node.CopyFrom(original)
        node.input[:] = [alias if name == group.input else name for name in node.input]
        nodes.append(node)
    used = {name for node in nodes for name in node.input}
    graph = helper.make_graph(
        nodes,
        f"group {group.node}",
        [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, _dims(value, batched))
            for name, value in inputs.items()
        ],
        [helper.make_tensor_value_info(group.output, TensorProto.FLOAT, None)],
        [i for i in model.graph.initializer if i.name in used],
    )
    cut = helper.make_model(graph, opset_imports=list(model.opset_import))
    cut.ir_version = model.ir_version
    return cut


def _dims(value: np.ndarray, batched: bool) -> list[int | str]:
    return ["batch", *value.shape[1:]] if batched else list(value.shape)
