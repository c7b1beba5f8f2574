"""Static INT8: weights and activations, activation ranges calibrated on data."""

from __future__ import annotations

import tempfile
from pathlib import Path

from mlpack.core.fidelity import Tolerance
from mlpack.core.quiet import silenced
from mlpack.core.signature import signature_of
from mlpack.errors import BadInputError
from mlpack.quant.calibration import inspect_calibration
from mlpack.quant.passes import ModelPass, PassContext, PassLog
from mlpack.quant.preprocess import preprocess
from mlpack.quant.qdq import quantize_on_ranges
from mlpack.quant.ranges import collect_ranges
from mlpack.quant.settings import QuantizeSettings


def quantize_static(src: Path, dst: Path, settings: QuantizeSettings, log: PassLog) -> None:
    """onnxruntime's static quantiser, on ranges calibrated within ``settings.calibration_memory``.

    mlpack collects the ranges itself (``mlpack.quant.ranges``: batch capped by the activation
    bytes it implies, tensors grouped when one sample does not fit) and hands them to
    onnxruntime as its calibration cache, so onnxruntime quantises without calibrating again.
    """
    if settings.calibration is None:
        raise BadInputError(
            "static INT8 needs calibration data: pass --calibration calib.npz with a few hundred "
            "representative samples of the model's inputs (arrays named by input)."
        )
    with tempfile.TemporaryDirectory(prefix="mlpack-quant-") as workdir:
        prepared = preprocess(src, Path(workdir) / "pre.onnx", log, external_data=True)
        cache = settings.calibration_cache or Path(workdir) / "ranges.json"
        calibrated = "" if cache.is_file() else _calibrate(prepared, cache, settings, Path(workdir))
        quantize_on_ranges(prepared, dst, cache, settings)
    log.steps.append(
        f"static INT8 ({settings.quant_format.value.upper()}, {settings.calibration_method.value} calibration"
        f"{calibrated or ' (ranges reused)'}, activations {settings.activation_type.value.upper()}, weights "
        f"{settings.weight_type.value.upper()}{', per-channel' if settings.per_channel else ''})"
        + (f", {len(settings.exclude_nodes)} nodes kept in float" if settings.exclude_nodes else "")
    )


def _calibrate(model: Path, cache: Path, settings: QuantizeSettings, workdir: Path) -> str:
    """Ranges for ``model`` written to ``cache``; says how they were collected."""
    import onnx
    from onnxruntime.quantization.calibrate import save_tensors_data

    assert settings.calibration is not None
    specs = signature_of(onnx.load(str(model), load_external_data=False)).inputs
    samples = inspect_calibration(settings.calibration, specs)
    samples = min(samples, settings.calibration_limit) if settings.calibration_limit else samples
    with silenced():
        ranges, plan = collect_ranges(model, settings, specs, workdir)
    save_tensors_data(ranges, cache)
    return f" on {samples} samples; {plan.describe()}"


class StaticInt8(ModelPass):
    name = "static INT8"
    reports_layers = True
    tolerance = Tolerance(atol=None, min_cosine=0.98, min_agreement=0.99)
    description = "INT8 weights and activations, activation ranges calibrated on data"

    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        quantize_static(model, output, context.settings, context.log)
        return True
