"""``mlpack tune``: the smallest or fastest artifact of a model that still meets its budgets.

Candidates (FP32 simplified, FP16, dynamic and static INT8 with each calibration method, per
channel or not, accuracy-aware static) are built, measured side by side (latency interleaved,
on the device profile), scored on the evaluation data, and checked against the budgets. The
best candidate that meets every budget, by the stated objective, is written out. The search is
time-boxed: when time runs out, what was built so far is measured and the best is still written.
"""

from __future__ import annotations

import multiprocessing
import shutil
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from mlpack.bench.settings import BenchSettings
from mlpack.budget.drift import DriftJudge
from mlpack.budget.spec import Budgets, load_budget_file, resolve
from mlpack.budget.verdicts import (
    point_latency_verdicts,
    quality_verdicts,
    resource_figures,
    resource_verdicts,
    size_verdicts,
)
from mlpack.core.devices import DeviceProfile, device_record, resolve_device
from mlpack.core.fidelity import Tolerance
from mlpack.core.fileio import atomic_path
from mlpack.core.metrics import evaluate
from mlpack.core.onnxio import load_model, model_size_bytes
from mlpack.core.progress import Progress
from mlpack.core.signature import signature_of
from mlpack.core.sysinfo import int8_acceleration
from mlpack.core.validate import check_output
from mlpack.data.feeds import FeedOptions, model_dataset
from mlpack.data.runner import predict
from mlpack.errors import BadInputError, ExitCode, MlpackError
from mlpack.pipeline.candidates import Candidate, choose, mark_front
from mlpack.pipeline.tune_candidates import CandidateSpec, candidate_specs
from mlpack.pipeline.tune_measure import Timed, TimedOn, time_models
from mlpack.pipeline.tune_settings import Objective, TuneSettings
from mlpack.quant.calibration import inspect_calibration
from mlpack.quant.optimize import optimize
from mlpack.quant.settings import QuantMode
from mlpack.quant.timing import Timer
from mlpack.remote.jobs import DEFAULT_TIMEOUT_S

SCHEMA = "mlpack.tune/1"
BUILD_SHARE = 0.7  # of --max-time for building; the rest measures what was built
# A candidate other than FP32 (quantised or FP16) counts as slower than FP32 beyond this p50
# ratio: closer than that is within what one interleaved run can tell apart on a shared machine.
SLOWER_THAN_FP32 = 1.05


@dataclass(frozen=True)
class TuneResult:
    created: str
    model: str
    objective: Objective
    budgets: Budgets
    device: dict[str, Any] | None
    candidates: tuple[Candidate, ...]
    chosen: str | None
    output: str | None
    int8_acceleration: str
    seconds: float
    timed_out: bool
    schema: str = SCHEMA
    inputs: dict[str, Any] = field(default_factory=dict)  # what latency was measured on, per candidate file
    measured_on: list[dict[str, Any]] = field(default_factory=list)  # the machines the candidates were timed on

    @property
    def ok(self) -> bool:
        """True when a candidate met every budget and was written out."""
        return self.chosen is not None

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.FAILED

    def to_dict(self) -> dict[str, Any]:
        fp32 = next((c.size_bytes for c in self.candidates if c.spec.name == "fp32"), None)
        return {
            "schema": self.schema,
            "created": self.created,
            "model": self.model,
            "objective": self.objective.value,
            "budgets": self.budgets.to_dict(),
            "device": self.device,
            "chosen": self.chosen,
            "output": self.output,
            "int8_acceleration": self.int8_acceleration,
            "seconds": self.seconds,
            "timed_out": self.timed_out,
            "ok": self.ok,
            "exit_code": int(self.exit_code),
            "candidates": [c.to_dict(fp32) for c in self.candidates],
            "inputs": self.inputs,
            "measured_on": self.measured_on,
        }


def tune(
    model: Path,
    output: Path,
    *,
    budgets: Path,
    data: Path,
    calibration: Path | None = None,
    device: str | None = None,
    devices_file: Path | None = None,
    settings: TuneSettings = TuneSettings(),
    progress: Progress | None = None,
    drift_reference: Path | None = None,
    targets: Sequence[str] = (),
    timeout_s: float = DEFAULT_TIMEOUT_S,
) -> TuneResult:
    """Build candidates, measure and score them, and write the best one that meets every budget.

    No candidate within the budgets is a result (``ok`` False, ``exit_code`` 1, nothing written),
    not an exception; bad input raises an ``MlpackError``.

    Args:
        model: the FP32 ONNX model to tune; it is also the reference for accuracy drops.
        output: where to write the chosen candidate (written atomically, only if one is chosen).
        budgets: the budget file (TOML); ``max_slowdown`` is refused here (it needs ``check``).
        data: evaluation data (.npz: inputs, ``labels``, optional ``slices``) to score candidates.
        calibration: calibration data (.npz) for static INT8; None leaves static INT8 out.
        device: a device profile whose budget overrides, threads and CPU set apply; None measures
            on this machine as is.
        devices_file: extra ``[device.NAME]`` profiles (TOML), after the budget file's own.
        settings: the objective, the time box (building stops at BUILD_SHARE of it), how candidates
            are measured, calibrated and fed (see :class:`mlpack.pipeline.tune_settings.TuneSettings`).
        progress: called with (what, fraction done); None is silent.
        drift_reference: a package packed with ``--data`` (or its statistics file) that ``data``
            and each candidate's outputs on it are tested against, for the drift budgets.
        targets: devices to time the candidates on (and auto's decisions), ranked by the slowest;
            none: the profile's ``target``, else this host.
        timeout_s: per device job: give up after this many seconds.
    """
    report = progress or _silent
    feeding, max_time_s = settings.feeding, settings.max_time_s
    check_output(Path(output), option="-o", inputs=(model, budgets, data, calibration, devices_file, drift_reference))
    # Measured on the named devices or the profile's target, reached before the time box starts
    # (an unusable one is exit 2, never the host instead).
    on = TimedOn.resolve(targets, device=device, budget=Path(budgets), devices_file=devices_file, timeout_s=timeout_s)
    measured_on = [d.as_dict() for d in on.devices()]
    started = time.perf_counter()
    budget_file = load_budget_file(budgets)
    profile = resolve_device(device, budget_file.devices, devices_file)
    resolved = resolve(budget_file, device)
    # What outputs mean: the budget file's threshold table, then --threshold; judged as check judges.
    rules = Tolerance().with_rules(resolved.threshold).with_rules(settings.thresholds).outputs
    settings = replace(settings, thresholds=rules)
    dataset = _load_data(model, data, calibration, resolved, feeding)
    drift_judge = DriftJudge.for_budgets(resolved, drift_reference, data=Path(data), feeding=feeding)
    candidates = [
        Candidate(_calibrated(spec, settings.calibration_batch, settings.calibration_memory))
        for spec in candidate_specs(calibration, resolved)
    ]
    with tempfile.TemporaryDirectory(prefix="mlpack-tune-") as workdir:
        build_until = started + max_time_s * BUILD_SHARE
        timed_out = _build_in_time(
            candidates, model, Path(workdir), data, resolved, build_until, max_time_s, report, settings, on
        )
        built = [c for c in candidates if c.status == "built"]
        inputs: dict[str, Any] = {}
        if built:
            report("scoring on the evaluation data", BUILD_SHARE)
            _score(built, Path(model), dataset, resolved, settings, drift_judge)
            timed = _time_built(built, data, resolved, settings, on, profile, report)
            inputs, measured_on = timed.inputs, [d.as_dict() for d in timed.measured_on]
            mark_front(built)
        chosen = choose(built, settings.objective)
        if chosen is not None:
            _write_chosen(chosen, Path(output))
    report("done", 1.0)
    return TuneResult(
        created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
        model=str(model),
        objective=settings.objective,
        budgets=resolved,
        device=device_record(profile),
        candidates=tuple(candidates),
        chosen=chosen.spec.name if chosen else None,
        output=str(output) if chosen else None,
        int8_acceleration=int8_acceleration(),
        seconds=time.perf_counter() - started,
        timed_out=timed_out,
        inputs=inputs,
        measured_on=measured_on,
    )


def _time_built(
    built: list[Candidate],
    data: Path,
    resolved: Budgets,
    settings: TuneSettings,
    on: TimedOn,
    profile: DeviceProfile | None,
    report: Progress,
) -> Timed:
    """Every built candidate's latency, interleaved, here or on the devices (the slowest decides)."""
    where = f" on {', '.join(on.targets)}" if on.targets else ""
    report(f"measuring latency, interleaved{where}", BUILD_SHARE + 0.1)
    bench = BenchSettings(
        runs=settings.runs, duration_s=settings.duration_s, warmup=5, feeding=settings.feeding, data=data
    )
    return _measure(built, bench, resolved, on, profile)


def _calibrated(spec: CandidateSpec, batch: int, memory: int) -> CandidateSpec:
    """``spec`` calibrating at the user's batch and memory (other modes ignore both)."""
    settings = replace(spec.settings, calibration_batch=batch, calibration_memory=memory)
    return replace(spec, settings=settings)


def _silent(what: str, done: float) -> None:
    pass


def _load_data(model: Path, data: Path, calibration: Path | None, budgets: Budgets, feeding: FeedOptions) -> Any:
    """The evaluation dataset, after checking that the data and budgets can tune this model."""
    specs_in = signature_of(load_model(model)).inputs
    dataset = model_dataset(data, specs_in, options=feeding, need_labels=budgets.needs_labels)
    if budgets.max_slice_gap is not None and dataset.slices is None:
        raise BadInputError(f"max_slice_gap needs a 'slices' array in {data}.")
    if calibration is not None:
        inspect_calibration(calibration, specs_in)
    if budgets.max_slowdown is not None:
        raise BadInputError(
            "tune compares candidates with the FP32 model; max_slowdown needs mlpack check "
            "--baseline instead. Remove it from the budgets used for tuning."
        )
    return dataset


def _build_in_time(
    candidates: list[Candidate],
    model: Path,
    workdir: Path,
    data: Path,
    budgets: Budgets,
    build_until: float,
    max_time_s: float,
    report: Progress,
    settings: TuneSettings,
    on: TimedOn | None = None,
) -> bool:
    """Build candidates in order until the build share of the time box is spent; True if it was.

    The FP32 candidate is the simplified source; the others start from it, so the graph is
    simplified once (onnxsim takes tens of seconds on a BERT-size model). A candidate is not
    started when the builds so far say it would not finish within the build share.
    """
    timed_out = False
    source, simplify = model, True
    spent: list[float] = []
    for index, candidate in enumerate(candidates):
        expected = sum(spent) / len(spent) if spent else 0.0
        if time.perf_counter() + expected > build_until:
            timed_out = True
            candidate.status, candidate.reason = "skipped", f"time box (--max-time {max_time_s:g} s) ran out"
            continue
        report(f"building {candidate.spec.name}", index / len(candidates) * BUILD_SHARE)
        _build(candidate, source, workdir, data, budgets, settings, simplify=simplify, on=on)
        spent.append(candidate.build_seconds)
        if candidate.spec.quantize is QuantMode.NONE and candidate.status == "built" and candidate.path:
            source, simplify = candidate.path, False
    return timed_out


def _write_chosen(chosen: Candidate, output: Path) -> None:
    assert chosen.path is not None
    with atomic_path(output) as tmp:
        shutil.copyfile(chosen.path, tmp)


def _build(
    candidate: Candidate,
    model: Path,
    workdir: Path,
    data: Path,
    budgets: Budgets,
    settings: TuneSettings,
    *,
    simplify: bool = True,
    on: TimedOn | None = None,
) -> None:
    """Build one candidate in a fresh child process.

    Each build's memory goes back to the system when its process ends (in one long-lived process
    the heap left by a BERT-size build stays, and the next build starts from it), and a native
    crash in a quantiser fails that candidate instead of the whole search.
    """
    spec = candidate.spec
    target = workdir / f"{spec.name}.onnx"
    drop = budgets.max_accuracy_drop if spec.accuracy_aware else None
    began = time.perf_counter()
    try:
        with ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn")) as pool:
            # auto's speed decisions are measured where, and at the batch sizes, the candidates are judged
            timer, sizes = (
                (on.timer, on.batch_sizes) if on is not None and spec.quantize is QuantMode.AUTO else (None, (1,))
            )
            args = (model, target, spec, data, drop, settings, simplify, timer, sizes)
            kept = pool.submit(_optimize_candidate, *args).result()
    except MlpackError as exc:  # a candidate that cannot be built is reported, not fatal
        candidate.status, candidate.reason = "failed", str(exc)
        return
    except BrokenProcessPool:
        candidate.status, candidate.reason = "failed", "the process building it died (a native crash or out of memory)"
        return
    finally:
        candidate.build_seconds = time.perf_counter() - began
    candidate.status, candidate.path, candidate.size_bytes = "built", target, model_size_bytes(target)
    candidate.kept_in_float = kept


def _optimize_candidate(
    model: Path,
    target: Path,
    spec: CandidateSpec,
    data: Path,
    max_drop: float | None,
    settings: TuneSettings,
    simplify: bool,
    timer: Timer | None = None,
    batch_sizes: tuple[int, ...] = (1,),
) -> int:
    """Runs in the child: optimise, and return how many nodes accuracy-aware quantisation kept in float."""
    result = optimize(
        model,
        target,
        simplify=simplify,
        quantize=spec.quantize,
        settings=spec.settings,
        data=data,
        max_accuracy_drop=max_drop,
        eval_data=data if max_drop is not None else None,
        feeding=settings.feeding,
        thresholds=settings.thresholds,
        timer=timer,
        batch_sizes=batch_sizes,
    )
    return len(result.accuracy.kept_in_float) if result.accuracy is not None else 0


def _score(
    built: list[Candidate],
    model: Path,
    dataset: Any,
    budgets: Budgets,
    settings: TuneSettings,
    drift_judge: DriftJudge | None = None,
) -> None:
    """Metrics on the evaluation data, with the given FP32 model as the reference for drops (its
    decisions judged as optimize and check judge them); drift budgets judged like the others."""
    feeding, fidelity = settings.feeding, Tolerance(outputs=settings.thresholds)
    names = [o.name for o in signature_of(load_model(model)).outputs]
    fp32_outputs = predict(model, dataset, options=feeding)
    for candidate in built:
        assert candidate.path is not None
        outputs = predict(candidate.path, dataset, options=feeding)  # every output, as check judges them
        quality = evaluate(
            outputs, dataset.labels, reference=fp32_outputs, slices=dataset.slices, names=names, tolerance=fidelity
        )
        candidate.metrics, candidate.slice_gap = quality.metrics, quality.slice_gap
        candidate.verdicts = size_verdicts(candidate.size_bytes or 0, budgets) + quality_verdicts(quality, budgets)
        if drift_judge is not None:
            candidate.verdicts += drift_judge.verdicts(candidate.path, budgets)


def _measure(
    built: list[Candidate], settings: BenchSettings, budgets: Budgets, on: TimedOn, profile: DeviceProfile | None
) -> Timed:
    """All candidates in one interleaved run, so their ratios to FP32 share the machine's state,
    on the evaluation data's samples (never on invented shapes): here, or on every target device,
    where the slowest device's figures count.

    Verdicts here are point estimates for ranking; run ``mlpack check`` on the chosen artifact
    for the confidence-interval verdict.
    """
    fp32 = next((i for i, c in enumerate(built) if c.spec.name == "fp32"), None)
    paths = [c.path for c in built if c.path]
    timed = time_models(
        paths, reference=fp32, settings=settings, profile=profile, targets=on.targets, timeout_s=on.timeout_s
    )
    for candidate, measured, ratio in zip(built, timed.measurements, timed.ratios, strict=True):
        lat = measured[0].latency_ms  # the slowest device's
        candidate.latency_ms = {"p50": lat.p50, "p95": lat.p95, "p99": lat.p99}
        if ratio is not None:
            candidate.latency_ratio = ratio
            not_fp32 = candidate.spec.quantize is not QuantMode.NONE
            candidate.slower_than_fp32 = not_fp32 and ratio > SLOWER_THAN_FP32
        candidate.verdicts += point_latency_verdicts(lat, budgets, "the interleaved run")
        candidate.verdicts += resource_verdicts(resource_figures(list(measured)), budgets)
    return timed
