"""What the bench parent and its worker process say to each other: one JSON line per message.

Commands (parent to worker) and replies (worker to parent) are frozen dataclasses. Both sides
serialise them with :func:`to_json` and rebuild them with :func:`from_json`, so a default lives
in one place (the dataclass) and a field that one side misspells fails loudly instead of being
read as ``None``. An error raised in the worker travels as :class:`Failed` and is raised again
in the parent as the same :mod:`mlpack.errors` class, so its exit code survives the process
boundary.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Union

from mlpack import errors
from mlpack.core.choices import ExecutionMode, GraphOptimization
from mlpack.data.feeds import FeedOptions
from mlpack.errors import InternalError, MlpackError


@dataclass(frozen=True)
class WorkerConfig:
    """One measuring process: which model, at which batch size, in which kind of session."""

    model: Path
    batch_size: int
    threads: int | None = None  # None: onnxruntime's default (one per physical core)
    cpus: tuple[int, ...] | None = None  # pin the process to these CPUs; None: wherever the OS likes
    execution_mode: ExecutionMode = ExecutionMode.SEQUENTIAL
    graph_optimization: GraphOptimization = GraphOptimization.ALL
    spinning: bool = True
    data: Path | None = None  # .npz inputs; None: generated from the model's signature
    seed: int = 0  # for generated inputs
    feeding: FeedOptions = FeedOptions()  # state pairs (one streaming step is timed) and --set values


# Commands ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Init:
    """Load the model, build the inputs and time session creation and the first inference."""

    config: WorkerConfig


@dataclass(frozen=True)
class Run:
    """Time ``count`` inferences."""

    count: int


@dataclass(frozen=True)
class Profile:
    """Run ``count`` inferences under onnxruntime's profiler, writing its trace under ``prefix``,
    after ``warmup`` runs of the same session that the breakdown leaves out."""

    count: int
    prefix: str
    warmup: int = 0


@dataclass(frozen=True)
class Finish:
    """Report the peak memory and stop."""


# Replies ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Loaded:
    load_ms: float
    first_inference_ms: float
    baseline_rss_mb: float  # onnxruntime and numpy imported, the model not yet loaded
    input_shapes: dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class Timed:
    samples_ms: tuple[float, ...]


@dataclass(frozen=True)
class OpTime:
    op: str
    ms_per_run: float
    share: float


@dataclass(frozen=True)
class NodeTime:
    node: str
    op: str
    ms_per_run: float
    share: float


@dataclass(frozen=True)
class Profiled:
    runs: int
    total_ms_per_run: float  # kernel time per run: the median over the profiled runs
    op_types: tuple[OpTime, ...]  # every operator type, slowest first
    nodes: tuple[NodeTime, ...]  # the slowest nodes
    warmup: int = 0  # runs before the profiled ones, left out
    profiled_run_ms: float = 0.0  # a whole run under the profiler (its own cost included): the median

    def to_dict(self) -> dict[str, Any]:
        """The breakdown as a bench result records it."""
        encoded: dict[str, Any] = _encode(self)
        return encoded


@dataclass(frozen=True)
class Finished:
    peak_rss_mb: float


@dataclass(frozen=True)
class Failed:
    """An exception raised in the worker, to be raised again in the parent."""

    error_type: str  # the mlpack.errors class name; anything else becomes an InternalError
    message: str

    @classmethod
    def from_exception(cls, exc: BaseException) -> Failed:
        """The nearest mlpack.errors class of ``exc`` and its message.

        Args:
            exc: what the worker raised. An MlpackError subclass defined outside mlpack.errors
                travels as its nearest ancestor there, so its exit code is kept.
        """
        if isinstance(exc, MlpackError):
            known = next(k for k in type(exc).__mro__ if k.__module__ == errors.__name__)
            return cls(known.__name__, str(exc))
        return cls(type(exc).__name__, f"{type(exc).__name__}: {exc}")

    def to_error(self) -> MlpackError:
        """The error to raise in the parent: the same mlpack.errors class, else an InternalError."""
        kind = getattr(errors, self.error_type, None)
        if isinstance(kind, type) and issubclass(kind, MlpackError):
            return kind(self.message)
        return InternalError(f"internal error in the measuring process: {self.message}")


Command = Init | Run | Profile | Finish
Reply = Loaded | Timed | Profiled | Finished | Failed
Message = Command | Reply

_MESSAGES: dict[str, type[Any]] = {
    kind.__name__: kind for kind in (Init, Run, Profile, Finish, Loaded, Timed, Profiled, Finished, Failed)
}


def to_json(message: Message) -> str:
    """One line of JSON: the message's type name and its fields.

    Args:
        message: a command or a reply.
    """
    return json.dumps({"type": type(message).__name__, "fields": _encode(message)})


def from_json(line: str) -> Message:
    """The message that :func:`to_json` wrote, rebuilt with its field types.

    Args:
        line: one line from the other process.

    Raises:
        InternalError: the line is not a message of this protocol (one side is out of date or
            something else wrote to the pipe).
    """
    try:
        data = json.loads(line)
        kind = _MESSAGES[data["type"]]
        message: Message = _build(kind, data["fields"])
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InternalError(f"the bench worker protocol got a malformed message ({exc!r}): {line[:200]!r}") from exc
    return message


def _build(kind: type[Any], fields: dict[str, Any]) -> Any:
    """``kind`` from JSON fields; a missing field takes the dataclass's default, an unknown one fails."""
    hints = typing.get_type_hints(kind)
    unknown = set(fields) - {f.name for f in dataclasses.fields(kind)}
    if unknown:
        raise TypeError(f"{kind.__name__} has no field {sorted(unknown)}")
    return kind(**{name: _decode(value, hints[name]) for name, value in fields.items()})


def _decode(value: Any, hint: Any) -> Any:
    """A JSON value back into the type its field declares (tuples, enums, paths, dataclasses)."""
    origin = typing.get_origin(hint)
    if origin in (Union, types.UnionType):
        if value is None:
            return None
        (inner,) = (arg for arg in typing.get_args(hint) if arg is not type(None))
        return _decode(value, inner)
    if origin is tuple:
        return tuple(_decode(item, typing.get_args(hint)[0]) for item in value)
    if origin is dict:
        return {key: _decode(item, typing.get_args(hint)[1]) for key, item in value.items()}
    if isinstance(hint, type) and dataclasses.is_dataclass(hint):
        return _build(hint, value)
    if isinstance(hint, type) and issubclass(hint, (Enum, Path)):
        return hint(value)
    return value


def _encode(value: Any) -> Any:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (tuple, list)):
        return [_encode(item) for item in value]
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    return value
