"""--target over a real SSH server on 127.0.0.1 (asyncssh's server API): copy, run, results,
cleanup and every error, through the CLI. No transport is mocked; nothing leaves loopback."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncssh
import numpy as np
import pytest
from typer.testing import CliRunner

from mlpack.cli import app
from mlpack.errors import BadInputError
from mlpack.remote.ssh import parse_target
from tests.helpers.hostile import without_progress
from tests.helpers.models import make_gemm_mlp
from tests.remote.ssh_server import VENV_BIN, LocalSSHServer, record_host_keys, session_env, write_client_home

ROOT = Path(__file__).resolve().parents[2]
FAST = ["--runs", "5", "--duration", "0.01", "--warmup", "1"]


class World:
    """Two servers, the user's key, and a HOME whose ~/.ssh knows both servers."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.key = asyncssh.generate_private_key("ssh-ed25519")
        self.authorized = folder / "authorized_keys"
        self.authorized.write_text(self.key.export_public_key().decode())
        self.servers = [self.server(f"device{i}") for i in range(2)]
        self.home = folder / "home"

    def server(self, name: str, **env: str) -> LocalSSHServer:
        tmp = self.folder / name / "tmp"
        tmp.mkdir(parents=True, exist_ok=True)
        return LocalSSHServer(self.folder / name, self.authorized, env=session_env(TMPDIR=str(tmp), **env))

    def url(self, server: LocalSSHServer) -> str:
        return f"ssh://127.0.0.1:{server.port}"

    @staticmethod
    def leftovers(server: LocalSSHServer) -> list[str]:
        return [p.name for p in (server.folder / "tmp").glob("mlpack-target-*")]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    world = World(tmp_path_factory.mktemp("ssh"))
    with world.servers[0], world.servers[1]:
        write_client_home(world.home, world.servers, key=world.key)
        yield world


@pytest.fixture(autouse=True)
def client_home(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(world.home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_gemm_mlp(tmp_path_factory.mktemp("models") / "mlp.onnx")


def _wait_until(condition: object, seconds: float = 30.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_bench_on_a_device_brings_back_the_same_json_with_the_devices_system(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    server = world.servers[0]
    out = tmp_path / "bench.json"
    result = runner.invoke(app, ["bench", str(model), *FAST, "--target", world.url(server), "--json", str(out)])
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["schema"] == "mlpack.bench.measure/1"
    assert data["on_device"] is True and data["target"] == world.url(server)
    system = data["system"]
    for key in ("cpu_model", "logical_cores", "cpu_features", "memory_mb", "os"):
        assert system[key], key
    assert system["versions"]["onnxruntime"] and system["on_device"] is True
    (measurement,) = data["measurements"]
    assert measurement["model"] == str(model) and measurement["name"] == "mlp.onnx"
    assert measurement["latency_ms"]["count"] >= 5
    assert "measured on the device" in result.output
    assert any("mlpack.bench.agent" in c for c in server.commands)
    assert world.leftovers(server) == []


def test_a_fleet_of_two_runs_in_parallel_and_compare_sets_the_devices_side_by_side(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "fleet.json"
    urls = [arg for s in world.servers for arg in ("--target", world.url(s))]
    result = runner.invoke(app, ["bench", str(model), *FAST, *urls, "--json", str(out)])
    assert result.exit_code == 0, result.output
    fleet = json.loads(out.read_text())
    assert fleet["schema"] == "mlpack.bench.fleet/1" and fleet["ok"] and fleet["failures"] == {}
    assert [r["target"] for r in fleet["results"]] == [world.url(s) for s in world.servers]
    assert all(r["on_device"] for r in fleet["results"])
    assert result.output.count("mlp.onnx") >= 2  # one merged table, a row per device
    compared = runner.invoke(app, ["compare", str(out), "--json"])
    assert compared.exit_code == 0, compared.output
    rows = json.loads(compared.stdout)["rows"]
    assert len(rows) == 1 and world.url(world.servers[1]) in rows[0]["source"]


def test_a_fleet_with_one_unreachable_device_reports_the_other_and_exits_2(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    out = tmp_path / "fleet.json"
    dead = f"ssh://127.0.0.1:{_closed_port()}"
    result = runner.invoke(
        app, ["bench", str(model), *FAST, "--target", world.url(world.servers[0]), "--target", dead, "--json", str(out)]
    )
    assert result.exit_code == 2
    fleet = json.loads(out.read_text())
    assert len(fleet["results"]) == 1 and list(fleet["failures"]) == [dead]
    assert "cannot reach" in result.output


def _closed_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _one_error_line(output: str) -> str:
    lines = [line for line in without_progress(output).splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:"), output
    return lines[0]


def test_unreachable_host_is_one_line_exit_2(model: Path, runner: CliRunner) -> None:
    result = runner.invoke(app, ["bench", str(model), *FAST, "--target", f"ssh://127.0.0.1:{_closed_port()}"])
    assert result.exit_code == 2
    assert "cannot reach 127.0.0.1" in _one_error_line(result.output)


def test_a_wrong_key_is_refused_in_one_line(
    world: World, model: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = write_client_home(tmp_path / "home", world.servers, key=asyncssh.generate_private_key("ssh-ed25519"))
    monkeypatch.setenv("HOME", str(home))
    result = runner.invoke(app, ["bench", str(model), *FAST, "--target", world.url(world.servers[0])])
    assert result.exit_code == 2
    assert "refused every key" in _one_error_line(result.output)


def test_an_unknown_host_key_is_refused_never_accepted(
    world: World, model: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = write_client_home(tmp_path / "home", world.servers, key=world.key)
    (home / ".ssh" / "known_hosts").write_text("")
    monkeypatch.setenv("HOME", str(home))
    result = runner.invoke(app, ["bench", str(model), *FAST, "--target", world.url(world.servers[0])])
    assert result.exit_code == 2
    assert "host key of 127.0.0.1" in _one_error_line(result.output) and "unknown" in result.output
    assert (home / ".ssh" / "known_hosts").read_text() == ""  # nothing recorded behind the user's back


def test_a_changed_host_key_is_named_as_changed(
    world: World, model: Path, runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    home = write_client_home(tmp_path / "home", world.servers, key=world.key)
    other = asyncssh.generate_private_key("ssh-ed25519").export_public_key().decode().strip()
    record_host_keys(home, world.servers, key_of=lambda server: other)
    monkeypatch.setenv("HOME", str(home))
    result = runner.invoke(app, ["bench", str(model), *FAST, "--target", world.url(world.servers[0])])
    assert result.exit_code == 2
    assert "CHANGED" in _one_error_line(result.output) and "ssh-keygen -R" in result.output


def test_a_device_without_mlpack_gets_the_setup_command(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    bare = tmp_path / "bin"
    bare.mkdir()
    python = bare / "python3"  # Python without site-packages: no mlpack, no numpy
    python.write_text(f'#!/bin/sh\nexec {VENV_BIN / "python"} -I -S "$@"\n')
    python.chmod(0o755)
    with world.server("bare", PATH=f"{bare}:/usr/bin:/bin") as server:
        record_host_keys(world.home, [*world.servers, server])
        result = runner.invoke(app, ["bench", str(model), *FAST, "--target", world.url(server)])
    record_host_keys(world.home, world.servers)
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert "mlpack is not installed on 127.0.0.1" in line
    assert f"mlpack devices setup {world.url(server)}" in line and "pip install" not in line


def test_a_device_with_another_minor_version_is_refused(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    fake = tmp_path / "site" / "mlpack_edge-0.2.0.dist-info"
    fake.mkdir(parents=True)
    (fake / "METADATA").write_text("Metadata-Version: 2.1\nName: mlpack-edge\nVersion: 0.2.0\n")
    with world.server("old", PYTHONPATH=str(fake.parent)) as server:
        record_host_keys(world.home, [*world.servers, server])
        result = runner.invoke(app, ["bench", str(model), *FAST, "--target", world.url(server)])
    record_host_keys(world.home, world.servers)
    assert result.exit_code == 2
    line = _one_error_line(result.output)
    assert "has mlpack 0.2.0 but this machine has 0.1" in line and "mlpack devices setup" in line


def test_a_timeout_is_one_line_and_the_device_folder_goes(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    server = world.servers[0]
    slow = ["--runs", "100000000", "--duration", "0.01", "--warmup", "1"]
    result = runner.invoke(app, ["bench", str(model), *slow, "--target", world.url(server), "--timeout", "4"])
    assert result.exit_code == 2
    assert "did not finish within 4 s" in _one_error_line(result.output)
    assert _wait_until(lambda: world.leftovers(server) == []), world.leftovers(server)


def _start_cli(args: list[str], home: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT)}
    env.pop("SSH_AUTH_SOCK", None)
    return subprocess.Popen(
        [sys.executable, "-m", "mlpack.cli", *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


# A bound against a hang, not a guess at how long the work takes: every wait below is on an event
# (a file appears, a process ends, a folder goes), so a loaded CI machine only makes it slower.
HANG_GUARD_S = 600.0


def _wait_for(condition: object, what: str) -> None:
    assert _wait_until(condition, HANG_GUARD_S), what


@pytest.mark.parametrize("how", ["ctrl-c", "lost connection", "host killed"])
def test_the_device_folder_goes_when_the_run_is_cut_short(world: World, model: Path, how: str) -> None:
    server = world.servers[1]
    slow = ["--runs", "100000000", "--duration", "0.01", "--warmup", "1"]
    proc = _start_cli(["bench", str(model), *slow, "--target", world.url(server), "--timeout", "600"], world.home)
    tmp = server.folder / "tmp"
    try:
        # The event that matters: the model has been copied into the device's folder (the job runs).
        _wait_for(lambda: any(tmp.glob("mlpack-target-*/*")), "the device never received the model")
        if how == "ctrl-c":
            proc.send_signal(signal.SIGINT)
        elif how == "lost connection":
            server.drop_connections()
        else:
            proc.kill()
        _, stderr = proc.communicate(timeout=HANG_GUARD_S)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    _wait_for(lambda: world.leftovers(server) == [], f"the device folder stayed: {world.leftovers(server)}")
    if how == "ctrl-c":
        assert proc.returncode == 130, stderr
    if how == "lost connection":
        assert proc.returncode == 2, stderr
        assert "lost the connection to 127.0.0.1" in stderr


def _budget(tmp_path: Path, p50_ms: float, *, target: str | None = None) -> Path:
    device = f'[device.board]\nthreads = 1\ntarget = "{target}"\n\n' if target else ""
    path = tmp_path / "budgets.toml"
    path.write_text(f"{device}[budget]\nmax_size_mb = 5\nmax_latency_ms = {{ p50 = {p50_ms} }}\n")
    return path


def test_check_on_a_device_measures_there_and_keeps_its_exit_codes(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    url = world.url(world.servers[0])
    args = ["check", str(model), "--runs", "5", "--duration", "0.01", "--warmup", "1", "--max-remeasure", "0"]
    out, markdown = tmp_path / "check.json", tmp_path / "check.md"
    passed = runner.invoke(
        app,
        [*args, "-b", str(_budget(tmp_path, 1e5)), "--target", url, "--json", str(out), "--markdown", str(markdown)],
    )
    assert passed.exit_code == 0, passed.output
    data = json.loads(out.read_text())
    assert data["ok"] and data["on_device"] and data["target"] == url and data["system"]["memory_mb"]
    assert "budget" in markdown.read_text().lower()
    broken = runner.invoke(app, [*args, "-b", str(_budget(tmp_path, 1e-6)), "--target", url, "--json", "-"])
    assert broken.exit_code == 1
    assert json.loads(broken.stdout)["ok"] is False


def test_a_profile_with_a_target_measures_on_that_device(
    world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    url = world.url(world.servers[0])
    budget = _budget(tmp_path, 1e5, target=url)
    out = tmp_path / "bench.json"
    result = runner.invoke(
        app, ["bench", str(model), *FAST, "--device", "board", "--devices", str(budget), "--json", str(out)]
    )
    assert result.exit_code == 0, result.output
    data = json.loads(out.read_text())
    assert data["on_device"] and data["target"] == url
    assert data["device"]["name"] == "board" and data["device"]["measured_on_device"] is True
    checked = runner.invoke(
        app, ["check", str(model), "-b", str(budget), "--device", "board", "--runs", "5", "--json", "-"]
    )
    assert checked.exit_code == 0, checked.output
    assert json.loads(checked.stdout)["target"] == url


@pytest.fixture(scope="module")
def package(model: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import mlpack

    out = tmp_path_factory.mktemp("pkg") / "mlp.mlpack"
    mlpack.pack(model, out)
    return out


def test_verify_run_on_a_device(world: World, package: Path, runner: CliRunner) -> None:
    url = world.url(world.servers[1])
    result = runner.invoke(app, ["verify", str(package), "--run", "--target", url, "--json"])
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data["ok"] and data["on_device"] and data["golden"]["passed"] and data["package"] == str(package)
    human = runner.invoke(app, ["verify", str(package), "--run", "--target", url])
    assert human.exit_code == 0 and "verified on" in human.output


def test_run_on_a_device_writes_the_outputs_here(
    world: World, package: Path, runner: CliRunner, tmp_path: Path
) -> None:
    inputs = tmp_path / "in.npz"
    np.savez(inputs, x=np.random.default_rng(0).standard_normal((6, 16)).astype(np.float32))
    remote, local = tmp_path / "remote.npz", tmp_path / "local.npz"
    result = runner.invoke(
        app, ["run", str(package), "--data", str(inputs), "-o", str(remote), "--target", world.url(world.servers[0])]
    )
    assert result.exit_code == 0, result.output
    assert runner.invoke(app, ["run", str(package), "--data", str(inputs), "-o", str(local)]).exit_code == 0
    with np.load(remote) as a, np.load(local) as b:
        np.testing.assert_allclose(a["y"], b["y"], rtol=1e-5, atol=1e-6)


def test_bad_input_on_the_device_is_one_line_and_nothing_is_written(
    world: World, package: Path, runner: CliRunner, tmp_path: Path
) -> None:
    inputs = tmp_path / "in.npz"
    np.savez(inputs, wrong=np.zeros((2, 3), dtype=np.float32))
    out = tmp_path / "out.npz"
    result = runner.invoke(
        app, ["run", str(package), "--data", str(inputs), "-o", str(out), "--target", world.url(world.servers[0])]
    )
    assert result.exit_code == 2
    assert "on 127.0.0.1" in _one_error_line(result.output)
    assert not out.exists()


@pytest.mark.parametrize("text", ["http://host", "ssh://", "ssh://host:notaport", "two words"])
def test_a_malformed_target_is_bad_input(text: str, model: Path, runner: CliRunner) -> None:
    with pytest.raises(BadInputError):
        parse_target(text)
    result = runner.invoke(app, ["bench", str(model), "--target", text])
    assert result.exit_code == 2 and _one_error_line(result.output)


def test_targets_parse_with_user_port_alias_and_python() -> None:
    target = parse_target("ssh://pi@board.local:2222?python=/opt/venv/bin/python")
    assert (target.user, target.host, target.port, target.python) == ("pi", "board.local", 2222, "/opt/venv/bin/python")
    assert parse_target("pi4").host == "pi4" and parse_target("pi4").port is None


def test_a_profile_target_is_checked_when_the_file_is_read(runner: CliRunner, tmp_path: Path) -> None:
    devices = tmp_path / "devices.toml"
    devices.write_text('[device.board]\nthreads = 1\ntarget = "ftp://nope here"\n')
    result = runner.invoke(app, ["devices", "--devices", str(devices)])
    assert result.exit_code == 2 and "target" in result.output
