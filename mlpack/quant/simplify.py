"""Graph simplification with onnxsim (constant folding, redundant-node removal, fusions)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from mlpack.core.quiet import silenced
from mlpack.quant.passes import ModelPass, PassContext

if TYPE_CHECKING:
    import onnx


@dataclass(frozen=True)
class SimplifyOutcome:
    applied: bool
    nodes_before: int
    nodes_after: int
    warning: str | None = None


def simplify(model: onnx.ModelProto) -> tuple[onnx.ModelProto, SimplifyOutcome]:
    """Simplify with onnxsim; on any onnxsim failure keep the original graph and say why.

    onnxsim's own output check is off: the pipeline compares outputs itself, on the user's
    data when given, with the tolerance stated in the report.
    """
    before = len(model.graph.node)
    try:
        import onnxsim
    except ImportError:
        missing = "onnxsim is not installed (pip install 'mlpack-edge[optimize]'); graph kept unsimplified"
        return model, SimplifyOutcome(False, before, before, missing)
    try:
        # onnxsim prints progress and warnings of its own.
        with silenced():
            simplified, ok = onnxsim.simplify(model, check_n=0)
    except Exception as exc:  # onnxsim raises anything from C++ errors to ValueErrors
        reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else type(exc).__name__
        return model, SimplifyOutcome(False, before, before, f"onnxsim failed, graph kept unsimplified: {reason}")
    if not ok:
        return model, SimplifyOutcome(
            False, before, before, "onnxsim could not validate its result; graph kept unsimplified"
        )
    return simplified, SimplifyOutcome(True, before, len(simplified.graph.node))


class Simplify(ModelPass):
    """onnxsim as a pass: on any onnxsim failure the graph is kept and a warning says why."""

    name = "simplification"
    applied = False

    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        from mlpack.core.onnxio import load_model, save_model

        simplified, outcome = simplify(load_model(model, check=False))
        if outcome.warning:
            context.log.warnings.append(outcome.warning)
            return False
        context.log.steps.append(f"simplified with onnxsim: {outcome.nodes_before} -> {outcome.nodes_after} nodes")
        save_model(simplified, output)
        self.applied = True
        return True
