"""Loading, checking, saving and running ONNX files, with errors a person can act on."""

from __future__ import annotations

import os
import weakref
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.fileio import atomic_path, require_file
from mlpack.errors import InputSpecError, ModelLoadError

if TYPE_CHECKING:
    import onnx
    import onnxruntime


# protobuf cannot serialise a message over 2 GiB, so larger models must keep external data.
_PROTOBUF_LIMIT = 2**31 - 1


def load_model(path: Path, *, check: bool = True) -> onnx.ModelProto:
    """Load an ONNX file with its external data, raising ModelLoadError if it is not a usable model."""
    import onnx
    from google.protobuf.message import DecodeError

    path = require_file(Path(path), "model file")
    if path.stat().st_size == 0:
        raise ModelLoadError(f"{path} is empty: it is not an ONNX model.")
    require_external_data(path)
    try:
        model = onnx.load(str(path), load_external_data=True)
    except (DecodeError, RuntimeError, ValueError, OSError, onnx.checker.ValidationError) as exc:
        raise ModelLoadError(
            f"{path} is not a readable ONNX model (corrupt or truncated file?): {_first_line(exc)}"
        ) from exc
    if check:
        check_model(model, path)
    return model


def check_model(model: onnx.ModelProto, source: Path | str) -> None:
    import onnx

    if not model.graph.output:
        raise ModelLoadError(f"{source} has no graph outputs: it is not a complete ONNX model (truncated?).")
    try:
        if model.ByteSize() < _PROTOBUF_LIMIT:
            onnx.checker.check_model(model)
        else:
            onnx.checker.check_model(str(source))
    except (onnx.checker.ValidationError, ValueError) as exc:
        raise ModelLoadError(f"{source} is not a valid ONNX model: {_first_line(exc)}") from exc


def save_model(model: onnx.ModelProto, destination: Path) -> Path:
    """Save atomically as one self-contained file; models over 2 GB keep a ``.data`` file beside."""
    import onnx

    destination = Path(destination)
    if model.ByteSize() < _PROTOBUF_LIMIT:
        with atomic_path(destination) as tmp:
            onnx.save_model(model, str(tmp))
        return destination
    data_name = destination.name + ".data"
    with atomic_path(destination) as tmp_model, atomic_path(destination.with_name(data_name)) as tmp_data:
        # onnx writes the data file next to the model under the given location name; write it under
        # the temporary name first, then point the model at the final name.
        onnx.save_model(
            model,
            str(tmp_model),
            save_as_external_data=True,
            all_tensors_to_one_file=True,
            location=tmp_data.name,
            size_threshold=1024,
        )
        saved = onnx.load(str(tmp_model), load_external_data=False)
        for tensor in _external_tensors(saved):
            for entry in tensor.external_data:
                if entry.key == "location":
                    entry.value = data_name
        onnx.save_model(saved, str(tmp_model))
    return destination


def _external_tensors(model: onnx.ModelProto) -> list[Any]:
    from onnx.external_data_helper import _get_all_tensors, uses_external_data

    return [t for t in _get_all_tensors(model) if uses_external_data(t)]


def external_data_files(path: Path) -> list[Path]:
    """The external data files an ONNX file refers to (without loading the data).

    Raises:
        ModelLoadError: ``path`` is not readable ONNX (a package, text, a truncated file) (exit 2).
    """
    import onnx
    from google.protobuf.message import DecodeError

    try:
        model = onnx.load(str(path), load_external_data=False)
    except (DecodeError, RuntimeError, ValueError, OSError) as exc:
        import zipfile

        if zipfile.is_zipfile(path):
            raise ModelLoadError(
                f"{path} is a zip archive (an .mlpack package?), not an ONNX model; give the .onnx file."
            ) from exc
        raise ModelLoadError(
            f"{path} is not a readable ONNX model (corrupt or truncated file?): {_first_line(exc)}"
        ) from exc
    files: list[Path] = []
    for tensor in _external_tensors(model):
        for entry in tensor.external_data:
            if entry.key == "location":
                candidate = Path(path).parent / entry.value
                if candidate not in files:
                    files.append(candidate)
    return files


def require_external_data(path: Path) -> list[Path]:
    """The model's external data files, each checked to exist beside it, before anything loads them.

    Raises:
        ModelLoadError: ``path`` is not readable ONNX, or a data file it refers to is missing (exit 2).
    """
    files = external_data_files(Path(path))
    for data_file in files:
        if not data_file.is_file():
            raise ModelLoadError(
                f"{path} keeps its weights in {data_file.name}, which is missing; "
                "copy it beside the model (or save the model as one file)."
            )
    return files


def model_size_bytes(path: Path) -> int:
    """Size on disk of a model, external data files included: what a device must store."""
    path = Path(path)
    return path.stat().st_size + sum(f.stat().st_size for f in external_data_files(path) if f.exists())


# onnxruntime logs a failed run at ERROR level on stderr (in colour) before raising the same
# message as an exception; mlpack reports the exception in one line, so only FATAL gets through.
_FATAL_ONLY = 4


def quiet_native_logs() -> None:
    """Keep onnxruntime's own log lines (the process-wide logger's too) off the terminal."""
    import onnxruntime as ort

    ort.set_default_logger_severity(_FATAL_ONLY)


def create_session(
    model: Path | bytes,
    *,
    threads: int | None = None,
    inter_op_threads: int | None = None,
    sequential: bool = True,
    graph_optimization: str = "all",
    allow_spinning: bool = True,
    profile_prefix: str | None = None,
) -> onnxruntime.InferenceSession:
    """An onnxruntime CPU session; a model that onnxruntime refuses becomes a ModelLoadError."""
    import onnxruntime as ort

    quiet_native_logs()
    options = ort.SessionOptions()
    options.log_severity_level = _FATAL_ONLY
    if threads is not None:
        options.intra_op_num_threads = threads
    if inter_op_threads is not None:
        options.inter_op_num_threads = inter_op_threads
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL if sequential else ort.ExecutionMode.ORT_PARALLEL
    options.graph_optimization_level = {
        "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
        "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
        "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
        "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
    }[graph_optimization]
    if not allow_spinning:
        # An idle session's spinning workers steal cores from the session being timed.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.add_session_config_entry("session.inter_op.allow_spinning", "0")
    if profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    source = str(model) if isinstance(model, (str, os.PathLike)) else model
    try:
        session = ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped exceptions
        name = model if isinstance(model, (str, os.PathLike)) else "the model"
        raise ModelLoadError(f"onnxruntime cannot load {name}: {_first_line(exc)}") from exc
    if isinstance(model, (str, os.PathLike)):
        _SESSION_NAMES[session] = str(model)  # so that a rejected input names the model
    return session


# The file each session was made from, for run_session's errors (weak: a name never keeps a session alive).
_SESSION_NAMES: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


def run_session(session: onnxruntime.InferenceSession, feeds: dict[str, Any]) -> list[Any]:
    """Run once; a shape or dtype the model rejects becomes an InputSpecError naming the problem."""
    try:
        return list(session.run(None, feeds))
    except Exception as exc:
        name = _SESSION_NAMES.get(session, "the model")
        raise InputSpecError(f"{name} rejected its inputs: {_first_line(exc)}") from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
