"""Which weights hurt the outputs most: the noise each node adds between a float and a shrunk model.

Both models run on the same inputs with every intermediate float tensor exposed as an output
(onnxruntime's QDQ debugging helper). A node's own noise is its output's noise-to-signal ratio
less its noisiest activation input's: the noise this node's own weights added. Weights are ranked
by the own noise of the nodes that read them, loudest first.

A difference of SQNRs in dB would not do: a node fed exact inputs (an embedding table read by
token ids) that comes out at a harmless 40 dB would "lose" 80 dB from the 120 dB float cap, and
outrank a layer that drops a signal from 38 dB to 5 dB.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlpack.core.onnxio import create_session
from mlpack.core.quiet import silenced

EXACT_DB = 120.0  # float32 round-off: no quantisation noise
SAVED_SUFFIX = "_ReshapedSavedOutput"  # onnxruntime.quantization.qdq_loss_debug's name for a saved tensor


def weight_degradation(
    float_model: Path, candidate: Path, feeds: dict[str, Any], weights: set[str], workdir: Path
) -> dict[str, float]:
    """For each weight in ``weights``: the loudest own noise (dB, noise over signal; higher is
    worse, -120 is none) of a node that reads it."""
    import numpy as np
    import onnx

    float_acts = _activations(float_model, feeds, workdir / "sens-float.onnx")
    cand_acts = _activations(candidate, feeds, workdir / "sens-cand.onnx")

    def noise_ratio(tensor: str) -> float:
        """Noise power over signal power of ``tensor`` in the candidate (0: exact)."""
        if tensor not in float_acts or tensor not in cand_acts:
            return 0.0
        ref = float_acts[tensor].astype(np.float64)
        cand = cand_acts[tensor].astype(np.float64)
        if ref.shape != cand.shape:
            return 0.0
        return float(np.sum((ref - cand) ** 2)) / max(float(np.sum(ref**2)), 1e-30)

    graph = onnx.load(str(float_model), load_external_data=False).graph
    scores: dict[str, float] = {}
    for node in graph.node:
        read = [name for name in node.input if name in weights]
        if not read or not node.output:
            continue
        inputs = [noise_ratio(name) for name in node.input if name and name not in weights and name in float_acts]
        own = max(noise_ratio(node.output[0]) - max(inputs or [0.0]), 0.0)
        loudness = max(10 * float(np.log10(max(own, 10 ** (-EXACT_DB / 10)))), -EXACT_DB)
        for name in read:
            scores[name] = max(scores.get(name, float("-inf")), loudness)
    return scores


def _activations(model: Path, feeds: dict[str, Any], augmented: Path) -> dict[str, Any]:
    from onnxruntime.quantization import qdq_loss_debug as debug

    with silenced():
        debug.modify_model_output_intermediate_tensors(str(model), str(augmented))
    session = create_session(augmented)
    # The helper exposes each tensor as "<name>_ReshapedSavedOutput" (flattened): keyed by the
    # saved name, no tensor would be found and every node would score 0 dB.
    names = [_original_name(o.name) for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds), strict=True))


def _original_name(saved: str) -> str:
    return saved[: -len(SAVED_SUFFIX)] if saved.endswith(SAVED_SUFFIX) else saved
