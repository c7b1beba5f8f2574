"""What --target and a profile's target promise beyond one command (issue 22, part A): --state and
--set reach the device, every measuring command follows a profile's target or exits 2 (never the
host instead), the device's reports read like local ones, and no worker outlives --timeout.
Over the real SSH server of tests/remote/ssh_server.py."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from mlpack.cli import app
from tests.data.test_feeds import _state_model
from tests.remote import test_remote
from tests.remote.test_remote import FAST, World, _closed_port, _wait_until

# test_remote's fixtures, shared by name: its two SSH servers, the client's HOME, a model, a package.
world, client_home, model, package = test_remote.world, test_remote.client_home, test_remote.model, test_remote.package

CHECK_FAST = ["--runs", "5", "--duration", "0.01", "--warmup", "1", "--max-remeasure", "0"]


@pytest.fixture(scope="module")
def stream(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A model whose state drifts from its reference's: each call alone agrees, the stream does not."""
    folder = tmp_path_factory.mktemp("stream")
    rng = np.random.default_rng(0)
    np.savez(folder / "d.npz", x=(0.1 * rng.standard_normal((32, 4)) + 0.01).astype(np.float32))
    (folder / "b.toml").write_text("[budget]\nmax = { max_abs_error = 1e-4 }\n")
    return {
        "reference": _state_model(folder / "ref.onnx", 1.0),
        "model": _state_model(folder / "drift.onnx", 1.05),
        "data": folder / "d.npz",
        "budget": folder / "b.toml",
    }


@pytest.mark.parametrize(("feeding", "verdict"), [(["--set", "state=0"], 0), (["--state", "new_state=state"], 1)])
def test_a_stream_checked_on_the_device_gets_the_local_verdict(
    world: World, stream: dict[str, Path], runner: CliRunner, feeding: list[str], verdict: int
) -> None:
    args = ["check", str(stream["model"]), "-b", str(stream["budget"]), "--reference", str(stream["reference"])]
    args += ["--data", str(stream["data"]), *CHECK_FAST, *feeding, "--json", "-"]
    local = runner.invoke(app, args)
    remote = runner.invoke(app, [*args, "--target", world.url(world.servers[0])])
    assert local.exit_code == verdict, local.output
    assert remote.exit_code == verdict, remote.output
    here, there = json.loads(local.stdout), json.loads(remote.stdout)
    assert there["on_device"] and there["verdicts"][0]["measured"] == pytest.approx(here["verdicts"][0]["measured"])


def test_bench_and_run_on_the_device_take_state_and_set(
    world: World, stream: dict[str, Path], runner: CliRunner, tmp_path: Path
) -> None:
    url = world.url(world.servers[1])
    pairs = ["--state", "new_state=state"]
    benched = runner.invoke(app, ["bench", str(stream["model"]), *FAST, *pairs, "--target", url, "--json", "-"])
    assert benched.exit_code == 0, benched.output
    assert json.loads(benched.stdout)["settings"]["feeding"]["state"] == ["new_state=state"]
    given = runner.invoke(
        app, ["bench", str(stream["model"]), *FAST, "--set", "state=0", "--target", url, "--json", "-"]
    )
    assert given.exit_code == 0, given.output
    assert json.loads(given.stdout)["settings"]["feeding"]["set"] == {"state": "0"}
    import mlpack

    package = mlpack.pack(stream["model"], tmp_path / "s.mlpack").output
    remote, local = tmp_path / "remote.npz", tmp_path / "local.npz"
    ran = runner.invoke(
        app, ["run", str(package), "--data", str(stream["data"]), "-o", str(remote), *pairs, "--target", url]
    )
    assert ran.exit_code == 0, ran.output
    assert (
        runner.invoke(app, ["run", str(package), "--data", str(stream["data"]), "-o", str(local), *pairs]).exit_code
        == 0
    )
    with np.load(remote) as a, np.load(local) as b:
        np.testing.assert_allclose(a["prob"], b["prob"], rtol=1e-6)


def _profile_budget(tmp_path: Path, target: str) -> Path:
    path = tmp_path / "budgets.toml"
    path.write_text(f'[device.board]\nthreads = 1\ntarget = "{target}"\n\n[budget]\nmax_size_mb = 5\n')
    return path


def test_diff_follows_the_profiles_target_and_says_so(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    url = world.url(world.servers[0])
    budget = _profile_budget(tmp_path, url)
    comment = tmp_path / "pr.md"
    args = ["diff", str(model), str(model), "-b", str(budget), "--device", "board", "--runs", "5", "--duration", "0.01"]
    result = runner.invoke(app, [*args, "--max-remeasure", "0", "--markdown", str(comment), "--json", "-"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["on_device"] and data["target"] == url and data["schema"] == "mlpack.diff/1"
    assert "before / after" in comment.read_text()


def _build_config(tmp_path: Path, model: Path, budget: Path, quantize: str) -> Path:
    config = tmp_path / "mlpack.toml"
    config.write_text(
        f'[model]\nname = "mlp"\nversion = "1.0.0"\nsource = "{model}"\n\n[optimize]\nquantize = "{quantize}"\n\n'
        f'[check]\nbudgets = "{budget}"\ndevice = "board"\nruns = 5\nduration = 0.01\n'
    )
    return config


@pytest.mark.parametrize("command", ["check", "diff", "bench", "build", "build-auto", "tune", "optimize"])
def test_an_unreachable_profile_target_is_exit_2_never_the_host(
    command: str, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    budget = _profile_budget(tmp_path, f"ssh://127.0.0.1:{_closed_port()}")
    data = tmp_path / "val.npz"
    np.savez(data, x=np.zeros((4, 16), np.float32), labels=np.zeros(4, np.int64))
    device = ["--device", "board"]
    args = {
        "check": ["check", str(model), "-b", str(budget), *device, *CHECK_FAST],
        "diff": ["diff", str(model), str(model), "-b", str(budget), *device],
        "bench": ["bench", str(model), *FAST, *device, "--devices", str(budget)],
        "build": ["build", str(_build_config(tmp_path, model, budget, "none")), "-o", str(tmp_path / "dist")],
        "build-auto": ["build", str(_build_config(tmp_path, model, budget, "auto")), "-o", str(tmp_path / "dist")],
        "tune": ["tune", str(model), "-o", str(tmp_path / "t.onnx"), "-b", str(budget), "--data", str(data), *device],
        "optimize": ["optimize", str(model), "-o", str(tmp_path / "t.onnx"), "--quantize", "auto", *device]
        + ["--devices", str(budget)],
    }[command]
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "cannot reach 127.0.0.1" in result.output
    assert "all 1 budgets hold" not in result.output and not (tmp_path / "t.onnx").exists()


def test_check_on_a_device_names_the_file_and_verify_shows_the_golden_table(
    world: World, model: Path, package: Path, runner: CliRunner, tmp_path: Path
) -> None:
    url = world.url(world.servers[0])
    budget = tmp_path / "b.toml"
    budget.write_text("[budget]\nmax_size_mb = 5\n")
    checked = runner.invoke(app, ["check", str(model), "-b", str(budget), *CHECK_FAST, "--target", url])
    assert checked.exit_code == 0, checked.output
    assert "mlpack check: mlp.onnx" in checked.output and "model.onnx" not in checked.output
    verified = runner.invoke(app, ["verify", str(package), "--run", "--target", url])
    assert verified.exit_code == 0, verified.output
    assert "verified on" in verified.output and f"Golden samples on {url}" in verified.output


def _processes_in(folder: Path) -> list[int]:
    """The processes whose working folder is under ``folder`` (the agent's jobs run in theirs)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            cwd = os.readlink(entry / "cwd")
        except OSError:
            continue
        if cwd.startswith(str(folder)):
            found.append(int(entry.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/cwd").exists(), reason="needs /proc")
def test_no_measuring_worker_outlives_the_timeout(world: World, model: Path, runner: CliRunner) -> None:
    server = world.servers[1]
    slow = ["--runs", "100000000", "--duration", "0.01", "--warmup", "1"]
    result = runner.invoke(app, ["bench", str(model), *slow, "--target", world.url(server), "--timeout", "4"])
    assert result.exit_code == 2 and "did not finish within 4 s" in result.output
    tmp = server.folder / "tmp"
    assert _wait_until(lambda: _processes_in(tmp) == []), _processes_in(tmp)
    assert _wait_until(lambda: world.leftovers(server) == []), world.leftovers(server)


def _alive(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="needs /proc")
def test_the_agent_stops_the_jobs_workers_with_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A job whose mlpack started a worker: when the host goes, both go (the worker is in its group)."""
    import sys
    import threading

    from mlpack.remote import agent

    pid_file = tmp_path / "worker.pid"
    script = (
        "import subprocess, sys, time\n"
        "w = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)'])\n"
        f"open({str(pid_file)!r}, 'w').write(str(w.pid))\n"
        "time.sleep(600)\n"
    )
    monkeypatch.setattr(agent, "mlpack_command", lambda args: [sys.executable, "-c", script])
    job = agent._Job()
    running = threading.Thread(target=job.run, args=([], tmp_path), daemon=True)
    running.start()
    assert _wait_until(lambda: pid_file.is_file() and pid_file.read_text().strip() != "")
    worker = int(pid_file.read_text())
    with job.lock:
        job.stop()  # what the end of the host's stdin does
    running.join(timeout=60)
    assert not running.is_alive()
    assert _wait_until(lambda: not _alive(worker)), f"worker {worker} outlived its job"


def test_feeding_options_become_the_same_options_on_the_device() -> None:
    from mlpack.budget.settings import CheckSettings
    from mlpack.data.feeds import FeedOptions

    feeding = FeedOptions.parse(("new_state=state",), ("sr=16000",), ("x:1x24",))
    args = feeding.to_args()
    assert args == ["--state", "new_state=state", "--set", "sr=16000", "--shape", "x:1x24"]
    assert FeedOptions.parse((args[1],), (args[3],), (args[5],)) == feeding
    assert CheckSettings(feeding=feeding).to_args()[-6:] == args
