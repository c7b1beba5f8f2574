"""``mlpack build``: the whole chain from one config file.

export (or take an ONNX file) -> optimise or tune -> check against budgets -> pack, all under one
output folder, with a summary report (JSON and Markdown). Each stage is keyed by the content
hashes of its inputs and its settings; a stage whose key and outputs are unchanged is reused, so
a second build with nothing changed only re-reads hashes. The config is parsed in
:mod:`mlpack.pipeline.config`, the cache lives in :mod:`mlpack.pipeline.cache`, the starter config
in :mod:`mlpack.pipeline.init`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from mlpack.artifact.optreport import optimization_summary
from mlpack.artifact.pack import pack
from mlpack.budget.check import check
from mlpack.budget.check_target import check_on_target
from mlpack.budget.settings import CheckSettings
from mlpack.core.fidelity import Tolerance
from mlpack.core.fileio import require_file, write_text_atomic
from mlpack.core.jsonout import dumps
from mlpack.core.onnxio import load_model
from mlpack.core.progress import Progress
from mlpack.core.signature import signature_of
from mlpack.core.validate import check_folder
from mlpack.data.collect import MIN_SAMPLES
from mlpack.data.npzstream import count_samples
from mlpack.errors import BudgetError, ExitCode, InputSpecError, InternalError, MlpackError
from mlpack.exporter.export import export
from mlpack.pipeline.cache import StageCache
from mlpack.pipeline.config import TUNE, BuildConfig, CheckConfig, load_build_config
from mlpack.pipeline.decide_on import DecideOn, decide_on
from mlpack.pipeline.summary import BuildResult, StageReport, build_markdown
from mlpack.pipeline.tune import tune
from mlpack.pipeline.tune_settings import TuneSettings
from mlpack.quant.modes import default_tolerance
from mlpack.quant.optimize import optimize
from mlpack.quant.settings import QuantizeSettings, QuantMode
from mlpack.remote.targets import profile_target
from mlpack.report.markdown import check_markdown


@dataclass
class _Run:
    """One build on its way through the stages: where each stage writes, and what it hands on."""

    config: BuildConfig
    out: Path
    cache: StageCache
    optimization: dict[str, Any] | None = None  # the optimize stage's summary, recorded in the package

    @property
    def fp32(self) -> Path:
        return self.out / "model.onnx"

    @property
    def model(self) -> Path:
        return self.out / "model.opt.onnx"

    @property
    def check_report(self) -> Path | None:
        return self.out / "check.json" if self.config.check else None

    @property
    def package(self) -> Path:
        model = self.config.model
        return self.out / f"{model.package_name}-{model.version}.mlpack"


def build(
    config_path: Path, *, out: Path = Path("dist"), force: bool = False, progress: Progress | None = None
) -> BuildResult:
    """Run every stage, reusing the ones that are up to date; stop at the first failure.

    A failing stage does not raise: the result says where the build stopped, with ``ok`` False and
    the exit code CI acts on, and ``build.json``/``build.md`` are written either way.

    Args:
        config_path: the ``mlpack.toml`` to build from.
        out: the folder every output and report is written to (created if missing).
        force: rebuild every stage, even those whose inputs and settings are unchanged.
        progress: called with ``(stage, fraction done)`` as the build moves on.

    Raises:
        ConfigError: the config file is missing or malformed (nothing is built).
    """
    started = time.perf_counter()
    report = progress or (lambda what, done: None)
    config = load_build_config(require_file(Path(config_path), "build config"))
    out = check_folder(Path(out), option="-o/--output", make_parents=True)
    out.mkdir(parents=True, exist_ok=True)
    run = _Run(config, out, StageCache(out, force=force))
    stages, exit_code, message = _run_stages(run, report)
    package = run.package if exit_code == ExitCode.OK else None
    result = BuildResult(
        Path(config_path),
        out,
        tuple(stages),
        package,
        exit_code,
        time.perf_counter() - started,
        message if exit_code else f"built {package}",
    )
    write_text_atomic(out / "build.json", dumps(result.to_dict()) + "\n")
    write_text_atomic(out / "build.md", build_markdown(result))
    report("done", 1.0)
    return result


def _run_stages(run: _Run, report: Progress) -> tuple[list[StageReport], ExitCode, str]:
    """The stages in order, up to the first that fails; with the exit code and message for the result."""
    stages: list[StageReport] = []
    for index, (name, stage) in enumerate(_STAGES):
        report(name, index / len(_STAGES))
        began = time.perf_counter()
        try:
            stage_report = stage(run)
        except MlpackError as exc:
            stages.append(StageReport(name, "failed", time.perf_counter() - began, error=str(exc)))
            return stages, exc.exit_code, f"build stopped at the {name} stage: {exc}"
        stage_report.seconds = time.perf_counter() - began
        stages.append(stage_report)
        if stage_report.status == "failed":
            exit_code = ExitCode(stage_report.summary.get("exit_code", ExitCode.FAILED))
            return stages, exit_code, f"build stopped at the {name} stage: {stage_report.error}"
    return stages, ExitCode.OK, "built"


def _stage(
    run: _Run,
    stage: str,
    settings: dict[str, Any],
    files: list[Path],
    outputs: list[Path],
    produce: Callable[[], dict[str, Any]],
) -> StageReport:
    """Reuse ``stage`` when its key and outputs are unchanged; otherwise ``produce`` it and remember it."""
    key = run.cache.key(stage, settings, files)
    summary = run.cache.fresh(stage, key)
    if summary is not None:
        return StageReport(stage, "up to date", outputs=[str(p) for p in outputs], summary=summary)
    summary = produce()
    run.cache.store(stage, key, outputs, summary)
    return StageReport(stage, "built", outputs=[str(p) for p in outputs], summary=summary)


def _present(*paths: Path | None) -> list[Path]:
    return [path for path in paths if path is not None]


def _export(run: _Run) -> StageReport:
    model = run.config.model
    files = [*model.source.defining_files(), *_present(model.weights, model.example_inputs)]

    def produce() -> dict[str, Any]:
        result = export(
            str(model.source),
            run.fp32,
            inputs=model.inputs,
            example_inputs=model.example_inputs,
            weights=model.weights,
            opset=model.opset,
            trust_pickle=model.trust_pickle,
        )
        return {
            "exporter": result.exporter,
            "size_bytes": result.size_bytes,
            "opset": result.opset,
            "max_abs_error": max((c.max_abs_error for c in result.checks), default=0.0),
        }

    # State pairs and set values do not change the exported file, so they stay out of its key.
    key = {name: value for name, value in asdict(model).items() if name != "feeding"}
    report = _stage(run, "export", key, files, [run.fp32], produce)
    _check_feeding(run)
    return report


def _check_feeding(run: _Run) -> None:
    """[model] state and set against the exported model: a wrong name stops the build here, not
    in a later stage under the command line's option names."""
    feeding = run.config.model.feeding
    if not feeding.state and not feeding.values:
        return
    try:
        feeding.check(signature_of(load_model(run.fp32)))
    except InputSpecError as exc:
        said = exc.message.replace("--state ", "state ").replace("--set ", "set ")
        raise InputSpecError(f"{run.config.path}: [model] {said}") from exc


def _optimize(run: _Run) -> StageReport:
    settings = run.config.optimize
    files = [run.fp32, *_present(settings.calibration, settings.eval_data, settings.data)]
    key: dict[str, Any] = asdict(settings) | _feeding_key(run)
    if settings.tune:
        # The candidate tune chooses depends on the budgets and the data it is measured on.
        check = _tune_check(run)
        files += _present(check.budgets, check.data, check.drift_reference)
        key["check"] = asdict(check)
    checked = run.config.check
    device, budget = (checked.device, checked.budgets) if checked else (None, None)
    where = decide_on(settings.quantize, device=device, budget=budget)
    if where.timer is not None or where.batch_sizes != (1,):  # auto's choices depend on where and how it timed
        key["decided_on"] = {"targets": _targets_of(where.timer), "batch_sizes": list(where.batch_sizes)}
    produce = (lambda: _tune(run)) if settings.tune else (lambda: _quantize(run, where))
    report = _stage(run, "optimize", key, files, [run.model], produce)
    run.optimization = report.summary
    return report


def _feeding_key(run: _Run) -> dict[str, Any]:
    """State pairs and set values change what a stage measures; a build without them keeps its old keys."""
    feeding = run.config.model.feeding
    return {"feeding": feeding.to_dict()} if feeding.state or feeding.values else {}


def _targets_of(timer: Any) -> list[str]:
    """The devices a timer measures on, for the stage's key."""
    return [t.target.url() for t in getattr(timer, "timers", None) or ([timer] if timer is not None else [])]


def _quantize(run: _Run, where: DecideOn) -> dict[str, Any]:
    settings = run.config.optimize
    result = optimize(
        run.fp32,
        run.model,
        simplify=settings.simplify,
        quantize=settings.quantize,
        settings=QuantizeSettings(
            per_channel=settings.per_channel,
            calibration=settings.calibration,
            calibration_method=settings.calibration_method,
            calibration_memory=settings.calibration_memory,
            quant_format=settings.quant_format,
        ),
        data=settings.data,
        max_accuracy_drop=settings.max_accuracy_drop,
        eval_data=settings.eval_data,
        feeding=run.config.model.feeding,
        tolerance=_tolerance(settings.quantize, settings.min_agreement),
        thresholds=settings.threshold,
        timer=where.timer,
        batch_sizes=where.batch_sizes,
    )
    return optimization_summary(result.to_dict())  # the record pack --optimization writes too


def _tolerance(quantize: QuantMode, min_agreement: float | None) -> Tolerance | None:
    """The mode's own check, with the decision bar the config states (None: the mode's as is)."""
    if min_agreement is None:
        return None
    return replace(default_tolerance(quantize), min_agreement=min_agreement)


def _tune_check(run: _Run) -> CheckConfig:
    check = run.config.check
    if check is None:  # load_build_config refuses a tune without [check]
        raise InternalError(f'quantize = "{TUNE}" reached the build without a [check] section.')
    return check


def _tune(run: _Run) -> dict[str, Any]:
    settings, check = run.config.optimize, _tune_check(run)
    data = settings.data or check.data
    if data is None:  # load_build_config refuses a tune without data
        raise InternalError(f'quantize = "{TUNE}" reached the build without data to tune on.')
    result = tune(
        run.fp32,
        run.model,
        budgets=check.budgets,
        data=data,
        calibration=settings.calibration,
        device=check.device,
        settings=TuneSettings(
            objective=settings.objective,
            max_time_s=settings.max_time_s,
            calibration_memory=settings.calibration_memory,
            feeding=run.config.model.feeding,
            thresholds=settings.threshold,
        ),
        drift_reference=check.drift_reference,
    )
    if result.chosen is None:
        raise BudgetError("tune found no candidate that meets the budgets; see mlpack tune for the full table.")
    return {
        "quantize": TUNE,
        "chosen": result.chosen,
        "size_after": run.model.stat().st_size,
        "candidates": len(result.candidates),
    }


def _check(run: _Run) -> StageReport:
    settings, report_json = run.config.check, run.check_report
    if settings is None or report_json is None:
        return StageReport("check", "skipped", summary={"reason": "no [check] section"})
    report_md = report_json.with_suffix(".md")
    reference = run.fp32 if settings.reference else None
    files = [run.model, settings.budgets, *_present(settings.data, reference, settings.drift_reference)]
    key = asdict(settings) | _feeding_key(run)
    report = _stage(run, "check", key, files, [report_json, report_md], lambda: _measure(run, settings, reference))
    if report.summary.get("exit_code"):
        report.status, report.error = "failed", report.summary["summary"]
    return report


def _measure(run: _Run, settings: CheckConfig, reference: Path | None) -> dict[str, Any]:
    """Check the optimised model against the budgets and write check.json and check.md: on the
    device profile's target where it names one (an unreachable one fails the build, exit 2)."""
    given: dict[str, Any] = {"budgets": settings.budgets, "device": settings.device, "reference": reference}
    given |= {"data": settings.data, "drift_reference": settings.drift_reference}
    given["settings"] = CheckSettings(
        runs=settings.runs, duration_s=settings.duration_s, feeding=run.config.model.feeding
    )
    target = profile_target(settings.device, budget=settings.budgets)
    if target:
        remote = check_on_target(target, run.model, **given)
        result, markdown = remote.to_dict(), remote.text("check.md")
    else:
        local = check(run.model, **given)
        result, markdown = local.to_dict(), check_markdown(local)
    report_json = run.out / "check.json"
    write_text_atomic(report_json, dumps(result) + "\n")
    write_text_atomic(report_json.with_suffix(".md"), markdown)
    summary: dict[str, Any] = {"summary": result["summary"], "exit_code": int(result["exit_code"])}
    metrics = (result.get("quality") or {}).get("metrics", {})
    for metric in ("accuracy", "reference_accuracy", "agreement"):
        if metric in metrics:
            summary[metric] = metrics[metric]
    return summary


def _pack(run: _Run) -> StageReport:
    settings, model = run.config.pack, run.config.model
    stats_data = _stats_data(run)
    files = [run.model, *_present(run.check_report, settings.golden_data, stats_data), *settings.include]
    key = asdict(settings) | {"name": model.package_name, "version": model.version, "stats_data": str(stats_data)}
    key |= _feeding_key(run)

    def produce() -> dict[str, Any]:
        result = pack(
            run.model,
            run.package,
            name=model.package_name,
            version=model.version,
            include=settings.include,
            preprocessing=dict(settings.preprocessing) if settings.preprocessing is not None else None,
            optimization=run.optimization,
            report=run.check_report,
            golden=settings.golden,
            golden_data=settings.golden_data,
            model_card=dict(settings.model_card) if settings.model_card is not None else None,
            data=stats_data,
            feeding=model.feeding,
        )
        summary: dict[str, Any] = {"size_bytes": result.size_bytes, "files": len(result.manifest.files)}
        if result.manifest.data_stats:
            summary["stats_samples"] = result.manifest.data_stats.samples
        return summary

    return _stage(run, "pack", key, files, [run.package], produce)


def _stats_data(run: _Run) -> Path | None:
    """The data whose statistics the package records for drift: [pack] data, else the check's data
    where it has enough samples for drift scores (a smaller check set still builds, without them)."""
    settings, check = run.config.pack, run.config.check
    if not settings.stats:
        return None
    if settings.data is not None or check is None or check.data is None:
        return settings.data
    if check.data.is_dir():
        # A test-data folder is calls as given, not independent samples to summarise.
        return None
    if run.config.model.feeding.state:
        # Statistics summarise independent samples; a stream's steps are not, so only [pack] data records them.
        return None
    return check.data if _samples(run.model, check.data) >= MIN_SAMPLES else None


def _samples(model: Path, data: Path) -> int:
    return count_samples(data, signature_of(load_model(model)).inputs)


_STAGES: tuple[tuple[str, Callable[[_Run], StageReport]], ...] = (
    ("export", _export),
    ("optimize", _optimize),
    ("check", _check),
    ("pack", _pack),
)
