"""The bench worker protocol: messages survive the trip as JSON, and errors keep their class."""

from __future__ import annotations

import io
import json
from pathlib import Path

import numpy as np
import pytest

from mlpack.bench import protocol
from mlpack.bench.interleave import WorkerProcess
from mlpack.bench.measure import benchmark
from mlpack.bench.protocol import (
    Failed,
    Finish,
    Finished,
    Init,
    Loaded,
    NodeTime,
    OpTime,
    Profile,
    Profiled,
    Run,
    Timed,
    WorkerConfig,
    from_json,
    to_json,
)
from mlpack.bench.settings import BenchSettings
from mlpack.bench.worker import Worker, serve
from mlpack.core.choices import ExecutionMode, GraphOptimization
from mlpack.errors import (
    BadInputError,
    DataError,
    ExitCode,
    InputSpecError,
    InternalError,
    ModelLoadError,
    VerificationError,
)

MESSAGES = [
    Init(WorkerConfig(model=Path("m.onnx"), batch_size=4)),
    Init(
        WorkerConfig(
            model=Path("/models/m.onnx"),
            batch_size=8,
            threads=2,
            cpus=(0, 3),
            execution_mode=ExecutionMode.PARALLEL,
            graph_optimization=GraphOptimization.BASIC,
            spinning=False,
            data=Path("d.npz"),
            seed=7,
        )
    ),
    Run(count=5),
    Profile(count=20, prefix="/tmp/ort", warmup=10),
    Finish(),
    Loaded(load_ms=1.5, first_inference_ms=2.5, baseline_rss_mb=30.0, input_shapes={"x": (1, 16), "s": ()}),
    Timed(samples_ms=(0.1, 0.2)),
    Timed(samples_ms=()),
    Profiled(
        runs=20,
        total_ms_per_run=0.3,
        op_types=(OpTime("Gemm", 0.2, 0.75), OpTime("Relu", 0.1, 0.25)),
        nodes=(NodeTime("gemm_1", "Gemm", 0.2, 0.75),),
    ),
    Finished(peak_rss_mb=42.0),
    Failed(error_type="ModelLoadError", message="cannot load"),
]


@pytest.mark.parametrize("message", MESSAGES, ids=lambda m: type(m).__name__)
def test_every_message_round_trips_with_its_types(message: protocol.Message) -> None:
    line = to_json(message)
    assert "\n" not in line
    assert from_json(line) == message


def test_missing_fields_take_the_dataclass_defaults() -> None:
    line = json.dumps({"type": "Init", "fields": {"config": {"model": "m.onnx", "batch_size": 2}}})
    config = from_json(line).config  # type: ignore[union-attr]
    assert config == WorkerConfig(model=Path("m.onnx"), batch_size=2)
    assert config.execution_mode is ExecutionMode.SEQUENTIAL and config.graph_optimization is GraphOptimization.ALL


@pytest.mark.parametrize(
    "line",
    [
        "not json",
        json.dumps({"action": "run", "count": 3}),  # the old untyped dict
        json.dumps({"type": "Explode", "fields": {}}),
        json.dumps({"type": "Run", "fields": {"count": 3, "cuont": 4}}),
        json.dumps({"type": "Init", "fields": {"config": {"model": "m.onnx", "batch_size": 1, "mode": "x"}}}),
        json.dumps({"type": "Init", "fields": {"config": {"model": "m.onnx", "batch_size": 1, "execution_mode": "x"}}}),
    ],
)
def test_a_malformed_message_is_an_internal_error(line: str) -> None:
    with pytest.raises(InternalError, match="malformed message"):
        from_json(line)


def test_the_profile_records_as_it_always_did() -> None:
    profiled = MESSAGES[8]
    assert isinstance(profiled, Profiled)
    assert profiled.to_dict() == {
        "runs": 20,
        "total_ms_per_run": 0.3,
        "op_types": [
            {"op": "Gemm", "ms_per_run": 0.2, "share": 0.75},
            {"op": "Relu", "ms_per_run": 0.1, "share": 0.25},
        ],
        "nodes": [{"node": "gemm_1", "op": "Gemm", "ms_per_run": 0.2, "share": 0.75}],
        "warmup": 0,
        "profiled_run_ms": 0.0,
    }


@pytest.mark.parametrize("kind", [ModelLoadError, InputSpecError, DataError, BadInputError, VerificationError])
def test_an_mlpack_error_comes_back_as_its_own_class(kind: type[Exception]) -> None:
    sent = from_json(to_json(Failed.from_exception(kind("what went wrong", hint="do this."))))
    assert isinstance(sent, Failed)
    error = sent.to_error()
    assert type(error) is kind
    assert str(error) == "what went wrong do this."


def test_an_error_class_outside_mlpack_errors_travels_as_its_nearest_ancestor_there() -> None:
    class LocalError(DataError):
        pass

    error = Failed.from_exception(LocalError("bad rows")).to_error()
    assert type(error) is DataError and error.exit_code == ExitCode.BAD_INPUT


@pytest.mark.parametrize(
    "failed",
    [Failed.from_exception(ValueError("boom")), Failed(error_type="NoSuchError", message="ValueError: boom")],
)
def test_an_unknown_class_becomes_an_internal_error_with_the_workers_message(failed: Failed) -> None:
    error = failed.to_error()
    assert type(error) is InternalError and error.exit_code == ExitCode.INTERNAL
    assert "ValueError: boom" in str(error)


def test_names_in_mlpack_errors_that_are_not_errors_are_unknown() -> None:
    assert type(Failed(error_type="ExitCode", message="m").to_error()) is InternalError


def _served(*lines: str) -> list[protocol.Message]:
    out = io.StringIO()
    serve(Worker(), [line + "\n" for line in lines], out)
    return [from_json(line) for line in out.getvalue().splitlines()]


def test_the_worker_stops_after_finish() -> None:
    """It used to read the "action" key after popping it; Finish must end the loop by itself."""
    replies = _served(to_json(Finish()), to_json(Run(1)))
    assert len(replies) == 1 and isinstance(replies[0], Finished)


def test_the_worker_answers_a_bad_line_and_goes_on() -> None:
    replies = _served("{", to_json(Timed(samples_ms=())), to_json(Run(1)), to_json(Finish()))
    assert [type(r) for r in replies] == [Failed, Failed, Failed, Finished]
    errors = [r.to_error() for r in replies[:3] if isinstance(r, Failed)]
    assert all(type(e) is InternalError for e in errors)
    assert "got a reply (Timed)" in str(errors[1]) and "before Init" in str(errors[2])


def test_a_model_that_cannot_be_loaded_in_the_worker_is_a_model_load_error(runner, tmp_path: Path) -> None:
    from mlpack.cli import app

    corrupt = tmp_path / "corrupt.onnx"
    corrupt.write_bytes(b"garbage" * 10)
    worker = WorkerProcess()
    try:
        with pytest.raises(ModelLoadError) as raised:
            worker.init(WorkerConfig(model=corrupt, batch_size=1))
        assert type(raised.value) is ModelLoadError
        assert worker.finish().peak_rss_mb > 0  # the process survives a failed command
    finally:
        worker.close()
    with pytest.raises(ModelLoadError):
        benchmark([corrupt], settings=BenchSettings(runs=2, duration_s=0, warmup=1))
    result = runner.invoke(app, ["bench", str(corrupt), "--runs", "2"])
    assert result.exit_code == ExitCode.BAD_INPUT == 2
    assert "Traceback" not in result.output


def test_data_that_does_not_fit_comes_back_as_an_input_spec_error(gemm_mlp: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.ones((3, 15), np.float32))
    with pytest.raises(InputSpecError, match="dimension 1 must be 16"):
        benchmark([gemm_mlp], settings=BenchSettings(runs=2, duration_s=0, warmup=1, data=bad))


def test_the_worker_process_speaks_the_typed_protocol(gemm_mlp: Path) -> None:
    worker = WorkerProcess()
    try:
        with pytest.raises(InternalError, match="before Init"):
            worker.run(1)
        loaded = worker.init(WorkerConfig(model=gemm_mlp, batch_size=3, threads=1))
        assert loaded.input_shapes == {"x": (3, 16)} and loaded.load_ms > 0
        timed = worker.run(4)
        assert isinstance(timed.samples_ms, tuple) and len(timed.samples_ms) == 4
        assert worker.finish().peak_rss_mb >= loaded.baseline_rss_mb
    finally:
        worker.close()
