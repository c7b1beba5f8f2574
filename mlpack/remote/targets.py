"""Which device a command runs on: a device profile's ``target``, unless this already is the device."""

from __future__ import annotations

import os
from pathlib import Path

from mlpack.core.devices import parse_devices, resolve_device
from mlpack.core.tomlfile import read_toml
from mlpack.remote.agent import ON_DEVICE_ENV


def profile_target(device: str | None, *, budget: Path | None = None, devices_file: Path | None = None) -> str | None:
    """The ``target`` of the named device profile (from the budget file, ``--devices`` or built in);
    None on the device itself, where a job of ``--target`` runs.

    Args:
        device: the profile's name, or None.
        budget: a budget file whose ``[device.NAME]`` tables win, as ``check`` resolves them.
        devices_file: a TOML file of extra ``[device.NAME]`` profiles.
    """
    if device is None or os.environ.get(ON_DEVICE_ENV):  # already on the device: measure here
        return None
    from_budget = parse_devices(read_toml(budget)) if budget is not None and budget.is_file() else {}
    profile = resolve_device(device, from_budget, devices_file)
    return profile.target if profile else None
