"""The host's side of ``--target``: copy files to the device, run mlpack there, bring results back.

One job per device: check the device's mlpack (installed, same minor version as here), start
:mod:`mlpack.bench.agent` there (which makes a private temporary folder), copy the files in over
SFTP, run the job, read the answer. The agent removes its folder when the job ends, when the
connection drops and when this side is interrupted or times out, because each of those closes
its stdin. Several devices run in parallel, one job at a time each.
"""

from __future__ import annotations

import asyncio
import base64
import json
import shlex
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpack.core.version import mlpack_version
from mlpack.errors import BadInputError, RemoteError, RemoteTimeout
from mlpack.remote.agent import OUT_OF_MEMORY
from mlpack.remote.devicestate import recorded_python
from mlpack.remote.interrupt import OPEN_CONNECTIONS, run_interruptibly
from mlpack.remote.ssh import Target, connect, require_asyncssh

DEFAULT_TIMEOUT_S = 600.0
# Run by the device's Python before anything of mlpack: it must work where mlpack is missing.
_PROBE = (
    "import json, sys\n"
    "try:\n"
    "    from importlib.metadata import version\n"
    "    found = version('mlpack-edge')\n"
    "except Exception:\n"
    "    found = None\n"
    "print(json.dumps({'python': sys.version.split()[0], 'mlpack': found}))\n"
)


@dataclass(frozen=True)
class RemoteJob:
    """One mlpack command to run on a device, with the files it reads and writes."""

    args: tuple[str, ...]  # mlpack's arguments, naming files by their names in the device's folder
    uploads: dict[str, Path] = field(default_factory=dict)  # name on the device -> local file
    fetch: tuple[str, ...] = ()  # files the command writes there, brought back
    entry: str | None = None  # a job of the agent's ENTRIES instead of an mlpack command


@dataclass(frozen=True)
class RemoteOutcome:
    """What the device answered."""

    target: Target
    exit_code: int
    stdout: str
    stderr: str
    files: dict[str, bytes]
    system: dict[str, Any]  # the device's CPU, cores, instruction sets, memory, OS and versions

    def error_line(self) -> str:
        """The device's own error message (mlpack prints 'error: ...'), for exit codes 2 and 4."""
        lines = [line.strip() for line in self.stderr.splitlines() if line.strip()]
        message = next((line for line in lines if line.startswith("error:")), lines[-1] if lines else "")
        return message.removeprefix("error:").strip() or f"mlpack exited with {self.exit_code}"


def run_job(target: Target, job: RemoteJob, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> RemoteOutcome:
    """Run one job on one device and wait for its answer.

    Args:
        target: the device.
        job: the command and its files.
        timeout_s: give up (and have the device remove its folder) after this many seconds.

    Raises:
        RemoteError: the device cannot be reached or used (see :mod:`mlpack.remote.ssh`), has no
            or another mlpack, ran out of memory or disk, or timed out.
    """
    return run_jobs([(target, job)], timeout_s=timeout_s)[0]


def run_jobs(jobs: Sequence[tuple[Target, RemoteJob]], *, timeout_s: float = DEFAULT_TIMEOUT_S) -> list[RemoteOutcome]:
    """Several devices in parallel, one job each; the first failure (in order) is raised.

    Args:
        jobs: (device, job) pairs; each device should appear once.
        timeout_s: per device, as in :func:`run_job`.
    """
    outcomes = gather_jobs(jobs, timeout_s=timeout_s)
    for outcome in outcomes:
        if isinstance(outcome, RemoteError):
            raise outcome
    return [o for o in outcomes if isinstance(o, RemoteOutcome)]


def gather_jobs(
    jobs: Sequence[tuple[Target, RemoteJob]], *, timeout_s: float = DEFAULT_TIMEOUT_S
) -> list[RemoteOutcome | RemoteError]:
    """Like :func:`run_jobs`, but a device's failure is its entry, so the others' results survive.

    Args:
        jobs: (device, job) pairs.
        timeout_s: per device.
    """
    if timeout_s <= 0:
        raise BadInputError(f"--timeout must be positive, got {timeout_s}.")

    async def all_jobs() -> list[RemoteOutcome | RemoteError]:
        tasks = [_bounded(target, job, timeout_s) for target, job in jobs]
        results = await asyncio.gather(*tasks, return_exceptions=True)
        out: list[RemoteOutcome | RemoteError] = []
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, RemoteError):
                raise result
            out.append(result)
        return out

    return run_interruptibly(all_jobs())


async def _bounded(target: Target, job: RemoteJob, timeout_s: float) -> RemoteOutcome:
    asyncssh = require_asyncssh()  # the install hint, where the runtime-only install has no asyncssh

    try:
        return await asyncio.wait_for(_run(target, job), timeout_s)
    except (asyncssh.Error, ConnectionError) as exc:  # after connecting: the connection broke
        reason = getattr(exc, "reason", "") or str(exc) or type(exc).__name__
        raise RemoteError(
            f"lost the connection to {target.label} ({reason}); the device removes its temporary folder by itself."
        ) from None
    except asyncio.TimeoutError:
        raise RemoteTimeout(
            f"{target.label} did not finish within {timeout_s:g} s; its temporary folder is removed. "
            "Raise --timeout for a slow device or a long measurement."
        ) from None


async def _run(target: Target, job: RemoteJob) -> RemoteOutcome:
    connection = await connect(target)
    OPEN_CONNECTIONS.add(connection)
    try:
        python = recorded_python(target)  # the venv of `mlpack devices setup`, unless ?python= names one
        await _require_mlpack(connection, target, python)
        python = shlex.quote(python)
        process = await connection.create_process(f"{python} -m mlpack.bench.agent", encoding="utf-8")
        try:
            hello = await _read_message(process, target, "starting")
            await _upload(connection, target, Path(hello["workdir"]), job.uploads)
            request = {"args": list(job.args), "fetch": list(job.fetch)} | ({"entry": job.entry} if job.entry else {})
            process.stdin.write(json.dumps(request) + "\n")
            answer = await _read_message(process, target, "running mlpack")
        finally:
            process.stdin.write_eof() if not process.stdin.is_closing() else None
            process.close()
    finally:
        OPEN_CONNECTIONS.discard(connection)
        connection.close()
    return _outcome(target, hello, answer)


def _outcome(target: Target, hello: dict[str, Any], answer: dict[str, Any]) -> RemoteOutcome:
    code = int(answer["exit_code"])
    outcome = RemoteOutcome(
        target=target,
        exit_code=code,
        stdout=answer.get("stdout", ""),
        stderr=answer.get("stderr", ""),
        files={name: base64.b64decode(data) for name, data in answer.get("files", {}).items()},
        system=hello.get("system", {}),
    )
    if code == OUT_OF_MEMORY:
        raise RemoteError(
            f"{target.label} ran out of memory (mlpack was killed there): try a smaller batch size or model."
        )
    if "No space left on device" in outcome.stderr:
        raise RemoteError(f"{target.label} ran out of disk space: free some room in its temporary folder.")
    return outcome


async def _require_mlpack(connection: Any, target: Target, python: str) -> None:
    """The device's Python has the runtime-only mlpack, at this machine's minor version."""
    here = mlpack_version()
    install = f"mlpack devices setup {target.url()}"  # a venv there, installed offline: PEP 668-safe
    done = await connection.run(f"{shlex.quote(python)} -c {shlex.quote(_PROBE)}", check=False)
    if done.exit_status == 127:
        raise RemoteError(f"{target.label} has no '{python}': install Python 3.10 or later there, then run: {install}")
    try:
        found = json.loads(str(done.stdout).strip().splitlines()[-1])["mlpack"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise RemoteError(f"{target.label}: '{python}' did not run: {str(done.stderr).strip()[-200:]}") from None
    if found is None:
        raise RemoteError(f"mlpack is not installed on {target.label}; set it up from this machine with: {install}")
    if _minor(found) != _minor(here):
        raise RemoteError(
            f"{target.label} has mlpack {found} but this machine has {here}; results of another minor version "
            f"are not comparable: set it up again from this machine with: {install}"
        )


def _minor(version: str) -> str:
    return ".".join(version.split("+")[0].split(".")[:2])


async def _read_message(process: Any, target: Target, doing: str) -> dict[str, Any]:
    line = await process.stdout.readline()
    if not line:
        stderr = (await process.stderr.read()).strip()
        if "No space left on device" in stderr:
            raise RemoteError(f"{target.label} ran out of disk space: free some room in its temporary folder.")
        detail = stderr.splitlines()[-1] if stderr else "the connection was lost"
        raise RemoteError(f"{target.label} stopped while {doing}: {detail}")
    try:
        message = json.loads(line)
    except ValueError:
        raise RemoteError(f"{target.label} answered something that is not mlpack's: {line.strip()[:200]}") from None
    if not isinstance(message, dict):
        raise RemoteError(f"{target.label} answered something that is not mlpack's: {line.strip()[:200]}")
    return message


async def _upload(connection: Any, target: Target, workdir: Path, uploads: dict[str, Path]) -> None:
    if not uploads:
        return
    asyncssh = require_asyncssh()
    try:
        async with connection.start_sftp_client() as sftp:
            for name, local in uploads.items():
                await sftp.put(str(local), (workdir / name).as_posix())
    except (asyncssh.SFTPError, OSError) as exc:
        reason = getattr(exc, "reason", None) or str(exc)
        if "space" in reason.lower() or "quota" in reason.lower():
            raise RemoteError(f"{target.label} ran out of disk space while copying the model: {reason}") from None
        raise RemoteError(f"copying files to {target.label} failed: {reason}") from None
