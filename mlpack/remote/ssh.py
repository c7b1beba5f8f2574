"""The SSH transport to a target device, through asyncssh, with the user's SSH set-up as it is.

asyncssh reads ``~/.ssh/config`` (host aliases, User, Port, IdentityFile, ProxyJump), the keys in
``~/.ssh`` and the agent at ``$SSH_AUTH_SOCK``, and checks host keys against
``~/.ssh/known_hosts``; mlpack never turns that check off. Every way a connection can fail is
turned into one line that says what to do (exit 2).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from mlpack.errors import BadInputError, MissingDependencyError, RemoteError

DEFAULT_PYTHON = "python3"


@dataclass(frozen=True)
class Target:
    """Where to measure: ``ssh://[user@]host[:port][?python=/path/to/python]``, or a host alias."""

    host: str  # a name, an address or an alias from ~/.ssh/config
    user: str | None = None
    port: int | None = None
    python: str = DEFAULT_PYTHON  # the interpreter on the device that has mlpack installed

    @property
    def label(self) -> str:
        """How results and messages name the device."""
        user = f"{self.user}@" if self.user else ""
        port = f":{self.port}" if self.port else ""
        return f"{user}{self.host}{port}"

    def url(self) -> str:
        query = "" if self.python == DEFAULT_PYTHON else f"?python={self.python}"
        return f"ssh://{self.label}{query}"


def parse_target(text: str) -> Target:
    """``ssh://[user@]host[:port]`` (optionally ``?python=PATH``) or a bare host alias.

    Args:
        text: what the user wrote after ``--target`` or as a device profile's ``target``.

    Raises:
        BadInputError: another scheme, no host, or a port that is not a number.
    """
    text = text.strip()
    if not text.isprintable() or any(c.isspace() for c in text):
        # urlsplit drops tabs and newlines silently: "host:2\n2" would connect to port 22.
        raise BadInputError(f"--target {text!r} holds spaces or control characters; write ssh://[user@]host[:port].")
    if "://" not in text:
        if not re.fullmatch(r"[A-Za-z0-9_.\-]+", text):
            raise BadInputError(f"--target takes ssh://[user@]host[:port] or an SSH host alias, got '{text}'.")
        return Target(host=text)
    parts = urlsplit(text)
    if parts.scheme != "ssh":
        raise BadInputError(f"--target '{text}': only ssh:// targets are supported.")
    try:
        port = parts.port
    except ValueError:
        raise BadInputError(f"--target '{text}': the port must be a number from 1 to 65535.") from None
    if not parts.hostname:
        raise BadInputError(f"--target '{text}' names no host: write ssh://[user@]host[:port].")
    python = parse_qs(parts.query).get("python", [DEFAULT_PYTHON])[0]
    return Target(
        host=parts.hostname, user=unquote(parts.username) if parts.username else None, port=port, python=python
    )


def require_asyncssh() -> Any:
    """The asyncssh module, or a one-line error that says how to install it (on the host only)."""
    try:
        import asyncssh
    except ImportError:
        raise MissingDependencyError(
            "--target needs asyncssh on this machine (not on the device): pip install 'mlpack-edge[remote]'."
        ) from None
    return asyncssh


async def connect(target: Target) -> Any:
    """An open asyncssh connection to ``target``, host key checked against ``~/.ssh/known_hosts``.

    Raises:
        RemoteError: the host cannot be reached, refuses the user's keys, or its host key is
            unknown or has changed since it was recorded.
    """
    asyncssh = require_asyncssh()
    options: dict[str, Any] = {}
    if target.user:
        options["username"] = target.user
    if target.port:
        options["port"] = target.port
    try:
        return await asyncssh.connect(target.host, **options)
    except asyncssh.HostKeyNotVerifiable as exc:
        raise _host_key_error(target, exc) from None
    except asyncssh.PermissionDenied:
        raise RemoteError(
            f"{target.label} refused every key offered (authentication failed): add your public key to "
            "~/.ssh/authorized_keys on the device (ssh-copy-id), or name the right IdentityFile in ~/.ssh/config."
        ) from None
    except asyncssh.Error as exc:
        raise RemoteError(f"{target.label}: the SSH connection failed: {exc.reason}.") from None
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise RemoteError(
            f"cannot reach {target.label}: {reason}; check that the device is on, the address and port are "
            "right and sshd runs there."
        ) from None


def _host_key_error(target: Target, exc: Exception) -> RemoteError:
    """Unknown and changed host keys need different actions, so tell them apart."""
    known = Path.home() / ".ssh" / "known_hosts"
    if _has_recorded_key(known, target):
        return RemoteError(
            f"the host key of {target.label} has CHANGED since it was recorded in {known}: this may be an attack, "
            "or the device was reinstalled; if you trust it, remove the old key with "
            f"ssh-keygen -R '{_known_hosts_name(target)}' and connect once with ssh to record the new one."
        )
    return RemoteError(
        f"the host key of {target.label} is unknown (not in {known}); mlpack does not accept unknown keys: "
        f"connect once with ssh {'-p ' + str(target.port) + ' ' if target.port else ''}{target.host} "
        "and confirm its fingerprint, then retry."
    )


def _known_hosts_name(target: Target) -> str:
    return f"[{target.host}]:{target.port}" if target.port and target.port != 22 else target.host


def _has_recorded_key(known: Path, target: Target) -> bool:
    asyncssh = require_asyncssh()
    if not known.is_file():
        return False
    try:
        import socket

        address = socket.gethostbyname(target.host)
    except OSError:
        address = ""
    try:
        trusted, trusted_ca, *_ = asyncssh.match_known_hosts(str(known), target.host, address, target.port or 22)
    except (OSError, ValueError):
        return False
    return bool(trusted or trusted_ca)
