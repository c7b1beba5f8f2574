"""The build's stage cache: a stage is reused when its key (settings and input hashes) and outputs are unchanged.

The state lives in one JSON file in the output folder. It is a convenience, never a source of
truth: a file that is missing, damaged or of another shape only costs a rebuild.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from mlpack.core.fileio import sha256_file, write_text_atomic
from mlpack.core.version import mlpack_version

STATE_FILE = ".mlpack-build.json"


class StageCache:
    """What each stage last built, keyed by ``stage``, in ``<out>/.mlpack-build.json``."""

    def __init__(self, out: Path, *, force: bool = False) -> None:
        self.path = Path(out) / STATE_FILE
        self.state: dict[str, Any] = {} if force else _read_state(self.path)

    def key(self, stage: str, settings: Any, files: list[Path]) -> str:
        """A digest of everything a stage's outputs depend on: its settings, input files and mlpack's version."""
        payload = {
            "stage": stage,
            "mlpack": mlpack_version(),
            "settings": settings,
            "files": {str(f): _digest(f) for f in files if f.exists()},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def fresh(self, stage: str, key: str) -> dict[str, Any] | None:
        """The stored summary if ``stage`` was built with ``key`` and its outputs are untouched, else None."""
        entry = self.state.get(stage)
        if not isinstance(entry, dict) or entry.get("key") != key:
            return None
        outputs, summary = entry.get("outputs"), entry.get("summary")
        if not isinstance(outputs, dict) or not isinstance(summary, dict):
            return None
        for output, digest in outputs.items():
            if not Path(output).is_file() or sha256_file(Path(output)) != digest:
                return None
        return summary

    def store(self, stage: str, key: str, outputs: list[Path], summary: dict[str, Any]) -> None:
        """Remember that ``stage`` built ``outputs`` with ``key``; written at once, so a later failure keeps it."""
        self.state[stage] = {"key": key, "outputs": {str(p): sha256_file(p) for p in outputs}, "summary": summary}
        write_text_atomic(self.path, json.dumps(self.state, indent=2, default=str))


def _digest(path: Path) -> str:
    """A file's hash; a folder's (an ONNX test-data directory) covers every file under it, by name."""
    if not path.is_dir():
        return sha256_file(path)
    files = sorted(p for p in path.rglob("*") if p.is_file())
    listing = "\n".join(f"{p.relative_to(path).as_posix()} {sha256_file(p)}" for p in files)
    return hashlib.sha256(listing.encode()).hexdigest()


def _read_state(path: Path) -> dict[str, Any]:
    try:
        state = json.loads(path.read_text(encoding="utf-8")) if path.is_file() else {}
    except (ValueError, OSError):  # ValueError covers bad JSON and bytes that are not UTF-8
        return {}
    return state if isinstance(state, dict) else {}
