"""optimize: simplify, then quantise, then prove the result still computes what the source did."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.core.data import generate_inputs, load_dataset
from mlpack.core.fidelity import Comparison, Tolerance, compare_outputs
from mlpack.core.onnxio import create_session, load_model, model_size_bytes, run_session, save_model
from mlpack.core.probe import probe_model
from mlpack.core.signature import signature_of
from mlpack.errors import BadInputError, VerificationError
from mlpack.quant import quantize as _quantizers  # noqa: F401  (fills the registry)
from mlpack.quant.accuracy import AccuracyAwareReport, accuracy_aware_quantize
from mlpack.quant.calibration import inspect_calibration, iter_batches
from mlpack.quant.registry import QUANTIZERS, QuantizeLog, QuantizeSettings, QuantMode, default_tolerance
from mlpack.quant.simplify import simplify as simplify_graph

VERIFY_BATCH = 8
VERIFY_SAMPLES = 256  # at most, from calibration data


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
    accuracy: AccuracyAwareReport | None = None  # when quantised accuracy-aware

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
            "accuracy_aware": self.accuracy.to_dict() if self.accuracy else None,
        }


def optimize(
    source: Path,
    output: Path,
    *,
    simplify: bool = True,
    quantize: QuantMode = QuantMode.NONE,
    settings: QuantizeSettings = QuantizeSettings(),
    tolerance: Tolerance | None = None,
    data: Path | None = None,
    seed: int = 0,
    max_accuracy_drop: float | None = None,
    eval_data: Path | None = None,
) -> OptimizeResult:
    """Write a smaller/faster version of ``source`` to ``output``, or raise and write nothing."""
    started = time.perf_counter()
    source, output = Path(source), Path(output)
    if source.resolve() == output.resolve():
        raise BadInputError("the output must differ from the source model; pick another -o path.")
    accuracy_aware = max_accuracy_drop is not None
    if accuracy_aware:
        if quantize is not QuantMode.STATIC:
            raise BadInputError("accuracy-aware quantisation (--max-accuracy-drop) works with --quantize static.")
        if eval_data is None:
            raise BadInputError("--max-accuracy-drop needs --eval val.npz to measure the drop on.")
    # With an accuracy budget, that budget is the fail-closed check; output drift is still reported.
    tolerance = tolerance or (Tolerance(atol=None, min_cosine=None) if accuracy_aware else default_tolerance(quantize))
    model = load_model(source)
    signature = signature_of(model)
    reference_session = create_session(source)
    if data is None and quantize is QuantMode.STATIC and settings.calibration is not None:
        # Static ranges fit the calibration data; random inputs would fall outside them and
        # measure noise that real inputs never see.
        inspect_calibration(settings.calibration, signature.inputs)  # a clear error for empty or mismatched files
        feeds = next(iter_batches(settings.calibration, signature.inputs, batch_size=VERIFY_SAMPLES))
        verified_on = f"{next(iter(feeds.values())).shape[0]} calibration samples from {settings.calibration}"
    elif data is not None:
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
        accuracy = None
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
            if accuracy_aware:
                assert eval_data is not None and max_accuracy_drop is not None
                accuracy = accuracy_aware_quantize(
                    current,
                    quantized,
                    settings=settings,
                    eval_data=eval_data,
                    max_drop=max_accuracy_drop,
                    workdir=Path(workdir),
                    log=log,
                )
            else:
                QUANTIZERS[quantize].run(current, quantized, settings, log)
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
        accuracy=accuracy,
    )
