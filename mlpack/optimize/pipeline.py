"""optimize: simplify, then quantise, then prove the result still computes what the source did."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.data import generate_inputs, load_dataset
from mlpack.errors import BadInputError, VerificationError
from mlpack.fidelity import Comparison, Tolerance, compare_outputs
from mlpack.onnxio import create_session, load_model, model_size_bytes, run_session, save_model
from mlpack.optimize import quantize as _quantizers  # noqa: F401  (fills the registry)
from mlpack.optimize.registry import QUANTIZERS, QuantizeLog, QuantizeSettings, QuantMode, default_tolerance
from mlpack.optimize.simplify import simplify as simplify_graph
from mlpack.probe import probe_model
from mlpack.signature import signature_of

VERIFY_BATCH = 8


@dataclass(frozen=True)
class OptimizeResult:
    source: Path
    output: Path
    quantize: QuantMode
    simplified: bool
    steps: tuple[str, ...]
    warnings: tuple[str, ...]
    size_before: int
    size_after: int
    comparison: Comparison
    verified_on: str  # what the outputs were compared on
    seconds: float

    @property
    def size_ratio(self) -> float:
        return self.size_after / self.size_before if self.size_before else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "output": str(self.output),
            "quantize": self.quantize.value,
            "simplified": self.simplified,
            "steps": list(self.steps),
            "warnings": list(self.warnings),
            "size_before": self.size_before,
            "size_after": self.size_after,
            "size_ratio": self.size_ratio,
            "comparison": self.comparison.to_dict(),
            "verified_on": self.verified_on,
            "seconds": self.seconds,
        }


def optimize(
    source: Path,
    output: Path,
    *,
    simplify: bool = True,
    quantize: QuantMode = QuantMode.NONE,
    per_channel: bool = True,
    op_types: tuple[str, ...] | None = None,
    tolerance: Tolerance | None = None,
    data: Path | None = None,
    seed: int = 0,
) -> OptimizeResult:
    """Write a smaller/faster version of ``source`` to ``output``, or raise and write nothing."""
    started = time.perf_counter()
    source, output = Path(source), Path(output)
    if source.resolve() == output.resolve():
        raise BadInputError("the output must differ from the source model; pick another -o path.")
    tolerance = tolerance or default_tolerance(quantize)
    model = load_model(source)
    signature = signature_of(model)
    reference_session = create_session(source)
    if data is not None:
        feeds = load_dataset(data, signature.inputs).inputs
        verified_on = f"{next(iter(feeds.values())).shape[0]} samples from {data}"
    else:
        feeds = generate_inputs(signature.inputs, batch_size=VERIFY_BATCH, seed=seed)
        verified_on = f"{VERIFY_BATCH} generated samples (seed {seed})"
    reference = run_session(reference_session, feeds)
    steps: list[str] = []
    warnings: list[str] = []

    with tempfile.TemporaryDirectory(prefix="mlpack-opt-") as workdir:
        current = Path(workdir) / "current.onnx"
        simplified = False
        if simplify:
            model, outcome = simplify_graph(model)
            simplified = outcome.applied
            if outcome.warning:
                warnings.append(outcome.warning)
            else:
                steps.append(f"simplified with onnxsim: {outcome.nodes_before} -> {outcome.nodes_after} nodes")
        save_model(model, current)
        if quantize is not QuantMode.NONE:
            log = QuantizeLog()
            quantized = Path(workdir) / "quantized.onnx"
            QUANTIZERS[quantize].run(
                current, quantized, QuantizeSettings(per_channel=per_channel, op_types=op_types), log
            )
            steps.extend(log.steps)
            warnings.extend(log.warnings)
            current = quantized
        candidate = load_model(current)
        probe_model(current, what=f"the {quantize.value} model")
        session = create_session(current)
        comparison = compare_outputs(
            reference,
            run_session(session, feeds),
            names=[o.name for o in signature.outputs],
            tolerance=tolerance,
            label=verified_on,
        )
        if not comparison.passed:
            raise VerificationError(
                f"the optimised model's outputs differ from {source.name}'s beyond tolerance "
                f"({tolerance.describe()}): {comparison.failure_text()}; no file written.",
                hint="Try --no-per-channel/--op-types to quantise less, another --quantize mode, "
                "or state a looser tolerance with --min-cosine/--atol.",
            )
        save_model(candidate, output)
    return OptimizeResult(
        source=source,
        output=output,
        quantize=quantize,
        simplified=simplified,
        steps=tuple(steps),
        warnings=tuple(warnings),
        size_before=model_size_bytes(source),
        size_after=model_size_bytes(output),
        comparison=comparison,
        verified_on=verified_on,
        seconds=time.perf_counter() - started,
    )
