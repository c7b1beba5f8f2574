"""Turning what the user names (``module:factory``, ``file.py:factory``, a TorchScript or pickle
file) into a PyTorch module, without running untrusted pickles unless asked to."""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.sourceref import SourceKind, SourceRef
from mlpack.errors import BadInputError, MissingDependencyError, UnsafePickleError
from mlpack.exporter.causes import cause_text
from mlpack.exporter.guard import guarded

if TYPE_CHECKING:
    import torch


def import_torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise MissingDependencyError(
            "exporting from PyTorch needs torch, which is not installed.",
            hint="Install the export extra: pip install 'mlpack-edge[export]' (with torch==2.13.0 first).",
        ) from exc
    return torch


def is_factory_reference(source: str) -> bool:
    """``pkg.mod:fn`` or ``path/file.py:fn`` (a plain file path has no ``:fn`` part)."""
    return SourceRef.parse(source).is_factory


def load_module(source: str, *, weights: Path | None = None, trust_pickle: bool = False) -> torch.nn.Module:
    """Load the module the user named, in eval mode."""
    torch = import_torch()
    if is_factory_reference(source):
        module = _from_factory(source)
        if weights is not None:
            _load_weights(module, weights)
    else:
        if weights is not None:
            raise BadInputError("--weights applies to a module:factory source only.")
        module = _from_file(Path(source), trust_pickle=trust_pickle)
    if not isinstance(module, torch.nn.Module):
        raise BadInputError(f"{source} gave a {type(module).__name__}, not a torch.nn.Module.")
    return module.eval()


def is_torchscript(path: Path) -> bool:
    """TorchScript archives are zip files with a ``constants.pkl`` (plain torch.save files lack it)."""
    if not zipfile.is_zipfile(path):
        return False
    with zipfile.ZipFile(path) as archive:
        return any(n.endswith("constants.pkl") for n in archive.namelist())


@contextlib.contextmanager
def _on_sys_path(folder: Path) -> Iterator[None]:
    entry = str(folder)
    sys.path.insert(0, entry)
    try:
        yield
    finally:
        with contextlib.suppress(ValueError):
            sys.path.remove(entry)


def _from_factory(source: str) -> Any:
    ref = SourceRef.parse(source)
    target, attr = ref.target, str(ref.attr)
    if ref.kind is SourceKind.FILE:
        path = Path(target)
        if not path.is_file():
            raise BadInputError(f"model file not found: {path} (from '{source}').")
        module_name = f"_mlpack_user_{abs(hash(str(path.resolve())))}"
        spec = importlib.util.spec_from_file_location(module_name, path)
        if spec is None or spec.loader is None:
            raise BadInputError(f"cannot import {path} as Python.")
        namespace = importlib.util.module_from_spec(spec)
        loader = spec.loader
        with _on_sys_path(path.resolve().parent):
            guarded(f"importing {path}", lambda: loader.exec_module(namespace))
    else:
        # Like uvicorn and friends, resolve modules from the working directory first.
        with _on_sys_path(Path.cwd()):
            try:
                namespace = guarded(f"importing module '{target}'", lambda: importlib.import_module(target))
            except BadInputError as exc:
                if isinstance(exc.__cause__, ModuleNotFoundError):
                    raise BadInputError(
                        f"cannot import module '{target}' (from '{source}'): {exc.__cause__}."
                    ) from exc.__cause__
                raise
    factory = getattr(namespace, attr, None)
    if factory is None:
        raise BadInputError(f"'{target}' has no attribute '{attr}' (from '{source}').")
    if not callable(factory):
        raise BadInputError(f"'{source}' is not callable; it must be a function or class returning an nn.Module.")
    return guarded(f"calling {source}()", factory)


def _torch_load(path: Path, *, weights_only: bool) -> Any:
    if weights_only:
        return _torch_load_unguarded(path, trusted=False)
    # Unpickling a full pickle imports its classes and runs their code: user code, under the guard.
    return guarded(f"unpickling {path} (--trust-pickle)", lambda: _torch_load_unguarded(path, trusted=True))


def _torch_load_unguarded(path: Path, *, trusted: bool) -> Any:
    torch = import_torch()
    import pickle

    try:
        return torch.load(path, map_location="cpu", weights_only=not trusted)
    except pickle.UnpicklingError as exc:
        if not trusted:
            raise UnsafePickleError(
                f"{path} is a full pickle, not plain weights: loading it can run arbitrary code.",
                hint="Pass --trust-pickle only if you trust where it came from, or export a "
                "module:factory with --weights state_dict.pt instead.",
            ) from exc
        raise BadInputError(f"{path} is not a readable PyTorch file: {exc}") from exc
    except (RuntimeError, EOFError, OSError, ValueError, zipfile.BadZipFile) as exc:
        raise BadInputError(
            f"{path} is not a readable PyTorch file (corrupt or truncated?): {cause_text(exc)}"
        ) from exc


def _from_file(path: Path, *, trust_pickle: bool) -> Any:
    torch = import_torch()
    if not path.is_file():
        raise BadInputError(f"model file not found: {path}")
    if is_torchscript(path):
        try:
            return torch.jit.load(str(path), map_location="cpu")
        except Exception as exc:  # torch raises RuntimeError, ValueError and its own types, some with no text
            lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
            reason = lines[0][:300] if lines else f"{type(exc).__name__} with no message (corrupt or truncated?)"
            raise BadInputError(f"{path} is not a loadable TorchScript file: {reason}") from exc
    loaded = _torch_load(path, weights_only=not trust_pickle)
    if isinstance(loaded, dict):
        raise BadInputError(
            f"{path} holds a state dict (weights only), not a model.",
            hint="Name the code that builds the model and pass the weights: mlpack export pkg.mod:factory --weights "
            f"{path}.",
        )
    return loaded


def _load_weights(module: Any, weights: Path) -> None:
    if not Path(weights).is_file():
        raise BadInputError(f"weights file not found: {weights}")
    state = _torch_load(Path(weights), weights_only=True)
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise BadInputError(f"{weights} does not hold a state dict (got {type(state).__name__}).")
    try:
        module.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
        raise BadInputError(f"{weights} does not fit the model: {' '.join(lines[:3])[:400]}") from exc
