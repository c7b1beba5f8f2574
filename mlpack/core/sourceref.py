"""What a user names as a model source, parsed once: ``pkg.mod:factory``, ``file.py:factory`` or a file.

Export, build and init all read these strings; one parser keeps them from disagreeing about edge
cases such as a Windows path (``C:\\models\\m.pt`` has a colon but no factory part).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum
from pathlib import Path


class SourceKind(str, Enum):
    MODULE = "module"  # pkg.mod:factory, imported by name
    FILE = "file"  # path/to/file.py:factory, imported from the file
    PATH = "path"  # a model file: TorchScript, a pickled module, ONNX


@dataclass(frozen=True)
class SourceRef:
    """A parsed model source. ``attr`` is the factory's name, None for a model file."""

    kind: SourceKind
    target: str
    attr: str | None = None

    @classmethod
    def parse(cls, text: str) -> SourceRef:
        """Parse ``text`` as written by the user.

        Args:
            text: ``pkg.mod:factory``, ``file.py:factory``, or the path of a model file.
        """
        target, sep, attr = text.rpartition(":")
        if not (sep and target and attr.isidentifier()):
            return cls(SourceKind.PATH, text)
        if target.endswith(".py"):
            return cls(SourceKind.FILE, target, attr)
        if all(part.isidentifier() for part in target.split(".")):
            return cls(SourceKind.MODULE, target, attr)
        return cls(SourceKind.PATH, text)

    @property
    def is_factory(self) -> bool:
        return self.kind is not SourceKind.PATH

    @property
    def stem(self) -> str:
        """The file or module name without its suffix: the default name of what is built from it."""
        return Path(self.target).stem

    def __str__(self) -> str:
        return f"{self.target}:{self.attr}" if self.attr else self.target

    def relative_to(self, folder: Path) -> SourceRef:
        """The same source with a relative file path read from ``folder`` (a module stays a module).

        Args:
            folder: the folder relative paths are written against, such as a config file's.
        """
        if self.kind is SourceKind.MODULE:
            return self
        return SourceRef(self.kind, str(Path(folder) / self.target), self.attr)

    def defining_files(self) -> list[Path]:
        """The files whose content defines this source (for cache keys); empty when none is found."""
        if self.kind is not SourceKind.MODULE:
            return [Path(self.target)]
        import importlib.util

        try:
            spec = importlib.util.find_spec(self.target)
        except (ImportError, ValueError):
            # Not importable here: export reports that properly; the key just has no file to hash.
            return []
        return [Path(spec.origin)] if spec and spec.origin and Path(spec.origin).is_file() else []
