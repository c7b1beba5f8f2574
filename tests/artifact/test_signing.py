"""Signed packages (issue 25): ``pack --sign KEY`` in the OpenSSF model-signing format, ``verify --key PUB``."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from mlpack.artifact.manifest import MANIFEST, seal
from mlpack.artifact.signing import SIGNATURE
from mlpack.cli import app
from mlpack.errors import ExitCode

pytest.importorskip("model_signing")


def _keypair(folder: Path, name: str) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    private, public = folder / f"{name}.pem", folder / f"{name}.pub"
    private.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    public.write_bytes(
        key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    return private, public


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    from typer.testing import CliRunner

    from tests.helpers.models import make_gemm_mlp

    folder = tmp_path_factory.mktemp("signed")
    model = make_gemm_mlp(folder / "mlp.onnx")
    private, public = _keypair(folder, "signer")
    _, other = _keypair(folder, "other")
    package, unsigned = folder / "mlp.mlpack", folder / "plain.mlpack"
    runner = CliRunner()
    packed = runner.invoke(app, ["pack", str(model), "-o", str(package), "--golden", "1", "--sign", str(private)])
    assert packed.exit_code == 0 and "signed" in packed.output, packed.output
    assert runner.invoke(app, ["pack", str(model), "-o", str(unsigned), "--golden", "1"]).exit_code == 0
    return {"package": package, "unsigned": unsigned, "public": public, "other": other, "private": private}


def _verify(runner, package: Path, *extra: str):  # type: ignore[no-untyped-def]
    result = runner.invoke(app, ["verify", str(package), *extra, "--json"])
    return result.exit_code, json.loads(result.stdout)


def test_a_signed_package_verifies_with_its_public_key(signed, runner) -> None:
    with zipfile.ZipFile(signed["package"]) as archive:
        assert SIGNATURE in archive.namelist()
        bundle = json.loads(archive.read(SIGNATURE))
    assert bundle["mediaType"].startswith("application/vnd.dev.sigstore.bundle")  # the OpenSSF format
    code, shown = _verify(runner, signed["package"], "--key", str(signed["public"]))
    assert code == 0 and shown["package_signature"]["status"] == "verified", shown
    code, shown = _verify(runner, signed["package"])  # without a key: verified by hash, signature noted
    assert code == 0 and shown["package_signature"]["status"] == "unchecked"
    said = runner.invoke(app, ["verify", str(signed["package"]), "--key", str(signed["public"])]).output
    assert "the signature verifies with" in said


def test_the_wrong_key_is_exit_1_and_named(signed, runner) -> None:
    code, shown = _verify(runner, signed["package"], "--key", str(signed["other"]))
    assert code == ExitCode.FAILED and shown["package_signature"]["status"] == "failed"
    assert any(SIGNATURE in p and str(signed["other"]) in p for p in shown["problems"]), shown["problems"]


def test_a_consistent_forgery_passes_the_hashes_but_not_the_signature(signed, runner, tmp_path: Path) -> None:
    """The model changed and the manifest resealed to match: only the signature tells."""
    forged = tmp_path / "forged.mlpack"
    with zipfile.ZipFile(signed["package"]) as src:
        files = {n: src.read(n) for n in src.namelist() if n not in (MANIFEST, SIGNATURE)}
        manifest = json.loads(src.read(MANIFEST))
        signature = src.read(SIGNATURE)
    model = next(n for n in files if n.endswith(".onnx"))
    files[model] = files[model].replace(b"mlp", b"mlq", 1)
    manifest["files"][model] = {"sha256": hashlib.sha256(files[model]).hexdigest(), "size": len(files[model])}
    manifest = seal({k: v for k, v in manifest.items() if k != "manifest_sha256"})
    with zipfile.ZipFile(forged, "w") as dst:
        dst.writestr(MANIFEST, json.dumps(manifest))
        dst.writestr(SIGNATURE, signature)
        for name, data in files.items():
            dst.writestr(name, data)
    assert _verify(runner, forged)[0] == 0  # by hash alone it holds
    code, shown = _verify(runner, forged, "--key", str(signed["public"]))
    assert code == ExitCode.FAILED and any("does not verify" in p for p in shown["problems"]), shown


def test_an_unsigned_package_verifies_by_hash_but_not_with_a_key(signed, runner) -> None:
    code, shown = _verify(runner, signed["unsigned"])
    assert code == 0 and shown["package_signature"]["status"] == "unsigned"
    code, shown = _verify(runner, signed["unsigned"], "--key", str(signed["public"]))
    assert code == ExitCode.FAILED and any("not signed" in p for p in shown["problems"]), shown


def test_a_key_that_is_not_one_is_bad_input_and_nothing_is_written(signed, runner, tmp_path: Path) -> None:
    out = tmp_path / "x.mlpack"
    model = signed["package"].parent / "mlp.onnx"
    refused = runner.invoke(app, ["pack", str(model), "-o", str(out), "--sign", str(signed["public"])])
    assert refused.exit_code == ExitCode.BAD_INPUT and "--sign" in refused.output and not out.exists()
    wrong = runner.invoke(app, ["verify", str(signed["package"]), "--key", str(signed["private"])])
    assert wrong.exit_code == ExitCode.BAD_INPUT and "--key" in wrong.output
