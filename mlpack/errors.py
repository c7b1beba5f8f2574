"""One exception hierarchy. Each error carries a message for people and the exit code CI acts on."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0
    FAILED = 1  # a budget broke or a verification failed; the run itself worked
    BAD_INPUT = 2  # bad usage or input, including a model that cannot be loaded or run
    INCONCLUSIVE = 3  # a latency budget too close to call even after re-measuring
    INTERNAL = 4  # a bug in mlpack


class MlpackError(Exception):
    """Base of every error mlpack raises on purpose. ``str(error)`` is the user-facing message."""

    exit_code: ExitCode = ExitCode.INTERNAL

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        self.message = message
        self.hint = hint
        super().__init__(message if hint is None else f"{message} {hint}")


class BadInputError(MlpackError):
    """The user gave something mlpack cannot use: a missing file, a malformed spec, a bad config."""

    exit_code = ExitCode.BAD_INPUT


class ModelLoadError(BadInputError):
    """A model file that does not exist, cannot be parsed, or cannot be run."""


class InputSpecError(BadInputError):
    """An input description (--input, an .npz file) that does not fit the model."""


class UnsafePickleError(BadInputError):
    """A pickled object that would need arbitrary code execution to load."""


class ConfigError(BadInputError):
    """A malformed config, budget or device-profile file."""


class DataError(BadInputError):
    """A data file whose arrays are missing, malformed or inconsistent."""


class MissingDependencyError(BadInputError):
    """An optional dependency (torch, matplotlib) that this operation needs is not installed."""


class ExportError(BadInputError):
    """Neither exporter could turn the model into ONNX that onnxruntime can run."""


class ArchiveError(BadInputError):
    """An .mlpack archive that is malformed or unsafe to open."""


class RemoteError(BadInputError):
    """A target device that cannot be reached, refuses us, or cannot run mlpack (exit 2)."""


class RemoteTimeout(RemoteError):
    """The device did not finish within ``--timeout``."""


class VerificationError(MlpackError):
    """A transformed model computes something else than the model it came from."""

    exit_code = ExitCode.FAILED


class TamperError(VerificationError):
    """A packaged file does not match the hash recorded in its manifest."""


class BudgetError(MlpackError):
    """No artifact meets the budgets (tune found no candidate, a build's check failed)."""

    exit_code = ExitCode.FAILED


class InternalError(MlpackError):
    """A bug in mlpack: a state that correct code never reaches. The message says so."""

    exit_code = ExitCode.INTERNAL
