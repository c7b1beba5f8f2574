"""``mlpack init``: a commented starter ``mlpack.toml`` that ``mlpack build`` reads as written.

Every value the user typed is written as a quoted TOML string (a Windows path's backslashes and a
quote would otherwise end the string early or be read as escapes), and the defaults shown are the
config's own, so the starter never advertises a default the build does not use.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from mlpack.core.fileio import write_text_atomic
from mlpack.core.sourceref import SourceRef
from mlpack.errors import BadInputError
from mlpack.pipeline.config import TUNE, CheckConfig, ModelConfig, OptimizeConfig, PackConfig
from mlpack.quant.settings import CalibrationMethod, QuantMode

DEFAULT_SOURCE = "model.py:build"
DEFAULT_INPUTS = ("x:1x3x224x224",)

STARTER = """\
# mlpack build config: `mlpack build {path}` runs export -> optimize -> check -> pack.
# Paths are relative to this file. Every key is optional unless marked required.

[model]
name = {name}
version = {version}
source = {source}             # required: pkg.module:factory, file.py:factory, TorchScript or .onnx
# weights = "state_dict.pt"     # for a factory source (loaded with weights_only=True)
inputs = [{inputs}]             # NAME:SHAPE[:DTYPE]; a named dimension (batch, seq) is dynamic
# example_inputs = "inputs.npz" # instead of, or with, inputs
# opset = 18

[optimize]
quantize = "auto"               # {modes}, or "{tune}" (searches, needs [check])
per_channel = {per_channel}
# calibration = "calib.npz"     # static INT8
# calibration_method = {calibration_method} # {calibration_methods}
# max_accuracy_drop = 0.01      # static: accuracy-aware, with eval = "val.npz"
# eval = "val.npz"
# data = "val.npz"              # inputs the output check runs on (default: generated)

[check]
budgets = {budgets}       # written beside this file; see `mlpack check --help`
# device = "rpi4"
# data = "val.npz"              # inputs, labels and optional slices
# reference = {reference}              # compare with the exported FP32 model

[pack]
golden = {golden}                      # golden inputs and outputs stored for `mlpack verify --run`
# include = ["labels.txt"]
# preprocessing = {{ mean = 0.5, std = 0.25, layout = "NCHW" }}
# model_card = {{ intended_use = "...", limitations = "..." }}
"""


BUDGETS = "budgets.toml"
STARTER_BUDGETS = """\
# Budgets for `mlpack check` and `mlpack build` (its [check] budgets): starting limits, to be set
# to what the device allows. Sizes and times may carry units ("5 MB", "40 ms"); see the README.

[budget]                        # every device, unless a [budget.DEVICE] table overrides it
max_size_mb = 100
max_latency_ms = {{ p95 = 100.0 }}
max_peak_memory_mb = 1024
# min_accuracy = 0.95           # needs [check] data with labels
# max_accuracy_drop = 0.01      # against the FP32 export ([check] reference = true)
# warn_only = ["max_size_mb"]   # reported, never failing the build

# [budget.rpi4]                 # with [check] device = "rpi4"
# max_latency_ms = {{ p95 = 400.0 }}
"""


def toml_string(text: str) -> str:
    """``text`` as a TOML basic string: JSON's escapes are TOML's, except that TOML also escapes DEL."""
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _package_name(source: str) -> str:
    """The source's file or module name as a package name: the last part of a Windows or POSIX
    path, characters that cannot be in a file name replaced (``build`` refuses them in ``name``)."""
    stem = re.split(r"[\\/:]", SourceRef.parse(source).stem)[-1]
    return re.sub(r"[^\w.\-]", "_", stem).strip("._") or "model"


def _toml_bool(value: bool) -> str:
    return "true" if value else "false"


def starter_text(output: Path, *, source: str, inputs: tuple[str, ...]) -> str:
    """The starter config for ``source`` and ``inputs``, to be written at ``output``.

    Args:
        output: where the file will be written (named in its first comment).
        source: the model source, written as given.
        inputs: NAME:SHAPE[:DTYPE] descriptions of the model's inputs.
    """
    optimize, pack = OptimizeConfig(), PackConfig()
    return STARTER.format(
        path=" ".join(str(output).splitlines()),  # a comment ends at a line break
        name=toml_string(_package_name(source)),
        version=toml_string(ModelConfig.version),
        source=toml_string(source),
        inputs=", ".join(toml_string(spec) for spec in inputs),
        modes=", ".join(mode.value for mode in QuantMode),
        tune=TUNE,
        per_channel=_toml_bool(optimize.per_channel),
        calibration_method=toml_string(optimize.calibration_method.value),
        calibration_methods=", ".join(method.value for method in CalibrationMethod),
        reference=_toml_bool(CheckConfig.reference),
        budgets=toml_string(BUDGETS),
        golden=pack.golden,
    )


def init(
    output: Path, *, source: str = DEFAULT_SOURCE, inputs: tuple[str, ...] = DEFAULT_INPUTS, force: bool = False
) -> Path:
    """Write a commented starter config and return its path; a starter budget file (budgets.toml)
    beside it too, unless one is there already.

    Args:
        output: the file to write, usually ``mlpack.toml``.
        source: the model source: ``pkg.module:factory``, ``file.py:factory``, TorchScript or ONNX.
        inputs: NAME:SHAPE[:DTYPE] descriptions of the model's inputs.
        force: overwrite ``output`` if it exists (otherwise an existing file is an error).

    Raises:
        BadInputError: ``output`` exists and ``force`` is not set.
    """
    output = Path(output)
    if output.exists() and not force:
        raise BadInputError(f"{output} already exists; pass --force to overwrite it.")
    write_text_atomic(output, starter_text(output, source=source, inputs=inputs))
    budgets = output.parent / BUDGETS
    if not budgets.exists():  # the user's own limits are never replaced, --force or not
        write_text_atomic(budgets, STARTER_BUDGETS.format())
    return output
