"""What a package records of how its model was optimised: one summary, from optimize's result.

``build`` passes its optimize stage's result; ``pack --optimization FILE`` reads the same result
from ``mlpack optimize --json`` output. Both record the same fields, so ``inspect`` shows a
package's per-layer report (its costliest tensors) however the package was made.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mlpack.core.fileio import require_file
from mlpack.errors import BadInputError

_REQUIRED = ("quantize", "size_before", "size_after", "comparison")


def optimization_summary(result: dict[str, Any]) -> dict[str, Any]:
    """The package's ``optimization`` record from an optimize result in its JSON form
    (``OptimizeResult.to_dict()``): sizes, the lowest output cosine, each output's decisions, the
    steps, and the per-layer report (each quantised tensor's own cost, costliest first)."""
    outputs = result["comparison"].get("outputs", [])
    cosines = [o["cosine_similarity"] for o in outputs if o.get("cosine_similarity") is not None]
    return {
        "quantize": result["quantize"],
        "size_before": result["size_before"],
        "size_after": result["size_after"],
        "size_ratio": result.get("size_ratio"),
        "min_cosine": min(cosines, default=1.0),
        "decisions": [o["decisions"] | {"output": o["name"]} for o in outputs if o.get("decisions")],
        "steps": list(result.get("steps", [])),
        "layers": list(result.get("layers", [])),  # inspect shows the costliest
        "speed_decisions": result.get("speed_decisions"),  # where auto's timings ran, and what they measured
    }


def read_optimization(path: Path) -> dict[str, Any]:
    """The ``optimization`` record from an ``mlpack optimize --json`` file.

    Raises:
        BadInputError: the file is missing, not JSON, or not an optimize result (exit 2).
    """
    path = require_file(Path(path), "optimize report")
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BadInputError(f"{path} is not a JSON optimize report: {exc}") from exc
    if not isinstance(report, dict) or any(k not in report for k in _REQUIRED):
        raise BadInputError(
            f"{path} is not an mlpack optimize report; write one with mlpack optimize ... --json > FILE."
        )
    return optimization_summary(report)
