"""``--op-types``: the operator types a user asks to quantise, checked against those that can be.

An unknown name (a typo, ``Bogus``) used to quantise nothing and exit 0, as if the model had been
optimised. The names are refused instead, with the valid ones listed.
"""

from __future__ import annotations

import difflib

from mlpack.errors import BadInputError
from mlpack.quant.settings import QuantMode


def valid_op_types(mode: QuantMode) -> frozenset[str]:
    """The op types ``mode`` can act on: onnxruntime's quantisable ops; any ONNX op for FP16."""
    if mode is QuantMode.FP16:
        import onnx

        return frozenset(schema.name for schema in onnx.defs.get_all_schemas())
    from onnxruntime.quantization.registry import IntegerOpsRegistry, QDQRegistry, QLinearOpsRegistry

    return frozenset(IntegerOpsRegistry) | frozenset(QLinearOpsRegistry) | frozenset(QDQRegistry)


def check_op_types(op_types: tuple[str, ...] | None, mode: QuantMode) -> tuple[str, ...] | None:
    """``op_types`` unchanged when every name is one ``mode`` can act on.

    Args:
        op_types: the names given with ``--op-types`` (None: the mode's default).
        mode: the quantisation mode they are for.

    Raises:
        BadInputError: a name that is not an op type ``mode`` can quantise, with the valid ones (exit 2).
    """
    if not op_types:
        return op_types
    valid = valid_op_types(mode)
    for name in op_types:
        if name not in valid:
            close = difflib.get_close_matches(name, sorted(valid), n=3)
            hint = f"did you mean {', '.join(close)}? " if close else ""
            listed = ", ".join(sorted(valid)) if len(valid) < 60 else "the ONNX operator names"
            raise BadInputError(
                f"--op-types: '{name}' is not an op type {mode.value} can act on; {hint}valid: {listed}."
            )
    return op_types
