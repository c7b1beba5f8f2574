"""The candidates ``tune`` builds, most promising first: FP32, each quantisation mode, and static INT8
with each calibration method where calibration data is given."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

from mlpack.budget.spec import Budgets
from mlpack.quant.settings import CalibrationMethod, QuantFormat, QuantizeSettings, QuantMode


@dataclass(frozen=True)
class CandidateSpec:
    name: str
    quantize: QuantMode
    settings: QuantizeSettings = QuantizeSettings()
    accuracy_aware: bool = False


def candidate_specs(calibration: Path | None, budgets: Budgets) -> list[CandidateSpec]:
    """The candidates to build, most promising first, so a short time box still tries what usually wins.

    Args:
        calibration: calibration data (.npz); without it, no static INT8 candidate.
        budgets: the resolved budgets; an accuracy-aware candidate joins when ``max_accuracy_drop`` is set.
    """
    static = QuantizeSettings(calibration=calibration)
    specs = [
        CandidateSpec("fp32", QuantMode.NONE),
        CandidateSpec("auto", QuantMode.AUTO, static),  # INT8 convolutions: calibrated on it, or on a data split
        CandidateSpec("dynamic-int8", QuantMode.DYNAMIC),
        CandidateSpec("weights-int8", QuantMode.WEIGHTS),
    ]
    if calibration is not None:
        specs.append(CandidateSpec("static-int8-minmax", QuantMode.STATIC, static))
    specs += [CandidateSpec("int4", QuantMode.INT4), CandidateSpec("fp16", QuantMode.FP16)]
    if calibration is not None:
        specs += [
            CandidateSpec(
                "static-int8-entropy", QuantMode.STATIC, replace(static, calibration_method=CalibrationMethod.ENTROPY)
            ),
            CandidateSpec(
                "static-int8-percentile",
                QuantMode.STATIC,
                replace(static, calibration_method=CalibrationMethod.PERCENTILE),
            ),
            CandidateSpec("static-int8-minmax-per-tensor", QuantMode.STATIC, replace(static, per_channel=False)),
            CandidateSpec(
                "static-int8-qoperator", QuantMode.STATIC, replace(static, quant_format=QuantFormat.QOPERATOR)
            ),
        ]
    specs.append(CandidateSpec("dynamic-int8-per-tensor", QuantMode.DYNAMIC, QuantizeSettings(per_channel=False)))
    if calibration is not None and budgets.max_accuracy_drop is not None:
        specs.append(CandidateSpec("static-int8-accuracy-aware", QuantMode.STATIC, static, accuracy_aware=True))
    return specs
