"""The per-layer fidelity report: what each quantised tensor's own quantisation costs.

For every weight a pass shrank, the FP32 model runs with that one weight replaced by the values
its representation restores (every other weight exact), on a few samples, and its outputs are
judged against FP32's by the fidelity module: the output cosine, and the decisions it changes.
One session serves every weight: the weights become overridable graph inputs, so a tensor's cost
is one run, not one model file. Each weight is measured as it is stored: a choice at rest as it
restores, a weight MatMulNBits or an INT8 quantiser took as the file holds it (quant/applied.py).
Where a node computes in INT8, its input activation is quantised too (per call, or with
calibrated ranges); each such activation is measured alone the same way, switched on by a
boolean input of the same session (quant/activations.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.core.fidelity import Tolerance, compare_outputs
from mlpack.core.onnxio import create_session, load_model, run_session, save_model
from mlpack.quant.activations import QuantisedActivation, add_switches, quantised_activations
from mlpack.quant.applied import Applied, applied_weights
from mlpack.quant.atrest import Choice, Representation, find_weights, restored_values
from mlpack.quant.samples import first_samples

LAYER_SAMPLES = 16  # few samples: one run per tensor, memory of a 16-sample batch
TOP = 5  # offenders shown in the terminal


@dataclass(frozen=True)
class LayerCost:
    """One tensor quantised alone: what it costs the outputs."""

    tensor: str
    representation: str
    cosine: float  # the lowest output cosine with only this tensor quantised
    decisions_lost: int  # decisions the reference is sure of that change
    decisions: int  # decisions judged
    samples: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "tensor": self.tensor,
            "representation": self.representation,
            "cosine": self.cosine,
            "decisions_lost": self.decisions_lost,
            "decisions": self.decisions,
            "samples": self.samples,
        }


def costliest(costs: Sequence[LayerCost]) -> list[LayerCost]:
    """Most decisions lost first, then the lowest cosine."""
    return sorted(costs, key=lambda c: (-c.decisions_lost, c.cosine))


def layer_costs(
    model: Path,
    choices: Sequence[Choice | Applied],
    feeds: dict[str, Any],
    tolerance: Tolerance,
    workdir: Path,
    activations: Sequence[QuantisedActivation] = (),
) -> list[LayerCost]:
    """Each chosen weight of ``model`` quantised alone (as a choice at rest restores it, or as the
    quantised model stores it), and each activation computed on in INT8 quantised alone, on
    ``feeds`` (a few samples), costliest first."""
    import numpy as np
    from onnx import helper, numpy_helper

    loaded = load_model(model, check=False)
    by_name = {i.name: i for i in loaded.graph.initializer}
    chosen = [c for c in choices if c.weight.name in by_name and _quantised(c)]
    if not chosen and not activations:
        return []
    inputs = {i.name for i in loaded.graph.input}
    values: dict[str, Any] = {}
    for choice in chosen:
        init = by_name[choice.weight.name]
        values[init.name] = numpy_helper.to_array(init)
        if init.name not in inputs:  # an initializer that is also an input may be fed: overridable
            loaded.graph.input.append(helper.make_tensor_value_info(init.name, init.data_type, list(init.dims)))
    switches = add_switches(loaded, list(activations))
    overridable = save_model(loaded, workdir / "layers.onnx")
    del loaded, by_name
    run = _Runs(create_session(overridable), {**feeds, **{s: np.array(False) for s in switches.values()}}, tolerance)
    samples = int(np.shape(next(iter(feeds.values())))[0]) if feeds else 0
    costs = []
    for choice in chosen:
        name = choice.weight.name
        restored = _restored(values[name], choice).astype(values[name].dtype)
        costs.append(LayerCost(name, _label(choice), *run.judged({name: restored}), samples))
    for activation in activations:
        switch = {switches[activation.tensor]: np.array(True)}
        costs.append(LayerCost(activation.tensor, activation.label, *run.judged(switch), samples))
    return costliest(costs)


class _Runs:
    """One session over the overridable model: the reference run, and runs with one change."""

    def __init__(self, session: Any, base: dict[str, Any], tolerance: Tolerance) -> None:
        self.session, self.base = session, base
        self.names = [o.name for o in session.get_outputs()]
        self.reference = run_session(session, base)
        self.plain = Tolerance(atol=None, outputs=tolerance.outputs, confidence=tolerance.confidence)

    def judged(self, change: dict[str, Any]) -> tuple[float, int, int]:
        """(the lowest output cosine, decisions lost, decisions judged) with ``change`` fed."""
        produced = run_session(self.session, {**self.base, **change})
        judged = compare_outputs(self.reference, produced, names=self.names, tolerance=self.plain, label="layer")
        decided = [o.decisions for o in judged.outputs if o.decisions is not None]
        return judged.min_cosine, sum(d.lost for d in decided), sum(d.judged for d in decided)


def _quantised(choice: Choice | Applied) -> bool:
    return isinstance(choice, Applied) or choice.representation is not Representation.FP32


def _restored(values: Any, choice: Choice | Applied) -> Any:
    return choice.values if isinstance(choice, Applied) else restored_values(values, choice)


def _label(choice: Choice | Applied) -> str:
    if isinstance(choice, Applied):
        return choice.label
    if choice.representation is Representation.INT8_BLOCK:
        return f"int8-block{choice.block}"
    return choice.representation.value


def shrunk_weights(source: Path, shrunk: Path, choices: Sequence[Choice], min_elements: int) -> list[Choice | Applied]:
    """The weights of ``source`` that ``shrunk`` no longer holds in float, each with its representation.

    ``choices`` name a representation where the pass chose one (at rest); a weight that MatMulNBits
    or an INT8 quantiser took is measured as the file stores it (4-bit blocks, INT8 per tensor or
    per channel); any other weight that left float is measured as INT8 per channel.
    """
    import onnx

    kept = {
        i.name
        for i in onnx.load(str(shrunk), load_external_data=False).graph.initializer
        if i.data_type == onnx.TensorProto.FLOAT
    }
    stated = {c.weight.name: c for c in choices}
    weights = find_weights(load_model(source, check=False), min_elements=min_elements)
    gone = [w for w in weights if w.name not in kept and w.name not in stated]
    applied = applied_weights(gone, shrunk)
    return [
        stated.get(w.name) or applied.get(w.name) or Choice(w, Representation.INT8_CHANNEL)
        for w in weights
        if w.name not in kept or (w.name in stated and stated[w.name].representation is not Representation.FP32)
    ]


def source_layer_costs(
    source: Path, shrunk: Path, choices: Sequence[Choice], feeds: dict[str, Any], tolerance: Tolerance, workdir: Path
) -> list[LayerCost]:
    """The per-layer report of a pass from ``source`` to ``shrunk``, on a few samples of ``feeds``."""
    measured = shrunk_weights(source, shrunk, choices, min_elements=0)
    activations = quantised_activations(load_model(source, check=False), shrunk)
    few = first_samples(source, feeds, LAYER_SAMPLES)
    return layer_costs(source, measured, few, tolerance, workdir, activations)
