"""TOML files (device profiles, budgets, mlpack.toml): parsing with errors that name the key and line."""

from __future__ import annotations

import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.errors import ConfigError
from mlpack.fileio import require_file

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

_HEADER = re.compile(r"^\s*\[\s*([^\]]+?)\s*\]\s*(#.*)?$")


@dataclass(frozen=True)
class TomlDocument:
    """A parsed TOML file that remembers its text, to point errors at lines."""

    path: Path
    text: str
    data: dict[str, Any]

    def line_of(self, table: str, key: str | None = None) -> int | None:
        """1-based line of ``key`` inside ``[table]`` (or of the header itself when key is None)."""
        current = ""
        key_pattern = re.compile(rf"^\s*(\"{re.escape(key)}\"|{re.escape(key)})\s*=") if key else None
        for number, line in enumerate(self.text.splitlines(), start=1):
            header = _HEADER.match(line)
            if header:
                current = header.group(1).replace('"', "").replace(" ", "")
                if key is None and current == table:
                    return number
                continue
            if key_pattern and current == table and key_pattern.match(line):
                return number
        return None

    def error(self, message: str, table: str, key: str | None = None) -> ConfigError:
        line = self.line_of(table, key)
        where = f"{self.path}:{line}" if line else str(self.path)
        name = f"{table}.{key}" if key and table else (key or table)
        return ConfigError(f"{where}: '{name}': {message}")


def read_toml(path: Path) -> TomlDocument:
    path = require_file(Path(path), "config file")
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    return TomlDocument(path=path, text=text, data=data)


def check_keys(doc: TomlDocument, table: str, values: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for key in values:
        if key not in allowed:
            raise doc.error(f"unknown key; expected one of {', '.join(allowed)}", table, key)


def positive_number(doc: TomlDocument, table: str, key: str, value: Any, *, integer: bool = False) -> float:
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise doc.error(
            f"must be a {'whole ' if integer else ''}number, got {type(value).__name__} {value!r}", table, key
        )
    if value <= 0:
        raise doc.error(f"must be positive, got {value}", table, key)
    return value


# --- device profiles -------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceProfile:
    """A target device: how to run a model there, and what it may use."""

    name: str
    threads: int
    cpus: tuple[int, ...] | None = None
    memory_mb: float | None = None
    description: str = ""
    builtin: bool = False

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "threads": self.threads,
            "cpus": list(self.cpus) if self.cpus else None,
            "memory_mb": self.memory_mb,
            "description": self.description,
            "builtin": self.builtin,
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

_DEVICE_KEYS = ("threads", "cpus", "memory_mb", "description")


def parse_devices(doc: TomlDocument) -> dict[str, DeviceProfile]:
    """The ``[device.NAME]`` tables of a TOML file."""
    section = doc.data.get("device", {})
    if not isinstance(section, dict):
        raise doc.error("must be a table of device profiles: [device.NAME]", "", "device")
    devices = {}
    for name, values in section.items():
        table = f"device.{name}"
        if not isinstance(values, dict):
            raise doc.error("must be a table with threads, cpus, memory_mb, description", "device", name)
        check_keys(doc, table, values, _DEVICE_KEYS)
        if "threads" not in values:
            raise doc.error("missing required key 'threads'", table)
        threads = int(positive_number(doc, table, "threads", values["threads"], integer=True))
        memory = values.get("memory_mb")
        description = values.get("description", "")
        if not isinstance(description, str):
            raise doc.error("must be a string", table, "description")
        devices[name] = DeviceProfile(
            name=name,
            threads=threads,
            cpus=_parse_cpus(doc, table, values.get("cpus")),
            memory_mb=None if memory is None else positive_number(doc, table, "memory_mb", memory),
            description=description,
        )
    return devices


def _parse_cpus(doc: TomlDocument, table: str, value: Any) -> tuple[int, ...] | None:
    """``[0, 1]`` or ``"0-3"`` or ``"0,2"``."""
    if value is None:
        return None
    cpus: list[int] = []
    if isinstance(value, list) and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in value):
        cpus = list(value)
    elif isinstance(value, str) and re.fullmatch(r"\s*\d+(\s*-\s*\d+)?(\s*,\s*\d+(\s*-\s*\d+)?)*\s*", value):
        for part in value.split(","):
            low, _, high = part.strip().partition("-")
            cpus.extend(range(int(low), int(high or low) + 1))
    else:
        raise doc.error(f'must be a list of CPU ids or a range like "0-3", got {value!r}', table, "cpus")
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
