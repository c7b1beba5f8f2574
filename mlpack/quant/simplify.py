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
    _keep_only_known_value_info(model, simplified)
    return simplified, SimplifyOutcome(True, before, len(simplified.graph.node))


def _keep_only_known_value_info(source: onnx.ModelProto, simplified: onnx.ModelProto) -> None:
    """Drop the shapes onnxsim's inference wrote for intermediate tensors: onnxruntime infers them
    again at load, and they made a kept model larger than its source (6% on a small QDQ graph)."""
    known = {info.name for info in source.graph.value_info}
    kept = [info for info in simplified.graph.value_info if info.name in known]
    del simplified.graph.value_info[:]
    simplified.graph.value_info.extend(kept)


class Simplify(ModelPass):
    """onnxsim as a pass, in a child process: on any onnxsim failure the graph is kept and a warning says why.

    The child isolates onnxsim's memory (about 2.3 GB above the model's own 0.44 GB on a BERT-base
    size model, which the parent process would otherwise keep as heap long after) and its native
    crashes, which become a warning like any other onnxsim failure.
    """

    name = "simplification"
    applied = False

    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        outcome = simplify_file(model, output)
        if outcome.warning:
            context.log.warnings.append(outcome.warning)
            return False
        context.log.steps.append(f"simplified with onnxsim: {outcome.nodes_before} -> {outcome.nodes_after} nodes")
        self.applied = True
        return True


def simplify_file(model: Path, output: Path) -> SimplifyOutcome:
    """``simplify`` on a file, run in a child process; the simplified model is written to ``output``."""
    import json
    import signal
    import subprocess
    import sys

    done = subprocess.run(
        [sys.executable, "-m", "mlpack.quant.simplify", str(model), str(output)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode < 0:
        reason = f"onnxsim crashed ({signal.Signals(-done.returncode).name}), graph kept unsimplified"
        return SimplifyOutcome(False, 0, 0, reason)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        error = (done.stderr.strip().splitlines() or ["no output"])[-1][:200]
        return SimplifyOutcome(False, 0, 0, f"onnxsim failed, graph kept unsimplified: {error}")
    return SimplifyOutcome(**json.loads(lines[-1]))


def _main(source: str, target: str) -> None:
    import json
    import sys
    from dataclasses import asdict

    from mlpack.core.onnxio import load_model, save_model

    simplified, outcome = simplify(load_model(Path(source), check=False))
    if outcome.applied:
        save_model(simplified, Path(target))
    sys.stdout.write(json.dumps(asdict(outcome)) + "\n")


if __name__ == "__main__":
    import sys

    _main(sys.argv[1], sys.argv[2])
