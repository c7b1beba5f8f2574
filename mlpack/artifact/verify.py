"""``mlpack verify``: is this package what was packed, and does this machine compute what it did?"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.artifact.opened import OpenedPackage
from mlpack.artifact.signing import SignatureCheck, check_signature
from mlpack.core.fidelity import Comparison, compare_outputs
from mlpack.core.onnxio import load_model
from mlpack.core.signature import signature_of
from mlpack.data.feeds import model_dataset
from mlpack.data.runner import predict
from mlpack.errors import BadInputError, ExitCode


@dataclass(frozen=True)
class VerifyResult:
    """The verdict on one package. ``problems`` names each tampered entry or failed check."""

    package: Path
    name: str | None  # None where the manifest could not be read at all
    version: str | None
    files_checked: int  # files compared with their hashes (0 when the manifest itself was changed)
    signature_ok: bool  # False where the files were tampered with and the model was not loaded
    golden: Comparison | None
    problems: tuple[str, ...] = ()
    package_signature: SignatureCheck = SignatureCheck("unchecked")  # the signer's (pack --sign), by --key

    @property
    def ok(self) -> bool:
        return not self.problems and self.signature_ok and (self.golden is None or self.golden.passed)

    @property
    def exit_code(self) -> ExitCode:
        return ExitCode.OK if self.ok else ExitCode.FAILED

    def to_dict(self) -> dict[str, Any]:
        return {
            "package": str(self.package),
            "name": self.name,
            "version": self.version,
            "files_checked": self.files_checked,
            "signature_ok": self.signature_ok,
            "package_signature": self.package_signature.to_dict(),
            "golden": self.golden.to_dict() if self.golden else None,
            "ok": self.ok,
            "exit_code": int(self.exit_code),
            "problems": list(self.problems),
        }


def verify(package: Path, *, run: bool = False, key: Path | None = None) -> VerifyResult:
    """Check a package's manifest, every file's hash and the model's signature; optionally its outputs.

    A package that was changed after packing, or whose golden outputs this machine does not
    reproduce, is a verdict, not an error: the result has ``ok`` false, ``exit_code`` 1 and a
    problem naming each entry.

    Args:
        package: the ``.mlpack`` file.
        run: also run the golden samples stored in the package on this machine and compare the
            outputs with those recorded when it was packed, within the stored tolerance.
        key: a PEM public key: the package must carry a signature (``pack --sign``) that verifies
            with it; a missing or bad one is a problem (exit 1). None: a signature is not required
            (an unsigned package verifies by its hashes, as always).

    Raises:
        ArchiveError: ``package`` is not a zip, holds unsafe entries (absolute paths, '..',
            links, duplicates, a bomb) or was written in another package format (exit 2).
        BadInputError: ``run`` was asked of a package packed without golden samples, or the
            model cannot be loaded (exit 2).
    """
    with OpenedPackage(package) as opened:
        signed = check_signature(opened.path, key=key)
        if opened.problems or signed.problem:
            problems = [*([signed.problem] if signed.problem else []), *opened.problems]
            return _verdict(opened, signature_ok=not opened.problems, problems=problems, signed=signed)
        signature_problem = _signature_problem(opened)
        if signature_problem:
            return _verdict(opened, signature_ok=False, problems=[signature_problem], signed=signed)
        golden = _run_golden(opened) if run else None
    problems = []
    if golden is not None and not golden.passed:
        assert opened.manifest.golden is not None
        problems.append(
            f"'{opened.manifest.golden.outputs}': this machine computes other outputs than the packed "
            f"model did on its golden samples: {golden.failure_text()} (tolerance {golden.tolerance.describe()})."
        )
    return _verdict(opened, signature_ok=True, golden=golden, problems=problems, signed=signed)


def _verdict(
    opened: OpenedPackage,
    *,
    signature_ok: bool,
    problems: list[str],
    signed: SignatureCheck,
    golden: Comparison | None = None,
) -> VerifyResult:
    name, version = opened.label()
    checked = opened.files_checked
    return VerifyResult(Path(opened.path), name, version, checked, signature_ok, golden, tuple(problems), signed)


def _signature_problem(opened: OpenedPackage) -> str | None:
    actual = signature_of(load_model(opened.model_path))
    if actual == opened.signature:
        return None
    model = opened.manifest.model
    return (
        f"'{model.path}': the model's signature {actual.to_dict()} does not match "
        f"the manifest's {opened.stored['model']['signature']}."
    )


def _run_golden(opened: OpenedPackage) -> Comparison:
    import numpy as np

    golden = opened.manifest.golden
    if not golden:
        raise BadInputError(f"{opened.path} has no golden samples to run (packed with --golden 0).")
    with np.load(opened.root / golden.outputs, allow_pickle=False) as outputs:
        expected = [outputs[o.name] for o in opened.signature.outputs]
    # The packed state pairs make the golden samples a stream, as they were when packed.
    feeding = opened.manifest.model.feed_options()
    dataset = model_dataset(opened.root / golden.inputs, opened.signature.inputs, options=feeding)
    actual = predict(opened.model_path, dataset, options=feeding)
    return compare_outputs(
        expected,
        actual,
        names=[o.name for o in opened.signature.outputs],
        tolerance=golden.tolerance,
        label=f"{golden.count} golden samples" + (" as a stream" if feeding.streaming else ""),
    )
