"""Budgets: what an artifact may cost on a device, read from TOML, resolved per device.

```toml
[budget]                        # applies to every device unless overridden
max_size_mb = 5.0               # or "5 MB"
max_latency_ms = { p50 = 8.0, p95 = "12 ms" }
max_first_inference_ms = 300
max_load_ms = 500
max_peak_memory_mb = 150
min_accuracy = 0.95             # or "95%"
min = { top3_accuracy = 0.99 }  # any named metric, at least
max = { rmse = 0.1 }            # any named metric, at most
max_accuracy_drop = 0.01        # against --reference
max_slice_gap = 0.05            # best slice accuracy minus worst
max_slowdown = 1.10             # against --baseline, measured interleaved
max_input_drift = { alpha = 0.05 }  # --data against --drift-reference: no feature's test rejects
max_output_drift = { psi = 0.25, js = 0.1 }  # the model's outputs: no significant shift this large
threshold = { notes = 0.3, pitch = "classes,unsure=0.1" }  # what outputs mean, as --threshold says
warn_only = ["max_size_mb"]     # reported, never failing the build

[budget.rpi4]                   # per-device overrides: a key here replaces the default's whole value
max_latency_ms = { p95 = 40.0 }
```
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpack.core.devices import DeviceProfile, parse_devices
from mlpack.core.fidelity import OutputRule, rules_from_mapping
from mlpack.core.tomlfile import TomlDocument, check_keys, read_toml
from mlpack.core.validate import check_override_names
from mlpack.errors import MlpackError

LATENCY_PERCENTILES = ("p50", "p90", "p95", "p99", "mean")
_SCALAR_KEYS = {
    "max_size_mb": "MB",
    "max_first_inference_ms": "ms",
    "max_load_ms": "ms",
    "max_peak_memory_mb": "MB",
    "min_accuracy": "ratio",
    "max_accuracy_drop": "ratio",
    "max_slice_gap": "ratio",
    "max_slowdown": "x",
}
DRIFT_KEYS = ("max_input_drift", "max_output_drift")
# The test's false-alarm rate; population stability index; Jensen-Shannon distance (effect sizes).
DRIFT_METHODS = ("alpha", "psi", "js")
BUDGET_KEYS = (
    *_SCALAR_KEYS,
    "max_latency_ms",
    "min",
    "max",
    *DRIFT_KEYS,
    "warn_only",
    "slowdown_percentile",
    "threshold",
)
_TABLE_KEYS = ("max_latency_ms", "min", "max", *DRIFT_KEYS, "threshold")  # keys whose value may be a table
_NOT_BUDGETS = ("warn_only", "slowdown_percentile", "threshold")  # keys that are settings, not limits
_UNITS = {
    "MB": {"b": 1 / 1024**2, "kb": 1 / 1024, "kib": 1 / 1024, "mb": 1.0, "mib": 1.0, "gb": 1024.0, "gib": 1024.0},
    "ms": {"us": 1e-3, "µs": 1e-3, "ms": 1.0, "s": 1000.0},
    "ratio": {"%": 0.01},
    "x": {"x": 1.0},
}
# How a unit written in a budget file is shown back: as written, binary sizes named as binary.
_SHOWN = {"b": "B", "kb": "KiB", "kib": "KiB", "mb": "MiB", "mib": "MiB", "gb": "GiB", "gib": "GiB"}
_SHOWN |= {"us": "µs", "µs": "µs", "ms": "ms", "s": "s"}
_QUANTITY = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([A-Za-zµ%]*)\s*$")


@dataclass(frozen=True)
class Budgets:
    """The budgets that apply to one device (or to any device)."""

    source: Path | None = None
    device: str | None = None
    max_size_mb: float | None = None
    max_latency_ms: dict[str, float] = field(default_factory=dict)
    max_first_inference_ms: float | None = None
    max_load_ms: float | None = None
    max_peak_memory_mb: float | None = None
    min_accuracy: float | None = None
    min_metrics: dict[str, float] = field(default_factory=dict)
    max_metrics: dict[str, float] = field(default_factory=dict)
    max_accuracy_drop: float | None = None
    max_slice_gap: float | None = None
    max_slowdown: float | None = None
    slowdown_percentile: str = "p50"
    max_input_drift: dict[str, float] = field(default_factory=dict)  # method ("alpha", "psi", "js") -> limit
    max_output_drift: dict[str, float] = field(default_factory=dict)
    warn_only: frozenset[str] = frozenset()
    threshold: tuple[OutputRule, ...] = ()  # per output: what it means, for decision budgets
    # budget name ("max_size_mb", "max_latency_ms.p95") -> the unit its limit was written in ("KiB", "µs"),
    # so that reports show it back in that unit rather than as 0.0390625 MB
    units: dict[str, str] = field(default_factory=dict)

    @property
    def needs_drift(self) -> bool:
        return bool(self.max_input_drift or self.max_output_drift)

    @property
    def needs_timing(self) -> bool:
        return bool(self.max_latency_ms) or any(
            v is not None
            for v in (self.max_first_inference_ms, self.max_load_ms, self.max_peak_memory_mb, self.max_slowdown)
        )

    @property
    def needs_labels(self) -> bool:
        return (
            self.min_accuracy is not None
            or self.max_accuracy_drop is not None
            or self.max_slice_gap is not None
            or any(not _is_reference_metric(m) for m in (*self.min_metrics, *self.max_metrics))
        )

    @property
    def needs_data(self) -> bool:
        return self.needs_labels or bool(self.min_metrics) or bool(self.max_metrics)

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source) if self.source else None,
            "device": self.device,
            "max_size_mb": self.max_size_mb,
            "max_latency_ms": self.max_latency_ms,
            "max_first_inference_ms": self.max_first_inference_ms,
            "max_load_ms": self.max_load_ms,
            "max_peak_memory_mb": self.max_peak_memory_mb,
            "min_accuracy": self.min_accuracy,
            "min": self.min_metrics,
            "max": self.max_metrics,
            "max_accuracy_drop": self.max_accuracy_drop,
            "max_slice_gap": self.max_slice_gap,
            "max_slowdown": self.max_slowdown,
            "slowdown_percentile": self.slowdown_percentile,
            "max_input_drift": self.max_input_drift,
            "max_output_drift": self.max_output_drift,
            "warn_only": sorted(self.warn_only),
            "threshold": {r.name: r.to_dict() for r in self.threshold},
            "units": self.units,
        }


# Metrics measured against --reference: decisions (mlpack.core.fidelity) and output closeness.
REFERENCE_METRICS = ("agreement", "agreement_low", "f1", "f1_low", "max_abs_error", "mean_cosine")


def _is_reference_metric(name: str) -> bool:
    return name in REFERENCE_METRICS


@dataclass(frozen=True)
class BudgetFile:
    path: Path
    defaults: dict[str, Any]
    overrides: dict[str, dict[str, Any]]  # device name -> its [budget.NAME] table
    devices: dict[str, DeviceProfile]  # [device.NAME] tables of the same file


def load_budget_file(path: Path) -> BudgetFile:
    """Read and validate a budget file; a mistake raises a ``ConfigError`` naming its file:line.

    Args:
        path: the TOML file: ``[budget]`` defaults, ``[budget.DEVICE]`` overrides and
            ``[device.NAME]`` profiles. Limits are numbers in the key's unit or quantity strings
            (``"12 MB"``, ``"40 ms"``, ``"95%"``).
    """
    doc = read_toml(path)
    unknown = [k for k in doc.data if k not in ("budget", "device")]
    if unknown:
        raise doc.error("unknown table; a budget file has [budget], [budget.DEVICE] and [device.NAME]", unknown[0])
    section = doc.data.get("budget")
    if section is None:
        raise doc.error("no [budget] table: nothing to check", "budget")
    if not isinstance(section, dict):
        raise doc.error("must be a table", "", "budget")
    devices = parse_devices(doc)
    defaults: dict[str, Any] = {}
    overrides: dict[str, dict[str, Any]] = {}
    for key, value in section.items():
        if isinstance(value, dict) and key not in _TABLE_KEYS:
            if key in BUDGET_KEYS:
                raise doc.error("must be a number (or a quantity string), not a table", "budget", key)
            overrides[key] = _parse_table(doc, f"budget.{key}", value)
        else:
            defaults[key] = value
    defaults = _parse_table(doc, "budget", defaults)
    return BudgetFile(path=Path(path), defaults=defaults, overrides=overrides, devices=devices)


def resolve(budget_file: BudgetFile, device: str | None) -> Budgets:
    """The budgets that apply to one device: the defaults, with the device's overrides replacing
    whole keys (an override's ``max_latency_ms`` replaces the default table, it does not merge).

    Args:
        budget_file: a file read by ``load_budget_file``.
        device: the device whose ``[budget.DEVICE]`` overrides apply; None (or a device without
            overrides) gets the defaults.
    """
    values = dict(budget_file.defaults)
    check_override_names(budget_file.path, budget_file.overrides, device)
    if device is not None and device in budget_file.overrides:
        override = budget_file.overrides[device]
        values.update(override)
        values["units"] = {**budget_file.defaults.get("units", {}), **override.get("units", {})}
    return Budgets(source=budget_file.path, device=device, **values)


def _parse_table(doc: TomlDocument, table: str, values: dict[str, Any]) -> dict[str, Any]:
    check_keys(doc, table, values, BUDGET_KEYS)
    parsed: dict[str, Any] = {}
    units: dict[str, str] = {}
    for key, value in values.items():
        if key in _SCALAR_KEYS:
            parsed[key] = _quantity(doc, table, key, value, _SCALAR_KEYS[key])
            units[key] = _written_unit(value, _SCALAR_KEYS[key])
        elif key == "max_latency_ms":
            if isinstance(value, (int, float, str)) and not isinstance(value, bool):
                value = {"p95": value}  # a bare latency limit reads as p95
            if not isinstance(value, dict) or not value:
                raise doc.error("must be a table of percentiles, like { p50 = 8.0, p95 = 12.0 }", table, key)
            for percentile in value:
                if percentile not in LATENCY_PERCENTILES:
                    raise doc.error(
                        f"unknown percentile '{percentile}'; use {', '.join(LATENCY_PERCENTILES)}", table, key
                    )
            parsed[key] = {p: _quantity(doc, table, key, v, "ms") for p, v in value.items()}
            units |= {f"{key}.{p}": _written_unit(v, "ms") for p, v in value.items()}
        elif key in ("min", "max"):
            if not isinstance(value, dict):
                raise doc.error("must be a table of metric names and limits, like { top3_accuracy = 0.99 }", table, key)
            parsed[f"{key}_metrics"] = {m: _number(doc, table, key, v, allow_zero=True) for m, v in value.items()}
        elif key in DRIFT_KEYS:
            parsed[key] = _drift_limits(doc, table, key, value)
        elif key == "warn_only":
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise doc.error('must be a list of budget names, like ["max_size_mb"]', table, key)
            bad = [v for v in value if v not in BUDGET_KEYS or v in _NOT_BUDGETS]
            if bad:
                raise doc.error(f"'{bad[0]}' is not a budget name", table, key)
            parsed[key] = frozenset(value)
        elif key == "slowdown_percentile":
            if value not in LATENCY_PERCENTILES:
                raise doc.error(f"must be one of {', '.join(LATENCY_PERCENTILES)}", table, key)
            parsed[key] = value
        elif key == "threshold":
            parsed[key] = _thresholds(doc, table, key, value)
    for key in ("min_accuracy", "max_accuracy_drop", "max_slice_gap"):
        if key in parsed and parsed[key] > 1:
            raise doc.error(
                f'is a fraction between 0 and 1 (or a percentage like "95%"), got {parsed[key]}', table, key
            )
    if units:
        parsed["units"] = units
    return parsed


def _written_unit(value: Any, unit: str) -> str:
    """The unit a limit was written in ("40 KB": KiB), or the key's own for a bare number."""
    match = _QUANTITY.match(value) if isinstance(value, str) else None
    written = match.group(2).lower() if match and match.group(2) else ""
    return _SHOWN.get(written, "MiB" if unit == "MB" else unit)


def _thresholds(doc: TomlDocument, table: str, key: str, value: Any) -> tuple[OutputRule, ...]:
    """``{ NAME = 0.3 }`` or ``{ NAME = "classes,unsure=0.1" }``: what each named output means."""
    if not isinstance(value, dict) or not value:
        raise doc.error('must be a table of output names, like { frames = 0.3, pitch = "classes" }', table, key)
    try:
        return rules_from_mapping(value, option=f"{table}.{key}")
    except MlpackError as exc:
        raise doc.error(exc.message.rstrip("."), table, key) from exc


def _drift_limits(doc: TomlDocument, table: str, key: str, value: Any) -> dict[str, float]:
    """A bare number is a PSI limit; a table names a limit per method, like { alpha = 0.05, psi = 0.25 }."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = {"psi": value}
    if not isinstance(value, dict) or not value:
        raise doc.error(
            "must be a PSI limit (0.25 is 'significant') or a table like { alpha = 0.05, psi = 0.25, js = 0.1 }",
            table,
            key,
        )
    for method in value:
        if method not in DRIFT_METHODS:
            raise doc.error(f"unknown drift method '{method}'; use {', '.join(DRIFT_METHODS)}", table, key)
    limits = {m: _number(doc, table, key, v) for m, v in value.items()}
    if limits.get("js", 0) > 1:
        raise doc.error(f"js is a Jensen-Shannon distance, between 0 and 1; got {limits['js']}", table, key)
    if limits.get("alpha", 0) >= 1:
        raise doc.error(
            f"alpha is a false-alarm rate, between 0 and 1 (0.05 is usual); got {limits['alpha']}", table, key
        )
    return limits


def _number(doc: TomlDocument, table: str, key: str, value: Any, *, allow_zero: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise doc.error(f"must be a number, got {type(value).__name__} {value!r}", table, key)
    if not math.isfinite(value):  # nan passes every comparison, and inf is no limit
        raise doc.error(f"must be a finite number, got {value}", table, key)
    if value < 0 or (value == 0 and not allow_zero):
        raise doc.error(f"must be {'non-negative' if allow_zero else 'positive'}, got {value}", table, key)
    return float(value)


def _quantity(doc: TomlDocument, table: str, key: str, value: Any, unit: str) -> float:
    """A number in the key's unit, or a string with a unit: "12 MB", "40 ms", "95%"."""
    allow_zero = unit == "ratio"
    if isinstance(value, str):
        match = _QUANTITY.match(value)
        factors = _UNITS[unit]
        if not match or (match.group(2) and match.group(2).lower() not in factors):
            accepted = ", ".join(sorted(factors))
            raise doc.error(f"cannot read {value!r}: write a number or a quantity with a unit ({accepted})", table, key)
        number = float(match.group(1)) * (factors[match.group(2).lower()] if match.group(2) else 1.0)
        return _number(doc, table, key, round(number, 12), allow_zero=allow_zero)
    return _number(doc, table, key, value, allow_zero=allow_zero)
