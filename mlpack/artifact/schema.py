"""The manifest's structure, checked before anything in it is used.

The manifest's self-hash proves it was not changed by accident, not that whoever sealed it meant
well: a hand-made package can seal ``model.path = "../../x/model.onnx"``, list ``../secret.txt``,
or hold ``model = {}``. :func:`schema_problem` is called once, by the manifest reader, after the
hash checks out, so every command (verify, inspect, run, drift) sees only manifests that are:

- the right shape (each table and field of the kind its readers expect);
- made of safe paths (relative, normalised, printable, each name file-system sized, no file that is
  also a folder: ``files/x`` beside ``files/x/y``);
- closed: every path the manifest uses (the model, golden samples, statistics) is one of its hashed
  files, so nothing outside the package, and nothing unhashed, is ever opened.
"""

from __future__ import annotations

import math
import re
from typing import Any

from mlpack.core.validate import relative_member

_SHA256 = re.compile(r"[0-9a-f]{64}")
_TOLERANCE_KEYS = {"atol": (0, None), "rtol": (0, None), "min_cosine": (-1, 1), "min_agreement": (0, 1)}


def schema_problem(manifest: dict[str, Any]) -> str | None:
    """What is wrong with a manifest's structure or paths, in one line; None when it is sound.

    Args:
        manifest: the parsed manifest (its required top-level keys already checked).
    """
    for check in (_files_problem, _tables_problem, _model_problem, _golden_problem, _stats_problem):
        problem = check(manifest)
        if problem:
            return problem
    return None


# Sections that hold a table of what the user or a check said, or nothing: never a number or a list.
_TABLES = ("check", "preprocessing", "optimization", "model_card", "provenance")


def _tables_problem(manifest: dict[str, Any]) -> str | None:
    for key in _TABLES:
        if manifest.get(key) is not None and not isinstance(manifest[key], dict):
            return f"'{key}' must be a table (or absent), got {type(manifest[key]).__name__}"
    return None


def _files_problem(manifest: dict[str, Any]) -> str | None:
    files = manifest["files"]
    for name, entry in files.items():
        problem = relative_member(name)
        if problem:
            return f"files entry {name[:80]!r} {problem}"
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            return f"files entry '{name}' must be a table with a sha256"
        if not _SHA256.fullmatch(entry["sha256"]):
            return f"files entry '{name}' has a sha256 that is not 64 hex digits"
        size = entry.get("size")
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 0):
            return f"files entry '{name}' has a size that is not a whole number of bytes"
    names = set(files)
    for name in names:
        parts = name.split("/")
        for end in range(1, len(parts)):
            if "/".join(parts[:end]) in names:
                return f"files entry '{'/'.join(parts[:end])}' is a file and also the folder of '{name}'"
    return None


def _used_path(manifest: dict[str, Any], value: Any, where: str) -> str | None:
    """A path the manifest uses must be one of its hashed files (so it is inside, and checked)."""
    if not isinstance(value, str):
        return f"'{where}' must be a path (a string)"
    if value not in manifest["files"]:
        return f"'{where}' is {value[:80]!r}, which is not one of the package's hashed files"
    return None


def _model_problem(manifest: dict[str, Any]) -> str | None:
    model = manifest["model"]
    problem = _used_path(manifest, model.get("path"), "model.path")
    if problem:
        return problem
    signature = model.get("signature")
    if not isinstance(signature, dict):
        return "'model.signature' must be a table with inputs and outputs"
    for side in ("inputs", "outputs"):
        specs = signature.get(side)
        if not isinstance(specs, list) or (side == "outputs" and not specs):
            return f"'model.signature.{side}' must be a list of tensors"
        for spec in specs:
            if not _is_tensor(spec):
                return f"'model.signature.{side}' holds {str(spec)[:80]}, not a tensor (name, shape, dtype)"
    feeding = model.get("feeding")
    if feeding is not None and not _is_feeding(feeding):
        return "'model.feeding' must be a table with a 'state' list of strings and a 'set' table"
    return None


def _is_tensor(spec: Any) -> bool:
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not isinstance(spec.get("dtype"), str):
        return False
    shape = spec.get("shape")
    return isinstance(shape, list) and all(
        d is None or isinstance(d, str) or (isinstance(d, int) and not isinstance(d, bool) and d >= 0) for d in shape
    )


def _is_feeding(feeding: Any) -> bool:
    if not isinstance(feeding, dict):
        return False
    state, values = feeding.get("state", []), feeding.get("set", {})
    return isinstance(state, list) and all(isinstance(s, str) for s in state) and isinstance(values, dict)


def _golden_problem(manifest: dict[str, Any]) -> str | None:
    golden = manifest.get("golden")
    if golden is None:
        return None
    if not isinstance(golden, dict):
        return "'golden' must be a table"
    count = golden.get("count")
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        return "'golden.count' must be a whole number"
    for key in ("inputs", "outputs"):
        problem = _used_path(manifest, golden.get(key), f"golden.{key}")
        if problem:
            return problem
    tolerance = golden.get("tolerance", {})
    if not isinstance(tolerance, dict):
        return "'golden.tolerance' must be a table"
    for key, value in tolerance.items():
        if key not in _TOLERANCE_KEYS:
            return f"'golden.tolerance' has an unknown key '{key[:40]}'; known: {', '.join(_TOLERANCE_KEYS)}"
        if value is None:
            continue
        low, high = _TOLERANCE_KEYS[key]
        number = isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
        if not number or value < low or (high is not None and value > high):
            return f"'golden.tolerance.{key}' must be a finite number in range, got {str(value)[:40]}"
    return None


def _stats_problem(manifest: dict[str, Any]) -> str | None:
    stats = manifest.get("data_stats")
    if stats is None:
        return None
    if not isinstance(stats, dict):
        return "'data_stats' must be a table"
    return _used_path(manifest, stats.get("path"), "data_stats.path")
