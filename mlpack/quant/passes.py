"""Passes: every step that changes a model states what it needs, does one thing, and proves it.

In the spirit of onnx-ir's pass infrastructure (``requires``, ``call``, ``ensures``, a result
that says whether the model changed). ``ensures`` is not optional: the pass runner probes every
model a pass writes in a child process (a native crash becomes an error) and compares its outputs
with the *source* model's on the same inputs, so error cannot build up unseen from pass to pass.
A pass whose output fails the comparison raises VerificationError and nothing is written.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.fidelity import Comparison, Tolerance, compare_outputs
from mlpack.core.onnxio import create_session, run_session
from mlpack.errors import VerificationError
from mlpack.quant.layers import costliest, source_layer_costs
from mlpack.quant.probe import probe_model
from mlpack.quant.timing import LocalTimer, Timer

if TYPE_CHECKING:
    import numpy as np

    from mlpack.quant.settings import QuantizeSettings


@dataclass
class PassLog:
    """What passes did beyond the obvious, for the report: degraded steps, skipped ops."""

    steps: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    tensors: list[dict[str, Any]] = field(default_factory=list)  # per-tensor representation and why
    layers: list[dict[str, Any]] = field(default_factory=list)  # per-tensor cost of its own quantisation
    nodes: list[dict[str, Any]] = field(default_factory=list)  # per convolution: INT8 or FP32 compute, and why
    latency_ratio: float | None = None  # p50 against the pass's input, where a pass measured it


@dataclass(frozen=True)
class Reference:
    """The source model's outputs on the verification inputs: what every pass is held to."""

    feeds: dict[str, np.ndarray]
    outputs: tuple[np.ndarray, ...]
    names: tuple[str, ...]
    label: str  # what the inputs are, for the report ("8 generated samples (seed 0)")

    def compare(self, model: Path, tolerance: Tolerance) -> Comparison:
        produced = run_session(create_session(model), self.feeds)
        return compare_outputs(self.outputs, produced, names=self.names, tolerance=tolerance, label=self.label)

    def itself(self, tolerance: Tolerance) -> Comparison:
        """The reference against itself: what these inputs can show at best (no model is run)."""
        return compare_outputs(self.outputs, self.outputs, names=self.names, tolerance=tolerance, label=self.label)


@dataclass(frozen=True)
class PassContext:
    """What every pass may use: a scratch folder, the settings, the reference and the log."""

    workdir: Path
    settings: QuantizeSettings
    reference: Reference
    tolerance: Tolerance  # the run's fail-closed check
    log: PassLog
    source: Path  # the model the run started from (the reference's model)
    timer: Timer = field(default_factory=LocalTimer)  # where speed decisions are measured


@dataclass(frozen=True)
class PassResult:
    model: Path
    modified: bool
    comparison: Comparison | None = None  # None when the pass changed nothing


class ModelPass(ABC):
    """One step that rewrites an ONNX file into another."""

    name: str = "pass"
    # Quantisers state the check their outputs are held to by default, and one line for --help.
    tolerance: Tolerance = Tolerance()
    description: str = ""
    # Quantisers report what each weight they shrank costs on its own (quant/layers.py); a pass
    # that chose a representation per weight leaves its choices in ``chosen``.
    reports_layers: bool = False
    chosen: tuple[Any, ...] = ()

    def requires(self, model: Path, context: PassContext) -> None:  # noqa: B027  (optional hook)
        """Raise an MlpackError if ``model`` is not something this pass can work on."""

    @abstractmethod
    def call(self, model: Path, output: Path, context: PassContext) -> bool:
        """Write the transformed model to ``output``; return whether anything changed."""

    def ensures(self, model: Path, context: PassContext) -> Comparison:
        """The fail-closed check: the new model loads, runs, and computes what the source did."""
        probe_model(model, what=f"the model after {self.name}")
        comparison = context.reference.compare(model, context.tolerance)
        if not comparison.passed:
            raise VerificationError(
                f"after {self.name}, the outputs differ from {context.source.name}'s beyond tolerance "
                f"({context.tolerance.describe()}) on {comparison.label}: {comparison.failure_text()}; "
                "no file written.",
                hint=failure_hint(comparison),
            )
        return comparison

    def __call__(self, model: Path, context: PassContext) -> PassResult:
        self.requires(model, context)
        output = context.workdir / f"{_slug(self.name)}-{id(self)}.onnx"
        if not self.call(model, output, context):
            return PassResult(model, modified=False)
        comparison = self.ensures(output, context)
        if self.reports_layers:
            _record_layers(model, output, self.chosen, context)
        return PassResult(output, modified=True, comparison=comparison)


def run_passes(model: Path, passes: list[ModelPass], context: PassContext) -> tuple[Path, Comparison]:
    """Apply ``passes`` in order; return the final model and its comparison with the source."""
    require_evidence(context)
    comparison: Comparison | None = None
    for step in passes:
        result = step(model, context)
        if result.modified:
            model, comparison = result.model, result.comparison
    if comparison is None:  # nothing changed: still prove the copy computes what the source does
        probe_model(model, what="the model")
        comparison = context.reference.compare(model, context.tolerance)
    return model, comparison


def _record_layers(model: Path, output: Path, chosen: tuple[Any, ...], context: PassContext) -> None:
    """The per-layer report (costliest first), for the result, --json and the terminal's table."""
    costs = source_layer_costs(model, output, chosen, context.reference.feeds, context.tolerance, context.workdir)
    context.log.layers.extend(c.to_dict() for c in costliest(costs))


def require_evidence(context: PassContext) -> None:
    """Fail before any work where the inputs cannot show the decision bar even for a perfect copy:
    the bar holds only when its lower bound clears it, and no finer model changes the data."""
    best = context.reference.itself(context.tolerance)
    if best.unshowable:
        raise VerificationError(
            f"the inputs ({best.label}) cannot show that {context.source.name}'s decisions hold "
            f"({context.tolerance.describe()}) even for an exact copy: {best.failure_text()}; no file written.",
            hint=failure_hint(best),
        )


# The option that states each check's bar, as optimize (and the commands that quantise) take it.
_CHECK_OPTIONS = {"atol": "--atol (with --rtol)", "min_cosine": "--min-cosine", "min_agreement": "--min-agreement"}


def failure_hint(comparison: Comparison) -> str:
    """What to try after a failed check, naming the option of the check that failed: more data where
    the data could not show the bar, else another mode or a stated bar for that check."""
    if comparison.unshowable or any(o.problem and "more samples would" in o.problem for o in comparison.outputs):
        return "Pass more samples with --data, or state the bar the data can show with --min-agreement."
    options = failed_options(comparison)
    if not options:  # a shape or NaN mismatch: no tolerance passes it
        return "Try --quantize auto (it keeps what it cannot shrink safely) or another --quantize mode."
    return (
        "Try --quantize auto (it keeps what it cannot shrink safely), another --quantize mode, "
        f"or state a looser bar for the check that failed with {options}."
    )


def failed_options(comparison: Comparison | None) -> str:
    """The options that state the bars ``comparison`` failed ("--min-agreement", ...); every bar's
    option where there is no comparison; "" where none would pass it (a shape or NaN mismatch)."""
    failed = ["atol", "min_cosine", "min_agreement"]
    if comparison is not None:
        failed = [check for o in comparison.outputs if not o.passed for check in o.failed_checks]
    return " and ".join(_CHECK_OPTIONS[c] for c in dict.fromkeys(failed) if c in _CHECK_OPTIONS)


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in name.lower())


def describe(value: Any) -> str:
    """A short human form of a count-by-kind mapping, for step lines."""
    if isinstance(value, dict):
        return ", ".join(f"{count} {kind}" for kind, count in sorted(value.items())) or "nothing"
    return str(value)
