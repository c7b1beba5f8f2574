"""onnxruntime's quantisation pre-processing, degraded step by step instead of failing the run."""

from __future__ import annotations

from pathlib import Path

from mlpack.core.quiet import silenced
from mlpack.quant.passes import PassLog


def preprocess(src: Path, dst: Path, log: PassLog) -> Path:
    """onnxruntime's quant_pre_process, degrading step by step instead of failing the run.

    Symbolic shape inference is known to crash on files from torch's dynamo exporter
    (``TypeError: object of type 'NoneType' has no len()``); without it the rest still helps.
    Returns the path of the best pre-processed model (``src`` itself if every step failed).
    """
    from onnxruntime.quantization.shape_inference import quant_pre_process

    attempts = [
        ("full pre-processing", {}),
        ("pre-processing without symbolic shape inference", {"skip_symbolic_shape": True}),
        ("pre-processing with ONNX shape inference only", {"skip_symbolic_shape": True, "skip_optimization": True}),
    ]
    for label, options in attempts:
        try:
            with silenced():
                quant_pre_process(str(src), str(dst), **options)
        except Exception as exc:
            log.warnings.append(f"{label} failed ({type(exc).__name__}: {str(exc).strip()[:120]}); degrading")
            continue
        log.steps.append(label)
        return dst
    log.warnings.append("quantisation pre-processing skipped entirely")
    return src
