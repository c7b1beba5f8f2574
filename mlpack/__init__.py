"""mlpack: trained model → small, fast, verified ONNX artifact for CPU and edge devices.

The public API, imported lazily through one map: ``import mlpack`` loads nothing but this file,
so it stays cheap and works on the runtime-only install. The API's names never shadow the
package's stage folders (``mlpack.optimize`` is a function; the stage lives in ``mlpack.quant``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # for type checkers and IDEs; at run time the map below loads these
    from mlpack.artifact.pack import PackResult, pack  # noqa: F401
    from mlpack.artifact.run import RunResult, run_package  # noqa: F401
    from mlpack.artifact.verify import VerifyResult, verify  # noqa: F401
    from mlpack.artifact.why import SizeResult, explain_size  # noqa: F401
    from mlpack.bench.compare import CompareResult, compare  # noqa: F401
    from mlpack.bench.measure import benchmark  # noqa: F401
    from mlpack.bench.results import BenchResult  # noqa: F401
    from mlpack.bench.settings import BenchSettings  # noqa: F401
    from mlpack.budget.check import CheckResult, check  # noqa: F401
    from mlpack.budget.drift import DriftResult, DriftThresholds, drift  # noqa: F401
    from mlpack.budget.settings import CheckSettings  # noqa: F401
    from mlpack.core.fidelity import Comparison, Tolerance  # noqa: F401
    from mlpack.core.inputspec import parse_input_spec  # noqa: F401
    from mlpack.core.modelinfo import ModelInfo, inspect_model  # noqa: F401
    from mlpack.core.signature import Signature, TensorSpec  # noqa: F401
    from mlpack.errors import ExitCode, MlpackError  # noqa: F401
    from mlpack.exporter.export import Exporter, ExportResult, export  # noqa: F401
    from mlpack.pipeline.build import build  # noqa: F401
    from mlpack.pipeline.summary import BuildResult  # noqa: F401
    from mlpack.pipeline.tune import TuneResult, tune  # noqa: F401
    from mlpack.pipeline.tune_settings import Objective, TuneSettings  # noqa: F401
    from mlpack.quant.optimize import OptimizeResult, optimize  # noqa: F401
    from mlpack.quant.settings import QuantizeSettings, QuantMode  # noqa: F401

# name -> the module that defines it. Loaded on first use, then cached in this module.
_LAZY = {
    "PackResult": "mlpack.artifact.pack",
    "pack": "mlpack.artifact.pack",
    "RunResult": "mlpack.artifact.run",
    "run_package": "mlpack.artifact.run",
    "VerifyResult": "mlpack.artifact.verify",
    "verify": "mlpack.artifact.verify",
    "SizeResult": "mlpack.artifact.why",
    "explain_size": "mlpack.artifact.why",
    "CompareResult": "mlpack.bench.compare",
    "compare": "mlpack.bench.compare",
    "BenchResult": "mlpack.bench.results",
    "BenchSettings": "mlpack.bench.settings",
    "benchmark": "mlpack.bench.measure",
    "CheckResult": "mlpack.budget.check",
    "check": "mlpack.budget.check",
    "DriftResult": "mlpack.budget.drift",
    "DriftThresholds": "mlpack.budget.drift",
    "drift": "mlpack.budget.drift",
    "CheckSettings": "mlpack.budget.settings",
    "Comparison": "mlpack.core.fidelity",
    "Tolerance": "mlpack.core.fidelity",
    "parse_input_spec": "mlpack.core.inputspec",
    "ModelInfo": "mlpack.core.modelinfo",
    "inspect_model": "mlpack.core.modelinfo",
    "Signature": "mlpack.core.signature",
    "TensorSpec": "mlpack.core.signature",
    "ExitCode": "mlpack.errors",
    "MlpackError": "mlpack.errors",
    "Exporter": "mlpack.exporter.export",
    "ExportResult": "mlpack.exporter.export",
    "export": "mlpack.exporter.export",
    "BuildResult": "mlpack.pipeline.summary",
    "build": "mlpack.pipeline.build",
    "Objective": "mlpack.pipeline.tune_settings",
    "TuneSettings": "mlpack.pipeline.tune_settings",
    "TuneResult": "mlpack.pipeline.tune",
    "tune": "mlpack.pipeline.tune",
    "OptimizeResult": "mlpack.quant.optimize",
    "optimize": "mlpack.quant.optimize",
    "QuantizeSettings": "mlpack.quant.settings",
    "QuantMode": "mlpack.quant.settings",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from mlpack.core.version import mlpack_version

        value: Any = mlpack_version()
    elif name in _LAZY:
        value = getattr(importlib.import_module(_LAZY[name]), name)
    else:
        raise AttributeError(f"module 'mlpack' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY, "__version__"])


__all__ = sorted([*_LAZY, "__version__"])
