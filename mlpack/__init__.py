"""mlpack: trained model → small, fast, verified ONNX artifact for CPU and edge devices.

The public API. Every module imported here imports its heavy dependencies (torch,
onnxruntime, onnxsim, even numpy and onnx) inside the functions that need them, so
``import mlpack`` stays cheap and works on the runtime-only install.
"""

from mlpack.errors import ExitCode, MlpackError
from mlpack.export import Exporter, ExportResult, export
from mlpack.fidelity import Comparison, Tolerance
from mlpack.inputspec import parse_input_spec
from mlpack.modelinfo import ModelInfo, inspect_model
from mlpack.optimize import OptimizeResult, QuantMode, optimize
from mlpack.signature import Signature, TensorSpec

__version__ = "0.1.0"

__all__ = [
    "Comparison",
    "ExitCode",
    "ExportResult",
    "Exporter",
    "MlpackError",
    "ModelInfo",
    "OptimizeResult",
    "QuantMode",
    "Signature",
    "TensorSpec",
    "Tolerance",
    "__version__",
    "export",
    "inspect_model",
    "optimize",
    "parse_input_spec",
]
