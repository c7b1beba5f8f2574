"""bench, devices and compare: structure and consistency of results, never a timing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mlpack.bench.compare import compare
from mlpack.bench.measure import benchmark
from mlpack.bench.results import SCHEMA, BenchResult
from mlpack.bench.settings import BenchSettings
from mlpack.cli import app
from mlpack.core.devices import get_device
from mlpack.errors import ConfigError, ExitCode
from tests.helpers.processes import runtime_only_env

FAST = BenchSettings(runs=12, duration_s=0.0, warmup=2)


@pytest.fixture(scope="module")
def two_models(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    from tests.helpers.models import make_gemm_mlp

    folder = tmp_path_factory.mktemp("bench")
    return make_gemm_mlp(folder / "a.onnx", hidden=32), make_gemm_mlp(folder / "b.onnx", hidden=256, seed=1)


@pytest.fixture(scope="module")
def sweep(two_models: tuple[Path, Path]) -> BenchResult:
    settings = BenchSettings(
        runs=12, duration_s=0.0, warmup=2, batch_sizes=(1, 4), threads=(1, 2), latency_budget_ms=1e6
    )
    return benchmark(list(two_models), settings=settings)


def test_counts_percentiles_and_throughput_are_consistent(sweep: BenchResult) -> None:
    assert len(sweep.measurements) == 2 * 2 * 2  # models x batches x threads
    for m in sweep.measurements:
        lat = m.latency_ms
        assert lat.count == len(m.samples_ms) >= 12
        assert lat.min <= lat.p50 <= lat.p90 <= lat.p95 <= lat.p99 <= lat.max
        assert lat.p50 == pytest.approx(float(np.percentile(m.samples_ms, 50)))
        assert lat.mean == pytest.approx(float(np.mean(m.samples_ms)))
        assert lat.cv == pytest.approx(lat.std / lat.mean)
        assert m.throughput_sps == pytest.approx(m.batch_size * 1000 / lat.mean)
        assert m.timed_seconds == pytest.approx(sum(m.samples_ms) / 1000)
        assert m.load_ms > 0 and m.first_inference_ms > 0
        assert m.memory.peak_rss_mb >= m.memory.baseline_rss_mb > 0
        assert m.size_bytes == Path(m.model).stat().st_size


def test_ratios_are_against_the_first_model_at_the_same_batch_and_threads(sweep: BenchResult) -> None:
    first = {(m.batch_size, m.threads): m for m in sweep.measurements if m.name == "a.onnx"}
    for m in sweep.measurements:
        base = first[(m.batch_size, m.threads)]
        assert m.ratio_to_first is not None
        assert m.ratio_to_first["p50"] == pytest.approx(m.latency_ms.p50 / base.latency_ms.p50)
        if m.name == "a.onnx":
            assert m.ratio_to_first == {"p50": 1.0, "p95": 1.0}


def test_settings_and_system_are_recorded(sweep: BenchResult) -> None:
    data = sweep.to_dict()
    assert data["schema"] == SCHEMA
    assert data["settings"]["interleaved"] is True and data["settings"]["spinning"] is False
    assert "type 7" in data["settings"]["percentile_method"]
    for key in ("cpu_model", "logical_cores", "cpu_features", "int8_acceleration", "os", "python", "versions"):
        assert key in data["system"]
    assert set(data["system"]["versions"]) >= {"mlpack", "onnxruntime"}
    assert data["best_batch"] == {
        "a.onnx @ 1 threads": 4,
        "a.onnx @ 2 threads": 4,
        "b.onnx @ 1 threads": 4,
        "b.onnx @ 2 threads": 4,
    }


def test_json_round_trips(sweep: BenchResult) -> None:
    again = BenchResult.from_dict(json.loads(json.dumps(sweep.to_dict())))
    assert again.to_dict() == sweep.to_dict()


def test_a_budget_below_every_latency_names_no_batch(two_models: tuple[Path, Path]) -> None:
    result = benchmark(
        [two_models[0]],
        settings=BenchSettings(runs=5, duration_s=0, warmup=1, batch_sizes=(1, 2), latency_budget_ms=1e-9),
    )
    assert result.best_batch == {"a.onnx": None}


def test_device_profile_sets_threads_and_marks_an_approximation(two_models: tuple[Path, Path]) -> None:
    result = benchmark([two_models[0]], settings=FAST, device=get_device("edge-1c"))
    assert result.measurements[0].threads == 1
    assert result.device is not None and result.device["measured_on_device"] is False
    assert "approximation" in result.device["note"]


def test_profile_breaks_time_down_by_operator(two_models: tuple[Path, Path]) -> None:
    result = benchmark([two_models[1]], settings=BenchSettings(runs=5, duration_s=0, warmup=1, profile=True))
    profile = result.measurements[0].profile
    assert profile is not None
    ops = {row["op"] for row in profile["op_types"]}
    assert "Gemm" in ops
    assert sum(row["share"] for row in profile["op_types"]) == pytest.approx(1.0)


def test_profile_warms_up_and_its_per_run_figures_add_up_to_the_tables_p50(runner, two_models) -> None:
    """Issue 25: --profile averaged 20 un-warmed runs and showed 0.25 ms per run under a p50 of 0.021 ms."""
    args = ["bench", str(two_models[1]), "--profile", "--runs", "20", "--duration", "0", "--warmup", "3"]
    result = runner.invoke(app, [*args, "--json", "-"])
    assert result.exit_code == 0, result.output
    measured = json.loads(result.stdout)["measurements"][0]
    profile, p50 = measured["profile"], measured["latency_ms"]["p50"]
    assert profile["warmup"] >= 3 and profile["runs"] == 20 and profile["timed_p50_ms"] == p50
    assert sum(row["ms_per_run"] for row in profile["op_types"]) == pytest.approx(p50)
    assert all(row["profiler_ms_per_run"] > 0 for row in profile["op_types"])  # the profiler's own, beside them
    assert profile["profiled_run_ms"] > 0
    shown = runner.invoke(app, args)
    assert "warm-up" in shown.output and "share of the timed p50" in " ".join(shown.output.split())


def test_data_inputs_are_used_and_checked(runner, two_models: tuple[Path, Path], tmp_path: Path) -> None:
    good = tmp_path / "good.npz"
    np.savez(good, x=np.ones((3, 16), np.float32))
    result = benchmark(
        [two_models[0]], settings=BenchSettings(runs=3, duration_s=0, warmup=1, data=good, batch_sizes=(5,))
    )
    assert result.measurements[0].batch_size == 5
    bad = tmp_path / "bad.npz"
    np.savez(bad, x=np.ones((3, 15), np.float32))
    out = runner.invoke(app, ["bench", str(two_models[0]), "--data", str(bad), "--runs", "3"])
    assert out.exit_code == ExitCode.BAD_INPUT and "dimension 1 must be 16" in out.output
    wrong_dtype = tmp_path / "dtype.npz"
    np.savez(wrong_dtype, x=np.ones((3, 16), np.int64))
    out = runner.invoke(app, ["bench", str(two_models[0]), "--data", str(wrong_dtype), "--runs", "3"])
    assert out.exit_code == ExitCode.BAD_INPUT and "dtype" in out.output


def test_a_model_fixed_at_batch_1_is_not_measured_at_a_larger_batch(runner, tmp_path: Path) -> None:
    """Each call is still one sample there (the data's first, or generated at 1x16), so batch 8 was
    the batch-1 latency with samples/s counted eight times over."""
    from tests.helpers.models import make_gemm_mlp

    model = make_gemm_mlp(tmp_path / "fixed.onnx", hidden=8, batch=1)
    np.savez(tmp_path / "data.npz", x=np.ones((40, 16), np.float32))
    for data in ([], ["--data", str(tmp_path / "data.npz")]):
        result = runner.invoke(app, ["bench", str(model), "--batch-sizes", "1,8", "--runs", "3", *data])
        assert result.exit_code == ExitCode.BAD_INPUT, result.output
        assert "takes one sample per call (its batch dimension is fixed at 1), so batch 8 cannot" in result.output


def test_cli_json_to_stdout_is_only_json(runner, two_models: tuple[Path, Path]) -> None:
    result = runner.invoke(
        app, ["bench", str(two_models[0]), "--runs", "5", "--duration", "0", "--warmup", "1", "--json", "-"]
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["schema"] == SCHEMA


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--runs", "0"], "--runs must be at least 1"),
        (["--runs", "-5"], "--runs must be at least 1"),
        (["--batch-sizes", "1,x"], "--batch-sizes"),
        (["--threads", "0"], "--threads"),
        (["--device", "toaster"], "unknown device profile 'toaster'"),
    ],
)
def test_bad_options_are_one_line_exit_2(runner, two_models: tuple[Path, Path], args: list[str], expected: str) -> None:
    result = runner.invoke(app, ["bench", str(two_models[0]), *args])
    assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert expected in result.output and "Traceback" not in result.output


def test_missing_and_corrupt_models(runner, tmp_path: Path) -> None:
    missing = runner.invoke(app, ["bench", str(tmp_path / "nope.onnx")])
    assert missing.exit_code == ExitCode.BAD_INPUT and "not found" in missing.output
    corrupt = tmp_path / "c.onnx"
    corrupt.write_bytes(b"garbage" * 10)
    bad = runner.invoke(app, ["bench", str(corrupt), "--runs", "2"])
    assert bad.exit_code == ExitCode.BAD_INPUT and "Traceback" not in bad.output


def test_device_profiles_file(runner, tmp_path: Path) -> None:
    good = tmp_path / "devices.toml"
    good.write_text('[device.board]\nthreads = 2\ncpus = "0-1"\nmemory_mb = 512\ndescription = "my board"\n')
    listed = runner.invoke(app, ["devices", "--devices", str(good), "--json"])
    assert listed.exit_code == 0
    profiles = json.loads(listed.stdout)
    assert profiles["board"]["cpus"] == [0, 1] and "rpi4" in profiles
    for text, expected in [
        ("[device.board]\nthreads = 2\nspeed = 3\n", ":3: 'device.board.speed': unknown key"),
        ('[device.board]\nthreads = "two"\n', ":2: 'device.board.threads': must be a whole number"),
        ("[device.board]\nthreads = -1\n", "must be positive"),
        ("[device.board]\ncpus = [0]\n", "missing required key 'threads'"),
        ("[device.board\nthreads = 1\n", "not valid TOML"),
    ]:
        bad = tmp_path / "bad.toml"
        bad.write_text(text)
        with pytest.raises(ConfigError, match=expected.replace("(", r"\(").replace(")", r"\)")):
            get_device("board", bad)
        result = runner.invoke(app, ["devices", "--devices", str(bad)])
        assert result.exit_code == ExitCode.BAD_INPUT


def _fake_result(path: Path, p50s: dict[str, float], *, device: str | None = None) -> Path:
    measurements = []
    for name, p50 in p50s.items():
        samples = [p50 * 0.9, p50, p50 * 1.1]
        stats = {
            "count": 3,
            "p50": p50,
            "p90": p50 * 1.08,
            "p95": p50 * 1.09,
            "p99": p50 * 1.1,
            "mean": p50,
            "std": 0.1 * p50,
            "min": p50 * 0.9,
            "max": p50 * 1.1,
            "cv": 0.1,
        }
        measurements.append(
            {
                "model": name,
                "name": name,
                "size_bytes": 1,
                "batch_size": 1,
                "threads": None,
                "load_ms": 1.0,
                "first_inference_ms": 1.0,
                "latency_ms": stats,
                "throughput_sps": 1000 / p50,
                "timed_seconds": sum(samples) / 1000,
                "samples_ms": samples,
                "memory": {"baseline_rss_mb": 1, "peak_rss_mb": 2, "model_peak_mb": 1},
            }
        )
    path.write_text(
        json.dumps(
            {
                "schema": SCHEMA,
                "created": "now",
                "system": {"cpu_model": "cpu", "versions": {}},
                "settings": {},
                "device": {"name": device} if device else None,
                "measurements": measurements,
            }
        )
    )
    return path


def test_compare_ratios_and_fail_if_slower(runner, tmp_path: Path) -> None:
    a = _fake_result(tmp_path / "a.json", {"m.onnx": 10.0})
    b = _fake_result(tmp_path / "b.json", {"m.onnx": 12.0}, device="rpi4")
    result = compare([a, b], percentile="p50", fail_if_slower_pct=10)
    assert [r.ratio for r in result.rows] == [pytest.approx(1.2)]
    assert not result.ok and result.exit_code == ExitCode.FAILED
    assert result.to_dict()["ok"] is False and result.to_dict()["failed"] is True
    within = compare([a, b], fail_if_slower_pct=25)
    assert within.ok and within.exit_code == ExitCode.OK
    assert within.to_dict()["ok"] is True and within.to_dict()["failed"] is False
    failing = runner.invoke(app, ["compare", str(a), str(b), "--fail-if-slower", "10"])
    assert failing.exit_code == ExitCode.FAILED and "1.200x" in failing.output
    passing = runner.invoke(app, ["compare", str(a), str(b), "--fail-if-slower", "25", "--percentile", "p95"])
    assert passing.exit_code == 0
    as_json = runner.invoke(app, ["compare", str(a), str(b), "--json"])
    assert json.loads(as_json.stdout)["rows"][0]["ratio"] == pytest.approx(1.2)
    failing_json = runner.invoke(app, ["compare", str(a), str(b), "--fail-if-slower", "10", "--json"])
    assert failing_json.exit_code == ExitCode.FAILED
    report = json.loads(failing_json.stdout)  # JSON and nothing else, for a failure too
    assert report["ok"] is False and report["failed"] is True and len(report["regressions"]) == 1


def test_compare_pairs_different_models_in_order(tmp_path: Path) -> None:
    a = _fake_result(tmp_path / "a.json", {"fp32.onnx": 10.0})
    b = _fake_result(tmp_path / "b.json", {"int8.onnx": 5.0})
    (row,) = compare([a, b]).rows
    assert row.ratio == pytest.approx(0.5) and "fp32.onnx" in row.key and "int8.onnx" in row.key


def test_compare_rejects_what_is_not_a_result(runner, tmp_path: Path) -> None:
    a = _fake_result(tmp_path / "a.json", {"m.onnx": 10.0})
    other = tmp_path / "o.json"
    other.write_text('{"hello": 1}')
    broken = tmp_path / "broken.json"
    broken.write_text("{")
    for bad in (other, broken, tmp_path / "missing.json"):
        result = runner.invoke(app, ["compare", str(a), str(bad)])
        assert result.exit_code == ExitCode.BAD_INPUT, result.output
    assert runner.invoke(app, ["compare", str(a)]).exit_code == ExitCode.BAD_INPUT


def test_runtime_only_install_benches_and_compares(two_models: tuple[Path, Path], tmp_path: Path) -> None:
    """torch and onnxsim made unimportable, in mlpack and in its measuring processes."""
    env = runtime_only_env(tmp_path)
    outputs = []
    for i in range(2):
        out = tmp_path / f"r{i}.json"
        subprocess.run(
            [
                sys.executable,
                "-m",
                "mlpack.cli",
                "bench",
                str(two_models[0]),
                "--runs",
                "3",
                "--duration",
                "0",
                "--warmup",
                "1",
                "--json",
                str(out),
            ],
            env=env,
            check=True,
            capture_output=True,
        )
        outputs.append(out)
    compared = subprocess.run(
        [sys.executable, "-m", "mlpack.cli", "compare", *map(str, outputs), "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    assert json.loads(compared.stdout)["rows"]
