"""An mlpack command run on a device, as an API call: what ``--target`` does for check, verify and run.

:func:`run_command` copies the files a command reads to the device (each under a name of its own),
runs the command there and returns the device's answer, raising its bad-input or internal errors
here. :func:`device_result` reads the device's JSON result and marks it as coming from there.
:func:`verify_on_target` and :func:`run_on_target` are ``mlpack verify`` and ``mlpack run`` on a
device; ``mlpack check`` on a device is :func:`mlpack.budget.check_target.check_on_target`.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.core.fileio import atomic_path, require_file
from mlpack.core.progress import Progress
from mlpack.core.validate import check_number, check_output
from mlpack.errors import ExitCode, InternalError, RemoteError
from mlpack.remote.jobs import DEFAULT_TIMEOUT_S, RemoteJob, RemoteOutcome, run_job
from mlpack.remote.ssh import parse_target


@dataclass(frozen=True)
class RemoteResult:
    """A command's answer from a device: its JSON result, the files it wrote, its exit code."""

    outcome: RemoteOutcome
    result: dict[str, Any]  # the device's JSON result, marked as from the device (see device_result)

    @property
    def exit_code(self) -> int:
        return self.outcome.exit_code

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK

    @property
    def target_url(self) -> str:
        return self.outcome.target.url()

    def text(self, name: str) -> str:
        """A file the command wrote on the device (and that was brought back), as text."""
        return self.outcome.files[name].decode("utf-8")

    @property
    def rendering(self) -> str:
        """What the command printed for people on the device; empty where it printed JSON."""
        stdout = self.outcome.stdout
        return "" if not stdout.strip() or stdout.lstrip().startswith("{") else stdout

    def to_dict(self) -> dict[str, Any]:
        return self.result


@dataclass(frozen=True)
class RemoteVerifyResult(RemoteResult):
    """``mlpack verify`` on a device."""


@dataclass(frozen=True)
class RemoteRunResult(RemoteResult):
    """``mlpack run`` on a device; the outputs were written here when it succeeded."""

    output: Path | None = None


def run_command(
    target: str,
    args: Sequence[str],
    *,
    uploads: Mapping[str, Path] | None = None,
    files: Mapping[str, Path | None] | None = None,
    fetch: tuple[str, ...] = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
) -> RemoteOutcome:
    """Run ``mlpack ARGS`` on a device and return its answer (exit 0, 1 or 3).

    Args:
        target: the device: ``ssh://[user@]host[:port]`` or an SSH host alias.
        args: mlpack's arguments, naming uploaded files by their names on the device.
        uploads: name on the device -> local file, copied there before the command runs.
        files: file options (``--budget``...) -> local file or None; each given file is copied
            there under a name of its own and the option is added to ``args`` with that name.
        fetch: files the command writes on the device, brought back.
        timeout_s: give up (and have the device remove its folder) after this many seconds.
        progress: told what is happening (``running on HOST``); None is silent.

    Raises:
        BadInputError: a file to copy does not exist (exit 2).
        RemoteError: the device cannot be used, or it refused the command's input (exit 2).
        InternalError: mlpack failed on the device (exit 4).
    """
    job = _file_job(list(args), dict(uploads or {}), dict(files or {}), fetch)
    device = parse_target(target)
    if progress is not None:
        progress(f"running on {device.label}", 0.0)
    outcome = run_job(device, job, timeout_s=timeout_s)
    if outcome.exit_code == ExitCode.BAD_INPUT:
        raise RemoteError(f"on {device.label}: {outcome.error_line()}")
    if outcome.exit_code not in (ExitCode.OK, ExitCode.FAILED, ExitCode.INCONCLUSIVE):
        raise InternalError(f"on {device.label} (exit {outcome.exit_code}): {outcome.error_line()}")
    return outcome


def _file_job(
    args: list[str], uploads: dict[str, Path], options: dict[str, Path | None], fetch: tuple[str, ...]
) -> RemoteJob:
    """The job: each file option's file is copied to the device under a name of its own."""
    copied = {name: require_file(Path(path), "file") for name, path in uploads.items()}
    for option, path in options.items():
        if path is not None:
            name = f"{option.strip('-')}{''.join(Path(path).suffixes[-1:])}"
            copied[name] = require_file(Path(path), f"{option} file")
            args = [*args, option, name]
    return RemoteJob(tuple(args), uploads=copied, fetch=fetch)


def device_result(outcome: RemoteOutcome, name: str | None) -> dict[str, Any]:
    """The device's JSON result (the fetched file ``name``, or its stdout), saying that it ran there.

    Raises:
        RemoteError: the device gave no readable JSON (exit 2).
    """
    raw = outcome.files.get(name, b"") if name else outcome.stdout.encode("utf-8")
    try:
        result = json.loads(raw)
    except ValueError:
        raise RemoteError(f"{outcome.target.label} returned no readable result: {outcome.error_line()}") from None
    if isinstance(result.get("device"), dict):
        result["device"] |= {"measured_on_device": True, "note": "measured on the device itself"}
    return result | {"on_device": True, "target": outcome.target.url(), "system": outcome.system}


def verify_on_target(
    target: str,
    package: Path,
    *,
    run: bool = False,
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
) -> RemoteVerifyResult:
    """``mlpack verify`` on a device: the package copied there and checked (and run, with ``run``).

    Raises:
        RemoteError, InternalError: as :func:`run_command` raises them.
    """
    args = ["verify", "package.mlpack", "--json", *(["--run"] if run else [])]
    uploads = {"package.mlpack": Path(package)}
    outcome = run_command(target, args, uploads=uploads, timeout_s=timeout_s, progress=progress)
    return RemoteVerifyResult(outcome, device_result(outcome, None) | {"package": str(package)})


def run_on_target(
    target: str,
    package: Path,
    inputs: Path,
    output: Path,
    *,
    batch_size: int = 256,
    feeding: Sequence[str] = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
) -> RemoteRunResult:
    """``mlpack run`` on a device: the package and inputs copied there, the outputs written to ``output``
    (atomically, and only when the run succeeded).

    ``feeding`` is ``--state``/``--set`` options (``FeedOptions.to_args()``), passed on as given;
    empty runs with the package's own pairs, as a local run does.

    Raises:
        BadInputError: ``batch_size`` below 1 (exit 2).
        RemoteError, InternalError: as :func:`run_command` raises them.
    """
    check_number(batch_size, name="--batch-size", minimum=1)  # here, before a device is contacted
    check_output(Path(output), option="-o", inputs=(package, inputs))  # before anything is copied
    args = ["run", "package.mlpack", "-o", "outputs.npz", "--batch-size", str(batch_size), *feeding, "--json"]
    outcome = run_command(
        target,
        args,
        uploads={"package.mlpack": Path(package)},
        files={"--data": inputs},
        fetch=("outputs.npz",),
        timeout_s=timeout_s,
        progress=progress,
    )
    result = device_result(outcome, None) | {"output": str(output)}
    if outcome.exit_code != ExitCode.OK:
        return RemoteRunResult(outcome, result)
    with atomic_path(Path(output)) as tmp:
        tmp.write_bytes(outcome.files["outputs.npz"])
    return RemoteRunResult(outcome, result, output=Path(output))
