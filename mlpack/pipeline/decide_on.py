"""Where speed decisions are measured: the devices named by ``--target`` or a profile's ``target``.

One device gives a :class:`mlpack.remote.timer.RemoteTimer`; several decide together through a
:class:`mlpack.quant.timers.FleetTimer` (a choice holds only where no device is slower); none
leaves the decisions to this host. A profile's target is not followed on the device itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from mlpack.errors import BadInputError
from mlpack.quant.timers import FleetTimer
from mlpack.quant.timing import Timer
from mlpack.remote.jobs import DEFAULT_TIMEOUT_S
from mlpack.remote.ssh import parse_target
from mlpack.remote.targets import profile_target
from mlpack.remote.timer import RemoteTimer


def decision_targets(
    targets: Sequence[str] = (),
    *,
    device: str | None = None,
    budget: Path | None = None,
    devices_file: Path | None = None,
) -> tuple[str, ...]:
    """The devices to measure on: ``targets`` as given, else the device profile's own target.

    Raises:
        BadInputError: a device named twice.
        ConfigError: the profile is unknown or its file malformed.
    """
    chosen = tuple(targets) or tuple(t for t in [profile_target(device, budget=budget, devices_file=devices_file)] if t)
    labels = [parse_target(t).label for t in chosen]
    if len(set(labels)) < len(labels):
        raise BadInputError(f"a device is named twice in --target ({', '.join(labels)}).")
    return chosen


def device_timer(targets: Sequence[str], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> Timer | None:
    """The timer that measures on ``targets`` (None: this host's, the default)."""
    timers = [RemoteTimer(t, timeout_s=timeout_s) for t in targets]
    if not timers:
        return None
    return timers[0] if len(timers) == 1 else FleetTimer(timers)
