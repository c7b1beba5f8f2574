"""``mlpack inspect --why``: where the bytes of a model, or of a package and the model inside it, go."""

from __future__ import annotations

import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlpack.artifact.manifest import is_package
from mlpack.artifact.opened import OpenedPackage
from mlpack.core.fileio import require_file
from mlpack.core.sizes import SizeBreakdown, size_breakdown

DEFAULT_TOP = 10


@dataclass(frozen=True)
class SizeResult:
    """A model's size explained; for a package, also each member of the archive, stored and unpacked."""

    model: SizeBreakdown
    top: int = DEFAULT_TOP
    package: str | None = None
    package_bytes: int | None = None
    members: tuple[tuple[str, int, int], ...] = ()  # (name, bytes stored in the zip, bytes unpacked)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model": self.model.to_dict(top=self.top), "top": self.top}
        if self.package is not None:
            out["package"] = {
                "path": self.package,
                "size_bytes": self.package_bytes,
                "members": [{"name": n, "stored_bytes": s, "bytes": b} for n, s, b in self.members],
            }
        return out


def explain_size(path: Path, *, top: int = DEFAULT_TOP) -> SizeResult:
    """Where the bytes of ``path`` go: an ONNX model, or an ``.mlpack`` package (its members, and
    its model), with the ``top`` largest tensors named.

    Raises:
        TamperError: a package whose files do not match its manifest (exit 1).
        ModelLoadError: not a readable ONNX model or package (exit 2).
    """
    path = require_file(Path(path), "model or package")
    if not is_package(path):
        return SizeResult(size_breakdown(path), top=top)
    with OpenedPackage(path) as opened:
        opened.require_intact()
        model = size_breakdown(opened.model_path)
        inner = opened.manifest.model.path
    with zipfile.ZipFile(path) as archive:
        members = tuple(
            sorted(((i.filename, i.compress_size, i.file_size) for i in archive.infolist()), key=lambda m: -m[1])
        )
    labelled = replace(model, path=f"{path}!{inner}")
    return SizeResult(labelled, top=top, package=str(path), package_bytes=path.stat().st_size, members=members)
