"""Parsing ``--input NAME:SHAPE[:DTYPE]`` descriptions of a model's inputs."""

from __future__ import annotations

import re

from mlpack.core.signature import Dim, TensorSpec
from mlpack.errors import InputSpecError

SUPPORTED_DTYPES = ("float32", "float16", "float64", "int64", "int32", "int16", "int8", "uint8", "bool")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-/]*$")
_DIM_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


# The largest size one dimension may be given: what ONNX Runtime and numpy index without overflow.
MAX_DIM = 2**31 - 1


def parse_input_spec(text: str) -> TensorSpec:
    """``x:1x3x224x224`` or ``ids:batch,seq:int64``. A dimension written as a name is dynamic.

    Dimensions are separated by ``,`` or, when there is no comma, by ``x`` (so a dimension
    name that contains an ``x`` needs commas: ``tokens:batch,max_len``).
    """
    usage = "expected NAME:SHAPE[:DTYPE], for example x:1x3x224x224 or ids:batch,seq:int64"
    parts = text.split(":")
    if len(parts) not in (2, 3) or not all(p.strip() for p in parts):
        raise InputSpecError(f"cannot parse input spec '{text}': {usage}.")
    name, shape_text = parts[0].strip(), parts[1].strip()
    dtype = parts[2].strip().lower() if len(parts) == 3 else "float32"
    if not _NAME.match(name):
        raise InputSpecError(f"input spec '{text}': '{name}' is not a valid input name.")
    if dtype not in SUPPORTED_DTYPES:
        raise InputSpecError(f"input spec '{text}': unknown dtype '{dtype}'; use one of {', '.join(SUPPORTED_DTYPES)}.")
    separator = "," if "," in shape_text else "x"
    dims: list[Dim] = []
    for token in (t.strip() for t in shape_text.split(separator)):
        if token.isascii() and token.isdigit() and 0 < int(token) <= MAX_DIM:
            dims.append(int(token))
        elif _DIM_NAME.match(token) and not token.isdigit() and token.isascii():
            dims.append(token)
        else:
            raise InputSpecError(
                f"input spec '{text}': dimension '{token}' is neither a size from 1 to {MAX_DIM} nor a name; {usage}."
            )
    return TensorSpec(name=name, shape=tuple(dims), dtype=dtype)
