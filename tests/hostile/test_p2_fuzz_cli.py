"""A property-based fuzzer that drives the CLI itself: generated arguments, data files and folders
(npz with odd shapes and dtypes, ONNX test-data folders), TOML budgets and device profiles, and
package manifests. Every run must keep the contract, whatever it was given:

- the exit code is 0, 1, 2 or 3, never 4 (a bug); on 2, one stderr line starting ``error: ``;
- no traceback; no input changed; nothing written outside the output folder; no temporary
  folder left behind; every JSON written (file or stdout) parses strictly (no NaN/Infinity).

Bounded for CI: the ``hostile-fuzz`` profile runs a few examples per property (MLPACK_FUZZ_EXAMPLES
raises it for a longer hunt) with no per-example deadline (a loaded machine is slow, not wrong).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import zipfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.helpers.hostile import CliRunner, app, make_test_data, snapshot, without_progress
from tests.helpers.models import make_gemm_mlp

settings.register_profile(
    "hostile-fuzz",
    max_examples=int(os.environ.get("MLPACK_FUZZ_EXAMPLES", "12")),
    deadline=None,
    derandomize=os.environ.get("MLPACK_FUZZ_RANDOM") is None,  # CI: the same examples every run
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.data_too_large],
)
FUZZ = settings.get_profile("hostile-fuzz")

QUICK = ["--runs", "3", "--duration", "0.01", "--warmup", "1"]  # timing is not what is fuzzed
DTYPES = ["float32", "float64", "float16", "int64", "int32", "int8", "uint8", "bool", "complex64"]
KEYS = ["x", "labels", "slices", "y", "x\n", ""]
dims = st.lists(st.integers(0, 17), min_size=0, max_size=3)
special = st.sampled_from([0.0, 1.0, -1.0, float("nan"), float("inf"), 1e38, -0.0])


@st.composite
def arrays(draw: st.DrawFn) -> np.ndarray:
    shape = tuple(draw(dims))
    dtype = draw(st.sampled_from(DTYPES))
    fill = draw(st.one_of(st.none(), special))
    size = int(np.prod(shape)) if shape else 1
    if size > 4096:
        shape = (min(shape[0], 4),) + tuple(shape[1:2])
    values = np.random.default_rng(draw(st.integers(0, 9))).standard_normal(shape)
    if fill is not None:
        values = np.full(shape, fill)
    with np.errstate(all="ignore"):
        return values.astype(np.dtype(dtype))


@st.composite
def data_sources(draw: st.DrawFn) -> tuple[str, object]:
    """('npz', {key: array}) or ('folder', [ {name: array}, ... ]) or ('npy', array) or ('junk', bytes)."""
    kind = draw(st.sampled_from(["npz", "npz", "folder", "npy", "junk"]))
    if kind == "npz":
        return kind, draw(st.dictionaries(st.sampled_from(KEYS), arrays(), min_size=0, max_size=3))
    if kind == "folder":
        return kind, draw(st.lists(st.dictionaries(st.sampled_from(["x", "y", ""]), arrays(), max_size=2), max_size=3))
    if kind == "npy":
        return kind, draw(arrays())
    return kind, draw(st.binary(max_size=64))


BUDGET_KEYS = ["max_size_mb", "min_accuracy", "max_accuracy_drop", "max_peak_memory_mb", "max_load_ms", "warn_only"]
toml_values = st.one_of(
    st.integers(-3, 10**21).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(lambda v: repr(v).lower()),
    st.sampled_from(['"5MB"', '"1e999"', "true", "[1, 2]", "{ p50 = 1 }", '"x"', "nan", "-inf", "0"]),
)


@st.composite
def budgets(draw: st.DrawFn) -> str:
    lines = ["[budget]"]
    for key in draw(st.lists(st.sampled_from(BUDGET_KEYS + ["max_sise_mb", "min"]), max_size=3, unique=True)):
        lines.append(f"{key} = {draw(toml_values)}")
    if draw(st.booleans()):
        lines += ["[budget.cpu]", f"max_size_mb = {draw(toml_values)}"]
    return "\n".join(lines) + "\n"


CPU_VALUES = ["[0]", '"0-3"', '"0-99999999"', "[-1]", '"a"']


@st.composite
def profiles(draw: st.DrawFn) -> str:
    name = draw(st.sampled_from(["cpu", "c p u", "cpu\u202e"]))
    lines = [f'[device."{name}"]', f"threads = {draw(toml_values)}"]
    if draw(st.booleans()):
        lines.append(f"memory_mb = {draw(toml_values)}")
    if draw(st.booleans()):
        lines.append("cpus = " + draw(st.sampled_from(CPU_VALUES)))
    return "\n".join(lines) + "\n"


manifest_values = st.one_of(
    st.none(),
    st.integers(-(10**20), 10**20),
    st.floats(allow_nan=True),
    st.text(max_size=12),
    st.lists(st.integers(), max_size=3),
    st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)


def _write_source(folder: Path, kind: str, content: object) -> Path:
    if kind == "npz":
        path = folder / "data.npz"
        np.savez(path, **{k if k else "empty_name": v for k, v in content.items()})  # type: ignore[union-attr]
    elif kind == "folder":
        path = folder / "td"
        path.mkdir()
        for n, tensors in enumerate(content):  # type: ignore[union-attr,arg-type]
            try:
                make_test_data(path / f"set{n}", tensors)
                (path / f"set{n}" / "test_data_set_0").rename(path / f"test_data_set_{n}")
            except Exception:  # a dtype ONNX cannot hold: leave that set empty, itself a hostile input
                (path / f"test_data_set_{n}").mkdir(exist_ok=True)
            shutil.rmtree(path / f"set{n}", ignore_errors=True)
    elif kind == "npy":
        path = folder / "data.npy"
        np.save(path, content)
    else:
        path = folder / "data.npz"
        path.write_bytes(content)  # type: ignore[arg-type]
    return path


def _strict_json(text: str, where: str) -> None:
    def refuse(name: str) -> object:
        raise AssertionError(f"{where}: bare {name} in JSON")

    json.loads(text, parse_constant=refuse)


class Sandbox:
    """Inputs in ``in/``, outputs in ``out/``, temporary files in ``tmp/``: each checked after a run."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="mlpack-fuzz-"))
        self.inputs, self.out, self.tmp = self.root / "in", self.root / "out", self.root / "tmp"
        for folder in (self.inputs, self.out, self.tmp):
            folder.mkdir()
        make_gemm_mlp(self.inputs / "m.onnx")

    def run(self, args: list[object]) -> None:
        before = snapshot(self.inputs)
        saved = tempfile.tempdir, os.environ.get("TMPDIR")
        tempfile.tempdir, os.environ["TMPDIR"] = str(self.tmp), str(self.tmp)
        try:
            result = CliRunner().invoke(app, [str(a) for a in args], catch_exceptions=True)
        finally:
            tempfile.tempdir = saved[0]
            if saved[1] is None:
                os.environ.pop("TMPDIR", None)
            else:
                os.environ["TMPDIR"] = saved[1]
        shown = (args, result.exit_code, result.stderr[-2000:], repr(result.exception))
        assert result.exit_code in (0, 1, 2, 3), shown
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, shown
        if result.exit_code == 2:
            assert (
                without_progress(result.stderr).strip().startswith("error: ") and result.stderr.count("error: ") == 1
            ), shown
        assert snapshot(self.inputs) == before, ("an input changed", shown)
        assert sorted(p.name for p in self.root.iterdir()) == ["in", "out", "tmp"], ("written outside", shown)
        # .ses is onnxruntime's own session-id file (native code, one per user, reused by every run).
        left = [p for p in self.tmp.iterdir() if p.name != ".ses"]
        assert left == [], ("temporary files left", left, shown)
        for written in self.out.rglob("*.json"):
            _strict_json(written.read_text(), str(written))
        texts = [str(a) for a in args]
        to_stdout = any(
            a == "--json" and (i + 1 == len(texts) or texts[i + 1] == "-" or texts[i + 1].startswith("-"))
            for i, a in enumerate(texts)
        )
        if to_stdout and result.exit_code in (0, 1, 3) and result.stdout.strip():
            _strict_json(result.stdout, "stdout")

    def close(self) -> None:
        shutil.rmtree(self.root, ignore_errors=True)


@FUZZ
@given(
    source=data_sources(), budget=budgets(), command=st.sampled_from(["check", "optimize", "static", "bench", "pack"])
)
def test_data_and_budgets(source: tuple[str, object], budget: str, command: str) -> None:
    box = Sandbox()
    try:
        data = _write_source(box.inputs, *source)
        (box.inputs / "b.toml").write_text(budget)
        m, out = box.inputs / "m.onnx", box.out
        args = {
            "check": [
                "check",
                m,
                "-b",
                box.inputs / "b.toml",
                "--data",
                data,
                *QUICK,
                "--max-remeasure",
                "0",
                "--json",
                out / "c.json",
                "--markdown",
                out / "c.md",
                "--junit",
                out / "c.xml",
            ],
            "optimize": ["optimize", m, "-o", out / "q.onnx", "--quantize", "dynamic", "--data", data, "--json"],
            "static": ["optimize", m, "-o", out / "q.onnx", "--quantize", "static", "--calibration", data],
            "bench": [
                "bench",
                m,
                "--data",
                data,
                *QUICK,
                "--json",
                out / "b.json",
            ],
            "pack": ["pack", m, "-o", out / "m.mlpack", "--golden-data", data, "--golden", "2"],
        }[command]
        box.run(args)
    finally:
        box.close()


@FUZZ
@given(profile=profiles(), device=st.sampled_from(["cpu", "gpu", "c p u"]))
def test_device_profiles(profile: str, device: str) -> None:
    box = Sandbox()
    try:
        (box.inputs / "d.toml").write_text(profile)
        (box.inputs / "b.toml").write_text("[budget]\nmax_size_mb = 5\n")
        box.run(
            [
                "check",
                box.inputs / "m.onnx",
                "-b",
                box.inputs / "b.toml",
                "--devices",
                box.inputs / "d.toml",
                "--device",
                device,
                "--json",
                "-",
            ]
        )
    finally:
        box.close()


@FUZZ
@given(
    edits=st.lists(
        st.tuples(
            st.sampled_from(
                [
                    "name",
                    "version",
                    "model",
                    "golden",
                    "files",
                    "signature",
                    "feeding",
                    "format",
                    "data_stats",
                    "check",
                    "extra",
                ]
            ),
            manifest_values,
        ),
        min_size=1,
        max_size=3,
    ),
    command=st.sampled_from(["verify", "verify --run", "inspect", "run"]),
)
def test_package_manifests(edits: list[tuple[str, object]], command: str) -> None:
    from mlpack.artifact.manifest import MANIFEST, seal

    box = Sandbox()
    try:
        package = box.root / "seed.mlpack"
        CliRunner().invoke(app, ["pack", str(box.inputs / "m.onnx"), "-o", str(package), "--golden", "2"])
        with zipfile.ZipFile(package) as archive:
            entries = {n: archive.read(n) for n in archive.namelist()}
        package.unlink()
        manifest = json.loads(entries.pop(MANIFEST))
        manifest.pop("manifest_sha256")
        for key, value in edits:
            target = manifest["model"] if key in ("signature", "feeding") else manifest
            if isinstance(target, dict):  # an earlier edit may have replaced the model section itself
                target[key] = value
        with zipfile.ZipFile(box.inputs / "p.mlpack", "w") as archive:
            archive.writestr(MANIFEST, json.dumps(seal(manifest), default=str))
            for name, content in entries.items():
                archive.writestr(name, content)
        np.savez(box.inputs / "x.npz", x=np.ones((3, 16), np.float32))
        p = box.inputs / "p.mlpack"
        args = {
            "verify": ["verify", p, "--json"],
            "verify --run": ["verify", p, "--run"],
            "inspect": ["inspect", p, "--json"],
            "run": ["run", p, "--data", box.inputs / "x.npz", "-o", box.out / "o.npz", "--json"],
        }[command]
        box.run(args)
    finally:
        box.close()
