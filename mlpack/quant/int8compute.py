"""auto's INT8 compute for convolutions: calibrated static QDQ, per group where it measured faster.

onnxruntime's dynamic INT8 convolution (ConvInteger) is slower than FP32 on common CPUs; static
QDQ, with activation ranges calibrated on data, runs QLinearConv and can be several times faster.
``prepare`` calibrates once (within ``--calibration-memory``), picks the INT8 types for the
Timer's machine, and times every convolution group alone (``nodetiming``); ``build`` writes the
model with the chosen groups in INT8 and everything else float, for auto to shrink further.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlpack.core.onnxio import load_model, save_model
from mlpack.core.quiet import silenced
from mlpack.core.signature import signature_of
from mlpack.errors import MlpackError
from mlpack.quant.calibration import inspect_calibration
from mlpack.quant.convgroups import STATIC_OP_TYPES, ConvGroup, conv_groups, float_nodes, name_nodes, requantising
from mlpack.quant.int8format import Int8Format, int8_format
from mlpack.quant.nodetiming import time_groups
from mlpack.quant.passes import PassContext
from mlpack.quant.qdq import at_per_channel_opset, quantize_on_ranges
from mlpack.quant.ranges import collect_ranges
from mlpack.quant.samples import first_samples
from mlpack.quant.settings import QuantFormat

MIN_SPEEDUP = 0.95  # a group computes in INT8 only where it measured at least 5% faster
NEEDS_DATA = (
    "auto: INT8 compute for the convolutions needs calibration data (static INT8): pass --data or "
    "--calibration with real inputs; they stay FP32 compute, their weights INT8 at rest"
)


@dataclass
class StaticCompute:
    """What static INT8 compute needs across auto's rounds: named model, ranges, types, timings."""

    base: Path  # the FP32 model with every node named (exclusions are by name)
    ranges: Path  # the calibration cache onnxruntime quantises from
    values: Any  # the ranges themselves (onnxruntime's TensorsData)
    settings: Any  # QuantizeSettings for the static builds
    format: Int8Format
    groups: dict[str, ConvGroup]  # by Conv node
    ratios: dict[str, float] = field(default_factory=dict)  # INT8 over FP32 latency, by Conv node
    # Set where every group in INT8 measured faster as a whole than the groups faster alone:
    # (every group's ratio, the faster-alone groups' ratio) of the whole model against FP32.
    whole: tuple[float, float] | None = None
    glue: dict[str, str] = field(default_factory=dict)  # requantising glue nodes (their op types), graph order
    float_glue: set[str] = field(default_factory=set)  # glue nodes a fidelity fallback forced to float

    def faster(self) -> set[str]:
        if self.whole is not None:
            return set(self.groups)
        return {node for node, ratio in self.ratios.items() if ratio <= MIN_SPEEDUP}

    def build(self, chosen: set[str], dst: Path) -> Path:
        """``base`` with the ``chosen`` groups (and the glue they feed) in static INT8."""
        kept = tuple(self._float(chosen))
        quantize_on_ranges(self.base, dst, self.ranges, replace(self.settings, exclude_nodes=kept))
        return dst

    def quantised_glue(self, chosen: set[str]) -> set[str]:
        """The requantising glue nodes ``build`` computes in INT8 with the ``chosen`` groups."""
        kept = set(self._float(chosen))
        return {name for name in self.glue if name not in kept}

    def _float(self, chosen: set[str]) -> list[str]:
        """The nodes left float with the ``chosen`` groups in INT8."""
        loaded = load_model(self.base, check=False)
        return float_nodes(loaded, list(self.groups.values()), chosen, forced_float=self.float_glue)


def prepare(model: Path, context: PassContext) -> StaticCompute | None:
    """Calibrate and time static INT8 per convolution group, or None (with a note) where it cannot."""
    loaded = load_model(model, check=False)
    groups = conv_groups(loaded)
    if not groups:
        return None
    if context.settings.calibration is None:
        context.log.steps.append(NEEDS_DATA)
        return None
    # Every node named (exclusions are by name) and, once, at the opset per-channel scales need.
    renamed = name_nodes(loaded)
    try:
        ready = at_per_channel_opset(loaded)
    except MlpackError as exc:
        context.log.warnings.append(f"auto: static INT8 compute could not be tried: {exc}")
        return None
    base = save_model(ready, context.workdir / "auto-named.onnx") if renamed or ready is not loaded else model
    if base != model:
        groups = conv_groups(ready)
    del loaded, ready
    chosen = int8_format(context.timer.measured_on.isa)
    settings = replace(
        context.settings,
        op_types=STATIC_OP_TYPES,
        quant_format=QuantFormat.QDQ,
        per_channel=True,
        activation_type=chosen.activation,
        weight_type=chosen.weight,
        reduce_range=chosen.reduce_range,
        exclude_nodes=(),
        calibration_cache=None,
    )
    try:
        setup = _calibrate(base, settings, chosen, {g.node: g for g in groups}, context)
        feeds = first_samples(model, context.reference.feeds, 1)
        setup.ratios = time_groups(
            context.timer, base, feeds, groups, ranges=setup.values, settings=settings, workdir=context.workdir
        )
        _against_every_group(setup, context, feeds)
    except MlpackError as exc:
        context.log.warnings.append(f"auto: static INT8 compute could not be tried: {_named(exc, context)}")
        return None
    alone = sum(ratio <= MIN_SPEEDUP for ratio in setup.ratios.values())
    context.log.steps.append(
        f"auto: INT8 compute per convolution group (static QDQ), timed alone in the model's shapes on "
        f"{context.timer.measured_on.device}: {alone} of {len(groups)} faster"
        + (f", {len(groups) - len(setup.ratios)} not timed (budget)" if len(setup.ratios) < len(groups) else "")
        + ("; every group INT8: the whole model is faster so" if setup.whole is not None else "")
    )
    return setup


def _named(exc: MlpackError, context: PassContext) -> str:
    """The error, with the calibration file auto split off the data (a temporary file) named as
    part of what the user gave."""
    calibration = context.settings.calibration
    if calibration is None or calibration.parent != context.workdir:
        return str(exc)
    return str(exc).replace(str(calibration), "the samples split off the data to calibrate")


def _against_every_group(setup: StaticCompute, context: PassContext, feeds: dict[str, Any]) -> None:
    """Groups timed alone miss what their neighbours pay at a float/INT8 boundary: the model with
    the faster-alone groups in INT8 is timed against the model with every group in INT8, and the
    second wins where it is at least 5% faster."""
    chosen, every = setup.faster(), set(setup.groups)
    if chosen == every:
        return
    models = [setup.base, setup.build(every, context.workdir / "auto-static-every.onnx")]
    if chosen:
        models.append(setup.build(chosen, context.workdir / "auto-static-chosen.onnx"))
    ratios = context.timer.p50_ratios(models, feeds)
    alone = ratios[2] if chosen else 1.0
    context.log.steps.append(
        f"auto: the whole model with every convolution group in INT8 measured {ratios[1]:.2f}x FP32, "
        f"with the groups faster alone {alone:.2f}x"
    )
    if ratios[1] <= alone * MIN_SPEEDUP:
        setup.whole = (ratios[1], alone)


def _calibrate(
    base: Path, settings: Any, chosen: Int8Format, groups: dict[str, ConvGroup], context: PassContext
) -> StaticCompute:
    import onnx
    from onnxruntime.quantization.calibrate import save_tensors_data

    assert settings.calibration is not None
    specs = signature_of(onnx.load(str(base), load_external_data=False)).inputs
    samples = inspect_calibration(settings.calibration, specs)
    samples = min(samples, settings.calibration_limit) if settings.calibration_limit else samples
    with silenced():
        values, plan = collect_ranges(base, settings, specs, context.workdir)
    cache = context.workdir / "auto-ranges.json"
    save_tensors_data(values, cache)
    context.log.steps.append(
        f"auto: static INT8 format {chosen.describe()}; ranges calibrated on {samples} samples of "
        f"{settings.calibration.name}; {plan.describe()}"
    )
    glue = requantising(onnx.load(str(base), load_external_data=False))
    return StaticCompute(base, cache, values, settings, chosen, groups, glue=glue)


def node_decisions(setup: StaticCompute, static: set[str], fell_back: dict[str, str]) -> list[dict[str, Any]]:
    """Per convolution group, in graph order: INT8 or FP32 compute, its measured ratio, and why;
    then each glue node a fidelity fallback forced to float (no weight, no ratio of its own)."""
    decisions = []
    for node, group in setup.groups.items():
        ratio = setup.ratios.get(node)
        if node in static and setup.whole is not None and (ratio is None or ratio > MIN_SPEEDUP):
            every, alone = setup.whole
            compute, why = (
                "int8",
                (
                    f"INT8 compute: {'not timed' if ratio is None else f'{ratio:.2f}x FP32'} alone, but the model "
                    f"measured {every:.2f}x FP32 with every group INT8 against {alone:.2f}x with the faster ones only"
                ),
            )
        elif node in static:
            compute, why = "int8", f"INT8 compute: {1 / ratio:.1f}x faster" if ratio else "INT8 compute"
        elif node in fell_back:
            compute, why = "fp32", fell_back[node]
        elif ratio is None:
            compute, why = "fp32", "FP32 compute: not timed (beyond the budget of distinct groups timed)"
        elif ratio > 1:
            compute, why = "fp32", f"FP32 compute: slower here (INT8 {ratio:.2f}x FP32's latency)"
        else:
            compute, why = "fp32", f"FP32 compute: not faster enough here (INT8 {ratio:.2f}x FP32's latency)"
        decisions.append(
            {
                "node": node,
                "ops": list(group.spec[0]),  # type: ignore[call-overload]
                "weight": group.weight,
                "compute": compute,
                "int8_ratio": ratio,
                "reason": why,
            }
        )
    return decisions + _glue_decisions(setup, fell_back)


def _glue_decisions(setup: StaticCompute, fell_back: dict[str, str]) -> list[dict[str, Any]]:
    """The glue nodes forced to float, in graph order (the others follow their groups' compute)."""
    return [
        {
            "node": node,
            "ops": [op_type],
            "weight": None,
            "compute": "fp32",
            "int8_ratio": None,
            "reason": fell_back.get(node, "fell back: FP32 compute"),
        }
        for node, op_type in setup.glue.items()
        if node in setup.float_glue
    ]
