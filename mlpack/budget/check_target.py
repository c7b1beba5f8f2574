"""``mlpack check --target``: the whole check run on a device, with its files copied there.

The device writes the same three reports a local check writes (JSON, Markdown, JUnit XML); they come
back with the result, so that CI gets them as from a local run.
"""

from __future__ import annotations

from pathlib import Path

from mlpack.budget.settings import CheckSettings
from mlpack.core.progress import Progress
from mlpack.remote.commands import RemoteResult, device_result, run_command
from mlpack.remote.jobs import DEFAULT_TIMEOUT_S

# The reports the device writes, by option: they are brought back with the result.
REPORTS = {"--json": "check.json", "--markdown": "check.md", "--junit": "check.xml"}


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
        settings: as ``check`` takes them; all but ``feeding`` are passed on (the check on the
            device runs without ``--state`` and ``--set``, as it always has).
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
    outcome = run_command(
        target,
        ["check", "model.onnx", *options, *reports],
        uploads={"model.onnx": Path(model)},
        files=files,
        fetch=tuple(REPORTS.values()),
        timeout_s=timeout_s,
        progress=progress,
    )
    return RemoteResult(outcome, device_result(outcome, REPORTS["--json"]))
