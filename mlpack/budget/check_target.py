"""``mlpack check`` and ``mlpack diff`` on a device: the whole command run there, its files copied.

The device writes the same reports a local run writes (JSON, Markdown, JUnit XML); they come back
with the result, so that CI gets them as from a local run.
"""

from __future__ import annotations

import re
from pathlib import Path

from mlpack.budget.settings import CheckSettings
from mlpack.core.progress import Progress
from mlpack.remote.commands import RemoteResult, device_result, run_command
from mlpack.remote.jobs import DEFAULT_TIMEOUT_S

# The reports the device writes, by option: they are brought back with the result.
REPORTS = {"--json": "check.json", "--markdown": "check.md", "--junit": "check.xml"}
DIFF_REPORTS = {"--json": "diff.json", "--markdown": "diff.md"}
# Names the copied option files and reports take in the device's folder: a model may not take one.
_TAKEN = {"budget", "reference", "baseline", "data", "devices", "drift-reference", "check", "diff"}


def upload_name(model: Path, fallback: str) -> str:
    """The model's own file name on the device (so that its tables name it), where that is a plain
    ``NAME.onnx`` no copied file or report takes; ``fallback`` otherwise."""
    name = Path(model).name
    plain = re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*\.onnx", name) is not None
    return name if plain and Path(name).stem not in _TAKEN else fallback


def check_on_target(
    target: str,
    model: Path,
    *,
    budgets: Path,
    device: str | None = None,
    devices_file: Path | None = None,
    reference: Path | None = None,
    baseline: Path | None = None,
    data: Path | None = None,
    drift_reference: Path | None = None,
    settings: CheckSettings = CheckSettings(),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
) -> RemoteResult:
    """Check ``model`` against the budgets on a device: :func:`mlpack.budget.check.check` run there.

    The result is the device's check JSON; ``text("check.md")`` and ``text("check.xml")`` are its
    Markdown and JUnit reports. A broken budget is a result (exit code 1 or 3), not an exception.

    Args:
        target: the device: ``ssh://[user@]host[:port]`` or an SSH host alias.
        model, budgets, device, devices_file, reference, baseline, data, drift_reference: as
            :func:`mlpack.budget.check.check` takes them; the files are copied to the device.
        settings: as ``check`` takes them, all passed on: ``feeding``'s ``--state`` and ``--set``
            too, so that a stream is checked as a stream on the device.
        timeout_s: give up (and have the device remove its folder) after this many seconds.
        progress: told what is happening; None is silent.

    Raises:
        RemoteError: the device cannot be used, or it refused the input (exit 2).
        InternalError: mlpack failed on the device (exit 4).
    """
    options = [*settings.to_args(), *(["--device", device] if device else [])]
    files = {"--budget": budgets, "--reference": reference, "--baseline": baseline, "--data": data}
    files |= {"--devices": devices_file, "--drift-reference": drift_reference}
    reports = [item for option, name in REPORTS.items() for item in (option, name)]
    name = upload_name(model, "model.onnx")
    outcome = run_command(
        target,
        ["check", name, *options, *reports],
        uploads={name: Path(model)},
        files=files,
        fetch=tuple(REPORTS.values()),
        timeout_s=timeout_s,
        progress=progress,
    )
    return RemoteResult(outcome, device_result(outcome, REPORTS["--json"]) | {"model": str(model)})


def diff_on_target(
    target: str,
    before: Path,
    after: Path,
    *,
    budgets: Path,
    device: str | None = None,
    devices_file: Path | None = None,
    reference: Path | None = None,
    data: Path | None = None,
    drift_reference: Path | None = None,
    settings: CheckSettings = CheckSettings(),
    timeout_s: float = DEFAULT_TIMEOUT_S,
    progress: Progress | None = None,
) -> RemoteResult:
    """``mlpack diff`` on a device: both models timed interleaved and checked there.

    The result is the device's diff JSON; ``text("diff.md")`` is its PR comment. Arguments as
    :func:`mlpack.budget.diff.before_after` takes them; of ``settings``, the runs, duration,
    confidence and re-measurements are passed on (``diff`` has no warm-up or feeding options).

    Raises:
        RemoteError: the device cannot be used, or it refused the input (exit 2).
        InternalError: mlpack failed on the device (exit 4).
    """
    names = ["before.onnx", "after.onnx"]
    if Path(before).name != Path(after).name:
        names = [upload_name(before, names[0]), upload_name(after, names[1])]
        names = names if names[0] != names[1] else ["before.onnx", "after.onnx"]
    options = ["--runs", str(settings.runs), "--duration", repr(settings.duration_s)]
    options += ["--confidence", repr(settings.confidence), "--max-remeasure", str(settings.max_remeasure)]
    options += ["--device", device] if device else []
    reports = [item for option, name in DIFF_REPORTS.items() for item in (option, name)]
    outcome = run_command(
        target,
        ["diff", *names, *options, *reports],
        uploads={names[0]: Path(before), names[1]: Path(after)},
        files={"--budget": budgets, "--devices": devices_file, "--reference": reference, "--data": data}
        | {"--drift-reference": drift_reference},
        fetch=tuple(DIFF_REPORTS.values()),
        timeout_s=timeout_s,
        progress=progress,
    )
    return RemoteResult(outcome, device_result(outcome, DIFF_REPORTS["--json"]))
