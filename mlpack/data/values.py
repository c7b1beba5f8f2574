"""``--set NAME=VALUE``: inputs given by value on the command line (a sample rate, a length, a state).

Integer inputs take whole numbers within their type's range only: ``1.5`` is not truncated to 1 and
``3000000000`` does not wrap in an int32.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from mlpack.core.batching import signature_batch_axes
from mlpack.core.signature import TensorSpec
from mlpack.data.dataset import check_array
from mlpack.data.generate import DEFAULT_BATCH, concrete_shape
from mlpack.errors import InputSpecError

if TYPE_CHECKING:
    import numpy as np


@dataclass(frozen=True)
class SetValue:
    """``--set NAME=VALUE``: an input given by value (a sample rate, a length), fed whole."""

    name: str
    value: str  # as written: a number, or a JSON list for a small tensor

    def text(self) -> str:
        return f"{self.name}={self.value}"

    @classmethod
    def parse(cls, text: str) -> SetValue:
        name, sep, value = text.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise InputSpecError(f"--set takes INPUT=VALUE (a number, or a JSON list like [1,2]), got '{text}'.")
        return cls(name=name.strip(), value=value.strip())

    def array(self, spec: TensorSpec, *, batch_size: int = DEFAULT_BATCH) -> np.ndarray:
        """The value as the input's dtype; a number given for a tensor input fills its shape."""
        import numpy as np

        try:
            parsed = json.loads(self.value)
            dtype = np.dtype(spec.dtype)
            if dtype.kind in "iu":
                _check_whole(parsed, np.iinfo(dtype))
            array = np.asarray(parsed, dtype=dtype)
            if dtype.kind == "f" and not np.isfinite(array).all():
                raise ValueError("not finite")
        except (ValueError, TypeError, OverflowError) as exc:
            raise InputSpecError(f"--set {self.text()}: '{self.value}' is not a {spec.dtype} value or list.") from exc
        if array.ndim == 0 and spec.shape:
            axis = signature_batch_axes((spec,)).axes[spec.name]
            array = np.full(concrete_shape(spec, batch_size=batch_size, batch_axis=axis), array, dtype=array.dtype)
        return check_array(array, spec, source=f"--set {self.name}")


def _check_whole(parsed: Any, bounds: Any) -> None:
    """Every number in ``parsed`` is a whole number within the integer type's range: ``1.5`` is not
    truncated to 1 and ``3000000000`` does not wrap in an int32.

    Raises:
        ValueError: a fractional, boolean, non-numeric or out-of-range value.
    """
    for value in parsed if isinstance(parsed, list) else [parsed]:
        if isinstance(value, list):
            _check_whole(value, bounds)
            continue
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{value!r} is not a whole number")
        if isinstance(value, float) and not value.is_integer():
            raise ValueError(f"{value!r} is not a whole number")
        if not bounds.min <= int(value) <= bounds.max:
            raise ValueError(f"{value!r} is outside {bounds.min}..{bounds.max}")
