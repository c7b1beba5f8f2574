"""Where speed decisions are measured: the devices named by ``--target`` or a profile's ``target``,
at the batch sizes named by ``--batch-sizes`` or the profile's ``batch_sizes``.

One device gives a :class:`mlpack.remote.timer.RemoteTimer`; several decide together through a
:class:`mlpack.quant.timers.FleetTimer` (a choice holds only where no device is slower); none
leaves the decisions to this host. A profile's target is not followed on the device itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from mlpack.core.devices import parse_devices, resolve_device
from mlpack.core.tomlfile import read_toml
from mlpack.errors import BadInputError
from mlpack.quant.settings import QuantMode
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


def decision_batch_sizes(
    given: Sequence[int] | None = None,
    *,
    device: str | None = None,
    budget: Path | None = None,
    devices_file: Path | None = None,
) -> tuple[int, ...]:
    """The batch sizes speed decisions are measured at: ``given`` (``--batch-sizes``), else the
    device profile's ``batch_sizes``, else batch 1."""
    if given:
        return tuple(given)
    if device is None:
        return (1,)
    from_budget = parse_devices(read_toml(budget)) if budget is not None and budget.is_file() else {}
    profile = resolve_device(device, from_budget, devices_file)
    return profile.batch_sizes if profile is not None and profile.batch_sizes else (1,)


@dataclass(frozen=True)
class DecideOn:
    """Where and at what batch sizes optimize measures its speed decisions (``optimize(timer=, batch_sizes=)``)."""

    timer: Timer | None
    batch_sizes: tuple[int, ...]


def decide_on(
    quantize: QuantMode,
    *,
    targets: Sequence[str] = (),
    batch_sizes: Sequence[int] | None = None,
    device: str | None = None,
    budget: Path | None = None,
    devices_file: Path | None = None,
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> DecideOn:
    """The explicit ``targets`` and ``batch_sizes`` as given (optimize refuses them for a mode that
    makes no speed decision); a device profile's ``target`` and ``batch_sizes`` for auto only."""
    profile = device if quantize is QuantMode.AUTO else None
    on = decision_targets(targets, device=profile, budget=budget, devices_file=devices_file)
    sizes = decision_batch_sizes(batch_sizes, device=profile, budget=budget, devices_file=devices_file)
    return DecideOn(device_timer(on, timeout_s=timeout_s), sizes)
