"""Accuracy-aware static INT8: keep the most sensitive nodes in float until the drop fits.

Sensitivity is measured with onnxruntime's QDQ debugging tools: run the float model and the
fully quantised QDQ model on evaluation data, compare every activation across the two, and rank
nodes by how much signal-to-quantisation-noise ratio (SQNR, dB) they lose. The most degrading
nodes are kept in float, a few more each round, reusing one calibration (onnxruntime's
calibration cache), until the accuracy drop is within budget or nothing is left to gain.
"""

from __future__ import annotations

import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from mlpack.core.metrics import agreement, is_classification, top1_accuracy
from mlpack.core.onnxio import load_model
from mlpack.core.quiet import silenced
from mlpack.core.signature import signature_of
from mlpack.data.runner import predict
from mlpack.data.sources import load_dataset
from mlpack.errors import BadInputError, VerificationError
from mlpack.quant.calibration import NpzCalibrationReader
from mlpack.quant.modes.static import quantize_static
from mlpack.quant.passes import ModelPass, PassContext, PassLog
from mlpack.quant.preprocess import preprocess
from mlpack.quant.settings import QuantFormat, QuantizeSettings

EXACT_DB = 120.0  # SQNR cap: float32 round-off, i.e. no quantisation noise
EVAL_ACTIVATION_SAMPLES = 128  # enough to rank tensors; collecting activations is memory-hungry
MAX_ROUNDS = 10


@dataclass(frozen=True)
class KeptInFloat:
    node: str
    op_type: str
    tensor: str  # the node's output
    sqnr_db: float  # its SQNR against the float model when fully quantised: lower is noisier

    def to_dict(self) -> dict[str, Any]:
        return {"node": self.node, "op_type": self.op_type, "tensor": self.tensor, "sqnr_db": self.sqnr_db}


@dataclass(frozen=True)
class AccuracyAwareReport:
    metric: str  # what "accuracy" means here: top-1 accuracy, or agreement with the FP32 model
    reference_score: float
    full_quant_score: float
    final_score: float
    max_drop: float
    kept_in_float: tuple[KeptInFloat, ...]
    rounds: tuple[tuple[int, float], ...]  # (nodes kept in float, drop) per round

    @property
    def full_quant_drop(self) -> float:
        return self.reference_score - self.full_quant_score

    @property
    def final_drop(self) -> float:
        return self.reference_score - self.final_score

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "reference_score": self.reference_score,
            "full_quant_score": self.full_quant_score,
            "final_score": self.final_score,
            "full_quant_drop": self.full_quant_drop,
            "final_drop": self.final_drop,
            "max_drop": self.max_drop,
            "kept_in_float": [k.to_dict() for k in self.kept_in_float],
            "rounds": [{"kept_in_float": n, "drop": d} for n, d in self.rounds],
        }


class _Scorer:
    """Top-1 accuracy with labels; agreement with the FP32 model's decisions without them."""

    def __init__(self, reference_model: Path, eval_data: Path) -> None:
        self._predict = predict
        specs = signature_of(load_model(reference_model)).inputs
        self.dataset = load_dataset(eval_data, specs)
        reference = predict(reference_model, self.dataset)[0]
        labels = self.dataset.labels
        if labels is not None and is_classification(reference, labels):
            self.metric = "top-1 accuracy"
            self._score = lambda out: top1_accuracy(out, labels)
        elif reference.ndim == 2:
            self.metric = "agreement with the FP32 model's classes"
            self._score = lambda out: agreement(out, reference)
        else:
            raise BadInputError(
                "accuracy-aware quantisation needs class scores (samples x classes) and, for other "
                "outputs, labels; this model's first output has shape " + str(reference.shape) + "."
            )
        self.reference_score = self._score(reference)

    def __call__(self, model: Path) -> float:
        return float(self._score(self._predict(model, self.dataset)[0]))


def accuracy_aware_quantize(
    src: Path,
    dst: Path,
    *,
    settings: QuantizeSettings,
    eval_data: Path,
    max_drop: float,
    workdir: Path,
    log: PassLog,
) -> AccuracyAwareReport:
    """Quantise ``src`` (static INT8) into ``dst`` with an accuracy drop of at most ``max_drop``."""
    if max_drop < 0:
        raise BadInputError(f"--max-accuracy-drop must be non-negative, got {max_drop}.")
    score = _Scorer(src, eval_data)
    prepared = preprocess(src, workdir / "aa-pre.onnx", log)  # node names below refer to this graph
    settings = replace(settings, calibration_cache=workdir / "ranges.json")

    def build(excluded: tuple[str, ...], path: Path, fmt: QuantFormat | None = None) -> float:
        round_log = PassLog()
        quantize_static(
            prepared,
            path,
            replace(settings, exclude_nodes=excluded, quant_format=fmt or settings.quant_format),
            round_log,
        )
        return score(path)

    full = workdir / "aa-full.onnx"
    full_score = build((), full)
    rounds = [(0, score.reference_score - full_score)]
    best_path, best_score = full, full_score
    kept: list[KeptInFloat] = []
    if score.reference_score - full_score > max_drop:
        ranking = _rank_nodes(
            prepared, full if settings.quant_format is QuantFormat.QDQ else None, settings, eval_data, build, workdir
        )
        best_path, best_score, kept = _keep_worst_in_float(
            ranking, build, score.reference_score, max_drop, rounds, workdir, (full, full_score)
        )
    report = AccuracyAwareReport(
        metric=score.metric,
        reference_score=score.reference_score,
        full_quant_score=full_score,
        final_score=best_score,
        max_drop=max_drop,
        kept_in_float=tuple(_dedupe(kept)),
        rounds=tuple(rounds),
    )
    _deliver(report, best_path, dst, log)
    return report


def _deliver(report: AccuracyAwareReport, best: Path, dst: Path, log: PassLog) -> None:
    """Write the best model to ``dst`` and log it, or raise (nothing written) where it drops too much."""
    max_drop = report.max_drop
    if report.final_drop > max_drop:
        raise VerificationError(
            f"accuracy-aware quantisation could not reach a drop of {max_drop:.4f} in {report.metric}: fully "
            f"quantised {report.full_quant_drop:.4f}, best {report.final_drop:.4f} with "
            f"{len(report.kept_in_float)} nodes in float; no file written.",
            hint="Try another --calibration-method, more calibration data, or --quantize dynamic.",
        )
    shutil.copyfile(best, dst)
    log.steps.append(
        f"accuracy-aware: {report.metric} drop {report.full_quant_drop:.4f} fully quantised -> "
        f"{report.final_drop:.4f} with {len(report.kept_in_float)} nodes kept in float (budget {max_drop:.4f})"
    )


def _keep_worst_in_float(
    ranking: list[KeptInFloat],
    build: Any,
    reference_score: float,
    max_drop: float,
    rounds: list[tuple[int, float]],
    workdir: Path,
    best: tuple[Path, float],
) -> tuple[Path, float, list[KeptInFloat]]:
    """Keep 1, 2, 4... of the most degrading nodes in float until the drop fits; the best round wins."""
    best_path, best_score = best
    kept: list[KeptInFloat] = []
    step, taken = 1, 0
    while taken < len(ranking) and len(rounds) <= MAX_ROUNDS:
        taken = min(len(ranking), taken + step)
        candidate_kept = ranking[:taken]
        excluded = tuple(dict.fromkeys(k.node for k in candidate_kept))
        path = workdir / f"aa-round{len(rounds)}.onnx"
        current = build(excluded, path)
        rounds.append((len(excluded), reference_score - current))
        if current > best_score:
            best_path, best_score, kept = path, current, candidate_kept
        if reference_score - current <= max_drop:
            break
        step *= 2  # a few at a time, then faster when a few are not enough
    return best_path, best_score, kept


def _rank_nodes(
    prepared: Path, qdq_model: Path | None, settings: QuantizeSettings, eval_data: Path, build: Any, workdir: Path
) -> list[KeptInFloat]:
    """Nodes from the one whose quantisation degrades the signal most, down.

    For every tensor, the cross-model SQNR compares the float model's activation with the one
    that flows on in the quantised model (after its QuantizeLinear/DequantizeLinear pair, if
    any). A node's degradation is its worst input's SQNR minus its output's: the noise that
    quantising this node added. Local SQNR alone misleads on wide-range tensors, where a few
    huge channels dominate the signal power while the small channels that decide the output
    are rounded away; the drop at the consuming node shows it.
    """
    import onnx
    from onnxruntime.quantization import qdq_loss_debug as debug
    from onnxruntime.quantization.quant_utils import DEQUANT_OUTPUT_SUFFIX

    if qdq_model is None:  # sensitivity needs the QDQ form; the final format is the user's
        qdq_model = workdir / "aa-qdq.onnx"
        build((), qdq_model, QuantFormat.QDQ)
    model = onnx.load(str(prepared))
    specs = signature_of(model).inputs
    with silenced():
        debug.modify_model_output_intermediate_tensors(str(prepared), str(workdir / "aa-float-aug.onnx"))
        debug.modify_model_output_intermediate_tensors(str(qdq_model), str(workdir / "aa-qdq-aug.onnx"))
        reader = NpzCalibrationReader(
            eval_data, specs, batch_size=settings.calibration_batch, limit=EVAL_ACTIVATION_SAMPLES
        )
        float_acts = debug.collect_activations(str(workdir / "aa-float-aug.onnx"), reader)
        qdq_acts = debug.collect_activations(str(workdir / "aa-qdq-aug.onnx"), reader)

    def sqnr(tensor: str) -> float:
        """How faithfully ``tensor`` reaches its consumers in the quantised model (dB; inputs: exact)."""
        flowing = qdq_acts.get(tensor + DEQUANT_OUTPUT_SUFFIX, qdq_acts.get(tensor))
        if tensor not in float_acts or flowing is None:
            return EXACT_DB
        return min(float(debug.compute_signal_to_quantization_noice_ratio(float_acts[tensor], flowing)), EXACT_DB)

    ranked = []
    for node in model.graph.node:
        if not node.name or not node.output or node.output[0] not in float_acts:
            continue
        inputs = [sqnr(name) for name in node.input if name in float_acts] or [EXACT_DB]
        output = sqnr(node.output[0])
        ranked.append((min(inputs) - output, KeptInFloat(node.name, node.op_type, node.output[0], output)))
    ranked.sort(key=lambda pair: -pair[0])
    return [kept for degradation, kept in ranked if degradation > 0]


def _dedupe(kept: list[KeptInFloat]) -> list[KeptInFloat]:
    seen: dict[str, KeptInFloat] = {}
    for k in kept:
        seen.setdefault(k.node, k)
    return list(seen.values())


class AccuracyAwareStatic(ModelPass):
    """Static INT8 held to an accuracy budget on evaluation data instead of an output tolerance."""

    name = "accuracy-aware static INT8"

    def __init__(self, *, eval_data: Path, max_drop: float) -> None:
        self.eval_data, self.max_drop = eval_data, max_drop
        self.report: AccuracyAwareReport | None = None

    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        self.report = accuracy_aware_quantize(
            model,
            output,
            settings=context.settings,
            eval_data=self.eval_data,
            max_drop=self.max_drop,
            workdir=context.workdir,
            log=context.log,
        )
        return True
