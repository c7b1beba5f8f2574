"""Opening a package: safe extraction into a temporary folder, every file checked against the manifest."""

from __future__ import annotations

import tempfile
import zipfile
from collections.abc import Mapping
from pathlib import Path

from mlpack.artifact.archive import safe_extract
from mlpack.artifact.manifest import MANIFEST, FileEntry, Manifest, load_manifest
from mlpack.artifact.signing import SIGNATURE
from mlpack.core.fileio import disk_full, require_file, sha256_file
from mlpack.core.signature import Signature
from mlpack.errors import MlpackError, TamperError


class OpenedPackage:
    """A package extracted (safely) into a temporary folder, with what does not match its manifest.

    ``problems`` lists each tampered entry (the manifest, or a file changed, added or missing);
    the files are only extracted and checked when the manifest itself is intact, and only then is
    there a typed :attr:`manifest`. Use it as a context manager: the folder is removed on exit.
    """

    def __init__(self, path: Path) -> None:
        self.path = require_file(Path(path), "package")
        self.stored, self.problems = load_manifest(self.path)  # as stored, possibly broken
        self._manifest = None if self.problems else Manifest.from_dict(self.stored)
        self.files_checked = 0  # files compared with their hashes: none while the manifest is untrusted
        self._tmp = tempfile.TemporaryDirectory(prefix="mlpack-package-")
        self.root = Path(self._tmp.name)
        if self._manifest is None:
            return
        try:
            with zipfile.ZipFile(self.path) as archive:
                safe_extract(archive, self.path, self.root)
        except TamperError as exc:
            # The archive layer names the package too; the problem list is about this package only.
            self.problems = [exc.message.removeprefix(f"{self.path}: ")]
        except BaseException as exc:
            self.close()
            full = disk_full(exc, f"the temporary folder {self.root.parent} (unpacking {self.path})")
            if full is not None:
                raise full from exc
            raise
        else:
            self.problems = file_problems(self.root, self._manifest.files)
            self.files_checked = len(self._manifest.files)

    def require_intact(self) -> None:
        """Raise :class:`TamperError` naming every problem, for callers that only use intact packages."""
        if self.problems:
            raise TamperError(f"{self.path}: " + " ".join(self.problems))

    @property
    def manifest(self) -> Manifest:
        """The manifest, once it is intact (its hash and schema check out); files may still differ."""
        if self._manifest is None:
            raise TamperError(f"{self.path}: " + " ".join(self.problems))
        return self._manifest

    def label(self) -> tuple[str | None, str | None]:
        """The package's name and version, as far as even a broken manifest still says them."""
        name, version = self.stored.get("name"), self.stored.get("version")
        return (name if isinstance(name, str) else None, version if isinstance(version, str) else None)

    @property
    def model_path(self) -> Path:
        return self.root / self.manifest.model.path

    @property
    def signature(self) -> Signature:
        return self.manifest.model.signature

    def close(self) -> None:
        self._tmp.cleanup()

    def __enter__(self) -> OpenedPackage:
        return self

    def __exit__(self, kind: object, exc: object, trace: object) -> None:
        self.close()
        if isinstance(exc, MlpackError):
            name_the_package(exc, self.root, self.path)


def name_the_package(exc: MlpackError, root: Path, package: Path) -> None:
    """Say ``PACKAGE!member`` where a message names a file in the temporary extraction folder: the
    user gave the package and never sees that folder (it is gone when the message is read)."""
    for folder in {str(root), str(Path(root).resolve())}:
        if folder in exc.message or folder in str(exc):
            message = exc.message.replace(folder + "/", f"{package}!").replace(folder, str(package))
            full = str(exc).replace(folder + "/", f"{package}!").replace(folder, str(package))
            exc.message, exc.args = message, (full,)


def file_problems(root: Path, listed: Mapping[str, FileEntry]) -> list[str]:
    """Each file under ``root`` added, missing or changed against the manifest's ``files``, by name."""
    # The signature signs the manifest, so it cannot be listed in it: verify checks it apart.
    present = {p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file()} - {MANIFEST, SIGNATURE}
    added = sorted(present - set(listed))
    problems = [f"'{extra}' is not in the manifest: it was added after packing." for extra in added]
    for name, entry in sorted(listed.items()):
        file = root / name
        if not file.is_file():
            problems.append(f"'{name}' is listed in the manifest but missing.")
        elif sha256_file(file) != entry.sha256:
            problems.append(f"'{name}' changed after packing (SHA-256 mismatch).")
    return problems
