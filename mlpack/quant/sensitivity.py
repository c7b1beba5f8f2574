"""Which weights hurt the outputs most: per-node SQNR loss between a float and a shrunk model.

Both models run on the same inputs with every intermediate float tensor exposed as an output
(onnxruntime's QDQ debugging helper). A node's degradation is its worst activation input's SQNR
minus its output's SQNR: the noise that this node's own weights added. Weights are ranked by the
degradation of the nodes that read them, the same measure accuracy-aware static INT8 ranks by.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from mlpack.core.onnxio import create_session
from mlpack.core.quiet import silenced

EXACT_DB = 120.0  # float32 round-off: no quantisation noise


def weight_degradation(
    float_model: Path, candidate: Path, feeds: dict[str, Any], weights: set[str], workdir: Path
) -> dict[str, float]:
    """For each weight in ``weights``: the worst SQNR loss (dB) at a node that reads it."""
    import numpy as np
    import onnx

    float_acts = _activations(float_model, feeds, workdir / "sens-float.onnx")
    cand_acts = _activations(candidate, feeds, workdir / "sens-cand.onnx")

    def sqnr(tensor: str) -> float:
        if tensor not in float_acts or tensor not in cand_acts:
            return EXACT_DB
        ref = float_acts[tensor].astype(np.float64)
        cand = cand_acts[tensor].astype(np.float64)
        if ref.shape != cand.shape:
            return EXACT_DB
        noise = float(np.sum((ref - cand) ** 2))
        if noise == 0:
            return EXACT_DB
        signal = float(np.sum(ref**2))
        return min(10 * float(np.log10(max(signal, 1e-30) / noise)), EXACT_DB)

    graph = onnx.load(str(float_model), load_external_data=False).graph
    scores: dict[str, float] = {}
    for node in graph.node:
        read = [name for name in node.input if name in weights]
        if not read or not node.output:
            continue
        activations = [sqnr(name) for name in node.input if name and name not in weights and name in float_acts]
        loss = min(activations or [EXACT_DB]) - sqnr(node.output[0])
        for name in read:
            scores[name] = max(scores.get(name, float("-inf")), loss)
    return scores


def _activations(model: Path, feeds: dict[str, Any], augmented: Path) -> dict[str, Any]:
    from onnxruntime.quantization import qdq_loss_debug as debug

    with silenced():
        debug.modify_model_output_intermediate_tensors(str(model), str(augmented))
    session = create_session(augmented)
    names = [o.name for o in session.get_outputs()]
    return dict(zip(names, session.run(None, feeds), strict=True))
