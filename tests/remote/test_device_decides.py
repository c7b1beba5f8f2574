"""The device decides (issue 22): auto's speed decisions and tune's candidate latencies measured on
the target over the real SSH server of tests/remote/ssh_server.py, at the batch sizes asked, with
the device's identity in the result; a fleet decides by its slowest device."""

from __future__ import annotations

import json
import os
import pickle
import platform
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpack.cli import app
from mlpack.quant.timers import DecisionTimer, FleetTimer
from mlpack.remote.timer import RemoteTimer
from tests.remote import test_remote
from tests.remote.test_remote import World

# test_remote's fixtures, shared by name: its two SSH servers, the client's HOME, a model.
world, client_home, model = test_remote.world, test_remote.client_home, test_remote.model


def _port(world: World, index: int) -> str:
    return f"127.0.0.1:{world.servers[index].port}"


def test_a_fleet_times_each_batch_size_on_every_device_in_one_job_each(world: World, model: Path) -> None:
    devices = [RemoteTimer(world.url(s), timeout_s=120) for s in world.servers]
    timer = DecisionTimer(pickle.loads(pickle.dumps(FleetTimer(devices))), batch_sizes=(1, 3))  # tune's child gets it
    ratios = timer.p50_ratios([model, model], {"x": np.ones((1, 16), np.float32)})
    assert len(ratios) == 2 and ratios[0] == 1.0
    record = timer.record()
    assert record is not None and record["batch_sizes"] == [1, 3]
    assert [d["device"].split(" ")[0] for d in record["measured_on"]] == [_port(world, 0), _port(world, 1)]
    (timing,) = record["timings"]
    assert set(timing["batch_sizes"]) == {"1", "3"} and len(timing["devices"]) == 2
    slowest = max(r[1] for by_batch in timing["devices"].values() for r in by_batch.values())
    assert timing["ratios"][1] == slowest  # the fleet's answer is its slowest device at its slowest batch


def test_optimize_auto_decides_on_the_profiles_target_at_its_batch_sizes(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    profiles, out = tmp_path / "devices.toml", tmp_path / "auto.onnx"
    url = world.url(world.servers[0])
    profiles.write_text(f'[device.board]\nthreads = 1\ntarget = "{url}"\nbatch_sizes = [1, 2]\n')
    args = ["optimize", str(model), "-o", str(out), "--quantize", "auto", "--no-simplify"]
    result = runner.invoke(app, [*args, "--device", "board", "--devices", str(profiles), "--json"])
    assert result.exit_code == 0, result.output
    decisions = json.loads(result.stdout)["speed_decisions"]
    (device,) = decisions["measured_on"]
    assert device["device"].startswith(_port(world, 0)) and device["onnxruntime"] and device["cpu"]
    assert decisions["batch_sizes"] == [1, 2] and decisions["timings"]
    assert all(set(t["batch_sizes"]) == {"1", "2"} for t in decisions["timings"]) and out.is_file()


def test_without_a_target_the_report_names_this_host(model: Path) -> None:
    from mlpack.cli.render_decisions import measured_on_line
    from mlpack.quant.timing import LocalTimer

    timer = DecisionTimer(LocalTimer())
    timer.p50_ratios([model, model], {"x": np.ones((1, 16), np.float32)})
    record = timer.record()
    assert record is not None
    assert measured_on_line(record).startswith(f"speed decisions measured on this host ({platform.node()})")


def test_tune_times_its_candidates_on_the_target(world: World, model: Path, runner: CliRunner, tmp_path: Path) -> None:
    budget, data = tmp_path / "b.toml", tmp_path / "val.npz"
    budget.write_text("[budget]\nmax_size_mb = 5\n")
    np.savez(data, x=np.random.default_rng(0).standard_normal((16, 16)).astype(np.float32))
    args = ["tune", str(model), "-o", str(tmp_path / "t.onnx"), "-b", str(budget), "--data", str(data)]
    args += ["--max-time", "2", "--runs", "3", "--duration", "0", "--target", world.url(world.servers[1])]
    result = runner.invoke(app, [*args, "--json", "-"])
    assert result.exit_code == 0, result.output
    tuned = json.loads(result.stdout)
    assert [d["device"] for d in tuned["measured_on"]] == [_port(world, 1)]
    assert tuned["chosen"] and any(c["latency_ms"] for c in tuned["candidates"])


def test_other_modes_refuse_a_target(model: Path, runner: CliRunner, tmp_path: Path) -> None:
    out = tmp_path / "o.onnx"
    args = ["optimize", str(model), "-o", str(out), "--quantize", "dynamic", "--target", "ssh://127.0.0.1:9"]
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "makes none" in result.output and not out.exists()


@pytest.mark.parametrize("sizes", ["0", "1,x"])
def test_bad_batch_sizes_are_bad_input(sizes: str, model: Path, runner: CliRunner, tmp_path: Path) -> None:
    args = ["optimize", str(model), "-o", str(tmp_path / "o.onnx"), "--quantize", "auto", "--batch-sizes", sizes]
    assert runner.invoke(app, args).exit_code == 2


def test_a_profiles_batch_sizes_are_checked_where_the_file_is_read(
    model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    profiles = tmp_path / "devices.toml"
    profiles.write_text("[device.board]\nthreads = 1\nbatch_sizes = [0, 8]\n")
    args = ["optimize", str(model), "-o", str(tmp_path / "o.onnx"), "--quantize", "auto"]
    result = runner.invoke(app, [*args, "--device", "board", "--devices", str(profiles)])
    assert result.exit_code == 2 and "batch_sizes" in result.output and "devices.toml" in result.output


@pytest.mark.skipif(
    not os.environ.get("MLPACK_ARM_TARGET"),
    reason='opt-in: the emulated ARM device of tools/arm-device/ (eval "$(tools/arm-device/serve.sh env)")',
)
def test_auto_decides_on_the_emulated_arm_device(
    model: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", os.environ["MLPACK_ARM_HOME"])
    args = ["optimize", str(model), "-o", str(tmp_path / "arm.onnx"), "--quantize", "auto", "--no-simplify"]
    result = runner.invoke(app, [*args, "--target", os.environ["MLPACK_ARM_TARGET"], "--timeout", "1800", "--json"])
    assert result.exit_code == 0, result.output
    (device,) = json.loads(result.stdout)["speed_decisions"]["measured_on"]
    assert "asimd" in device["isa"]  # timed by the ARM build of onnxruntime, on (emulated) ARM
