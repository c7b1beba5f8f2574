"""Helpers for hostile-input tests: run a command, assert the one-line error, check the file system."""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import zipfile
from pathlib import Path

import numpy as np
from typer.testing import CliRunner

from mlpack.cli import app


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its hash: compare before and after to see nothing changed."""
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


# The plain progress lines a command writes to stderr when it is not a terminal (CliRunner, a pipe).
PROGRESS_LINE = re.compile(r"^\[\s*\d+ s\] .*\n?", re.MULTILINE)


def without_progress(stderr: str) -> str:
    """``stderr`` less its progress lines: what is left is the command's messages."""
    return PROGRESS_LINE.sub("", stderr)


def refused(args: list[str], *, code: int = 2, says: str = "", env: dict[str, str] | None = None) -> str:
    """Run ``mlpack args``; assert the exit code, one error line on stderr, no traceback; return it."""
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    stderr = without_progress(result.stderr)
    assert result.exit_code == code, (result.exit_code, result.stdout, stderr, result.exception)
    assert "Traceback" not in stderr and "internal error" not in stderr, stderr
    assert stderr.strip().startswith("error: ") and stderr.count("error: ") == 1, stderr
    assert says.lower() in " ".join(stderr.lower().split()), stderr
    return stderr


def succeeds(args: list[str], env: dict[str, str] | None = None) -> str:
    result = CliRunner().invoke(app, [str(a) for a in args], env=env)
    assert result.exit_code == 0, (result.stdout, result.stderr, result.exception)
    return result.stdout


def forged_npz(path: Path, *, claimed: tuple[int, ...], held: np.ndarray, name: str = "x") -> Path:
    """An .npz whose array header claims ``claimed`` but whose member holds only ``held``'s bytes."""
    from numpy.lib import format as npy

    buffer = io.BytesIO()
    npy.write_array_header_1_0(
        buffer, {"descr": npy.dtype_to_descr(held.dtype), "fortran_order": False, "shape": claimed}
    )
    buffer.write(np.ascontiguousarray(held).tobytes())
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr(f"{name}.npy", buffer.getvalue())
    return path


def repack(package: Path, destination: Path, edit, *, extra: dict[str, bytes] | None = None) -> Path:
    """A copy of ``package`` whose manifest ``edit`` changed and then resealed (a valid self-hash),
    as someone handing over a hand-made package would; ``extra`` adds entries."""
    from mlpack.artifact.manifest import MANIFEST, seal

    with zipfile.ZipFile(package) as source:
        entries = {name: source.read(name) for name in source.namelist()}
    manifest = json.loads(entries.pop(MANIFEST))
    manifest.pop("manifest_sha256")
    edit(manifest)
    with zipfile.ZipFile(destination, "w") as archive:
        archive.writestr(MANIFEST, json.dumps(seal(manifest)))
        for name, content in {**entries, **(extra or {})}.items():
            archive.writestr(name, content)
    return destination


def leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def file_mode(path: Path) -> int:
    return os.stat(path).st_mode & 0o777


def make_test_data(folder: Path, *sets: dict[str, np.ndarray]) -> Path:
    """An ONNX test-data folder: one ``test_data_set_N`` per mapping, ``input_K.pb`` per array."""
    from onnx import numpy_helper

    folder.mkdir(parents=True, exist_ok=True)
    for n, arrays in enumerate(sets):
        one = folder / f"test_data_set_{n}"
        one.mkdir()
        for k, (name, array) in enumerate(arrays.items()):
            (one / f"input_{k}.pb").write_bytes(numpy_helper.from_array(array, name).SerializeToString())
    return folder
