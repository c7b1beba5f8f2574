"""mlpack: trained model → small, fast, verified ONNX artifact for CPU and edge devices.

The public API. Every module imported here imports its heavy dependencies (torch,
onnxruntime, onnxsim, even numpy and onnx) inside the functions that need them, so
``import mlpack`` stays cheap and works on the runtime-only install.
"""

from typing import TYPE_CHECKING, Any

# Functions named like their module (export, optimize, check, build, tune) are imported eagerly:
# importing the submodule later would otherwise rebind the name to the module.
from mlpack.build import BuildResult, build
from mlpack.check import CheckResult, check
from mlpack.errors import ExitCode, MlpackError
from mlpack.export import Exporter, ExportResult, export
from mlpack.fidelity import Comparison, Tolerance
from mlpack.inputspec import parse_input_spec
from mlpack.modelinfo import ModelInfo, inspect_model
from mlpack.optimize import OptimizeResult, QuantizeSettings, QuantMode, optimize
from mlpack.signature import Signature, TensorSpec
from mlpack.tune import Objective, TuneResult, tune

if TYPE_CHECKING:
    from mlpack.bench import BenchResult, BenchSettings, benchmark
    from mlpack.benchcompare import CompareResult, compare
    from mlpack.package import PackResult, VerifyResult, pack, run_package, verify

# The rest loads on first use, keeping `mlpack --help` from importing the measuring and packaging code.
_LAZY = {
    "BenchResult": "mlpack.bench",
    "BenchSettings": "mlpack.bench",
    "benchmark": "mlpack.bench",
    "CompareResult": "mlpack.benchcompare",
    "compare": "mlpack.benchcompare",
    "PackResult": "mlpack.package",
    "VerifyResult": "mlpack.package",
    "pack": "mlpack.package",
    "run_package": "mlpack.package",
    "verify": "mlpack.package",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'mlpack' has no attribute {name!r}")
    import importlib

    value = getattr(importlib.import_module(_LAZY[name]), name)
    globals()[name] = value
    return value


__version__ = "0.1.0"

__all__ = [
    "BenchResult",
    "BenchSettings",
    "BuildResult",
    "CheckResult",
    "CompareResult",
    "Comparison",
    "ExitCode",
    "ExportResult",
    "Exporter",
    "MlpackError",
    "ModelInfo",
    "Objective",
    "OptimizeResult",
    "PackResult",
    "QuantMode",
    "QuantizeSettings",
    "Signature",
    "TensorSpec",
    "Tolerance",
    "TuneResult",
    "VerifyResult",
    "__version__",
    "benchmark",
    "build",
    "check",
    "compare",
    "export",
    "inspect_model",
    "optimize",
    "pack",
    "parse_input_spec",
    "run_package",
    "tune",
    "verify",
]
