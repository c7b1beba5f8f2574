"""``mlpack compare``: bench results from different devices, versions or models, side by side."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.bench.results import FLEET_SCHEMA, SCHEMA, BenchResult, Measurement
from mlpack.core.fileio import require_file
from mlpack.errors import BadInputError, DataError, ExitCode

PERCENTILE_CHOICES = ("p50", "p90", "p95", "p99", "mean")


@dataclass(frozen=True)
class ComparedRow:
    key: str  # what is compared: model name, batch, threads
    source: str  # which result file
    latency_ms: float
    baseline_ms: float
    ratio: float  # latency / baseline latency: above 1 is slower

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "source": self.source,
            "latency_ms": self.latency_ms,
            "baseline_ms": self.baseline_ms,
            "ratio": self.ratio,
        }


@dataclass(frozen=True)
class CompareResult:
    baseline: str
    percentile: str
    rows: tuple[ComparedRow, ...]
    systems: dict[str, dict[str, Any]]  # per file: CPU, versions, device
    fail_if_slower_pct: float | None
    regressions: tuple[ComparedRow, ...]

    @property
    def ok(self) -> bool:
        """No entry is slower than the baseline by more than ``fail_if_slower_pct``."""
        return not self.regressions

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.FAILED

    @property
    def failed(self) -> bool:
        """``not ok``: the name the JSON field has always had."""
        return not self.ok

    def to_dict(self) -> dict[str, Any]:
        return {
            "baseline": self.baseline,
            "percentile": self.percentile,
            "rows": [r.to_dict() for r in self.rows],
            "systems": self.systems,
            "fail_if_slower_pct": self.fail_if_slower_pct,
            "regressions": [r.to_dict() for r in self.regressions],
            "failed": self.failed,
            "ok": self.ok,
        }


def load_result(path: Path) -> BenchResult:
    """A bench result read back from its JSON.

    Args:
        path: a file written by ``mlpack bench --json``.

    Raises:
        BadInputError: the file does not exist.
        DataError: the file is not JSON, not a bench result, or an incomplete one.
    """
    path = require_file(Path(path), "bench result")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise DataError(f"{path} is not a JSON bench result: {exc}") from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        found = data.get("schema") if isinstance(data, dict) else type(data).__name__
        raise DataError(
            f"{path} is not an mlpack bench result (schema {found!r}, expected {SCHEMA!r}); "
            "write one with mlpack bench --json FILE."
        )
    return _typed(data, path, "bench result")


def _key(m: Measurement) -> str:
    threads = "default" if m.threads is None else str(m.threads)
    return f"{m.name} | batch {m.batch_size} | threads {threads}"


def compare(
    paths: Sequence[Path], *, percentile: str = "p50", fail_if_slower_pct: float | None = None
) -> CompareResult:
    """Every result against the first. Entries pair by model, batch and threads; results of
    different models with the same number of entries pair in order.

    Args:
        paths: two or more JSON files written by ``mlpack bench --json``; the first is the baseline.
            A fleet result (``bench --target A --target B --json``) counts as one result per device.
        percentile: which latency to compare: one of ``PERCENTILE_CHOICES`` (p50, p90, p95, p99, mean).
        fail_if_slower_pct: an entry slower than its baseline by more than this many percent is a
            regression and makes the result not ``ok`` (exit 1); None: nothing fails.

    Raises:
        BadInputError: fewer than two results, an unknown percentile or a negative percentage.
        DataError: a file that is not a bench result, or one with nothing to pair with the baseline.
    """
    if percentile not in PERCENTILE_CHOICES:
        raise BadInputError(f"unknown percentile '{percentile}'; use one of {', '.join(PERCENTILE_CHOICES)}.")
    if fail_if_slower_pct is not None and fail_if_slower_pct < 0:
        raise BadInputError("--fail-if-slower must be a non-negative percentage.")
    labels, results = _entries(paths)
    if len(results) < 2:
        raise BadInputError("compare needs at least two bench results (or a fleet result of two devices).")
    baseline = results[0]
    rows: list[ComparedRow] = []
    for path, result in zip(labels[1:], results[1:], strict=True):
        for base, other in _pairs(baseline.measurements, result.measurements, path):
            base_ms = base.latency_ms.percentile(percentile)
            other_ms = other.latency_ms.percentile(percentile)
            key = _key(other) if _key(other) == _key(base) else f"{_key(base)} -> {_key(other)}"
            rows.append(ComparedRow(key, str(path), other_ms, base_ms, other_ms / base_ms if base_ms else float("inf")))
    regressions = tuple(r for r in rows if fail_if_slower_pct is not None and r.ratio > 1 + fail_if_slower_pct / 100)
    systems = {
        str(p): {
            "cpu": r.system.get("cpu_model"),
            "versions": r.system.get("versions"),
            "device": (r.device or {}).get("name"),
            "created": r.created,
        }
        for p, r in zip(labels, results, strict=True)
    }
    return CompareResult(labels[0], percentile, tuple(rows), systems, fail_if_slower_pct, regressions)


def _entries(paths: Sequence[Path]) -> tuple[list[str], list[BenchResult]]:
    """Each file's result; a fleet result (``bench --target A --target B``) gives one per device,
    labelled ``FILE#TARGET``."""
    labels: list[str] = []
    results: list[BenchResult] = []
    for path in paths:
        fleet = _fleet_results(Path(path))
        if fleet is None:
            labels.append(str(path))
            results.append(load_result(Path(path)))
        for result in fleet or []:
            labels.append(f"{path}#{result.target}")
            results.append(result)
    return labels, results


def _fleet_results(path: Path) -> list[BenchResult] | None:
    try:
        data = json.loads(require_file(path, "bench result").read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict) or data.get("schema") != FLEET_SCHEMA:
        return None
    results = data.get("results")
    if not isinstance(results, list):
        raise DataError(f"{path} is a fleet result without a list of results; write one with mlpack bench --json.")
    return [_typed(r, path, "fleet result") for r in results]


_NUMBER = (int, float)


def _typed(data: Any, path: Path, what: str) -> BenchResult:
    """A result whose fields have the types compare reads (a hand-edited or foreign file may not).

    Raises:
        DataError: a field is missing or of another JSON type (exit 2).
    """
    try:
        result = BenchResult.from_dict(data)
        fine = isinstance(result.system, dict) and isinstance(result.device, (dict, type(None)))
        for m in result.measurements:
            fine = fine and isinstance(m.name, str) and isinstance(m.batch_size, int)
            fine = fine and isinstance(m.threads, (int, type(None)))
            fine = fine and all(isinstance(v, _NUMBER) and not isinstance(v, bool) for v in vars(m.latency_ms).values())
    except (KeyError, TypeError, AttributeError, ValueError) as exc:
        raise DataError(f"{path} is an incomplete or malformed {what} ({type(exc).__name__}: {exc}).") from exc
    if not fine:
        raise DataError(
            f"{path} is a malformed {what}: a field holds the wrong JSON type; write it with mlpack bench --json."
        )
    return result


def _pairs(
    base: Sequence[Measurement], other: Sequence[Measurement], path: Path | str
) -> list[tuple[Measurement, Measurement]]:
    by_key = {_key(m): m for m in base}
    matched = [(by_key[_key(m)], m) for m in other if _key(m) in by_key]
    if matched:
        return matched
    if len(base) == len(other):
        return list(zip(base, other, strict=True))
    raise DataError(
        f"{path} measures nothing that the baseline measures (model, batch and threads differ), "
        "and the two have different numbers of entries to pair in order."
    )
