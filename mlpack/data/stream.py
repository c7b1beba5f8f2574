"""Streaming models: an output that feeds an input of the next call (``--state OUT=IN``).

Recurrent state (voice activity, keyword spotting, streaming speech recognition, RNN decoders)
is carried from call to call on a device. Drift that builds up through the state is invisible
to independent calls, so checks on such a model run the data as a stream of calls, the state
starting from zeros (or the value the data gives) and then carried, and compare the streams.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlpack.core.onnxio import run_session
from mlpack.core.signature import Signature
from mlpack.errors import InputSpecError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class StatePair:
    """The model output ``output`` is fed to the input ``input`` on the next call."""

    output: str
    input: str

    def text(self) -> str:
        return f"{self.output}={self.input}"

    @classmethod
    def parse(cls, text: str) -> StatePair:
        """``OUT=IN``: the output named first feeds the input named second."""
        output, sep, input_name = text.partition("=")
        if not sep or not output.strip() or not input_name.strip():
            raise InputSpecError(
                f"--state takes OUTPUT=INPUT (the output fed back as the next call's input), got '{text}'."
            )
        return cls(output=output.strip(), input=input_name.strip())


def parse_state_pairs(texts: Sequence[str]) -> tuple[StatePair, ...]:
    """Every ``OUT=IN`` text as a pair; an input fed twice is an error."""
    pairs = tuple(StatePair.parse(t) for t in texts)
    inputs = [p.input for p in pairs]
    twice = sorted({i for i in inputs if inputs.count(i) > 1})
    if twice:
        raise InputSpecError(f"--state feeds the input(s) {twice} from more than one output; pair each input once.")
    return pairs


def check_state_pairs(pairs: Sequence[StatePair], signature: Signature) -> None:
    """Raise InputSpecError for a pair naming an unknown output or input, or whose shapes or
    dtypes cannot match (fixed sizes that differ, or a different rank)."""
    outputs = {o.name: o for o in signature.outputs}
    inputs = {i.name: i for i in signature.inputs}
    for pair in pairs:
        if pair.output not in outputs:
            raise InputSpecError(
                f"--state {pair.text()}: the model has no output '{pair.output}'; its outputs are {sorted(outputs)}."
            )
        if pair.input not in inputs:
            raise InputSpecError(
                f"--state {pair.text()}: the model has no input '{pair.input}'; its inputs are {sorted(inputs)}."
            )
        out, inp = outputs[pair.output], inputs[pair.input]
        fixed_differ = any(
            isinstance(a, int) and isinstance(b, int) and a != b for a, b in zip(out.shape, inp.shape, strict=False)
        )
        if len(out.shape) != len(inp.shape) or fixed_differ or out.dtype != inp.dtype:
            raise InputSpecError(
                f"--state {pair.text()}: output '{out.name}' is {out.shape_text()} {out.dtype} but input "
                f"'{inp.name}' is {inp.shape_text()} {inp.dtype}; a state pair must match in shape and dtype."
            )


def run_stream(
    session: Any, calls: Sequence[dict[str, np.ndarray]], pairs: Sequence[StatePair], output_names: Sequence[str]
) -> list[list[np.ndarray]]:
    """Every call's outputs, each call's state inputs taken from the previous call's outputs.

    Args:
        session: an onnxruntime session.
        calls: the feeds, in order; the first call's state inputs are the initial state.
        pairs: which output feeds which input.
        output_names: the session's outputs, in the order it returns them.
    """
    index = {name: i for i, name in enumerate(output_names)}
    results: list[list[np.ndarray]] = []
    carried: dict[str, np.ndarray] = {}
    for call in calls:
        produced = run_session(session, {**call, **carried})
        results.append(produced)
        carried = {p.input: produced[index[p.output]] for p in pairs}
    return results
