"""Checking recorded data statistics before they are believed.

A statistics file travels inside a package, and a package may have been re-sealed by hand or by
another tool: every structure is checked (types, lengths, edges ascending and finite, counts whole
and summing to what they claim, shares summing to 1, views that fit their features) and the first
problem is named by its place in the file, e.g. ``tensors[0].features[2].bins: not ascending at 3``.
A file with no tensors or no features is refused too: "no drift over zero features" is no answer.
"""

from __future__ import annotations

import math
from typing import Any, TypeGuard

VIEW_KINDS = ("features", "pooled", "lengths", "categories", "classes")
ROLES = ("input", "output")
_KINDS = ("numeric", "categorical")
_SHARE_TOLERANCE = 1e-4  # stored shares are rounded to 6 digits; they must still sum to 1


def stats_problem(data: dict[str, Any]) -> str | None:
    """The first problem in a statistics document (its place and what is wrong), or None."""
    samples = data.get("samples")
    if not _whole(samples) or samples < 1:
        return f"samples: must be a whole number of at least 1, got {samples!r}"
    tensors = data.get("tensors")
    if not isinstance(tensors, list) or not tensors:
        return "tensors: no tensors recorded (zero features cannot be compared)"
    names = set()
    for index, tensor in enumerate(tensors):
        where = f"tensors[{index}]"
        if not isinstance(tensor, dict):
            return f"{where}: must be an object"
        problem = _tensor_problem(tensor, where, samples)
        if problem:
            return problem
        key = (tensor["role"], tensor["name"])
        if key in names:
            return f"{where}: {tensor['role']} '{tensor['name']}' is recorded twice"
        names.add(key)
    return None


def _tensor_problem(tensor: dict[str, Any], where: str, total_samples: int) -> str | None:
    if not isinstance(tensor.get("name"), str) or not tensor["name"]:
        return f"{where}.name: must be a non-empty string"
    if tensor.get("role") not in ROLES:
        return f"{where}.role: must be one of {', '.join(ROLES)}, got {tensor.get('role')!r}"
    view = tensor.get("view")
    if not isinstance(view, dict):
        return f"{where}.view: must be an object"
    problem = _view_problem(view, f"{where}.view")
    if problem:
        return problem
    features = tensor.get("features")
    if not isinstance(features, list) or not features:
        return f"{where}.features: no features recorded (zero features cannot be compared)"
    expected = _expected_kinds(view)
    if len(features) != len(expected):
        return f"{where}.features: the {view['kind']} view makes {len(expected)} features, {len(features)} are recorded"
    for index, (feature, kind) in enumerate(zip(features, expected, strict=True)):
        place = f"{where}.features[{index}]"
        if not isinstance(feature, dict):
            return f"{place}: must be an object"
        problem = _feature_problem(feature, place, total_samples)
        if problem:
            return problem
        if feature["kind"] != kind:
            return f"{place}.kind: the {view['kind']} view makes a {kind} feature here, not {feature['kind']}"
    return None


def _view_problem(view: dict[str, Any], where: str) -> str | None:
    if view.get("kind") not in VIEW_KINDS:
        return f"{where}.kind: must be one of {', '.join(VIEW_KINDS)}, got {view.get('kind')!r}"
    axis, batch_axis = view.get("axis"), view.get("batch_axis", 0)
    if axis is not None and (not _whole(axis) or axis < 0):
        return f"{where}.axis: must be null or an axis number (0 or more), got {axis!r}"
    if not _whole(batch_axis) or batch_axis < 0:
        return f"{where}.batch_axis: must be an axis number (0 or more), got {batch_axis!r}"
    if axis is not None and axis == batch_axis:
        return f"{where}.axis: {axis} is the batch axis; features lie on another axis"
    if not isinstance(view.get("probabilities", False), bool):
        return f"{where}.probabilities: must be true or false"
    groups = view.get("groups", [])
    if not isinstance(groups, list):
        return f"{where}.groups: must be a list of [start, stop] pairs"
    stop = 0
    for index, group in enumerate(groups):
        if not (isinstance(group, list) and len(group) == 2 and all(_whole(g) for g in group)):
            return f"{where}.groups[{index}]: must be a [start, stop] pair of whole numbers"
        if not stop <= group[0] < group[1]:
            return f"{where}.groups[{index}]: {group} must start at or after {stop} and stop after it starts"
        stop = group[1]
    if groups and axis is None:
        return f"{where}.groups: groups of positions need an axis"
    return None


def _expected_kinds(view: dict[str, Any]) -> list[str]:
    """The kinds of feature a view makes, in order."""
    kind = view["kind"]
    if kind == "classes":
        return ["categorical", "numeric"]
    if kind == "lengths":
        return ["numeric"]
    count = max(1, len(view.get("groups", [])))
    return ["categorical" if kind == "categories" else "numeric"] * count


def _feature_problem(feature: dict[str, Any], where: str, total_samples: int) -> str | None:
    if not isinstance(feature.get("name"), str) or not feature["name"]:
        return f"{where}.name: must be a non-empty string"
    kind = feature.get("kind")
    if kind not in _KINDS:
        return f"{where}.kind: must be one of {', '.join(_KINDS)}, got {kind!r}"
    bins = feature.get("bins")
    if not isinstance(bins, list) or not all(_finite(b) for b in bins):
        return f"{where}.bins: must be a list of finite numbers"
    problem = _bins_problem(bins, kind, f"{where}.bins")
    if problem:
        return problem
    return _counts_problem(feature, len(bins) + (2 if kind == "numeric" else 1), where, total_samples)


def _bins_problem(bins: list[Any], kind: str, where: str) -> str | None:
    if kind == "numeric":
        for index in range(1, len(bins)):
            if not bins[index - 1] < bins[index]:
                return (
                    f"{where}: edges must be strictly ascending, not at {index} ({bins[index - 1]} then {bins[index]})"
                )
        return None
    if not all(float(b).is_integer() for b in bins):
        return f"{where}: categories must be whole numbers"
    if len(set(bins)) != len(bins):
        return f"{where}: a category is listed twice"
    return None


def _counts_problem(feature: dict[str, Any], length: int, where: str, total_samples: int) -> str | None:
    counts, values = feature.get("counts"), feature.get("values")
    if not isinstance(counts, list) or not all(_whole(c) and c >= 0 for c in counts):
        return f"{where}.counts: must be a list of whole numbers, 0 or more"
    if len(counts) != length:
        return f"{where}.counts: {len(counts)} counts for {length} bins"
    if not _whole(values) or values < 1:
        return f"{where}.values: must be a whole number of at least 1, got {values!r}"
    total = sum(counts)
    if total < 1 or total > values:
        return f"{where}.counts: they sum to {total}, not between 1 and the {values} values recorded"
    samples = feature.get("samples")
    if not _whole(samples) or not 1 <= samples <= total_samples:
        return (
            f"{where}.samples: must be a whole number from 1 to the {total_samples} samples recorded, got {samples!r}"
        )
    shares = feature.get("proportions")
    if shares is not None:
        if not isinstance(shares, list) or len(shares) != length or not all(_finite(p) and p >= 0 for p in shares):
            return f"{where}.proportions: must be {length} finite shares, 0 or more"
        if abs(sum(shares) - 1) > _SHARE_TOLERANCE:
            return f"{where}.proportions: the shares sum to {sum(shares):.6g}, not 1"
        if any(abs(p - c / total) > _SHARE_TOLERANCE for p, c in zip(shares, counts, strict=True)):
            return f"{where}.proportions: the shares disagree with the counts"
    if not isinstance(feature.get("per_sample"), bool):
        return f"{where}.per_sample: must be true or false"
    summary = feature.get("summary", {})
    if not isinstance(summary, dict) or not all(_finite(v) for v in summary.values()):
        return f"{where}.summary: must map names to finite numbers"
    return None


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _finite(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
