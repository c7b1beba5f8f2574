"""ONNX's own backend test models through ``mlpack optimize``, each with its own test inputs.

Every model in ``onnx/backend/test/data/{pytorch-converted,pytorch-operator,simple}`` of the
installed onnx package whose expected outputs onnxruntime itself reproduces is run through

    mlpack optimize MODEL -o OUT --quantize none --data MODEL_DIR   (its test_data_set_N folders)

and the optimised model's outputs are compared with the expected ones. Raw onnxsim (simplify
only, no mlpack) runs on the same models in the same run, side by side.

    .venv/bin/python benchmarks/onnx_backend_suite.py [--verbose]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
from typer.testing import CliRunner

from mlpack.cli import app
from mlpack.core.onnxio import create_session
from mlpack.core.signature import signature_of
from mlpack.data.testdata import load_test_data
from mlpack.errors import MlpackError

FOLDERS = ("pytorch-converted", "pytorch-operator", "simple")
RTOL, ATOL = 1e-3, 1e-5  # onnx's backend runner uses rtol 1e-3; atol a little looser than its 1e-7


def _matches(model: Path | bytes, case: Path) -> bool:
    """Whether onnxruntime reproduces every test set's expected outputs on ``model``."""
    signature = signature_of(onnx.load(str(case / "model.onnx")))
    data = load_test_data(case, signature.inputs)
    session = create_session(model)
    for feeds, expected in zip(data.calls, data.expected, strict=True):
        if expected is None:
            return False
        produced = session.run(None, feeds)
        for got, want in zip(produced, expected, strict=False):
            got, want = np.asarray(got), np.asarray(want)
            if got.shape != want.shape:
                return False
            if want.dtype.kind in "fc":
                if not np.allclose(got, want, rtol=RTOL, atol=ATOL, equal_nan=True):
                    return False
            elif not np.array_equal(got, want):
                return False
    return True


def _reproduced(case: Path) -> bool:
    try:
        return _matches(case / "model.onnx", case)
    except (MlpackError, Exception):  # noqa: BLE001  a model onnxruntime cannot run is not in the suite
        return False


def _through_mlpack(case: Path, workdir: Path) -> tuple[bool, str]:
    out = workdir / f"{case.name}.onnx"
    result = CliRunner().invoke(
        app, ["optimize", str(case / "model.onnx"), "-o", str(out), "--quantize", "none", "--data", str(case)]
    )
    if result.exit_code != 0:
        return False, " ".join(result.output.split())[:200]
    try:
        return _matches(out, case), "outputs differ from the expected ones"
    except Exception as exc:  # noqa: BLE001
        return False, f"{type(exc).__name__}: {exc}"[:200]


def _through_onnxsim(case: Path) -> bool:
    import onnxsim

    try:
        simplified, ok = onnxsim.simplify(onnx.load(str(case / "model.onnx")))
        return bool(ok) and _matches(simplified.SerializeToString(), case)
    except Exception:  # noqa: BLE001
        return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--verbose", action="store_true", help="name every model that fails")
    args = parser.parse_args()
    root = Path(onnx.__file__).parent / "backend" / "test" / "data"
    cases = sorted(p for folder in FOLDERS for p in (root / folder).iterdir() if (p / "model.onnx").exists())
    suite = [c for c in cases if _reproduced(c)]
    started = time.perf_counter()
    mlpack_ok, onnxsim_ok, failures = 0, 0, []
    with tempfile.TemporaryDirectory(prefix="mlpack-backend-") as workdir:
        for case in suite:
            ok, why = _through_mlpack(case, Path(workdir))
            mlpack_ok += ok
            onnxsim_ok += _through_onnxsim(case)
            if not ok:
                failures.append(f"{case.parent.name}/{case.name}: {why}")
    seconds = time.perf_counter() - started
    print(f"onnx {onnx.__version__}: {len(cases)} backend test models, onnxruntime reproduces {len(suite)}")
    print(f"{'':24}{'passed':>8}{'total':>8}{'share':>8}")
    for name, passed in (("mlpack optimize", mlpack_ok), ("onnxsim alone", onnxsim_ok)):
        print(f"{name:24}{passed:>8}{len(suite):>8}{passed / max(len(suite), 1):>8.1%}")
    print(f"({seconds:.0f} s)")
    for line in failures if args.verbose else failures[:10]:
        print("  failed:", line)
    return 0 if mlpack_ok == len(suite) else 1


if __name__ == "__main__":
    sys.exit(main())
