"""A real SSH server on 127.0.0.1 for the --target tests: asyncssh's server API, no transport mocks.

Each session runs its command with ``/bin/sh -c`` in the project's own environment (``python3``
on PATH is this virtualenv's), as sshd would run it on a device; closing the channel or losing
the connection closes the command's stdin, as sshd does. SFTP serves the local file system.
Everything listens on loopback only and stops with the fixture.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import asyncssh

VENV_BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parents[2]  # this checkout: the device runs its mlpack, not the venv's install


class LocalSSHServer:
    """One SSH server in a thread of its own, with its own event loop."""

    def __init__(self, folder: Path, authorized_key: Path, *, env: dict[str, str] | None = None) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.authorized_key = authorized_key
        self.env = env or session_env()
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.connections: list[Any] = []
        self.commands: list[str] = []
        self._server: Any = None
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)

    def __enter__(self) -> LocalSSHServer:
        self._thread.start()
        self._server = self._call(self._start())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def __exit__(self, *exc: object) -> None:
        self.drop_connections()
        self._call(self._stop())
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(timeout=10)

    def _call(self, coroutine: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout=30)

    def public_host_key(self) -> str:
        return self.host_key.export_public_key().decode().strip()

    def drop_connections(self) -> None:
        """Cut every connection without a goodbye: a lost network, as the device sees it."""

        async def drop() -> None:
            for connection in self.connections:
                connection.abort()

        self._call(drop())

    async def _start(self) -> Any:
        server = self

        class Server(asyncssh.SSHServer):
            def connection_made(self, connection: Any) -> None:
                server.connections.append(connection)

        return await asyncssh.create_server(
            Server,
            "127.0.0.1",
            0,
            server_host_keys=[self.host_key],
            authorized_client_keys=str(self.authorized_key),
            process_factory=self._session,
            sftp_factory=True,
            encoding=None,
        )

    async def _stop(self) -> None:
        self._server.close()
        await self._server.wait_closed()

    async def _session(self, process: Any) -> None:
        self.commands.append(process.command or "")
        child = await asyncio.create_subprocess_shell(
            process.command or "true",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=self.env,
            cwd=self.folder,
        )
        feeding = asyncio.ensure_future(_feed(process, child))
        await asyncio.gather(_drain(child.stdout, process.stdout), _drain(child.stderr, process.stderr))
        code = await child.wait()
        feeding.cancel()
        try:
            process.exit(code if code >= 0 else 128 - code)
        except (OSError, asyncssh.Error):
            pass


async def _feed(process: Any, child: Any) -> None:
    """The channel's data into the command's stdin; the channel's end (or the connection's) closes it."""
    try:
        while True:
            data = await process.stdin.read(65536)
            if not data:
                break
            child.stdin.write(data)
            await child.stdin.drain()
    except (OSError, asyncssh.Error, asyncio.CancelledError):
        pass
    finally:
        if not child.stdin.is_closing():
            child.stdin.close()


async def _drain(source: Any, sink: Any) -> None:
    while True:
        data = await source.read(65536)
        if not data:
            return
        try:
            sink.write(data)
        except (OSError, asyncssh.Error):
            pass


def session_env(**overrides: str) -> dict[str, str]:
    """The environment sessions run in: this virtualenv first on PATH, like a device's venv."""
    env = {
        "PATH": f"{VENV_BIN}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "LANG": "C.UTF-8",
        "TMPDIR": os.environ.get("TMPDIR", "/tmp"),
    }
    if (ROOT / "mlpack").is_dir():  # in the checkout; a copy beside an installed wheel (CI) tests the wheel
        env["PYTHONPATH"] = str(ROOT)
    env.update(overrides)
    return env


def write_client_home(home: Path, servers: list[LocalSSHServer], *, key: Any) -> Path:
    """A HOME whose ~/.ssh has the user's key and records the servers' host keys."""
    ssh = home / ".ssh"
    ssh.mkdir(parents=True, exist_ok=True)
    ssh.chmod(0o700)
    key.write_private_key(str(ssh / "id_ed25519"))
    (ssh / "id_ed25519").chmod(0o600)
    key.write_public_key(str(ssh / "id_ed25519.pub"))
    record_host_keys(home, servers)
    return home


def record_host_keys(home: Path, servers: list[LocalSSHServer], *, key_of: Callable[[Any], str] | None = None) -> None:
    lines = []
    for server in servers:
        public = key_of(server) if key_of else server.public_host_key()
        lines.append(f"[127.0.0.1]:{server.port},[localhost]:{server.port} {public}")
    (home / ".ssh" / "known_hosts").write_text("\n".join(lines) + "\n")
