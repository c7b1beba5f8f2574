"""ONNX's test-data layout: ``DIR/test_data_set_N/input_K.pb`` and optional ``output_K.pb``.

onnx's backend tests and onnxruntime_perf_test keep inputs this way: each set is one call,
used exactly as given (sets may differ in shape), and its expected outputs, where present,
are an extra check. ``input_K`` is the K-th model input, unless the tensor names an input.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.signature import TensorSpec
from mlpack.core.validate import relative_member
from mlpack.data.dataset import Dataset, check_array, check_call_not_empty
from mlpack.errors import DataError, InputSpecError

if TYPE_CHECKING:
    import numpy as np

_SET = re.compile(r"^test_data_set_(\d+)$")
_FILE = re.compile(r"^(input|output)_(\d+)\.pb$")


def is_test_data_dir(path: Path) -> bool:
    """True for a directory holding at least one ``test_data_set_N`` folder."""
    return Path(path).is_dir() and any(_SET.match(p.name) for p in Path(path).iterdir() if p.is_dir())


def load_test_data(
    path: Path,
    specs: tuple[TensorSpec, ...],
    *,
    given: dict[str, Any] | None = None,
    defaults: dict[str, Any] | None = None,
) -> Dataset:
    """Every test set of ``path`` as one call, checked against ``specs``.

    Args:
        path: the directory holding ``test_data_set_N`` folders.
        specs: the model's inputs.
        given: values for inputs the sets may lack (``--set``); they override the files.
        defaults: values for inputs only where a set lacks them (a stream's initial state).
    """
    path = Path(path)
    sets = _sets(path)
    given = given or {}
    calls: list[dict[str, np.ndarray]] = []
    expected: list[tuple[np.ndarray, ...] | None] = []
    for _, folder in sets:
        inputs = _numbered(folder, "input")
        feeds = _match(inputs, specs, folder, given, defaults or {})
        calls.append({s.name: check_array(feeds[s.name], s, source=str(folder)) for s in specs})
        check_call_not_empty(calls[-1], specs, source=folder)
        outputs = _numbered(folder, "output")
        expected.append(tuple(value for _, value in outputs) if outputs else None)
    note = "each ONNX test set is one call with its arrays as given"
    return Dataset(inputs=calls[0], calls=tuple(calls), expected=tuple(expected), notes=(note,))


def first_set_inputs(path: Path, names: Sequence[str] = ()) -> dict[str, Any]:
    """The first test set's inputs by name, for a caller that has no signature yet (export).

    Args:
        path: the directory holding ``test_data_set_N`` folders.
        names: the inputs' names in order (a module's forward parameters): used by position
            unless every tensor carries a distinct name of its own that is one of them.
    """
    sets = _sets(Path(path))
    files = _numbered(sets[0][1], "input")
    if not files:
        raise InputSpecError(f"{sets[0][1]} holds no input_K.pb files; each test set needs the model's inputs.")
    own = [name for name, _ in files]
    if all(own) and len(set(own)) == len(own) and (not names or set(own) <= set(names)):
        return dict(files)
    return {(names[k] if k < len(names) else f"input_{k}"): value for k, (_, value) in enumerate(files)}


def _sets(path: Path) -> list[tuple[int, Path]]:
    sets = sorted((int(m.group(1)), p) for p in path.iterdir() if p.is_dir() and (m := _SET.match(p.name)))
    if not sets:
        raise DataError(
            f"{path} is a directory without test_data_set_N folders; pass an .npz or an ONNX test-data "
            "directory (test_data_set_0/input_0.pb, ...)."
        )
    return sets


def _match(
    files: list[tuple[str, Any]],
    specs: tuple[TensorSpec, ...],
    folder: Path,
    given: dict[str, Any],
    defaults: dict[str, Any],
) -> dict[str, Any]:
    """Files to inputs: by the tensor's name where every name is an input's, else by position."""
    names = {s.name for s in specs}
    if files and all(name in names for name, _ in files):
        feeds = {name: value for name, value in files}
    else:
        open_specs = [s for s in specs if s.name not in given]
        feeds = {s.name: value for s, (_, value) in zip(open_specs, files, strict=False)}
    feeds.update(given)
    for name, value in defaults.items():
        feeds.setdefault(name, value)
    missing = [s.name for s in specs if s.name not in feeds]
    if missing:
        raise InputSpecError(
            f"{folder} lacks input files for the model inputs {missing} "
            f"(it has {len(files)} input_K.pb file(s) for {len(specs)} inputs)."
        )
    return feeds


def _numbered(folder: Path, kind: str) -> list[tuple[str, Any]]:
    """The ``kind_K.pb`` files of a folder in K order, as (tensor name, value)."""
    found = sorted((int(m.group(2)), p) for p in folder.iterdir() if (m := _FILE.match(p.name)) and m.group(1) == kind)
    indices = [k for k, _ in found]
    if indices != list(range(len(indices))):
        raise InputSpecError(f"{folder}: {kind}_K.pb files must be numbered 0, 1, 2...; found {indices}.")
    return [read_pb(p) for _, p in found]


def read_pb(path: Path) -> tuple[str, Any]:
    """A serialised TensorProto (or SequenceProto / OptionalProto) as (name, numpy value)."""
    import onnx
    from google.protobuf.message import DecodeError
    from onnx import numpy_helper

    if not Path(path).is_file():
        raise DataError(f"{path} is not a file: each input_K.pb must be a serialised ONNX tensor.")
    content = Path(path).read_bytes()
    try:
        tensor = onnx.TensorProto()
        tensor.ParseFromString(content)
        if tensor.data_type or tensor.dims:
            return tensor.name, _tensor_array(tensor, Path(path))
        sequence = onnx.SequenceProto()
        sequence.ParseFromString(content)
        if sequence.elem_type:
            return sequence.name, numpy_helper.to_list(sequence)
        optional = onnx.OptionalProto()
        optional.ParseFromString(content)
        return optional.name, numpy_helper.to_optional(optional)
    except (DecodeError, ValueError, TypeError) as exc:
        raise DataError(f"{path} is not a readable serialised ONNX tensor: {exc}") from exc


def _tensor_array(tensor: Any, path: Path) -> Any:
    """A tensor's values; external data is read from the .pb's own folder, never from the working
    directory, and refused where its location leaves that folder (absolute, ``..``, a link out)."""
    from onnx import TensorProto, numpy_helper

    if tensor.data_location != TensorProto.EXTERNAL:
        return numpy_helper.to_array(tensor)
    location = next((e.value for e in tensor.external_data if e.key == "location"), "")
    why = relative_member(location)
    folder = path.parent.resolve()
    if why is None and folder not in (folder / location).resolve().parents:
        why = "leads outside the folder"
    if why is not None:
        raise DataError(f"{path}: its external data location {location!r} {why}; keep the data file beside the .pb.")
    if not (folder / location).is_file():
        raise DataError(f"{path}: its external data file {location!r} is missing beside it.")
    return numpy_helper.to_array(tensor, base_dir=str(folder))
