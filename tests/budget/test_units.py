"""A budget is shown back in the unit it was written in, and binary sizes say they are binary."""

from __future__ import annotations

from pathlib import Path

from mlpack.budget.spec import load_budget_file, resolve
from mlpack.budget.verdicts import size_verdicts, upper_verdict
from mlpack.report.formatting import margin_text, value_text


def test_limits_are_shown_in_the_unit_written(tmp_path: Path) -> None:
    path = tmp_path / "budgets.toml"
    path.write_text(
        '[budget]\nmax_size_mb = "40 KB"\nmax_latency_ms = { p50 = "500 us", p95 = 2 }\n'
        '[budget.rpi4]\nmax_size_mb = "1 MB"\n'
    )
    budgets = resolve(load_budget_file(path), None)
    (size,) = size_verdicts(38 * 1024, budgets)
    assert value_text(size.limit, size.unit, size.shown_unit) == "40.0 KiB"  # not 0.0390625 MB
    assert value_text(size.measured, size.unit, size.shown_unit) == "38.0 KiB"
    assert margin_text(size) == "+2.000 KiB"
    assert size.to_dict()["shown_unit"] == "KiB" and size.to_dict()["limit"] == 40 / 1024
    p50 = upper_verdict("max_latency_ms.p50", 0.3, budgets.max_latency_ms["p50"], "ms", budgets)
    assert value_text(p50.limit, p50.unit, p50.shown_unit) == "500.0 µs"
    p95 = upper_verdict("max_latency_ms.p95", 0.3, budgets.max_latency_ms["p95"], "ms", budgets)
    assert value_text(p95.limit, p95.unit, p95.shown_unit) == "2.000 ms"
    (device,) = size_verdicts(38 * 1024, resolve(load_budget_file(path), "rpi4"))
    assert value_text(device.limit, device.unit, device.shown_unit) == "1.000 MiB"
