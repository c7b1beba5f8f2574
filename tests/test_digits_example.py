"""The digits example end to end, as a new user would try it: the shipped budget files."""

from __future__ import annotations

from pathlib import Path

from mlpack.cli import app
from mlpack.errors import ExitCode

FAST_CLI = ["--runs", "30", "--duration", "0.2", "--warmup", "5"]


def _check(runner, digits: dict[str, Path], budget_file: str, *extra: str):
    return runner.invoke(
        app,
        [
            "check",
            str(digits["int8"]),
            "--budget",
            str(digits["examples"] / budget_file),
            "--reference",
            str(digits["fp32"]),
            "--data",
            str(digits["heldout"]),
            *FAST_CLI,
            *extra,
        ],
    )


def test_int8_is_small_and_as_accurate(digits: dict[str, Path]) -> None:
    import mlpack
    from mlpack.core.metrics import top1_accuracy
    from mlpack.core.onnxio import model_size_bytes
    from mlpack.data.runner import predict
    from mlpack.data.sources import load_dataset

    assert model_size_bytes(digits["int8"]) <= 0.30 * model_size_bytes(digits["fp32"])
    data = load_dataset(digits["heldout"], mlpack.inspect_model(digits["fp32"]).signature.inputs, need_labels=True)
    assert data.labels is not None
    fp32 = top1_accuracy(predict(digits["fp32"], data)[0], data.labels)
    int8 = top1_accuracy(predict(digits["int8"], data)[0], data.labels)
    assert fp32 - int8 <= 0.01


def test_the_shipped_budgets_pass(runner, digits: dict[str, Path]) -> None:
    # Latency on this shared machine is noisy: "inconclusive" (3) is an honest answer too, never a failure.
    for device in ([], ["--device", "rpi4-small"]):
        result = _check(runner, digits, "budgets.toml", *device)
        assert result.exit_code in (ExitCode.OK, ExitCode.INCONCLUSIVE), result.output
        assert "FAIL" not in result.output


def test_the_strict_budgets_fail_and_say_which(runner, digits: dict[str, Path]) -> None:
    result = _check(runner, digits, "budgets-strict.toml")
    assert result.exit_code == ExitCode.FAILED, result.output
    for budget in (
        "max_size_mb",
        "max_latency_ms.p50",
        "max_peak_memory_mb",
        "min_accuracy",
        "min.agreement",
        "max_slice_gap",
    ):
        assert budget in result.output
    assert "budgets broken" in result.output
