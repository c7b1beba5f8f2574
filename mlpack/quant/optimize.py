"""optimize: simplify, then quantise, then prove the result still computes what the source did."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.batching import refuse_larger_batches
from mlpack.core.fidelity import Comparison, OutputRule, Tolerance
from mlpack.core.onnxio import load_model, model_size_bytes, save_model
from mlpack.core.signature import Signature, signature_of
from mlpack.core.validate import check_output
from mlpack.data.bounded import bounded_calls
from mlpack.data.feeds import BLOCK_SAMPLES, FeedOptions, Feeds, model_feeds
from mlpack.data.sources import open_source
from mlpack.errors import BadInputError, VerificationError
from mlpack.quant.accuracy import AccuracyAwareReport, AccuracyAwareStatic
from mlpack.quant.calibration import inspect_calibration, iter_batches
from mlpack.quant.convgroups import conv_groups
from mlpack.quant.heldout import split_pool
from mlpack.quant.lift import Normalise
from mlpack.quant.modes import QUANTIZERS, default_tolerance
from mlpack.quant.passes import ModelPass, PassContext, PassLog, Reference, run_passes
from mlpack.quant.settings import QuantizeSettings, QuantMode
from mlpack.quant.simplify import Simplify
from mlpack.quant.timers import DecisionTimer
from mlpack.quant.timing import LocalTimer, Timer

if TYPE_CHECKING:
    import onnx

VERIFY_BATCH = 8
# At most, from calibration data (in blocks): enough for a 95% lower bound to show 99% of the
# decisions kept, which 256 could not.
VERIFY_SAMPLES = 1024


@dataclass(frozen=True)
class OptimizeResult:
    source: Path
    output: Path
    quantize: QuantMode
    simplified: bool
    steps: tuple[str, ...]
    warnings: tuple[str, ...]
    size_before: int
    size_after: int
    comparison: Comparison
    verified_on: str  # what the outputs were compared on
    seconds: float
    accuracy: AccuracyAwareReport | None = None  # when quantised accuracy-aware
    tensors: tuple[dict[str, Any], ...] = ()  # per-tensor representation and why (auto)
    latency_ratio: float | None = None  # auto: p50 against FP32, measured interleaved at batch 1
    layers: tuple[dict[str, Any], ...] = ()  # per quantised tensor: its own cost, costliest first
    # Where the speed decisions were measured (machines, batch sizes, each timing); None if none was made.
    speed_decisions: dict[str, Any] | None = None
    nodes: tuple[dict[str, Any], ...] = ()  # auto: per convolution, INT8 or FP32 compute and why

    @property
    def size_ratio(self) -> float:
        return self.size_after / self.size_before if self.size_before else float("nan")

    def to_dict(self) -> dict[str, Any]:
        return {
            "source": str(self.source),
            "output": str(self.output),
            "quantize": self.quantize.value,
            "simplified": self.simplified,
            "steps": list(self.steps),
            "warnings": list(self.warnings),
            "size_before": self.size_before,
            "size_after": self.size_after,
            "size_ratio": self.size_ratio,
            "comparison": self.comparison.to_dict(),
            "verified_on": self.verified_on,
            "seconds": self.seconds,
            "accuracy_aware": self.accuracy.to_dict() if self.accuracy else None,
            "tensors": list(self.tensors),
            "latency_ratio": self.latency_ratio,
            "layers": list(self.layers),
            "speed_decisions": self.speed_decisions,
            "nodes": list(self.nodes),
        }


def optimize(
    source: Path,
    output: Path,
    *,
    simplify: bool = True,
    quantize: QuantMode = QuantMode.NONE,
    settings: QuantizeSettings = QuantizeSettings(),
    tolerance: Tolerance | None = None,
    data: Path | None = None,
    seed: int = 0,
    max_accuracy_drop: float | None = None,
    eval_data: Path | None = None,
    feeding: FeedOptions = FeedOptions(),
    thresholds: tuple[OutputRule, ...] = (),
    timer: Timer | None = None,
    batch_sizes: tuple[int, ...] = (1,),
) -> OptimizeResult:
    """Write a smaller/faster version of ``source`` to ``output``, or raise and write nothing.

    Args:
        source: the ONNX model to optimise.
        output: where to write the result (must differ from ``source``).
        simplify: simplify the graph with onnxsim first.
        quantize: the quantisation mode (``QuantMode``; ``auto`` chooses per tensor).
        settings: the quantisers' settings (per-channel, op types, calibration, block sizes...).
        tolerance: the fail-closed output check; default: the mode's own.
        data: an .npz of inputs to verify on; default: calibration samples for static INT8, else
            generated inputs.
        seed: the seed for generated inputs.
        max_accuracy_drop: static INT8 only: keep the most sensitive nodes in float until the
            accuracy drop on ``eval_data`` is within this.
        eval_data: the evaluation .npz for ``max_accuracy_drop``.
        feeding: state pairs (``data`` runs as a stream carrying them) and inputs given by value.
        thresholds: what outputs mean, per output (``--threshold NAME=VALUE``), over what is
            inferred from their values; decisions are judged accordingly.
        timer: where speed decisions (``auto``'s) are measured: this host by default, a device
            (``mlpack.remote.timer.RemoteTimer``) or several (``mlpack.quant.timers.FleetTimer``).
        batch_sizes: the batch sizes the model will run at: a speed decision holds only where it
            holds at every one of them.
    """
    started = time.perf_counter()
    source, output = Path(source), Path(output)
    _check_arguments(source, output, quantize, max_accuracy_drop, eval_data)
    check_output(output, option="-o", inputs=(source, data, settings.calibration, eval_data))
    decisions = _decision_timer(quantize, timer, batch_sizes)
    accuracy_aware = max_accuracy_drop is not None
    # With an accuracy budget, that budget is the fail-closed check; output drift is still reported.
    tolerance = tolerance or (Tolerance(atol=None, min_cosine=None) if accuracy_aware else default_tolerance(quantize))
    tolerance = tolerance.with_rules(thresholds)
    source_model = load_model(source)
    signature = signature_of(source_model)
    refuse_larger_batches(source.name, signature.inputs, batch_sizes)
    _refuse_requantising(source_model, quantize if max_accuracy_drop is None else QuantMode.STATIC)
    reference = _reference(source, signature, quantize, settings, data, seed, feeding)
    passes = _plan(simplify, quantize, max_accuracy_drop, eval_data)
    log = PassLog()
    convolutions = quantize is QuantMode.AUTO and bool(conv_groups(source_model))
    with tempfile.TemporaryDirectory(prefix="mlpack-opt-") as workdir:
        if convolutions:  # static INT8 for them: calibrate on one part of the real inputs, judge on the rest
            reference, settings = _held_out(source, signature, reference, settings, data, Path(workdir), log)
        context = PassContext(Path(workdir), settings, reference, tolerance, log, source, timer=decisions)
        final, comparison = _run_passes(source, passes, context)
        _save_with_metadata(final, output, source_model)
        del source_model
    accuracy = next((p.report for p in passes if isinstance(p, AccuracyAwareStatic)), None)
    return OptimizeResult(
        source=source,
        output=output,
        quantize=quantize,
        simplified=any(isinstance(p, Simplify) and p.applied for p in passes),
        steps=tuple(log.steps),
        warnings=tuple(log.warnings),
        size_before=model_size_bytes(source),
        size_after=model_size_bytes(output),
        comparison=comparison,
        verified_on=reference.label,
        seconds=time.perf_counter() - started,
        accuracy=accuracy,
        tensors=tuple(log.tensors),
        latency_ratio=log.latency_ratio,
        layers=tuple(log.layers),
        speed_decisions=decisions.record(),
        nodes=tuple(log.nodes),
    )


def _decision_timer(quantize: QuantMode, timer: Timer | None, batch_sizes: tuple[int, ...]) -> DecisionTimer:
    """Where and at what batch sizes auto's speed decisions are measured; only auto makes any."""
    if (timer is not None or tuple(batch_sizes) != (1,)) and quantize is not QuantMode.AUTO:
        raise BadInputError(
            f"--target and --batch-sizes say where and at what batch sizes --quantize auto measures its speed "
            f"decisions; --quantize {quantize.value} makes none. Use --quantize auto, or drop them."
        )
    decisions = DecisionTimer(timer or LocalTimer(), batch_sizes)
    if timer is not None:
        decisions.measured_on  # noqa: B018  (a device that cannot be used fails now, before any work for it)
    return decisions


def _run_passes(source: Path, passes: list[ModelPass], context: PassContext) -> tuple[Path, Comparison]:
    try:
        return run_passes(source, passes, context)
    except VerificationError as exc:
        if not getattr(context.reference, "generated", False):
            raise
        raise VerificationError(
            f"{exc.message} The inputs were generated: real ones may judge differently (pass --data).",
            hint=exc.hint,
        ) from exc


def _save_with_metadata(final: Path, output: Path, source_model: onnx.ModelProto) -> None:
    """The source's metadata (vocabularies, labels, versions applications read back), not the tools' notes."""
    written = load_model(final, check=False)
    del written.metadata_props[:]
    written.metadata_props.extend(source_model.metadata_props)
    save_model(written, output)


def _check_arguments(
    source: Path, output: Path, quantize: QuantMode, max_accuracy_drop: float | None, eval_data: Path | None
) -> None:
    if source.resolve() == output.resolve():
        raise BadInputError("the output must differ from the source model; pick another -o path.")
    if max_accuracy_drop is not None:
        if quantize is not QuantMode.STATIC:
            raise BadInputError("accuracy-aware quantisation (--max-accuracy-drop) works with --quantize static.")
        if eval_data is None:
            raise BadInputError("--max-accuracy-drop needs --eval val.npz to measure the drop on.")


# Ops of a model that is already quantised (QDQ, QOperator, dynamic or 4-bit): quantising it again
# would stack a second rounding on the first, so only the modes that shrink float weights left run.
_QUANTISED_OPS = frozenset(
    {"QuantizeLinear", "DequantizeLinear", "DynamicQuantizeLinear", "MatMulInteger", "ConvInteger", "MatMulNBits"}
)
_REQUANTISING = (QuantMode.DYNAMIC, QuantMode.STATIC, QuantMode.INT4, QuantMode.FP16)


def _refuse_requantising(model: Any, quantize: QuantMode) -> None:
    ops = {n.op_type for n in model.graph.node if n.op_type in _QUANTISED_OPS or n.op_type.startswith("QLinear")}
    if ops and quantize in _REQUANTISING:
        raise BadInputError(
            f"the model is already quantised ({', '.join(sorted(ops))}); --quantize {quantize.value} would quantise "
            "it twice. Use it as it is, or --quantize weights/auto: they shrink only the float weights left."
        )


def _plan(
    simplify: bool, quantize: QuantMode, max_accuracy_drop: float | None, eval_data: Path | None
) -> list[ModelPass]:
    # -1 dims and weights in Constant nodes, subgraphs and chains first: onnxsim and every mode read them plainly.
    passes: list[ModelPass] = [Normalise()] + ([Simplify()] if simplify else [])
    if max_accuracy_drop is not None:
        assert eval_data is not None
        passes.append(AccuracyAwareStatic(eval_data=eval_data, max_drop=max_accuracy_drop))
    elif quantize is not QuantMode.NONE:
        passes.append(QUANTIZERS[quantize]())
    return passes


def _reference(
    source: Path,
    signature: Signature,
    quantize: QuantMode,
    settings: QuantizeSettings,
    data: Path | None,
    seed: int,
    feeding: FeedOptions,
) -> Reference:
    """The inputs every pass is verified on, and the source model's outputs on them."""
    calibrates = quantize in (QuantMode.STATIC, QuantMode.AUTO)
    if calibrates and settings.calibration is not None and not feeding.streaming:
        # A clear error for missing, empty, mismatched or degenerate files, before any work on them:
        # auto would otherwise only warn that static INT8 could not be tried, and exit 0.
        inspect_calibration(settings.calibration, signature.inputs)
    if data is None and calibrates and settings.calibration is not None and not feeding.streaming:
        # Static ranges fit the calibration data; random inputs would fall outside them and
        # measure noise that real inputs never see.
        if open_source(settings.calibration).calls_as_given:  # ONNX test sets: each a call, as --data runs them
            return _reference(source, signature, quantize, settings, settings.calibration, seed, feeding)
        blocks = tuple(
            iter_batches(settings.calibration, signature.inputs, batch_size=BLOCK_SAMPLES, limit=VERIFY_SAMPLES)
        )
        count = sum(next(iter(b.values())).shape[0] for b in blocks)
        calls = Feeds(blocks, (), f"{count} calibration samples from {settings.calibration}", False)
    else:
        calls = _bounded(source, signature, data, feeding, settings.calibration_memory) or model_feeds(
            source, signature, data=data, options=feeding, batch_size=VERIFY_BATCH, seed=seed
        )
    runs = calls.run(source)
    names = tuple(o.name for o in signature.outputs)
    expected = calls.check_expected(runs, names=names, tolerance=default_tolerance(QuantMode.NONE))
    # Expected outputs join the check only where the source model itself reproduces them.
    reproduced = expected is not None and expected.passed
    return _CallsReference(calls.first, tuple(runs[0]), names, calls.label, calls, tuple(runs), reproduced)


def _bounded(source: Path, signature: Signature, data: Path | None, feeding: FeedOptions, memory: int) -> Feeds | None:
    """The rows of ``data`` that fit the memory bound with their outputs, read lazily (None: the
    data is not rows of an .npz, and is read as it always was)."""
    if data is None:
        return None
    bounded = bounded_calls(source, signature, data, options=feeding, memory=memory, block=BLOCK_SAMPLES)
    return None if bounded is None else Feeds(bounded.calls, (), bounded.label(str(data)), False)


def _held_out(
    source: Path,
    signature: Signature,
    reference: Reference,
    settings: QuantizeSettings,
    data: Path | None,
    workdir: Path,
    log: PassLog,
) -> tuple[Reference, QuantizeSettings]:
    """auto with one pool of real inputs (--data, or only --calibration): its first part calibrates
    static INT8 and the rest is what every check judges, never the calibration samples alone."""
    if (settings.calibration is None) == (data is None) or not isinstance(reference, _CallsReference):
        return reference, settings  # both given (each has its job) or neither (generated inputs)
    assert reference.calls is not None
    split = split_pool(reference.calls, signature.inputs, workdir)
    pool = "--data" if data is not None else "--calibration"
    if split is None:
        if data is not None:
            log.steps.append(f"auto: {pool} does not split into samples; static INT8 has no calibration data")
        else:
            log.warnings.append("auto: --calibration does not split into samples: judged on the calibration samples")
        return reference, settings
    calls = split.judged
    runs = tuple(calls.run(source))
    judged = _CallsReference(calls.first, tuple(runs[0]), reference.names, calls.label, calls, runs)
    log.steps.append(f"auto: {split.describe(pool)}")
    return judged, replace(settings, calibration=split.calibration, calibration_limit=None)


@dataclass(frozen=True)
class _CallsReference(Reference):
    """A reference over every call of the feeds (a stream carrying state, ONNX test sets)."""

    calls: Feeds | None = None
    runs: tuple[Any, ...] = ()
    against_expected: bool = False  # the test sets' expected outputs join the check (the source reproduces them)

    @property
    def generated(self) -> bool:
        return self.calls is not None and self.calls.generated

    def itself(self, tolerance: Tolerance) -> Comparison:
        assert self.calls is not None
        return self.calls.compare(self.runs, self.runs, names=self.names, tolerance=tolerance)

    def compare(self, model: Path, tolerance: Tolerance) -> Comparison:
        assert self.calls is not None
        produced = self.calls.run(model)
        comparison = self.calls.compare(self.runs, produced, names=self.names, tolerance=tolerance)
        if comparison.passed and self.against_expected:
            against = self.calls.check_expected(produced, names=self.names, tolerance=tolerance)
            comparison = against if against is not None and not against.passed else comparison
        return comparison
