"""``mlpack devices setup`` and ``devices check`` against the real SSH server: a venv in a fresh
folder of a fresh HOME on the "device" (this machine), a second run that changes nothing, and
--target runs that use the recorded venv. Offline through the documented test hook
(``MLPACK_SETUP_TEST_SITE``: the venv reads this environment's packages instead of downloaded
dependency wheels; mlpack's own wheel is built and installed for real)."""

from __future__ import annotations

import json
import sysconfig
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mlpack.cli import app
from mlpack.remote.setup import TEST_SITE_ENV
from tests.remote import test_remote
from tests.remote.ssh_server import LocalSSHServer, record_host_keys
from tests.remote.test_remote import FAST, World

world, model = test_remote.world, test_remote.model


@pytest.fixture
def device(world: World, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[LocalSSHServer, Path]]:
    """A device with a fresh HOME and this checkout not on its path; the host's state in a fresh folder."""
    home = tmp_path / "device-home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(world.home))
    monkeypatch.delenv("SSH_AUTH_SOCK", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "host-config"))
    monkeypatch.setenv(TEST_SITE_ENV, sysconfig.get_paths()["purelib"])
    with world.server("fresh", HOME=str(home), PYTHONPATH="") as server:
        record_host_keys(world.home, [*world.servers, server])
        try:
            yield server, home
        finally:
            record_host_keys(world.home, world.servers)


def test_setup_installs_into_its_folder_then_changes_nothing_and_target_runs_use_it(
    device: tuple[LocalSSHServer, Path], world: World, model: Path, runner: CliRunner, tmp_path: Path
) -> None:
    server, home = device
    url, folder = world.url(server), home / "mlpack-venv"
    first = runner.invoke(app, ["devices", "setup", url, "--dir", str(folder), "--json"])
    assert first.exit_code == 0, first.output
    done = json.loads(first.stdout)
    assert done["changed"] is True and any(w.startswith("mlpack_edge-") for w in done["installed"])
    assert done["python"] == str(folder / "venv" / "bin" / "python") and done["device"]["mlpack"] == "0.1.0"
    assert sorted(p.name for p in home.iterdir()) == ["mlpack-venv"]  # nothing outside its folder
    state = (tmp_path / "host-config" / "mlpack" / "devices.toml").read_text()
    assert done["python"] in state

    again = runner.invoke(app, ["devices", "setup", url, "--dir", str(folder)])
    assert again.exit_code == 0, again.output
    assert "nothing changed" in again.output

    checked = runner.invoke(app, ["devices", "check", url, "--dir", str(folder), "--json"])
    assert checked.exit_code == 0, checked.output
    report = json.loads(checked.stdout)
    assert report["venv"]["mlpack"] == "0.1.0" and report["venv"]["onnxruntime"]
    assert isinstance(report["venv"]["isa"], list)
    assert report["python"]["python"] and report["python"]["machine"]

    benched = runner.invoke(app, ["bench", str(model), *FAST, "--target", url, "--json", "-"])
    assert benched.exit_code == 0, benched.output
    assert any(c.startswith(f"{folder}/venv/bin/python -m mlpack.bench.agent") for c in server.commands)


def test_check_reports_a_device_without_a_venv(device: tuple[LocalSSHServer, Path], world: World, runner) -> None:
    server, home = device
    result = runner.invoke(app, ["devices", "check", world.url(server), "--dir", str(home / "none")])
    assert result.exit_code == 0, result.output
    assert "no venv in" in result.output and "mlpack devices setup" in result.output
