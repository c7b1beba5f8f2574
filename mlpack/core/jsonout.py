"""The one JSON writer for reports: what strict parsers (JavaScript's JSON.parse, jq, Go) read.

Python's json writes ``NaN`` and ``Infinity`` for non-finite floats, which strict parsers reject;
here they become ``null`` (a metric that could not be computed). numpy scalars and arrays become
numbers and lists; anything else unknown becomes its text, as ``default=str`` did before.
"""

from __future__ import annotations

import json
import math
from typing import Any


def strict(value: Any) -> Any:
    """``value`` with every non-finite float replaced by None and numpy values made plain."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {
            str(k) if not isinstance(k, (str, int, float, bool)) and k is not None else k: strict(v)
            for k, v in value.items()
        }
    if isinstance(value, (list, tuple)):
        return [strict(v) for v in value]
    if isinstance(value, (str, int, bool)) or value is None:
        return value
    item = getattr(value, "tolist", None)  # numpy scalars and arrays
    if callable(item):
        return strict(item())
    return str(value)


def dumps(payload: Any, *, indent: int | None = 2, sort_keys: bool = False) -> str:
    """``payload`` as strict JSON text (no NaN, no Infinity)."""
    return json.dumps(strict(payload), indent=indent, sort_keys=sort_keys, allow_nan=False)
