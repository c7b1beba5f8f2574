"""Signed packages: the OpenSSF model-signing format (the ``model-signing`` library), key-based, offline.

What is signed is the package's manifest, byte for byte: it is sealed by its own hash and holds the
SHA-256 of every other file, so a signature over it covers the whole package, and ``verify``
checks those hashes as it always did. The signature (a Sigstore bundle, as ``model_signing sign
key`` writes it) is stored in the package as ``signature.sig``; it can be checked without mlpack
too: ``unzip PKG manifest.json signature.sig && model_signing verify key --signature signature.sig
--public_key PUB manifest.json``.
"""

from __future__ import annotations

import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.artifact.manifest import MANIFEST
from mlpack.core.fileio import require_file
from mlpack.errors import BadInputError

SIGNATURE = "signature.sig"
_INSTALL = "install the sign extra: pip install 'mlpack-edge[sign]'"


@dataclass(frozen=True)
class SignatureCheck:
    """What ``verify`` found of a package's signature."""

    status: str  # verified, unsigned, unchecked (signed, no key given), failed
    key: str | None = None  # the public key it was checked with
    problem: str | None = None  # why it failed, naming the signature and the key

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, "key": self.key, "problem": self.problem}


def signer(key: Path) -> Any:
    """A model-signing configuration that signs with the PEM private key at ``key``; checked before
    any work, so a bad key is bad input (exit 2) and nothing is written.

    Raises:
        BadInputError: the library is missing, or ``key`` is not a readable PEM elliptic-curve private key.
    """
    key = require_file(Path(key), "signing key (--sign)")
    signing = _library().signing
    try:
        return signing.Config().use_elliptic_key_signer(private_key=key)
    except (ValueError, TypeError) as exc:
        raise BadInputError(f"--sign {key} is not a PEM elliptic-curve private key (openssl ecparam): {exc}") from exc


def sign_manifest(config: Any, manifest: bytes) -> bytes:
    """The signature of ``manifest`` (the package's manifest.json bytes) as a Sigstore bundle."""
    with tempfile.TemporaryDirectory(prefix="mlpack-sign-") as folder:
        path, signature = Path(folder) / MANIFEST, Path(folder) / SIGNATURE
        path.write_bytes(manifest)
        config.sign(path, signature)
        return signature.read_bytes()


def check_signature(package: Path, *, key: Path | None = None) -> SignatureCheck:
    """The signature stored in ``package`` checked against its manifest with the PEM public key
    ``key``; without a key, only whether there is one. Read from the archive itself, so that a
    changed manifest fails here too (the file hashes are ``verify``'s to check).

    Raises:
        BadInputError: the library is missing, or ``key`` is not a PEM public key (exit 2).
    """
    with zipfile.ZipFile(package) as archive:
        names = set(archive.namelist())
        signature = archive.read(SIGNATURE) if SIGNATURE in names else None
        manifest = archive.read(MANIFEST) if MANIFEST in names else b""
    if key is None:
        return SignatureCheck("unchecked" if signature is not None else "unsigned")
    config = _verifier(require_file(Path(key), "public key (--key)"))
    if signature is None:
        problem = f"'{SIGNATURE}': the package is not signed, and --key {key} asks for its signature."
        return SignatureCheck("failed", str(key), problem)
    with tempfile.TemporaryDirectory(prefix="mlpack-verify-") as folder:
        (Path(folder) / MANIFEST).write_bytes(manifest)
        (Path(folder) / SIGNATURE).write_bytes(signature)
        try:
            config.verify(Path(folder) / MANIFEST, Path(folder) / SIGNATURE)
        except Exception as exc:  # the library raises ValueError, JSON and protobuf errors alike on a bad bundle
            problem = f"'{SIGNATURE}': the signature does not verify with --key {key}: {_first_line(exc)}"
            return SignatureCheck("failed", str(key), problem)
    return SignatureCheck("verified", str(key))


def _verifier(key: Path) -> Any:
    verifying = _library().verifying
    try:
        return verifying.Config().use_elliptic_key_verifier(public_key=key)
    except (ValueError, TypeError) as exc:
        raise BadInputError(f"--key {key} is not a PEM elliptic-curve public key: {exc}") from exc


def _library() -> Any:
    try:
        import model_signing
        from model_signing import signing, verifying  # noqa: F401  (the submodules this module calls)
    except ImportError as exc:
        raise BadInputError(f"signing packages needs the model-signing library ({exc}): {_INSTALL}") from exc
    return model_signing


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:300]
