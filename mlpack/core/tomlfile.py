"""TOML files (device profiles, budgets, mlpack.toml): parsing with errors that name the key and line."""

from __future__ import annotations

import math
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.core.fileio import require_file
from mlpack.errors import ConfigError

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


def positive_number(
    doc: TomlDocument, table: str, key: str, value: Any, *, integer: bool = False, maximum: float | None = None
) -> float:
    """A finite positive number (whole where ``integer``), at most ``maximum``, else a ConfigError at its line."""
    kind = int if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kind):
        raise doc.error(
            f"must be a {'whole ' if integer else ''}number, got {type(value).__name__} {value!r}", table, key
        )
    if not math.isfinite(value):
        raise doc.error(f"must be a finite number, got {value}", table, key)
    if value <= 0:
        raise doc.error(f"must be positive, got {value}", table, key)
    if maximum is not None and value > maximum:
        raise doc.error(f"must be at most {maximum:g} (what this machine can honour), got {value}", table, key)
    return value
