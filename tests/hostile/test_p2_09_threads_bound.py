"""Second probe, item 9: counts read from files are bounded by what the machine has: a device
profile's ``threads = 100000`` or a 20-digit value is refused at once (exit 2), naming file and line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.helpers.hostile import refused


@pytest.mark.parametrize("value", ["100000", "12345678901234567890", "99999999999999999999999"])
def test_threads_beyond_the_machine(work: Path, value: str) -> None:
    devices = work / "devices.toml"
    devices.write_text(f"[device.big]\nthreads = {value}\n")
    message = refused(
        ["bench", work / "m.onnx", "--devices", devices, "--device", "big", "--runs", "3", "--duration", "0.01"],
        says="threads",
    )
    assert f"{devices}:2" in message


def test_memory_beyond_any_machine(work: Path) -> None:
    devices = work / "devices.toml"
    devices.write_text("[device.big]\nthreads = 2\nmemory_mb = 1e300\n")
    refused(
        ["bench", work / "m.onnx", "--devices", devices, "--device", "big", "--runs", "3", "--duration", "0.01"],
        says="memory_mb",
    )
