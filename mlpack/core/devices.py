"""Device profiles: how to run a model on a target device, and what it may use."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.core.tomlfile import TomlDocument, check_keys, positive_number, read_toml
from mlpack.core.validate import MAX_MEMORY_MB, max_threads
from mlpack.errors import ConfigError


@dataclass(frozen=True)
class DeviceProfile:
    """A target device: how to run a model there, and what it may use."""

    name: str
    threads: int
    cpus: tuple[int, ...] | None = None
    memory_mb: float | None = None
    description: str = ""
    builtin: bool = False
    target: str | None = None  # ssh://[user@]host[:port]: measure on the real device, not approximate it
    batch_sizes: tuple[int, ...] | None = None  # the batch sizes models run at there: speed decisions hold at each

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threads": self.threads,
            "cpus": list(self.cpus) if self.cpus else None,
            "memory_mb": self.memory_mb,
            "description": self.description,
            "builtin": self.builtin,
            "target": self.target,
            "batch_sizes": list(self.batch_sizes) if self.batch_sizes else None,
        }


BUILTIN_DEVICES: dict[str, DeviceProfile] = {
    p.name: p
    for p in (
        DeviceProfile("rpi4", 4, None, 1024, "Raspberry Pi 4: 4x Cortex-A72 1.5 GHz, NEON, no dot-product", True),
        DeviceProfile("rpi5", 4, None, 2048, "Raspberry Pi 5: 4x Cortex-A76 2.4 GHz, NEON with dot-product", True),
        DeviceProfile("jetson-nano-cpu", 4, None, 2048, "Jetson Nano CPU only: 4x Cortex-A57 1.43 GHz", True),
        DeviceProfile("laptop-4c", 4, None, 4096, "A 4-core laptop CPU", True),
        DeviceProfile("edge-1c", 1, None, 256, "A single-core gateway or small container", True),
        DeviceProfile("edge-2c", 2, None, 512, "A 2-core board or container", True),
    )
}

MAX_CPU_ID = 4095  # Linux's largest NR_CPUS default; a CPU set beyond it is a typo or hostile
_DEVICE_KEYS = ("threads", "cpus", "memory_mb", "description", "target", "batch_sizes")
MAX_BATCH = 1 << 16
# The shape of a target; mlpack.remote.ssh parses it when it is used.
_TARGET = re.compile(r"ssh://([^@/\s]+@)?[A-Za-z0-9_.\-]+(:\d+)?(\?\S*)?|[A-Za-z0-9_.\-]+")


def parse_devices(doc: TomlDocument) -> dict[str, DeviceProfile]:
    """The ``[device.NAME]`` tables of a TOML file."""
    section = doc.data.get("device", {})
    if not isinstance(section, dict):
        raise doc.error("must be a table of device profiles: [device.NAME]", "", "device")
    devices = {}
    for name, values in section.items():
        table = f"device.{name}"
        if not isinstance(values, dict):
            raise doc.error("must be a table with threads, cpus, memory_mb, description, target", "device", name)
        check_keys(doc, table, values, _DEVICE_KEYS)
        if "threads" not in values:
            raise doc.error("missing required key 'threads'", table)
        threads = int(positive_number(doc, table, "threads", values["threads"], integer=True, maximum=max_threads()))
        memory = values.get("memory_mb")
        description = values.get("description", "")
        if not isinstance(description, str):
            raise doc.error("must be a string", table, "description")
        devices[name] = DeviceProfile(
            name=name,
            threads=threads,
            cpus=_parse_cpus(doc, table, values.get("cpus")),
            memory_mb=None
            if memory is None
            else positive_number(doc, table, "memory_mb", memory, maximum=MAX_MEMORY_MB),
            description=description,
            target=_parse_target(doc, table, values.get("target")),
            batch_sizes=_parse_batch_sizes(doc, table, values.get("batch_sizes")),
        )
    return devices


def _parse_batch_sizes(doc: TomlDocument, table: str, value: Any) -> tuple[int, ...] | None:
    """``[1, 8]``: the batch sizes the device runs models at."""
    if value is None:
        return None
    if (
        not isinstance(value, list)
        or not value
        or not all(isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_BATCH for v in value)
    ):
        raise doc.error(
            f"must be a list of batch sizes from 1 to {MAX_BATCH}, like [1, 8]; got {value!r}", table, "batch_sizes"
        )
    return tuple(dict.fromkeys(value))


def _parse_target(doc: TomlDocument, table: str, value: Any) -> str | None:
    """``ssh://[user@]host[:port]`` or a host alias from ~/.ssh/config."""
    if value is None:
        return None
    if not isinstance(value, str) or not _TARGET.fullmatch(value.strip()):
        raise doc.error(f'must be "ssh://[user@]host[:port]" or an SSH host alias, got {value!r}', table, "target")
    return value.strip()


def _parse_cpus(doc: TomlDocument, table: str, value: Any) -> tuple[int, ...] | None:
    """``[0, 1]`` or ``"0-3"`` or ``"0,2"``."""
    if value is None:
        return None
    cpus: list[int] = []
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        cpus = list(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*", value):
        for part in value.split(","):
            first, _, last = part.partition("-")
            low, high = int(first), int(last or first)
            # Bounded before the range is built: "0-20000000" must not take seconds and gigabytes.
            if high > MAX_CPU_ID or low > high:
                raise doc.error(f"range {part.strip()!r} must run upwards within CPU ids 0-{MAX_CPU_ID}", table, "cpus")
            cpus.extend(range(low, high + 1))
    else:
        raise doc.error(f'must be a list of CPU ids or a range like "0-3", got {value!r}', table, "cpus")
    if any(cpu > MAX_CPU_ID for cpu in cpus):
        raise doc.error(f"CPU ids run from 0 to {MAX_CPU_ID}, got {max(cpus)}", table, "cpus")
    if not cpus:
        raise doc.error("must name at least one CPU", table, "cpus")
    return tuple(sorted(set(cpus)))


def load_devices(path: Path | None = None) -> dict[str, DeviceProfile]:
    """Built-in profiles, overridden and extended by a user's file."""
    devices = dict(BUILTIN_DEVICES)
    if path is not None:
        devices.update(parse_devices(read_toml(path)))
    return devices


def get_device(name: str, path: Path | None = None) -> DeviceProfile:
    devices = load_devices(path)
    if name not in devices:
        source = f" (built in, or in {path})" if path else " (built in; add your own with --devices FILE)"
        raise ConfigError(f"unknown device profile '{name}'; known{source}: {', '.join(sorted(devices))}.")
    return devices[name]


def resolve_device(
    name: str | None, from_budget_file: dict[str, DeviceProfile], devices_file: Path | None = None
) -> DeviceProfile | None:
    """The profile a budget check or a tuning run measures with.

    Args:
        name: the device the user named (``--device``), or None to measure on this machine as is.
        from_budget_file: the ``[device.NAME]`` profiles of the budget file; they win over the
            built-in profiles and over ``devices_file``, because the budgets were written for them.
        devices_file: a TOML file of extra ``[device.NAME]`` profiles (``--devices``), or None.
    """
    if name is None:
        return None
    if name in from_budget_file:
        return from_budget_file[name]
    return get_device(name, devices_file)


def device_record(profile: DeviceProfile | None) -> dict[str, Any] | None:
    """The profile as results record it, saying that it was approximated on this machine."""
    if profile is None:
        return None
    return {
        **profile.to_dict(),
        "note": f"measured on this machine with the {profile.name} profile's threads and "
        "CPU set: an approximation of the device",
    }
