"""``--quantize auto``: the smallest artifact that keeps the outputs and is not slower.

1. INT8 compute where it measured faster on the Timer's machine: with calibration data (the
   ``--calibration`` file, or a split of ``--data``), static INT8 (QDQ) per convolution group,
   each timed alone in the model's own shapes (``int8compute``); dynamic INT8 MatMul or LSTM
   per op kind, in one interleaved run. Every other large weight INT8 at rest.
2. While the output check fails, convolution groups whose own INT8 compute (activations and
   weight) changes decisions fall back to FP32 compute first, and with them, costliest first, the
   glue ops that requantise (a residual Add, a Concat, a pool) whose own output range does; then
   weights move one rung up a ladder of finer representations (INT8 compute -> one scale per
   tensor (short rows) -> per-channel at rest -> blocks of 32 -> blocks of 16 -> FP16 -> FP32),
   1, 2, 4... per round: first those whose own quantisation changes the most decisions (each
   alone, on a few samples), then those whose nodes add the most noise. Where the data cannot show the decision
   bar even for an exact copy, it fails at once: no finer model changes the data.
3. The result is timed against FP32 in one interleaved run; more than 5% slower and INT8 compute
   is dropped (weights at rest run at FP32 speed); still slower, and FP32 is kept.
Every tensor's final representation, every convolution's compute, each glue op that fell back, and
why, go into the report.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlpack.core.fidelity import Tolerance
from mlpack.core.onnxio import load_model
from mlpack.errors import MlpackError, VerificationError
from mlpack.quant.atrest import Choice, Representation, Weight, find_weights
from mlpack.quant.int8compute import StaticCompute, node_decisions, prepare
from mlpack.quant.layers import LAYER_SAMPLES, layer_costs
from mlpack.quant.modes.dynamic import quantize_dynamic
from mlpack.quant.modes.weights import apply_choices, initial_choice, weight_values
from mlpack.quant.nodecost import NodeCost, node_costs
from mlpack.quant.passes import ModelPass, PassContext, PassLog, describe, failed_options, failure_hint
from mlpack.quant.samples import first_samples
from mlpack.quant.sensitivity import weight_degradation
from mlpack.quant.settings import QuantizeSettings
from mlpack.quant.timing import folded_ops

MAX_SLOWDOWN = 1.05  # the latency promise: never more than 5% slower than FP32
MIN_SPEEDUP = 0.95  # INT8 compute for an op kind only if it measured at least 5% faster
MAX_ROUNDS = 12
SENSITIVITY_SAMPLES = 4  # enough to rank weights; every activation of each is held at once
# The kinds INT8 compute is tried for (onnxruntime's dynamic kernels), with the weight role each reads.
COMPUTE_KINDS = {
    "MatMul": ("MatMul weight", "Gemm weight"),
    "Conv": ("Conv weight",),
    "LSTM": ("LSTM W", "LSTM R"),  # DynamicQuantizeLSTM: 3x faster than FP32 on a 2-layer LSTM here
}
# The ladder a weight climbs when the outputs drift, from small to faithful.
LADDER: tuple[tuple[Representation, int | None], ...] = (
    (Representation.INT8_TENSOR, None),
    (Representation.INT8_CHANNEL, None),
    (Representation.INT8_BLOCK, 32),
    (Representation.INT8_BLOCK, 16),
    (Representation.FP16, None),
    (Representation.FP32, None),
)


@dataclass
class _Plan:
    """The current state of the search: which weights compute in INT8, how the rest are stored."""

    compute: dict[str, str]  # weight -> the op kind that computes it in INT8
    stored: dict[str, Choice]  # weight -> its representation at rest
    static: set[str] = field(default_factory=set)  # Conv nodes computing in static INT8
    conv_of: dict[str, str] = field(default_factory=dict)  # weight -> its Conv node (static candidates)
    fell_back: dict[str, str] = field(default_factory=dict)  # Conv or glue node -> why it left INT8 compute

    def rung(self, name: str) -> int:
        if self.conv_of.get(name) in self.static:
            return -2
        if name in self.compute:
            return -1
        choice = self.stored[name]
        key = (choice.representation, choice.block if choice.representation is Representation.INT8_BLOCK else None)
        return next((i for i, step in enumerate(LADDER) if step == key), 0)


class Auto(ModelPass):
    name = "auto"
    reports_layers = True
    tolerance = Tolerance(atol=None, min_cosine=0.99, min_agreement=0.99)
    description = (
        "per tensor: INT8 compute where measured faster, INT8 at rest elsewhere, finer where the "
        "outputs need it; never more than 5% slower than FP32"
    )

    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        loaded = load_model(model, check=False)
        weights = {w.name: w for w in find_weights(loaded, min_elements=context.settings.min_weight_elements)}
        if not weights:
            context.log.warnings.append("auto: no float weight large enough to shrink; the model is kept as it is")
            return False
        in_memory = weight_values(loaded)
        stored = {n: initial_choice(w, in_memory[n], context.settings) for n, w in weights.items()}
        # The values are needed again only if a weight must move up the ladder: read them back from
        # the file then, rather than hold a copy of the model through every session timed below.
        del loaded, in_memory
        values = _FileValues(model)
        setup = prepare(model, context)
        model = setup.base if setup is not None else model  # the same graph, every node named
        compute = _faster_int8_kinds(model, weights, context, convolutions=setup is None)
        plan = _Plan({n: k for n, w in weights.items() for k in compute if w.role in COMPUTE_KINDS[k]}, stored)
        if setup is not None:
            plan.static = setup.faster()
            plan.conv_of = {g.weight: g.node for g in setup.groups.values()}
        candidate = _refine(model, plan, weights, values, context, setup)
        candidate = _hold_latency(model, candidate, plan, weights, values, context, setup)
        candidate.replace(output)
        _report(plan, weights, context, setup)
        self.chosen = tuple(_current_choice(plan, n) for n in weights)
        return True


class _FileValues(Mapping[str, Any]):
    """Weight values read back from the model file on first use (a promotion), then kept."""

    def __init__(self, model: Path) -> None:
        self.model = model
        self._values: Mapping[str, Any] | None = None

    def _loaded(self) -> Mapping[str, Any]:
        if self._values is None:
            self._values = weight_values(load_model(self.model, check=False))
        return self._values

    def __getitem__(self, name: str) -> Any:
        return self._loaded()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def _faster_int8_kinds(
    model: Path, weights: dict[str, Weight], context: PassContext, *, convolutions: bool = True
) -> list[str]:
    """The op kinds whose dynamic INT8 kernels beat FP32 here by at least 5%, measured interleaved
    (convolutions only where static INT8 cannot be tried: it is the faster kernel)."""
    faster = []
    feeds = first_samples(model, context.reference.feeds, 1)
    for kind, roles in COMPUTE_KINDS.items():
        if not any(w.role in roles for w in weights.values()) or (kind == "Conv" and not convolutions):
            continue
        trial = context.workdir / f"auto-int8-{kind}.onnx"
        try:
            op_types = (kind, "Gemm") if kind == "MatMul" else (kind,)
            quantize_dynamic(model, trial, replace(context.settings, op_types=op_types), PassLog())
            ratio = context.timer.p50_ratios([model, trial], feeds)[1]
        except MlpackError as exc:
            context.log.warnings.append(f"auto: INT8 {kind} could not be tried: {exc}")
            continue
        verdict = "faster: INT8 compute" if ratio <= MIN_SPEEDUP else "not faster: weights at rest"
        context.log.steps.append(f"auto: INT8 {kind} measured {ratio:.2f}x FP32 latency here ({verdict})")
        if ratio <= MIN_SPEEDUP:
            faster.append(kind)
    return faster


def _build(
    model: Path, plan: _Plan, weights: dict[str, Weight], context: PassContext, index: int, setup: StaticCompute | None
) -> Path:
    """INT8 compute for the planned nodes (static, then dynamic), then every other weight stored at rest."""
    path = context.workdir / f"auto-{index}.onnx"
    current = model
    if plan.static and setup is not None:
        current = setup.build(plan.static, context.workdir / f"auto-{index}-static.onnx")
    kinds = sorted(set(plan.compute.values()))
    if kinds:
        op_types = tuple(kinds) + (("Gemm",) if "MatMul" in kinds else ())
        excluded = _nodes_left_in_float(model, plan, weights)
        settings = replace(context.settings, op_types=op_types, exclude_nodes=tuple(excluded))
        quantize_dynamic(current, path, settings, PassLog())
        current = path
    # Every weight gets its at-rest form: one that INT8 compute took is no longer a float
    # initializer and is left alone; one whose node ended up excluded is still float and shrinks.
    apply_choices(current, path, list(plan.stored.values()))
    return path


# The op kind whose INT8 kernel computes a node of each op type.
_KIND_OF_OP = {"MatMul": "MatMul", "Gemm": "MatMul", "Conv": "Conv", "LSTM": "LSTM"}


def _nodes_left_in_float(model: Path, plan: _Plan, weights: dict[str, Weight]) -> list[str]:
    """Nodes of a planned kind that read a weight of that kind's roles taken off INT8 compute.

    Only those weights decide: an LSTM's bias or a MatMul's activation input are not what the
    INT8 kernel quantises, and must not keep the node in float.
    """
    import onnx

    graph = onnx.load(str(model), load_external_data=False).graph
    excluded = []
    for node in graph.node:
        kind = _KIND_OF_OP.get(node.op_type)
        if not node.name or kind not in set(plan.compute.values()):
            continue
        roles = COMPUTE_KINDS[kind]
        if any(i in weights and weights[i].role in roles and i not in plan.compute for i in node.input):
            excluded.append(node.name)
    return excluded


def _refine(
    model: Path,
    plan: _Plan,
    weights: dict[str, Weight],
    values: Mapping[str, Any],
    context: PassContext,
    setup: StaticCompute | None = None,
) -> Path:
    """Move the most sensitive nodes and weights to finer forms until the outputs hold; fail closed if none do."""
    comparison = None
    costs: dict[str, NodeCost] | None = None
    for index in range(MAX_ROUNDS + 1):
        at_fp32 = all(c.representation is Representation.FP32 for c in plan.stored.values())
        if not plan.compute and not plan.static and at_fp32:
            break  # back at FP32: nothing shrinks within the tolerance
        candidate = _build(model, plan, weights, context, index, setup)
        comparison = context.reference.compare(candidate, context.tolerance)
        if comparison.passed:
            if index:
                context.log.steps.append(f"auto: outputs hold after {index} refinement round(s)")
            return candidate
        if comparison.unshowable:  # no finer model can show what these data cannot
            raise VerificationError(
                f"auto: the data cannot show the decisions of {context.source.name} hold: "
                f"{comparison.failure_text()}; no file written.",
                hint=failure_hint(comparison),
            )
        if plan.static and setup is not None:
            costs = costs if costs is not None else _node_costs(model, setup, context)
            if _drop_costly(plan, costs, 2**index, setup):  # the rung above weights at rest falls first
                continue
        movable = [n for n in weights if plan.rung(n) < len(LADDER) - 1]
        if not movable:
            if plan.static:  # only INT8 convolutions with small weights are left: they fall back
                for node in list(plan.static):
                    _fall_back(plan, node, "outputs drifted")
                continue
            break
        ranked, scores, lost = _rank(model, candidate, plan, movable, context)
        # Weights whose own quantisation changes decisions climb; the others only when none does.
        costly = [n for n in ranked if lost.get(n, 0) > 0]
        for name in (costly or ranked)[: 2**index]:
            _promote(plan, name, weights[name], values[name], context.settings, scores.get(name), lost.get(name))
    raise VerificationError(
        f"auto: no representation smaller than FP32 keeps the outputs of {context.source.name} within tolerance "
        f"({context.tolerance.describe()})"
        + (f"; last try: {comparison.failure_text()}" if comparison is not None else "")
        + "; no file written.",
        hint="Pass --data with real inputs (generated ones can judge harshly), or state the bar you need "
        f"with {failed_options(comparison) or '--min-cosine, --min-agreement or --atol'}.",
    )


def _rank(
    model: Path, candidate: Path, plan: _Plan, movable: list[str], context: PassContext
) -> tuple[list[str], dict[str, float], dict[str, int]]:
    """The weights to move first: those whose own quantisation changes the most decisions (each
    alone, on a few samples), then those whose nodes add the most noise in the candidate."""
    few = first_samples(model, context.reference.feeds, SENSITIVITY_SAMPLES)
    scores = weight_degradation(model, candidate, few, set(movable), context.workdir)
    current = [_current_choice(plan, n) for n in movable]
    feeds = first_samples(model, context.reference.feeds, LAYER_SAMPLES)
    lost = {c.tensor: c.decisions_lost for c in layer_costs(model, current, feeds, context.tolerance, context.workdir)}
    ranked = sorted(movable, key=lambda n: (-lost.get(n, 0), -scores.get(n, float("-inf"))))
    return ranked, scores, lost


def _node_costs(model: Path, setup: StaticCompute, context: PassContext) -> dict[str, NodeCost]:
    """What each INT8 convolution group costs alone (activations and weight), and each requantising
    glue node (its output range), on a few samples."""
    feeds = first_samples(model, context.reference.feeds, LAYER_SAMPLES)
    groups = list(setup.groups.values())
    glue = setup.quantised_glue(set(setup.groups))  # glue no group feeds never computes in INT8
    return node_costs(model, groups, setup.values, setup.format, feeds, context.tolerance, context.workdir, glue=glue)


def _drop_costly(plan: _Plan, costs: dict[str, NodeCost], count: int, setup: StaticCompute) -> bool:
    """Up to ``count`` INT8 convolution groups, and glue nodes they feed in INT8, whose
    own INT8 compute changes decisions back to FP32 compute, the costliest first; whether there was any."""
    candidates = plan.static | setup.quantised_glue(plan.static)
    costly = sorted(
        (n for n in candidates if n in costs and costs[n].decisions_lost > 0),
        key=lambda n: (-costs[n].decisions_lost, costs[n].cosine, n),
    )
    for node in costly[:count]:
        _fall_back(plan, node, f"its INT8 compute alone changed {costs[node].decisions_lost} decisions", setup)
    return bool(costly)


def _fall_back(plan: _Plan, node: str, why: str, setup: StaticCompute | None = None) -> None:
    """One convolution group from static INT8 compute back to FP32 compute (its weight at rest),
    or one glue node (it joins ``setup.float_glue``)."""
    if setup is not None and node in setup.glue:
        setup.float_glue.add(node)
    plan.static.discard(node)
    plan.fell_back[node] = f"fell back: {why}"


def _current_choice(plan: _Plan, name: str) -> Choice:
    """What the weight is now; INT8 compute is measured as its weight alone, per channel."""
    choice = plan.stored[name]
    if name in plan.compute:
        return replace(choice, representation=Representation.INT8_CHANNEL, block=None)
    return choice


def _promote(
    plan: _Plan,
    name: str,
    weight: Weight,
    values: Any,
    settings: QuantizeSettings,
    loss: float | None,
    lost: int | None = None,
) -> None:
    why = "outputs drifted"
    if lost:
        why += f"; quantised alone it changed {lost} decisions"
    if loss is not None and loss > -1e9:
        why += f"; its node added noise at {-loss:.1f} dB SQNR"
    node = plan.conv_of.get(name)
    if node is not None and node in plan.static:
        _fall_back(plan, node, why)
        plan.stored[name] = replace(initial_choice(weight, values, settings), reason=f"INT8 compute dropped: {why}")
        return
    if name in plan.compute:
        del plan.compute[name]
        plan.stored[name] = replace(initial_choice(weight, values, settings), reason=f"INT8 compute dropped: {why}")
        return
    representation, block = LADDER[min(plan.rung(name) + 1, len(LADDER) - 1)]
    plan.stored[name] = Choice(weight, representation, block, reason=why)


def _hold_latency(
    model: Path,
    candidate: Path,
    plan: _Plan,
    weights: dict[str, Weight],
    values: Mapping[str, Any],
    context: PassContext,
    setup: StaticCompute | None = None,
) -> Path:
    """Never more than 5% slower than FP32: drop INT8 compute, then give up, as measurements say."""
    feeds = first_samples(model, context.reference.feeds, 1)
    for _ in range(3):
        ratio = context.timer.p50_ratios([model, candidate], feeds)[1]
        context.log.steps.append(f"auto: latency {ratio:.2f}x FP32 (interleaved, {_batches(context)})")
        if ratio <= MAX_SLOWDOWN:
            context.log.latency_ratio = ratio
            return candidate
        compute = plan.compute or plan.static
        if not compute and folded_ops(candidate, context.workdir) == folded_ops(model, context.workdir):
            # Weights at rest only: once folded, the session runs FP32's very graph. A slower
            # measurement of the same graph is the machine's noise, not the model's.
            context.log.steps.append(
                "auto: the graph a session runs is FP32's own once the weights are restored: the difference is noise"
            )
            context.log.latency_ratio = ratio
            return candidate
        if compute:
            slower = "INT8 compute made the whole model slower"
            for node in list(plan.static):
                _fall_back(plan, node, slower)
            for name in list(plan.compute):
                _promote(plan, name, weights[name], values[name], context.settings, None)
                plan.stored[name] = replace(plan.stored[name], reason=slower)
            candidate = _refine(model, plan, weights, values, context, setup)
    raise VerificationError(
        f"auto: the shrunk model measured more than {MAX_SLOWDOWN:.2f}x FP32's latency three times in a row; "
        "no file written.",
        hint="Use --quantize weights for a smaller file at (usually) FP32 speed, or --quantize none.",
    )


def _batches(context: PassContext) -> str:
    """The batch sizes the latency ratio was measured at (the slowest of them where several)."""
    sizes = tuple(getattr(context.timer, "batch_sizes", (1,)))
    return f"batch {sizes[0]}" if len(sizes) == 1 else f"the slowest of batch {', '.join(map(str, sizes))}"


def _report(plan: _Plan, weights: dict[str, Weight], context: PassContext, setup: StaticCompute | None) -> None:
    counts: dict[str, int] = {}
    decisions = node_decisions(setup, plan.static, plan.fell_back) if setup is not None else []
    context.log.nodes.extend(decisions)
    static = {d["weight"]: d for d in decisions if d["compute"] == "int8"}
    for name, weight in weights.items():
        if name in static:
            entry: dict[str, Any] = {
                "tensor": name,
                "role": weight.role,
                "shape": list(weight.shape),
                "representation": "int8-compute (static QDQ)",
                "block": None,
                "reason": f"{static[name]['reason']} (node {static[name]['node']})",
            }
        elif name in plan.compute:
            entry = {
                "tensor": name,
                "role": weight.role,
                "shape": list(weight.shape),
                "representation": f"int8-compute ({plan.compute[name]})",
                "block": None,
                "reason": f"INT8 {plan.compute[name]} measured faster than FP32 here",
            }
        else:
            entry = plan.stored[name].to_dict()
            fell = plan.fell_back.get(plan.conv_of.get(name, ""))
            if fell and fell not in entry["reason"]:
                entry["reason"] = f"{fell}; {entry['reason']}" if entry["reason"] else fell
        counts[str(entry["representation"])] = counts.get(str(entry["representation"]), 0) + 1
        context.log.tensors.append(entry)
    context.log.steps.append(f"auto: {describe(counts)} tensors")
