"""PyTorch → ONNX, verified against the PyTorch outputs before the file is written.

torch is imported lazily (through :mod:`mlpack.exporter.torchsource`): only this stage needs it.
"""

from __future__ import annotations

import dataclasses
import tempfile
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlpack.core.fidelity import Comparison, Tolerance, compare_outputs
from mlpack.core.onnxio import create_session, load_model, model_size_bytes, run_session, save_model
from mlpack.core.quiet import silenced
from mlpack.core.signature import Signature, TensorSpec, signature_of
from mlpack.core.sourceref import SourceKind, SourceRef
from mlpack.core.validate import check_output
from mlpack.data.generate import generate_inputs
from mlpack.data.sources import open_source
from mlpack.errors import BadInputError, ExportError, InputSpecError, VerificationError
from mlpack.exporter.causes import cause_text
from mlpack.exporter.choices import Exporter
from mlpack.exporter.examples import dim_sizes, example_feeds, input_specs
from mlpack.exporter.guard import guarded
from mlpack.exporter.torchsource import import_torch, is_factory_reference, load_module

if TYPE_CHECKING:
    import numpy as np
    import onnx

# torch.export specialises dimensions of size 0 or 1, so a dynamic dimension is traced at 2 or more.
_SECOND_BATCH = 3
_SECOND_SYMBOLIC = 5
_OLDEST_OPSET = 7  # onnxruntime runs nothing older


@dataclass(frozen=True)
class ExportResult:
    output: Path
    source: str
    exporter: str  # "dynamo", "torchscript" or "onnx-copy": what produced the file
    fallback_reason: str | None
    opset: int
    size_bytes: int
    signature: Signature
    checks: tuple[Comparison, ...]
    tolerance: Tolerance
    seconds: float
    notes: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        return {
            "output": str(self.output),
            "source": self.source,
            "exporter": self.exporter,
            "fallback_reason": self.fallback_reason,
            "opset": self.opset,
            "size_bytes": self.size_bytes,
            "signature": self.signature.to_dict(),
            "checks": [c.to_dict() for c in self.checks],
            "tolerance": self.tolerance.to_dict(),
            "seconds": self.seconds,
            "notes": list(self.notes),
        }


def export(
    source: str,
    output: Path,
    *,
    inputs: Sequence[TensorSpec] = (),
    example_inputs: Path | None = None,
    weights: Path | None = None,
    opset: int | None = None,
    dynamic_batch: bool = True,
    exporter: Exporter = Exporter.AUTO,
    atol: float = 1e-4,
    rtol: float = 1e-3,
    trust_pickle: bool = False,
    seed: int = 0,
) -> ExportResult:
    """Export ``source`` to ONNX at ``output`` and verify it; nothing is written if verification fails.

    Raises:
        BadInputError: ``output`` is one of the inputs or cannot be written, ``opset`` is not one
            ONNX defines, or the user's code raised or exited while it was imported or called (exit 2).
    """
    started = time.perf_counter()
    output = Path(output)
    tolerance = Tolerance(atol=atol, rtol=rtol)
    check_output(output, option="-o", inputs=(_source_file(source), weights, example_inputs))
    _check_opset(opset)
    if not is_factory_reference(source) and source.lower().endswith(".onnx"):
        return _copy_onnx(Path(source), output, tolerance, started)
    if not inputs and example_inputs is None:
        raise InputSpecError("describe the model inputs with --input NAME:SHAPE[:DTYPE] or --example-inputs FILE.npz.")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = _export_torch(
            source,
            output,
            inputs,
            example_inputs,
            weights,
            opset,
            dynamic_batch,
            exporter,
            tolerance,
            trust_pickle,
            seed,
        )
    notes = _warning_note(caught) + _opset_note(opset, result.opset, result.exporter)
    return dataclasses.replace(result, notes=result.notes + notes, seconds=time.perf_counter() - started)


def _source_file(source: str) -> Path | None:
    """The file a source names (``file.py:factory``, a .pt or .onnx file), if it is one."""
    ref = SourceRef.parse(source)
    return None if ref.kind is SourceKind.MODULE else Path(ref.target)


def _check_opset(opset: int | None) -> None:
    import onnx

    newest = onnx.defs.onnx_opset_version()
    if opset is not None and not _OLDEST_OPSET <= opset <= newest:
        raise BadInputError(
            f"--opset {opset} is not an ONNX opset mlpack can export to; use {_OLDEST_OPSET} to {newest}."
        )


def _opset_note(asked: int | None, wrote: int, exporter: str) -> tuple[str, ...]:
    if asked is None or asked == wrote:
        return ()
    return (f"asked for opset {asked}; the {exporter} exporter wrote opset {wrote} (the oldest it supports)",)


def _warning_note(caught: list[warnings.WarningMessage]) -> tuple[str, ...]:
    """Library warnings raised while exporting, as one line of the result instead of stderr noise."""
    if not caught:
        return ()
    first = str(caught[0].message).strip().splitlines()[0][:200] if str(caught[0].message).strip() else ""
    more = f" (and {len(caught) - 1} more)" if len(caught) > 1 else ""
    return (f"torch warned: {caught[0].category.__name__}: {first}{more}",)


def _export_torch(
    source: str,
    output: Path,
    inputs: Sequence[TensorSpec],
    example_inputs: Path | None,
    weights: Path | None,
    opset: int | None,
    dynamic_batch: bool,
    exporter: Exporter,
    tolerance: Tolerance,
    trust_pickle: bool,
    seed: int,
) -> ExportResult:
    """Load the PyTorch module, export it with each exporter in turn, keep the first that verifies."""
    started = time.perf_counter()
    torch = import_torch()
    module = load_module(source, weights=weights, trust_pickle=trust_pickle)
    specs = input_specs(module, inputs, example_inputs, dynamic_batch)
    example = example_feeds(specs, example_inputs, seed)
    reference = _torch_outputs(module, specs, example)
    output_names = ["output"] if len(reference) == 1 else [f"output_{i}" for i in range(len(reference))]

    attempts = _exporter_order(exporter, isinstance(module, torch.jit.ScriptModule))
    errors: list[str] = []
    notes: list[str] = []
    with tempfile.TemporaryDirectory(prefix="mlpack-export-") as workdir:
        for name in attempts:
            raw_path = Path(workdir) / f"{name}.onnx"
            try:
                _run_exporter(name, module, specs, example, output_names, raw_path, opset)
                model = load_model(raw_path)
                session = create_session(model.SerializeToString() if model.ByteSize() < 2**31 - 1 else raw_path)
            except Exception as exc:  # each exporter fails in its own ways; try the next, report all
                errors.append(f"{name} exporter: {_one_line(exc)}")
                continue
            checks = _verify(session, module, specs, example, reference, output_names, tolerance, seed)
            set_checks, set_notes = _test_set_checks(session, module, specs, example_inputs, output_names, tolerance)
            checks, notes = checks + set_checks, notes + set_notes
            _require_match(name, checks, tolerance)
            notes += _strip_exporter_metadata(model)
            save_model(model, output)
            return ExportResult(
                output=output,
                source=source,
                exporter=name,
                fallback_reason="; ".join(errors) or None,
                opset=_default_opset(model),
                size_bytes=model_size_bytes(output),
                signature=signature_of(model),
                checks=tuple(checks),
                tolerance=tolerance,
                seconds=time.perf_counter() - started,
                notes=tuple(notes),
            )
    raise ExportError("no exporter produced an ONNX file that onnxruntime can run: " + " | ".join(errors))


def _require_match(exporter: str, checks: list[Comparison], tolerance: Tolerance) -> None:
    """Raise VerificationError (nothing is written) where a check of the exported file failed."""
    failed = [c for c in checks if not c.passed]
    if failed:
        raise VerificationError(
            f"the ONNX file from the {exporter} exporter does not match PyTorch on {failed[0].label}: "
            f"{failed[0].failure_text()} (tolerance {tolerance.describe()}); no file written.",
            hint="Check for ops whose semantics differ (random, in-place), or loosen --atol/--rtol.",
        )


def _strip_exporter_metadata(model: onnx.ModelProto) -> list[str]:
    """Drop per-node metadata_props (the dynamo exporter's stack traces and FX node dumps); a note
    of how much went, if any.

    They often make up most of a small model's file, and they leak the exporting machine's
    file paths into the shipped artifact.
    """
    before = model.ByteSize()
    for node in model.graph.node:
        del node.metadata_props[:]
    stripped = before - model.ByteSize()
    if not stripped:
        return []
    return [
        f"removed {stripped / 1024:.0f} KB of exporter debug metadata (stack traces with local paths) from the nodes"
    ]


def _exporter_order(choice: Exporter, is_scripted: bool) -> list[str]:
    if is_scripted:
        # The dynamo exporter cannot trace a TorchScript module at all.
        if choice is Exporter.DYNAMO:
            raise BadInputError("the dynamo exporter cannot export a TorchScript module; use --exporter torchscript.")
        return [Exporter.TORCHSCRIPT.value]
    if choice is Exporter.AUTO:
        return [Exporter.DYNAMO.value, Exporter.TORCHSCRIPT.value]
    return [choice.value]


def _copy_onnx(source: Path, output: Path, tolerance: Tolerance, started: float) -> ExportResult:
    model = load_model(source)
    create_session(source)  # "checked" means onnxruntime can load it too
    save_model(model, output)
    return ExportResult(
        output=output,
        source=str(source),
        exporter="onnx-copy",
        fallback_reason=None,
        opset=_default_opset(model),
        size_bytes=model_size_bytes(output),
        signature=signature_of(model),
        checks=(),
        tolerance=tolerance,
        seconds=time.perf_counter() - started,
    )


def _default_opset(model: onnx.ModelProto) -> int:
    return next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 0)


def _to_torch(feeds: dict[str, np.ndarray], specs: Sequence[TensorSpec]) -> tuple[Any, ...]:
    torch = import_torch()
    return tuple(torch.from_numpy(feeds[s.name].copy()) for s in specs)


def _flatten(value: Any) -> list[Any]:
    torch = import_torch()
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, dict):
        return [t for v in value.values() for t in _flatten(v)]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _flatten(v)]
    raise ExportError(f"the model returned a {type(value).__name__}; only tensors (or tuples/dicts of them) export.")


def _torch_outputs(module: Any, specs: Sequence[TensorSpec], feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    torch = import_torch()

    def forward() -> Any:
        try:
            return module(*_to_torch(feeds, specs))
        except Exception as exc:
            shapes = ", ".join(f"{s.name}{tuple(feeds[s.name].shape)}:{feeds[s.name].dtype}" for s in specs)
            raise InputSpecError(f"the PyTorch model rejects inputs {shapes}: {_one_line(exc)}") from exc

    with torch.no_grad():
        result = guarded("the PyTorch model's forward()", forward)
    return [t.detach().cpu().numpy() for t in _flatten(result)]


def _run_exporter(
    name: str,
    module: Any,
    specs: Sequence[TensorSpec],
    feeds: dict[str, np.ndarray],
    output_names: list[str],
    path: Path,
    opset: int | None,
) -> None:
    torch = import_torch()
    dynamic_axes = {s.name: {axis: d for axis, d in enumerate(s.shape) if isinstance(d, str)} for s in specs}
    dynamic_axes = {k: v for k, v in dynamic_axes.items() if v}
    with silenced("torch", "torch.onnx", "torch.export", "onnxscript"), torch.no_grad():
        torch.onnx.export(
            module,
            _to_torch(feeds, specs),
            str(path),
            input_names=[s.name for s in specs],
            output_names=output_names,
            opset_version=opset,
            dynamic_axes=dynamic_axes or None,
            dynamo=name == Exporter.DYNAMO.value,
            **({"external_data": True} if name == Exporter.DYNAMO.value else {}),
        )


def _verify(
    session: Any,
    module: Any,
    specs: tuple[TensorSpec, ...],
    example: dict[str, np.ndarray],
    reference: list[np.ndarray],
    output_names: list[str],
    tolerance: Tolerance,
    seed: int,
) -> list[Comparison]:
    """Compare with PyTorch on the example, and on other sizes where dimensions are dynamic."""
    checks = [_check(session, example, reference, output_names, tolerance, _label(example, specs))]
    if any(isinstance(d, str) for s in specs for d in s.shape):
        sizes = dim_sizes(specs, _SECOND_BATCH, _SECOND_SYMBOLIC)
        second = generate_inputs(specs, seed=seed + 1, dim_values=sizes)
        # Reuse real example values where there are some, so value ranges (token ids) stay valid.
        for s in specs:
            if example[s.name].dtype.kind in "iub":
                second[s.name] = _resize_like(example[s.name], second[s.name].shape)
        checks.append(
            _check(
                session, second, _torch_outputs(module, specs, second), output_names, tolerance, _label(second, specs)
            )
        )
    return checks


def _test_set_checks(
    session: Any,
    module: Any,
    specs: tuple[TensorSpec, ...],
    example_inputs: Path | None,
    output_names: list[str],
    tolerance: Tolerance,
) -> tuple[list[Comparison], list[str]]:
    """Every set of an ONNX test-data directory, as given: the ONNX file against PyTorch, and against
    the set's expected outputs where PyTorch itself reproduces them (else a note says it does not)."""
    source = open_source(example_inputs) if example_inputs is not None else None
    if source is None or not source.calls_as_given:
        return [], []
    dataset = source.load(specs)
    checks: list[Comparison] = []
    notes: list[str] = []
    for index, (call, expected) in enumerate(zip(dataset.calls, dataset.expected, strict=True)):
        label = f"test set {index} ({_label(call, specs)})"
        reference = _torch_outputs(module, specs, call)
        checks.append(_check(session, call, reference, output_names, tolerance, label))
        if expected is None:
            continue
        names = output_names[: len(expected)]
        torch_agrees = compare_outputs(
            list(expected), reference[: len(expected)], names=names, tolerance=tolerance, label=label
        )
        if not torch_agrees.passed:
            notes.append(f"PyTorch does not reproduce the expected outputs of test set {index}; they were not checked")
            continue
        produced = run_session(session, call)[: len(expected)]
        checks.append(
            compare_outputs(
                list(expected), produced, names=names, tolerance=tolerance, label=f"the expected outputs of {label}"
            )
        )
    return checks, notes


def _resize_like(array: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    import numpy as np

    out = array
    for axis, size in enumerate(shape):
        out = np.take(out, np.arange(size) % out.shape[axis], axis=axis)
    return out


def _label(feeds: dict[str, np.ndarray], specs: Sequence[TensorSpec]) -> str:
    return "inputs " + ", ".join(f"{s.name}{list(feeds[s.name].shape)}" for s in specs)


def _check(
    session: Any,
    feeds: dict[str, np.ndarray],
    reference: list[np.ndarray],
    names: list[str],
    tolerance: Tolerance,
    label: str,
) -> Comparison:
    actual = run_session(session, feeds)
    if len(actual) != len(reference):
        raise ExportError(f"the ONNX model has {len(actual)} outputs, PyTorch returned {len(reference)}.")
    return compare_outputs(reference, actual, names=names, tolerance=tolerance, label=label)


def _one_line(exc: BaseException) -> str:
    return cause_text(exc)
