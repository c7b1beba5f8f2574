"""The device's side of ``--target``: one process per job, speaking JSON lines over SSH.

Run on the device as ``python3 -m mlpack.bench.agent``. It makes a private temporary folder and
says where (``{"workdir": ..., "system": ...}``), waits while the host copies files into it,
reads one job (``{"args": [...], "fetch": [...]}``), runs ``mlpack ARGS`` there (or, with
``"entry"``, one of :data:`ENTRIES`), answers with the exit code, the output and the fetched files,
and removes the folder. The folder goes also when the
host goes away: the end of stdin (Ctrl-C on the host, a lost connection, a timeout) stops the
job at once, and SIGTERM/SIGHUP are turned into a normal exit so that ``finally`` runs.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

OUT_OF_MEMORY = 137  # what the host reads as "the device ran out of memory"
# Set for the job's mlpack: it runs on the device, so a profile's target must not be followed again.
ON_DEVICE_ENV = "MLPACK_ON_TARGET_DEVICE"
# Jobs that are not an mlpack command, by name -> the module the device's Python runs with -m.
ENTRIES = {"ratios": "mlpack.quant.timing_job"}  # interleaved p50 ratios, for decisions measured here


def device_system() -> dict[str, Any]:
    """What the results say about the device: CPU, cores, instruction sets, memory, OS, versions."""
    from mlpack.core.sysinfo import system_info, total_memory_mb

    return system_info() | {"memory_mb": total_memory_mb(), "on_device": True}


def mlpack_command(args: list[str]) -> list[str]:
    """How the agent starts the job's mlpack (a test replaces it with a process that has workers)."""
    return [sys.executable, "-m", "mlpack.cli", *args]


def job_command(args: list[str], entry: str | None) -> list[str]:
    """The job's process: mlpack ARGS, or the named entry's module with ARGS."""
    if entry is None:
        return mlpack_command(args)
    if entry not in ENTRIES:
        raise SystemExit(f"error: this mlpack has no job '{entry}'; set the device up again from the host")
    return [sys.executable, "-m", ENTRIES[entry], *args]


def _send(message: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


class _Job:
    """The running ``mlpack`` child; stopped as soon as the host's end of stdin closes."""

    def __init__(self) -> None:
        self.child: subprocess.Popen[bytes] | None = None
        self.abandoned = threading.Event()
        self.lock = threading.Lock()

    def watch_stdin(self) -> None:
        """Anything after the job line, or its end, means the host is gone."""
        sys.stdin.buffer.read()
        self.abandoned.set()
        with self.lock:
            self.stop()

    def stop(self) -> None:
        """Kill the child's whole process group: its measuring workers must not outlive the job."""
        if self.child is not None:
            try:
                os.killpg(self.child.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass

    def run(self, args: list[str], workdir: Path, entry: str | None = None) -> subprocess.CompletedProcess[bytes]:
        with self.lock:
            if self.abandoned.is_set():
                raise SystemExit(1)
            self.child = subprocess.Popen(
                job_command(args, entry),
                cwd=workdir,
                env={**os.environ, ON_DEVICE_ENV: "1"},
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                start_new_session=True,  # a group of its own, so that stop() reaches its workers
            )
        stdout, stderr = self.child.communicate()
        return subprocess.CompletedProcess(args, self.child.returncode, stdout, stderr)


def _stop(signum: int, frame: Any) -> None:
    raise SystemExit(128 + signum)


def main() -> int:
    """One job: make the folder, wait for the files and the job, run it, answer, remove the folder."""
    for signum in (signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, _stop)
    workdir = Path(tempfile.mkdtemp(prefix="mlpack-target-"))
    job = _Job()
    try:
        _send({"workdir": str(workdir), "system": device_system()})
        line = sys.stdin.readline()
        if not line:
            return 1
        request = json.loads(line)
        threading.Thread(target=job.watch_stdin, daemon=True).start()
        entry = request.get("entry")
        done = job.run([str(a) for a in request["args"]], workdir, str(entry) if entry is not None else None)
        if job.abandoned.is_set():
            return 1
        code = OUT_OF_MEMORY if done.returncode == -signal.SIGKILL else done.returncode
        files = {
            name: base64.b64encode((workdir / name).read_bytes()).decode("ascii")
            for name in request.get("fetch", [])
            if (workdir / name).is_file()
        }
        _send(
            {
                "exit_code": code,
                "stdout": done.stdout.decode("utf-8", "replace"),
                "stderr": done.stderr.decode("utf-8", "replace"),
                "files": files,
            }
        )
        return 0
    finally:
        with job.lock:
            job.stop()  # whatever the child left running, and the child itself on SIGTERM/SIGHUP
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
