"""Activation ranges for static INT8, collected within a stated memory bound.

What onnxruntime 1.32's calibrators hold: MinMax reduces every tensor inside the graph
(ReduceMin/ReduceMax), so Python only sees a few numbers per tensor, but its session runs with
onnxruntime's memory arena, which keeps the peak working set of the largest batch and grows in
powers of two (9.6 GB at batch 16 on a BERT-base-size model). The histogram methods (entropy,
percentile) expose every calibrated tensor as a graph output and copy one batch of all of them
to Python before histogramming it. Either way, memory grows with the batch.

So mlpack measures one sample's activation bytes (from the inferred shapes, or by running one
sample through the model with a Shape node per tensor where shapes are not known), caps the
batch so that a batch of activations fits the memory given, runs the calibration session
without the arena, and, where even one sample's activations do not fit (histogram methods),
calibrates the tensors in groups, one pass over the data per group. Ranges are per tensor, so
the groups' ranges merged are the ranges of one ungrouped pass.
"""

from __future__ import annotations

import gc
import math
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.batching import takes_one_sample
from mlpack.core.signature import TensorSpec
from mlpack.errors import BadInputError
from mlpack.quant.calibration import iter_batches
from mlpack.quant.settings import CalibrationMethod, QuantizeSettings

if TYPE_CHECKING:
    import numpy as np

DEFAULT_MEMORY = 1 << 30
_UNITS = {"": 1 << 20, "b": 1, "k": 1 << 10, "kb": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mb": 1 << 20}
_UNITS |= {"mib": 1 << 20, "g": 1 << 30, "gb": 1 << 30, "gib": 1 << 30}
# The histogram methods hold a batch twice at its peak: onnxruntime's graph outputs and their
# copies in Python. MinMax holds at most the forward pass's working set, less than every tensor.
_COPIES = {CalibrationMethod.MINMAX: 1, CalibrationMethod.ENTROPY: 2, CalibrationMethod.PERCENTILE: 2}


def parse_memory(text: str, *, option: str = "--calibration-memory") -> int:
    """Bytes from a size such as ``1GB``, ``512 MB`` or ``1.5GiB`` (units are binary; a bare number is MB).

    Args:
        text: the size as the user wrote it.
        option: the option or key named in the error message.
    """
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][+-]?[0-9]+)?)\s*([A-Za-z]*)\s*", str(text))
    unit = match.group(2).lower() if match else ""
    if match is None or unit not in _UNITS:
        raise BadInputError(f"{option} takes a size such as 1GB or 512MB, got '{text}'.")
    value = float(match.group(1)) * _UNITS[unit]
    if not math.isfinite(value) or value < 1 << 20:
        raise BadInputError(f"{option} must be a finite size of at least 1MB, got '{text}'.")
    return int(value)


def format_bytes(size: float) -> str:
    """``size`` bytes for people: 1.0 GB, 180 MB, 12 KB."""
    for unit, factor in (("GB", 1 << 30), ("MB", 1 << 20), ("KB", 1 << 10)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}" if size < 10 * factor else f"{size / factor:.0f} {unit}"
    return f"{size:.0f} B"


@dataclass(frozen=True)
class CalibrationPlan:
    """How calibration stays within its memory: a batch size and the tensors collected per pass."""

    batch: int
    groups: tuple[tuple[str, ...], ...]
    sample_bytes: int  # activation bytes of one sample, over every calibrated tensor
    memory: int
    requested_batch: int
    method: CalibrationMethod

    def describe(self) -> str:
        tensors = sum(len(g) for g in self.groups)
        held = f"{tensors} tensors, {format_bytes(self.sample_bytes)} of activations per sample"
        if len(self.groups) > 1:
            return (
                f"batches of 1 and the tensors in {len(self.groups)} groups, one pass over the data each, "
                f"to stay within {format_bytes(self.memory)} ({held})"
            )
        if self.batch < self.requested_batch:
            within = format_bytes(self.memory)
            return f"batches of {self.batch} (capped from {self.requested_batch} to stay within {within}: {held})"
        return f"batches of {self.batch} ({held}, within {format_bytes(self.memory)})"


def plan_calibration(sizes: dict[str, int], *, memory: int, batch: int, method: CalibrationMethod) -> CalibrationPlan:
    """The largest batch (at most ``batch``) whose activations fit ``memory``, tensors grouped if need be.

    Args:
        sizes: activation bytes of one sample per calibrated tensor, in graph order.
        memory: bytes of activations calibration may hold at once.
        batch: the largest batch wanted (``--calibration-batch``).
        method: the calibration method; it decides how many copies of a batch are held.
    """
    copies = _COPIES[method]
    total = sum(sizes.values())
    per_sample = max(1, total * copies)
    fitted = max(1, min(batch, memory // per_sample))
    if per_sample <= memory or method is CalibrationMethod.MINMAX:
        # MinMax's memory is the forward pass's working set: fewer tensors per pass would not shrink it.
        return CalibrationPlan(fitted, (tuple(sizes),), total, memory, batch, method)
    groups: list[tuple[str, ...]] = []
    current: list[str] = []
    held = 0
    for name, size in sizes.items():
        if current and held + size * copies > memory:
            groups.append(tuple(current))
            current, held = [], 0
        current.append(name)
        held += size * copies
    groups.append(tuple(current))
    return CalibrationPlan(1, tuple(groups), total, memory, batch, method)


def collect_ranges(
    model: Path, settings: QuantizeSettings, specs: tuple[TensorSpec, ...], workdir: Path
) -> tuple[Any, CalibrationPlan]:
    """onnxruntime's ``TensorsData`` for ``model``, calibrated on ``settings.calibration`` within its
    memory, and the plan that was followed.

    Args:
        model: the (pre-processed) model that onnxruntime will quantise.
        settings: calibration file, method, batch, memory, limit and op types.
        specs: the model's input specs, to read the calibration file against.
        workdir: a folder for the augmented models.
    """
    from onnxruntime.quantization.calibrate import TensorsData

    assert settings.calibration is not None
    calibrator = _calibrator(model, settings, workdir / "augmented-0.onnx")
    sizes = _sizes(calibrator, settings, specs, workdir)
    wanted = 1 if takes_one_sample(specs) else settings.calibration_batch  # no larger batch fits the model
    plan = plan_calibration(sizes, memory=settings.calibration_memory, batch=wanted, method=settings.calibration_method)
    ranges: dict[str, Any] = {}
    for index, group in enumerate(plan.groups):
        if index:
            calibrator = _calibrator(model, settings, workdir / f"augmented-{index}.onnx")
        found = _run_group(calibrator, set(group), settings, specs, plan.batch)
        ranges.update(found.data)
        method = found.calibration_method
        del calibrator, found
        gc.collect()  # the calibrator's session holds the model's weights; free them before the next
    return TensorsData(method, ranges), plan


def _sizes(calibrator: Any, settings: QuantizeSettings, specs: tuple[TensorSpec, ...], workdir: Path) -> dict[str, int]:
    """One sample's bytes per calibrated tensor, in graph order.

    A function of its own so that the value infos, which keep the whole model proto alive, are
    released before the calibration session loads the weights again.
    """
    assert settings.calibration is not None
    tensors, value_infos = calibrator.select_tensors_to_calibrate(calibrator.model)
    order = [t for t in _graph_order(calibrator.model) if t in tensors]
    first = next(iter_batches(settings.calibration, specs, batch_size=1))
    return sample_bytes(calibrator.model, order, value_infos, first, workdir)


def _graph_order(model: Any) -> Iterator[str]:
    seen: set[str] = set()
    for node in model.graph.node:
        for name in (*node.input, *node.output):
            if name not in seen:
                seen.add(name)
                yield name


def _calibrator(model: Path, settings: QuantizeSettings, augmented: Path) -> Any:
    """onnxruntime's calibrator for the method, with create_calibrator's defaults, not yet augmented."""
    from onnxruntime.quantization import calibrate as c
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry

    # quantize_static calibrates these op types when none are given; the ranges must cover the same tensors.
    op_types = list(settings.op_types) if settings.op_types else list(set(QLinearOpsRegistry) | set(QDQRegistry))
    common: dict[str, Any] = {"augmented_model_path": str(augmented), "use_external_data_format": True}
    if settings.calibration_method is CalibrationMethod.MINMAX:
        return c.MinMaxCalibrater(model, op_types, **common)
    if settings.calibration_method is CalibrationMethod.ENTROPY:
        return c.EntropyCalibrater(model, op_types, **common, num_bins=128, num_quantized_bins=128)
    return c.PercentileCalibrater(model, op_types, **common, symmetric=True, num_bins=2048, percentile=99.999)


def _run_group(
    calibrator: Any, group: set[str], settings: QuantizeSettings, specs: tuple[TensorSpec, ...], batch: int
) -> Any:
    """Augment the graph for ``group`` only, then feed every batch, one collection round each."""
    import onnxruntime as ort

    assert settings.calibration is not None
    select_all: Callable[[Any], tuple[set[str], dict[str, Any]]] = calibrator.select_tensors_to_calibrate

    def select_group(model: Any) -> tuple[set[str], dict[str, Any]]:
        tensors, infos = select_all(model)
        return tensors & group, infos

    calibrator.select_tensors_to_calibrate = select_group
    calibrator.augment_graph()
    calibrator.model = None  # the session reads the saved file; the proto's weights are not needed again
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL  # as onnxruntime calibrates
    # Without the arena, memory is returned after each batch instead of kept at the largest peak.
    options.enable_cpu_mem_arena = False
    options.enable_mem_pattern = False
    calibrator.infer_session = ort.InferenceSession(
        calibrator.augmented_model_path, options, providers=["CPUExecutionProvider"]
    )
    method = settings.calibration_method.value
    try:
        for feeds in iter_batches(settings.calibration, specs, batch_size=batch, limit=settings.calibration_limit):
            calibrator.collect_data(_OneBatch(feeds))
        return calibrator.compute_data()
    except ValueError as exc:  # numpy's or the calibrator's own refusal, e.g. "Too many bins for data range"
        raise BadInputError(
            f"{method} calibration failed in onnxruntime's calibrator: {exc} "
            "(try --calibration-method minmax or percentile)."
        ) from exc


class _OneBatch:
    """A CalibrationDataReader that yields one batch, so each collection round holds one batch."""

    def __init__(self, feeds: dict[str, np.ndarray]) -> None:
        self.feeds: dict[str, np.ndarray] | None = feeds

    def get_next(self) -> dict[str, np.ndarray] | None:
        feeds, self.feeds = self.feeds, None
        return feeds


def sample_bytes(
    model: Any, tensors: list[str], value_infos: dict[str, Any], sample: dict[str, np.ndarray], workdir: Path
) -> dict[str, int]:
    """Bytes of one sample's activation for each tensor: from inferred shapes, else by running the sample.

    Args:
        model: the shape-inferred ModelProto.
        tensors: the calibrated tensors, in graph order.
        value_infos: their value infos (shapes and element types), as the calibrator found them.
        sample: one sample of every model input.
        workdir: a folder for the probe model, when shapes are not all known.
    """
    import numpy as np
    from onnx import helper

    symbols: dict[str, int] = {}
    for graph_input in model.graph.input:
        if graph_input.name in sample:
            dims = graph_input.type.tensor_type.shape.dim
            for dim, size in zip(dims, sample[graph_input.name].shape, strict=False):
                if dim.dim_param:
                    symbols[dim.dim_param] = int(size)
    sizes: dict[str, int] = {}
    unknown: list[str] = []
    for name in tensors:
        tensor_type = value_infos[name].type.tensor_type
        itemsize = np.dtype(helper.tensor_dtype_to_np_dtype(tensor_type.elem_type)).itemsize
        dims = [d.dim_value if d.HasField("dim_value") else symbols.get(d.dim_param) for d in tensor_type.shape.dim]
        if any(d is None for d in dims) or not tensor_type.HasField("shape"):
            unknown.append(name)
        else:
            sizes[name] = itemsize * int(np.prod(dims, dtype=np.int64))
    if unknown:
        sizes |= _probe_bytes(model, unknown, sample, workdir)
    return {name: sizes[name] for name in tensors}


def _probe_bytes(model: Any, tensors: list[str], sample: dict[str, np.ndarray], workdir: Path) -> dict[str, int]:
    """Run one sample through a copy of ``model`` that outputs each tensor's Shape (a few integers)."""
    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import TensorProto, helper

    probe = onnx.ModelProto()
    probe.CopyFrom(model)
    del probe.graph.output[:]
    for index, name in enumerate(tensors):
        probe.graph.node.append(helper.make_node("Shape", [name], [f"mlpack_shape_{index}"]))
        probe.graph.output.append(helper.make_tensor_value_info(f"mlpack_shape_{index}", TensorProto.INT64, None))
    path = workdir / "probe.onnx"
    onnx.save(probe, str(path), save_as_external_data=True, location="probe.onnx.data")
    del probe
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    shapes = session.run(None, sample)
    elem = {vi.name: vi.type.tensor_type.elem_type for vi in (*model.graph.value_info, *model.graph.input)}
    return {
        name: int(np.prod(shape, dtype=np.int64))
        * np.dtype(helper.tensor_dtype_to_np_dtype(elem.get(name, TensorProto.FLOAT))).itemsize
        for name, shape in zip(tensors, shapes, strict=True)
    }
