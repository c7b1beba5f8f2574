"""``mlpack check``, ``diff``, ``tune`` and ``drift``: the commands that gate a model in CI."""

from pathlib import Path
from typing import Annotated, Any

import typer

from mlpack.cli.common import (
    BudgetDevice,
    ChannelAxisOption,
    CiMarkdown,
    Confidence,
    DevicesFile,
    JsonOut,
    MaxRemeasure,
    ReferenceModel,
    SetOption,
    ShapeOption,
    StateOption,
    Target,
    ThresholdOption,
    Timeout,
    Wide,
    emit,
    exit_with,
    feeding,
    flags,
    handle_errors,
    json_option,
    progress,
    spinner,
    thresholds,
    write_ci_reports,
)
from mlpack.pipeline.objective import Objective

Budget = Annotated[Path, typer.Option("--budget", "-b", help="Budget file (TOML).")]
EvalData = Annotated[Path | None, typer.Option(help="Evaluation .npz: inputs, labels, optional slices.")]
Baseline = Annotated[Path | None, typer.Option(help="Previous model for max_slowdown, timed interleaved.")]
Warmup = Annotated[int, typer.Option(help="Untimed warm-up runs.")]
DriftReference = Annotated[
    Path | None,
    typer.Option(help="Package packed with --data (or its stats/data.json) for max_input/output_drift."),
]
Calibration = Annotated[
    Path | None, typer.Option(help="Calibration .npz or ONNX test-data directory (enables static INT8).")
]
CalibrationBatch = Annotated[int, typer.Option(help="Static: samples per calibration batch, at most.")]
CalibrationMemory = Annotated[
    str, typer.Option(help="Static: activation memory calibration may hold (caps the batch), e.g. 1GB, 512MB.")
]
ObjectiveOption = Annotated[Objective, typer.Option(help="What 'best' means among candidates that fit.")]
TuneJson = Annotated[str | None, json_option("every candidate's figures")]
TuneTargets = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        help="Time the candidates (and auto's decisions) on this device: ssh://[user@]host[:port] or an SSH "
        "alias; repeat for a fleet, ranked by its slowest device (default: the --device profile's target).",
    ),
]
Alpha = Annotated[float, typer.Option(help="False-alarm rate over all features together (Holm-adjusted tests).")]
PsiFloor = Annotated[
    float | None, typer.Option(help="Also require PSI >= this for a numeric feature to count as drifted.")
]
JsFloor = Annotated[
    float | None, typer.Option(help="Also require JS distance >= this for a categorical feature to count.")
]


@handle_errors
def check(
    model: Annotated[Path, typer.Argument(help="The ONNX model to check.")],
    budget: Budget,
    device: BudgetDevice = None,
    devices_file: DevicesFile = None,
    reference: ReferenceModel = None,
    baseline: Baseline = None,
    data: EvalData = None,
    runs: Annotated[int, typer.Option(help="Minimum timed runs per measuring process (3 per round).")] = 100,
    duration: Annotated[float, typer.Option(help="Minimum timed seconds per measuring process.")] = 1.0,
    warmup: Warmup = 10,
    confidence: Confidence = 0.95,
    max_remeasure: MaxRemeasure = 2,
    json_out: JsonOut = None,
    markdown: CiMarkdown = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML, one test case per budget.")] = None,
    state: StateOption = None,
    set_values: SetOption = None,
    shapes: ShapeOption = None,
    drift_reference: DriftReference = None,
    target: Target = None,
    timeout: Timeout = 600.0,
    threshold: ThresholdOption = None,
) -> None:
    """Check a model against device budgets. Exit 0 pass, 1 broken, 3 inconclusive."""
    from mlpack.budget.check import check as run_check
    from mlpack.budget.check_target import check_on_target
    from mlpack.budget.settings import CheckSettings
    from mlpack.core.validate import check_reports
    from mlpack.remote.targets import profile_target
    from mlpack.report.junit import check_junit
    from mlpack.report.markdown import check_markdown

    settings = CheckSettings(
        runs=runs,
        duration_s=duration,
        warmup=warmup,
        confidence=confidence,
        max_remeasure=max_remeasure,
        feeding=feeding(state, set_values, shapes),
        thresholds=thresholds(threshold),
    )
    reads = (model, budget, reference, baseline, data, devices_file, drift_reference)
    check_reports({"--json": json_out, "--markdown": markdown, "--junit": junit}, inputs=reads, summary=True)
    given: dict[str, Any] = {"budgets": budget, "device": device, "devices_file": devices_file, "data": data}
    given |= {"reference": reference, "baseline": baseline, "drift_reference": drift_reference, "settings": settings}
    target = target or profile_target(device, budget=budget, devices_file=devices_file)
    if target:  # the whole check runs on the device, with its files copied there
        with spinner() as update:
            remote = check_on_target(target, model, **given, timeout_s=timeout, progress=update)
        write_ci_reports(remote.text("check.md"), markdown=markdown, junit=junit, junit_xml=remote.text("check.xml"))
        emit(remote, json_out)
        return exit_with(remote)
    with progress() as update:
        result = run_check(model, **given, progress=update)
    write_ci_reports(check_markdown(result), markdown=markdown, junit=junit, junit_xml=check_junit(result))
    emit(result, json_out)
    exit_with(result)


@handle_errors
def diff(
    before: Annotated[Path, typer.Argument(help="The base branch's model (ONNX).")],
    after: Annotated[Path, typer.Argument(help="The pull request's model (ONNX).")],
    budget: Annotated[Path, typer.Option("--budget", "-b", help="Budget file (TOML) both are checked against.")],
    device: BudgetDevice = None,
    devices_file: DevicesFile = None,
    reference: Annotated[
        Path | None, typer.Option("--reference", help="Reference for accuracy drop and agreement (default: BEFORE).")
    ] = None,
    data: EvalData = None,
    drift_reference: DriftReference = None,
    runs: Annotated[int, typer.Option(help="Minimum timed runs per measuring process.")] = 100,
    duration: Annotated[float, typer.Option(help="Minimum timed seconds per measuring process.")] = 1.0,
    confidence: Confidence = 0.95,
    max_remeasure: MaxRemeasure = 2,
    json_out: JsonOut = None,
    markdown: Annotated[Path | None, typer.Option(help="Write the PR comment (Markdown).")] = None,
    target: Target = None,
    timeout: Timeout = 600.0,
    threshold: ThresholdOption = None,
) -> None:
    """PR before/after: size, latency ratio (interleaved), accuracy and every budget, base vs pull request.
    Exit 0 the pull request's budgets hold, 1 one broke, 3 inconclusive."""
    from mlpack.budget.diff import before_after
    from mlpack.budget.settings import CheckSettings
    from mlpack.core.fileio import write_text_atomic
    from mlpack.core.validate import check_reports
    from mlpack.remote.targets import profile_target
    from mlpack.report.diff import before_after_markdown

    settings = CheckSettings(
        runs=runs,
        duration_s=duration,
        confidence=confidence,
        max_remeasure=max_remeasure,
        thresholds=thresholds(threshold),
    )
    reads = (before, after, budget, reference, data, drift_reference)
    check_reports({"--json": json_out, "--markdown": markdown}, inputs=reads)
    given: dict[str, Any] = {"device": device, "devices_file": devices_file, "reference": reference, "data": data}
    given["drift_reference"] = drift_reference
    target = target or profile_target(device, budget=budget, devices_file=devices_file)
    if target:  # both timed and checked on the device; an unreachable one is exit 2, never the host
        return _diff_on_target(target, before, after, budget, given, settings, timeout, json_out, markdown)
    with progress() as update:
        result = before_after(before, after, budgets=budget, **given, settings=settings, progress=update)
    if markdown:
        write_text_atomic(markdown, before_after_markdown(result))
    emit(result, json_out)
    exit_with(result)


def _diff_on_target(
    target: str,
    before: Path,
    after: Path,
    budget: Path,
    given: dict[str, Any],
    settings: Any,
    timeout: float,
    json_out: str | None,
    markdown: Path | None,
) -> None:
    from mlpack.budget.check_target import diff_on_target
    from mlpack.core.fileio import write_text_atomic

    with spinner() as update:
        remote = diff_on_target(
            target, before, after, budgets=budget, **given, settings=settings, timeout_s=timeout, progress=update
        )
    if markdown:
        write_text_atomic(markdown, remote.text("diff.md"))
    emit(remote, json_out)
    exit_with(remote)


@handle_errors
def tune(
    model: Annotated[Path, typer.Argument(help="The FP32 ONNX model to tune.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the chosen candidate.")],
    budget: Budget,
    data: Annotated[Path, typer.Option(help="Evaluation .npz: inputs, labels, optional slices.")],
    calibration: Calibration = None,
    calibration_batch: CalibrationBatch = 32,
    calibration_memory: CalibrationMemory = "1GB",
    device: BudgetDevice = None,
    devices_file: DevicesFile = None,
    objective: ObjectiveOption = Objective.LATENCY,
    max_time: Annotated[float, typer.Option(help="Time box for the whole search, in seconds.")] = 300.0,
    runs: Annotated[int, typer.Option(help="Minimum timed runs per candidate.")] = 50,
    duration: Annotated[float, typer.Option(help="Minimum timed seconds per candidate.")] = 0.5,
    json_out: TuneJson = None,
    state: StateOption = None,
    set_values: SetOption = None,
    shapes: ShapeOption = None,
    drift_reference: DriftReference = None,
    threshold: ThresholdOption = None,
    wide: Wide = False,
    target: TuneTargets = None,
    timeout: Timeout = 600.0,
) -> None:
    """Build candidates, measure them, and keep the best that meets every budget. Exit 1 if none does."""
    from mlpack.core.validate import check_reports
    from mlpack.pipeline.tune import tune as run_tune
    from mlpack.pipeline.tune_settings import TuneSettings
    from mlpack.quant.ranges import parse_memory

    memory = parse_memory(calibration_memory)
    flags.wide = wide
    settings = TuneSettings(
        objective=objective,
        max_time_s=max_time,
        runs=runs,
        duration_s=duration,
        calibration_batch=calibration_batch,
        calibration_memory=memory,
        feeding=feeding(state, set_values, shapes),
        thresholds=thresholds(threshold),
    )
    check_reports({"--json": json_out}, inputs=(model, budget, data, calibration, devices_file, drift_reference))
    with progress() as update:
        result = run_tune(
            model,
            output,
            budgets=budget,
            data=data,
            calibration=calibration,
            device=device,
            devices_file=devices_file,
            settings=settings,
            progress=update,
            drift_reference=drift_reference,
            targets=target or (),
            timeout_s=timeout,
        )
    emit(result, json_out)
    exit_with(result)


@handle_errors
def drift(
    package: Annotated[Path, typer.Argument(help="An .mlpack packed with --data.")],
    data: Annotated[Path, typer.Option(help="The new data (.npz, one array per input; no labels needed).")],
    alpha: Alpha = 0.05,
    psi: PsiFloor = None,
    js: JsFloor = None,
    channel_axis: ChannelAxisOption = None,
    batch_size: Annotated[int, typer.Option(help="Samples per block read and per inference call.")] = 256,
    json_out: JsonOut = None,
    markdown: CiMarkdown = None,
    junit: Annotated[Path | None, typer.Option(help="Write JUnit XML, one test case per feature.")] = None,
) -> None:
    """Has new data moved from the data the package was validated on? Exit 0 no, 1 drifted, 2 bad input."""
    from mlpack.budget.drift import DriftThresholds
    from mlpack.budget.drift import drift as run_drift
    from mlpack.core.validate import check_reports
    from mlpack.report.junit import drift_junit
    from mlpack.report.markdown import drift_markdown

    check_reports({"--json": json_out, "--markdown": markdown, "--junit": junit}, inputs=(package, data), summary=True)
    from mlpack.data.views import parse_channel_axes

    thresholds = DriftThresholds(alpha=alpha, psi=psi, js=js)
    axes = parse_channel_axes(channel_axis or [])
    with spinner(f"comparing {data.name} with the statistics recorded in {package.name}"):
        result = run_drift(package, data=data, thresholds=thresholds, batch_size=batch_size, channel_axes=axes)
    write_ci_reports(drift_markdown(result), markdown=markdown, junit=junit, junit_xml=drift_junit(result))
    emit(result, json_out)
    exit_with(result)
