"""The one place that turns (a model's signature, a data file, state pairs, values given on the
command line) into the calls a stage makes: a batch of samples, ONNX test sets used as given, or
a stream of calls carrying state. Every stage that feeds a model (optimize's and check's
fidelity, bench, pack's golden samples, run) asks here, so they all read data the same way.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.batching import signature_batch_axes
from mlpack.core.fidelity import Comparison, OutputKind, OutputRule, Tolerance, compare_outputs
from mlpack.core.onnxio import create_session, load_model
from mlpack.core.signature import Signature, TensorSpec
from mlpack.data.dataset import Dataset
from mlpack.data.generate import DEFAULT_BATCH, concrete_shape, input_hints
from mlpack.data.shapes import GeneratedShape, InputShape, generated_shape, model_hints
from mlpack.data.sources import GeneratedInputs, load_dataset
from mlpack.data.stream import StatePair, check_state_pairs, parse_state_pairs, run_stream
from mlpack.data.values import SetValue
from mlpack.errors import BadInputError, InputSpecError

if TYPE_CHECKING:
    import numpy as np

STREAM_STEPS = 16  # calls in a generated stream: enough for drift through the state to show
BLOCK_SAMPLES = 64  # samples of a data file per verification call: the activations held at once


@dataclass(frozen=True)
class FeedOptions:
    """How a model is fed beyond its data file: state pairs and inputs given by value."""

    state: tuple[StatePair, ...] = ()
    values: tuple[SetValue, ...] = ()
    shapes: tuple[InputShape, ...] = ()  # --shape: generated inputs' shapes, stated by the user

    @classmethod
    def parse(cls, state: Sequence[str] = (), values: Sequence[str] = (), shapes: Sequence[str] = ()) -> FeedOptions:
        """From the command line's ``--state OUT=IN``, ``--set NAME=VALUE`` and ``--shape NAME:DIMS`` texts."""
        sets = tuple(SetValue.parse(v) for v in values)
        stated = tuple(InputShape.parse(s) for s in shapes)
        for option, names in (("--set", [s.name for s in sets]), ("--shape", [s.name for s in stated])):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise InputSpecError(f"{option} gives {twice} more than once; give each input one.")
        return cls(state=parse_state_pairs(state), values=sets, shapes=stated)

    @property
    def streaming(self) -> bool:
        return bool(self.state)

    def check(self, signature: Signature) -> None:
        """Raise InputSpecError for a state pair or a value that names what the model lacks."""
        check_state_pairs(self.state, signature)
        known = {s.name for s in signature.inputs}
        for value in self.values:
            if value.name not in known:
                raise InputSpecError(
                    f"--set {value.text()}: the model has no input '{value.name}'; its inputs are {sorted(known)}."
                )
        by_name = {s.name: s for s in signature.inputs}
        for shape in self.shapes:
            if shape.name not in by_name:
                raise InputSpecError(
                    f"--shape {shape.text()}: the model has no input '{shape.name}'; its inputs are {sorted(known)}."
                )
            shape.check(by_name[shape.name])

    def given(self, specs: tuple[TensorSpec, ...], *, batch_size: int = DEFAULT_BATCH) -> dict[str, np.ndarray]:
        by_name = {s.name: s for s in specs}
        return {v.name: v.array(by_name[v.name], batch_size=batch_size) for v in self.values if v.name in by_name}

    def to_dict(self) -> dict[str, Any]:
        recorded: dict[str, Any] = {
            "state": [p.text() for p in self.state],
            "set": {v.name: v.value for v in self.values},
        }
        if self.shapes:  # only where stated: manifests and results written before --shape read the same
            recorded["shape"] = [s.text() for s in self.shapes]
        return recorded

    def to_args(self) -> list[str]:
        """The same feeding as ``--state``, ``--set`` and ``--shape`` options, for a command run on a device."""
        return [
            *(a for p in self.state for a in ("--state", p.text())),
            *(a for v in self.values for a in ("--set", v.text())),
            *(a for s in self.shapes for a in ("--shape", s.text())),
        ]

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> FeedOptions:
        data = data or {}
        return cls.parse(
            tuple(data.get("state", ())),
            tuple(f"{k}={v}" for k, v in data.get("set", {}).items()),
            tuple(data.get("shape", ())),
        )


@dataclass(frozen=True)
class Feeds:
    """The calls to make, in order; with state pairs, each call's state comes from the last."""

    calls: tuple[dict[str, np.ndarray], ...]
    state: tuple[StatePair, ...]
    label: str  # what the inputs are, for reports
    generated: bool
    notes: tuple[str, ...] = ()
    expected: tuple[tuple[np.ndarray, ...] | None, ...] = ()  # per call, from ONNX test sets
    shapes: tuple[GeneratedShape, ...] = ()  # generated inputs: each one's shape, and what was invented

    @property
    def first(self) -> dict[str, np.ndarray]:
        return self.calls[0]

    def run(self, model: Path | Any) -> list[list[np.ndarray]]:
        """Every call's outputs on ``model`` (a path or an onnxruntime session), state carried."""
        session = create_session(Path(model)) if isinstance(model, (str, Path)) else model
        names = [o.name for o in session.get_outputs()]
        try:
            return run_stream(session, self.calls, self.state, names)
        except InputSpecError as exc:
            if not self.generated:
                raise
            raise InputSpecError(
                f"the model rejected generated inputs ({self.label}): {exc.message.split(': ', 1)[-1]}; "
                "pass real ones with --data (or an input's value with --set NAME=VALUE)."
            ) from exc

    def compare(
        self,
        reference: Sequence[Sequence[Any]],
        candidate: Sequence[Sequence[Any]],
        *,
        names: Sequence[str],
        tolerance: Tolerance,
    ) -> Comparison:
        """Two runs over these calls compared output by output, the calls taken together. An output
        fed back as state is a value, not class scores, unless the tolerance says otherwise."""
        stated = {r.name for r in tolerance.outputs}
        tolerance = tolerance.with_rules(
            OutputRule(p.output, OutputKind.VALUES) for p in self.state if p.output not in stated
        )
        for ref_call, cand_call in zip(reference, candidate, strict=True):
            shaped = compare_outputs(
                [_shape_probe(r) for r in ref_call],
                [_shape_probe(c) for c in cand_call],
                names=names,
                tolerance=Tolerance(atol=None, min_cosine=None),
                label=self.label,
            )
            if not shaped.passed:
                return compare_outputs(
                    ref_call, cand_call, names=names, tolerance=tolerance, label=self.label, generated=self.generated
                )
        joined_ref = [_join([call[i] for call in reference]) for i in range(len(names))]
        joined_cand = [_join([call[i] for call in candidate]) for i in range(len(names))]
        return compare_outputs(
            joined_ref, joined_cand, names=names, tolerance=tolerance, label=self.label, generated=self.generated
        )

    def check_expected(
        self, produced: Sequence[Sequence[Any]], *, names: Sequence[str], tolerance: Tolerance
    ) -> Comparison | None:
        """``produced`` against the expected outputs the test sets hold; None where they hold none."""
        if not self.expected or any(e is None for e in self.expected):
            return None
        expected = [list(e) for e in self.expected if e is not None]
        feeds = Feeds(self.calls, self.state, f"the expected outputs of {self.label}", self.generated)
        return feeds.compare(
            expected,
            [list(p[: len(e)]) for p, e in zip(produced, expected, strict=True)],
            names=names[: len(expected[0])],
            tolerance=tolerance,
        )


def _shape_probe(value: Any) -> Any:
    """A zero array of the value's shape: comparing these finds shape mismatches alone."""
    import numpy as np

    array = _as_array(value)
    return np.zeros(array.shape, dtype=np.float32)


def _as_array(value: Any) -> np.ndarray:
    import numpy as np

    if isinstance(value, list):  # a sequence output
        return np.concatenate([np.asarray(v, dtype=np.float64).ravel() for v in value]) if value else np.zeros(0)
    array = np.asarray(value)
    return array if array.dtype.kind in "fiub" else np.zeros(array.shape)


def _join(values: list[Any]) -> np.ndarray:
    """One call's output as is; several calls' outputs stacked on axis 0 (flattened where ragged)."""
    import numpy as np

    arrays = [_as_array(v) for v in values]
    if len(arrays) == 1:
        return arrays[0]
    if all(a.ndim > 0 and a.shape[1:] == arrays[0].shape[1:] for a in arrays):
        return np.concatenate(arrays)
    return np.concatenate([a.ravel() for a in arrays])


def model_feeds(
    model: Path,
    signature: Signature,
    *,
    data: Path | None = None,
    options: FeedOptions = FeedOptions(),
    batch_size: int = DEFAULT_BATCH,
    seed: int = 0,
    steps: int = STREAM_STEPS,
) -> Feeds:
    """The calls to check or run ``model`` with.

    Args:
        model: the ONNX file (read for plausible generated values: the tables ids index).
        signature: its signature.
        data: an .npz or ONNX test-data directory; None: generated inputs.
        options: state pairs (the data becomes a stream of one-sample calls) and values by name.
        batch_size: samples per generated call.
        seed: the seed for generated inputs.
        steps: calls in a generated stream.
    """
    options.check(signature)
    if data is None:
        return _generated(model, signature, options, batch_size, seed, steps)
    return feeds_from_dataset(model_dataset(data, signature.inputs, options=options), options, source=str(data))


def model_dataset(
    data: Path, specs: tuple[TensorSpec, ...], *, options: FeedOptions = FeedOptions(), need_labels: bool = False
) -> Dataset:
    """A data file read the way ``options`` says: ``--set`` values override it, and a stream's
    state inputs start from zeros where the file gives none.

    Args:
        data: an .npz or ONNX test-data directory.
        specs: the model's inputs.
        options: state pairs and values by name.
        need_labels: raise DataError unless the file has labels.
    """
    return load_dataset(
        data, specs, need_labels=need_labels, given=options.given(specs), defaults=_zero_state(specs, options, 1)
    )


def feeds_from_dataset(dataset: Dataset, options: FeedOptions, *, source: str) -> Feeds:
    """A loaded data set as calls: its test sets or its one call as given, one call of every
    sample, or, with state pairs, a stream of one-sample calls."""
    said = f" ({'; '.join(dataset.notes)})" if dataset.notes else ""
    if dataset.whole:
        count = len(dataset.calls)
        label = f"{count} test set(s) from {source}" if dataset.expected else source
        calls = dataset.calls
    elif options.streaming:
        count = dataset.num_samples
        label = f"a stream of {count} calls from {source}"
        calls = tuple(dataset.batch(i, i + 1) for i in range(count))
    else:
        # In blocks: a session holds one block's activations at a time, whatever the size of the
        # data (a frame-wise audio model peaked at 1.8 GB verifying 12 windows in one call).
        label = f"{dataset.num_samples} samples from {source}{said}"
        count = dataset.num_samples
        calls = tuple(dataset.batch(i, min(i + BLOCK_SAMPLES, count)) for i in range(0, count, BLOCK_SAMPLES))
        return Feeds(calls or (dataset.inputs,), (), label, False, dataset.notes)
    if options.streaming:
        label += f", state carried through {', '.join(p.text() for p in options.state)}"
    return Feeds(calls, options.state, label + said, False, dataset.notes, dataset.expected)


def _zero_state(specs: tuple[TensorSpec, ...], options: FeedOptions, batch_size: int) -> dict[str, np.ndarray]:
    """The initial state where the data gives none: zeros, as a stream starts on a device."""
    import numpy as np

    axes = signature_batch_axes(specs).axes
    by_name = {s.name: s for s in specs}
    zeros = {}
    for pair in options.state:
        spec = by_name[pair.input]
        shape = concrete_shape(spec, batch_size=batch_size, batch_axis=axes[spec.name])
        zeros[spec.name] = np.zeros(shape, dtype=np.dtype(spec.dtype))
    return zeros


def _generated(
    model: Path, signature: Signature, options: FeedOptions, batch_size: int, seed: int, steps: int
) -> Feeds:
    specs = signature.inputs
    loaded = load_model(Path(model), check=False)
    hints = input_hints(loaded)
    given = options.given(specs, batch_size=batch_size)
    planned = generated_shapes(loaded, signature, options, batch_size)
    shapes = {s.name: s.shape for s in planned}
    count = steps if options.streaming else 1
    calls = []
    for step in range(count):
        source = GeneratedInputs(batch_size=batch_size, seed=seed + step, hints=hints, shapes=shapes)
        start = _zero_state(specs, options, batch_size) if step == 0 else None
        calls.append(source.load(specs, given=given, defaults=start).inputs)
    shown = [s for s in planned if s.name not in given]
    label = f"{batch_size} generated samples (seed {seed})" + (
        f" at {', '.join(s.text() for s in shown)}" if any(s.invented for s in shown) else ""
    )
    if options.streaming:
        label = (
            f"a stream of {count} generated calls of {batch_size} (seed {seed}), state carried through "
            + ", ".join(p.text() for p in options.state)
        )
    return Feeds(tuple(calls), options.state, label, True, shapes=tuple(planned))


def generated_shapes(
    model: Any, signature: Signature, options: FeedOptions, batch_size: int
) -> tuple[GeneratedShape, ...]:
    """The shapes generated inputs take for ``model`` (a path or a loaded ModelProto), inputs given
    by value (``--set``) left out, and which of their sizes mlpack invented."""

    loaded = load_model(Path(model), check=False) if isinstance(model, (str, Path)) else model
    hints = model_hints(loaded)
    stated = {s.name: s for s in options.shapes}
    axes = signature_batch_axes(signature.inputs).axes
    by_value = {v.name for v in options.values}
    return tuple(
        generated_shape(spec, batch_size=batch_size, batch_axis=axes[spec.name], stated=stated, hints=hints)
        for spec in signature.inputs
        if spec.name not in by_value
    )


def refuse_invented_shapes(model: Path, signature: Signature, options: FeedOptions, *, what: str) -> None:
    """Raise BadInputError where a latency budget would be judged on sizes mlpack invented.

    Args:
        model: the ONNX file the inputs would be generated for.
        signature: its signature.
        options: the user's --shape (and --set) statements.
        what: the budget, for the message ("the latency budget").
    """

    invented = [s for s in generated_shapes(model, signature, options, 1) if s.invented]
    if invented:
        example = invented[0]
        raise BadInputError(
            f"{what} would be judged on generated inputs of invented size ({'; '.join(s.text() for s in invented)}); "
            f"state the size with --shape {example.name}:{'x'.join(str(d) for d in example.shape)} "
            "(your real one), or pass real inputs with --data."
        )


def step_feeds(
    model: Path,
    signature: Signature,
    *,
    data: Path | None = None,
    options: FeedOptions = FeedOptions(),
    batch_size: int = DEFAULT_BATCH,
    seed: int = 0,
) -> dict[str, np.ndarray]:
    """One call of ``batch_size`` samples, as bench times it: with state pairs, one streaming
    step from the initial state (zeros, or what the data gives).

    Args:
        model: the ONNX file.
        signature: its signature.
        data: an .npz or ONNX test-data directory (samples repeat to fill the batch; a file that is
            one call is used as given); None: generated inputs.
        options: state pairs and values by name.
        batch_size: samples in the call.
        seed: the seed for generated inputs.
    """
    import numpy as np

    options.check(signature)
    if data is None:
        return model_feeds(model, signature, options=options, batch_size=batch_size, seed=seed, steps=1).first
    specs = signature.inputs
    dataset = model_dataset(data, specs, options=options)
    if dataset.whole:
        return dict(dataset.calls[0])
    feeds = dataset.rows(np.arange(batch_size) % dataset.num_samples)
    # A state input the file does not batch (the zeros of a stream's start) starts from zeros at this batch.
    zeros = _zero_state(specs, options, batch_size)
    return {**feeds, **{name: value for name, value in zeros.items() if dataset.axis(name) is None}}


def golden_dataset(
    model: Path, signature: Signature, *, data: Path | None, options: FeedOptions, count: int
) -> Dataset:
    """``count`` samples to store as a package's golden inputs (a file that is one call: that call).

    Args:
        model: the ONNX file.
        signature: its signature.
        data: an .npz or ONNX test-data directory to take them from; None: generated.
        options: state pairs (the samples are a stream's steps, the state starting from zeros)
            and values by name.
        count: how many samples.
    """
    options.check(signature)
    if data is None:
        feeds = model_feeds(model, signature, options=options, batch_size=count, seed=0, steps=1).first
        return Dataset(inputs=feeds, axes=signature_batch_axes(signature.inputs).axes)
    dataset = model_dataset(data, signature.inputs, options=options)
    if dataset.whole:
        return Dataset(inputs=dataset.calls[0], calls=dataset.calls[:1], axes=dataset.axes, notes=dataset.notes)
    inputs = dataset.batch(0, count)
    # A stream's zero initial state (the file gives none) is stored at the samples' batch, so the
    # stored file splits into the same samples when verify --run reads it back.
    zeros = {
        name: value
        for name, value in _zero_state(signature.inputs, options, min(count, dataset.num_samples)).items()
        if dataset.axis(name) is None
    }
    axes = {name: dataset.axis(name) for name in inputs} | {
        name: signature_batch_axes(signature.inputs).axes[name] for name in zeros
    }
    return Dataset(inputs=inputs | zeros, axes=axes, notes=dataset.notes)
