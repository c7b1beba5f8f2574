"""Class 5: a [budget.NAME] table that nearly names the device being checked is a typo, refused
(exit 2) rather than silently dropping its stricter limits."""

from __future__ import annotations

from pathlib import Path

from tests.helpers.hostile import refused


def test_typo_in_device_override(work: Path) -> None:
    budget = work / "b.toml"
    budget.write_text("[budget]\nmax_size_mb = 5\n[budget.rpi4-smal]\nmax_size_mb = 0.000001\n")
    devices = work / "devices.toml"
    devices.write_text("[device.rpi4-small]\nthreads = 1\n")
    message = refused(["check", work / "m.onnx", "-b", budget, "--device", "rpi4-small", "--devices", devices])
    assert "rpi4-smal" in message


def test_exact_override_applies_and_unrelated_one_is_fine(work: Path) -> None:
    from mlpack.budget.spec import load_budget_file, resolve

    budget = work / "b.toml"
    budget.write_text("[budget]\nmax_size_mb = 5\n[budget.rpi4]\nmax_size_mb = 1\n[budget.jetson]\nmax_size_mb = 2\n")
    parsed = load_budget_file(budget)
    assert resolve(parsed, "rpi4").max_size_mb == 1
    assert resolve(parsed, "laptop-4c").max_size_mb == 5  # no near miss: the defaults apply
