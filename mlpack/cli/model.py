"""``mlpack export``, ``optimize`` and ``inspect``: one model file in, one out (or a description)."""

from pathlib import Path
from typing import Annotated, Any

import typer

from mlpack.cli.common import (
    DevicesFile,
    JsonOut,
    Range,
    SetOption,
    StateOption,
    ThresholdOption,
    Timeout,
    console,
    emit,
    feeding,
    handle_errors,
    positive_ints,
    spinner,
    thresholds,
    write_json,
)
from mlpack.errors import BadInputError
from mlpack.exporter.choices import Exporter
from mlpack.quant.choices import CalibrationMethod, IntType, QuantFormat, QuantMode

Source = Annotated[
    str,
    typer.Argument(
        help="pkg.module:factory, path/file.py:factory, a TorchScript file, "
        "a pickled module (--trust-pickle) or an .onnx file."
    ),
]
InputSpecs = Annotated[
    list[str] | None,
    typer.Option("--input", "-i", help="NAME:SHAPE[:DTYPE], e.g. x:1x3x224x224 or ids:batch,seq:int64 (repeatable)."),
]
ExampleInputs = Annotated[
    Path | None, typer.Option(help=".npz with one array per input, named by input, or an ONNX test-data directory.")
]
TrustPickle = Annotated[
    bool, typer.Option("--trust-pickle", help="Allow loading a fully pickled module (runs arbitrary code).")
]
OpTypes = Annotated[
    str | None, typer.Option(help="Comma-separated op types to quantise (default: where it pays on a CPU).")
]
Calibration = Annotated[
    Path | None, typer.Option(help="Calibration .npz or ONNX test-data directory for --quantize static.")
]
CalibrationMethodOption = Annotated[CalibrationMethod, typer.Option(help="Static: how activation ranges are set.")]
CalibrationBatch = Annotated[int, typer.Option(help="Static: samples per calibration batch, at most."), Range(1)]
CalibrationMemory = Annotated[
    str,
    typer.Option(
        help="Memory the data may hold at once, e.g. 1GB, 512MB: static calibration's activations (caps the "
        "batch), and the --data samples kept with their outputs to verify on (the first ones that fit)."
    ),
]
MaxAccuracyDrop = Annotated[
    float | None,
    typer.Option(help="Accuracy-aware: keep the most sensitive nodes in float until the drop is within this."),
    Range(0, 1),
]
EvalData = Annotated[
    Path | None,
    typer.Option("--eval", help="Accuracy-aware: evaluation .npz (labels, or agreement with FP32 without them)."),
]
BlockSize = Annotated[
    int | None,
    typer.Option(
        help="Weights at rest: INT8 scales per block of this many values (0: per output channel; "
        "default: per tensor, per-channel unless blocks of 32 are much closer)."
    ),
]
VerifyData = Annotated[
    Path | None, typer.Option(help=".npz or ONNX test-data directory to verify on (default: generated).")
]
MinCosine = Annotated[
    float | None, typer.Option(help="Min output cosine similarity (default: per mode)."), Range(-1, 1)
]
MinAgreement = Annotated[
    float | None,
    typer.Option(
        help="Min share of decisions kept (top-1 per position, thresholded elements and their F1), "
        "judged on its 95% lower bound (default: per mode)."
    ),
    Range(0, 1),
]

DecideOn = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        help="auto: measure its speed decisions on this device, ssh://[user@]host[:port] or an SSH alias; "
        "repeat for a fleet (INT8 compute only where no device is slower).",
    ),
]
DecideDevice = Annotated[
    str | None, typer.Option("--device", help="auto: a device profile whose target measures the speed decisions.")
]
DecideBatches = Annotated[
    str | None,
    typer.Option(
        help="auto: the batch sizes the model will run at, e.g. 1,8: INT8 compute only where not slower at any "
        "(default: the --device profile's batch_sizes, else 1)."
    ),
]


@handle_errors
def export(
    source: Source,
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the ONNX file.")],
    input_specs: InputSpecs = None,
    example_inputs: ExampleInputs = None,
    weights: Annotated[Path | None, typer.Option(help="A state_dict for a module:factory source.")] = None,
    opset: Annotated[int | None, typer.Option(help="ONNX opset (default: the exporter's).")] = None,
    static_batch: Annotated[bool, typer.Option("--static-batch", help="Keep the batch dimension fixed.")] = False,
    exporter: Annotated[Exporter, typer.Option(help="auto tries dynamo, then TorchScript.")] = Exporter.AUTO,
    atol: Annotated[float, typer.Option(help="Absolute tolerance against PyTorch."), Range(0)] = 1e-4,
    rtol: Annotated[float, typer.Option(help="Relative tolerance against PyTorch."), Range(0)] = 1e-3,
    trust_pickle: TrustPickle = False,
    json_out: JsonOut = None,
) -> None:
    """Export a PyTorch model to one self-contained ONNX file, verified against PyTorch."""
    from mlpack.core.inputspec import parse_input_spec
    from mlpack.exporter.export import export as run_export

    with spinner(f"exporting {source}"):
        result = run_export(
            source,
            output,
            inputs=tuple(parse_input_spec(s) for s in input_specs or ()),
            example_inputs=example_inputs,
            weights=weights,
            opset=opset,
            dynamic_batch=not static_batch,
            exporter=exporter,
            atol=atol,
            rtol=rtol,
            trust_pickle=trust_pickle,
        )
    emit(result, json_out)


@handle_errors
def optimize(
    model: Annotated[Path, typer.Argument(help="The ONNX model to optimise.")],
    output: Annotated[Path, typer.Option("-o", "--output", help="Where to write the optimised model.")],
    quantize: Annotated[QuantMode, typer.Option(help="Quantisation mode.")] = QuantMode.NONE,
    simplify: Annotated[bool, typer.Option(help="Simplify the graph with onnxsim first.")] = True,
    per_channel: Annotated[bool, typer.Option(help="Per-channel INT8 weights (more faithful).")] = True,
    op_types: OpTypes = None,
    calibration: Calibration = None,
    calibration_method: CalibrationMethodOption = CalibrationMethod.MINMAX,
    calibration_batch: CalibrationBatch = 32,
    calibration_memory: CalibrationMemory = "1GB",
    quant_format: Annotated[QuantFormat, typer.Option(help="Static: QDQ or fused QOperator.")] = QuantFormat.QDQ,
    activation_type: Annotated[IntType, typer.Option(help="Static: activation type.")] = IntType.U8,
    weight_type: Annotated[IntType, typer.Option(help="Static: weight type.")] = IntType.S8,
    max_accuracy_drop: MaxAccuracyDrop = None,
    eval_data: EvalData = None,
    block_size: BlockSize = None,
    data: VerifyData = None,
    atol: Annotated[float | None, typer.Option(help="Max abs error allowed (default: per mode)."), Range(0)] = None,
    rtol: Annotated[float, typer.Option(help="Relative tolerance used with --atol."), Range(0)] = 1e-3,
    min_cosine: MinCosine = None,
    min_agreement: MinAgreement = None,
    state: StateOption = None,
    set_values: SetOption = None,
    threshold: ThresholdOption = None,
    target: DecideOn = None,
    device: DecideDevice = None,
    devices_file: DevicesFile = None,
    batch_sizes: DecideBatches = None,
    timeout: Timeout = 600.0,
    json_out: JsonOut = None,
) -> None:
    """Simplify and quantise an ONNX model; fail (and write nothing) if its outputs drift."""
    from mlpack.pipeline.decide_on import decide_on
    from mlpack.quant.optimize import optimize as run_optimize

    settings = _quantize_settings(
        quantize,
        op_types,
        block_size,
        calibration_memory,
        per_channel=per_channel,
        calibration=calibration,
        calibration_method=calibration_method,
        calibration_batch=calibration_batch,
        quant_format=quant_format,
        activation_type=activation_type,
        weight_type=weight_type,
    )
    sizes = positive_ints(batch_sizes, "--batch-sizes") if batch_sizes is not None else None
    where = decide_on(
        quantize, targets=target or (), batch_sizes=sizes, device=device, devices_file=devices_file, timeout_s=timeout
    )
    with spinner(f"optimising {model.name} ({quantize.value})"):
        result = run_optimize(
            model,
            output,
            simplify=simplify,
            quantize=quantize,
            settings=settings,
            tolerance=_tolerance(quantize, atol, rtol, min_cosine, min_agreement),
            data=data,
            max_accuracy_drop=max_accuracy_drop,
            eval_data=eval_data,
            feeding=feeding(state, set_values),
            thresholds=thresholds(threshold),
            timer=where.timer,
            batch_sizes=where.batch_sizes,
        )
    emit(result, json_out)


def _quantize_settings(
    quantize: QuantMode, op_types: str | None, block_size: int | None, memory: str, **fields: Any
) -> Any:
    """The quantiser's settings from the options: op types checked against the mode, sizes parsed."""
    from mlpack.quant.optypes import check_op_types
    from mlpack.quant.ranges import parse_memory
    from mlpack.quant.settings import QuantizeSettings

    ops = check_op_types(tuple(t.strip() for t in op_types.split(",") if t.strip()) if op_types else None, quantize)
    if block_size is not None and block_size < 0:
        raise BadInputError(f"--block-size must be 0 (per channel) or a positive block length, got {block_size}.")
    return QuantizeSettings(op_types=ops, calibration_memory=parse_memory(memory), block_size=block_size, **fields)


def _tolerance(
    quantize: QuantMode, atol: float | None, rtol: float, min_cosine: float | None, min_agreement: float | None
) -> Any:
    """The mode's own tolerance with the limits given on the command line; None when none was given."""
    from mlpack.core.fidelity import Tolerance
    from mlpack.quant.modes import default_tolerance

    if atol is None and min_cosine is None and min_agreement is None:
        return None
    base = default_tolerance(quantize)
    return Tolerance(
        atol=atol if atol is not None else base.atol,
        rtol=rtol,
        min_cosine=min_cosine if min_cosine is not None else base.min_cosine,
        min_agreement=min_agreement if min_agreement is not None else base.min_agreement,
    )


@handle_errors
def inspect(
    model: Annotated[Path, typer.Argument(help="An ONNX model.")],
    json_out: JsonOut = None,
    why: Annotated[
        bool, typer.Option("--why", help="Where the bytes go: per tensor, operator and representation.")
    ] = False,
    top: Annotated[int, typer.Option(help="With --why: name this many of the largest tensors."), Range(1)] = 10,
) -> None:
    """Show a model's inputs, outputs, opset, size, parameters and operators (or a package's manifest)."""
    from mlpack.artifact.manifest import is_package, read_manifest
    from mlpack.artifact.statsview import with_stats_overview
    from mlpack.core.modelinfo import inspect_model

    if why:
        from mlpack.artifact.why import explain_size

        return emit(explain_size(model, top=top), json_out)
    if model.is_file() and is_package(model):
        manifest = with_stats_overview(model, read_manifest(model))
        if json_out:
            write_json(json_out, manifest)
        if json_out != "-":
            from mlpack.cli.render_model import render_manifest

            render_manifest(console(), model, manifest)
        return

    emit(inspect_model(model), json_out)
