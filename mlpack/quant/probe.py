"""Load and run a model once in a child process, so a native crash cannot take mlpack down.

onnxruntime can crash outright (SIGSEGV) on some transformed models, for example FP16 graphs
on the CPU provider (microsoft/onnxruntime#15494); no exception reaches Python then. Every
model that mlpack creates is probed this way before it is loaded in-process or written.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from pathlib import Path

from mlpack.errors import ModelLoadError

PROBE_TIMEOUT_S = 300


def probe_model(path: Path, *, what: str = "the model") -> None:
    """Raise ModelLoadError if onnxruntime dies or fails while loading and running ``path``."""
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "mlpack.quant.probe", str(path)],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise ModelLoadError(
            f"onnxruntime did not finish loading and running {what} within {PROBE_TIMEOUT_S} s."
        ) from exc
    if proc.returncode < 0:
        name = signal.Signals(-proc.returncode).name
        raise ModelLoadError(
            f"onnxruntime crashed ({name}) loading or running {what} on this CPU; "
            "this is an onnxruntime bug for this graph, try another optimisation mode."
        )
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise ModelLoadError(f"onnxruntime cannot run {what}: {lines[-1] if lines else 'unknown error'}")


def _main(path: str) -> None:
    """Load and run once on generated inputs; a model that only rejects those inputs is not a crash.

    Generated inputs cannot satisfy every model (a sample rate it checks, a length it needs): that
    is a Python exception, reported where the real inputs run, not a native crash to catch here.
    """
    from mlpack.core.onnxio import create_session, load_model, quiet_native_logs, run_session
    from mlpack.core.signature import signature_of
    from mlpack.data.feeds import model_feeds
    from mlpack.errors import InputSpecError

    quiet_native_logs()
    session = create_session(Path(path))
    try:
        feeds = model_feeds(Path(path), signature_of(load_model(Path(path), check=False))).first
    except InputSpecError:
        return  # inputs that cannot be generated (strings, sequences): the session loaded
    try:
        run_session(session, feeds)
    except InputSpecError:
        return


if __name__ == "__main__":
    try:
        _main(sys.argv[1])
    except Exception as exc:  # reported to the parent through stderr and the exit code
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)  # noqa: T201
        sys.exit(1)
