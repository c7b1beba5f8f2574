"""Property tests where the input space is a grammar: input specs, budget values with units, CPU sets
and manifest structures. Whatever the text, the answer is a value or one MlpackError, never a crash."""

from __future__ import annotations

import math
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpack.errors import BadInputError, ConfigError, MlpackError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@FAST
@given(st.text(alphabet="xyz:,0123456789-_ab?\\n", max_size=24))
def test_input_spec_text(text: str) -> None:
    from mlpack.core.inputspec import parse_input_spec

    try:
        spec = parse_input_spec(text)
    except MlpackError:
        return
    assert spec.name and all(isinstance(d, (int, str)) for d in spec.shape)


@FAST
@given(
    st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.integers(-10, 10**6)),
    st.sampled_from(["", " MB", "MB", " GB", " kb", " ms", "%", " x", " parsecs"]),
    st.booleans(),
)
def test_budget_values_and_units(tmp_path_factory, number: float, unit: str, quoted: bool) -> None:  # type: ignore[no-untyped-def]
    from mlpack.budget.spec import load_budget_file

    value = f'"{number}{unit}"' if quoted or unit else (repr(number) if math.isfinite(number) else str(number).lower())
    path = Path(tmp_path_factory.mktemp("b")) / "b.toml"
    path.write_text(f"[budget]\nmax_size_mb = {value}\n")
    try:
        limit = load_budget_file(path).defaults["max_size_mb"]
    except ConfigError as exc:
        assert "max_size_mb" in str(exc)
        return
    assert math.isfinite(limit) and limit > 0


@FAST
@given(
    st.one_of(
        st.lists(st.tuples(st.integers(0, 10**9), st.integers(0, 10**9)), min_size=1, max_size=4).map(
            lambda pairs: ",".join(f"{a}-{b}" if a != b else str(a) for a, b in pairs)
        ),
        st.lists(st.integers(-5, 10**9), max_size=5),
        st.text(max_size=10),
    )
)
def test_cpu_sets(tmp_path_factory, cpus: object) -> None:  # type: ignore[no-untyped-def]
    import json

    from mlpack.core.devices import MAX_CPU_ID, load_devices

    path = Path(tmp_path_factory.mktemp("d")) / "d.toml"
    path.write_text(f"[device.x]\nthreads = 1\ncpus = {json.dumps(cpus)}\n")
    try:
        profile = load_devices(path)["x"]
    except ConfigError:
        return
    assert profile.cpus and all(0 <= c <= MAX_CPU_ID for c in profile.cpus)
    assert list(profile.cpus) == sorted(set(profile.cpus))


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=10,
)
_NAMES = st.sampled_from(["model/m.onnx", "../x", "/abs", "a//b", "files/x", "files/x/y", "ok/file", "n" * 300, ""])


@FAST
@given(
    st.dictionaries(_NAMES, st.one_of(_JSON, st.just({"sha256": "0" * 64, "size": 1})), max_size=4),
    st.dictionaries(st.sampled_from(["path", "signature", "feeding"]), _JSON | _NAMES, max_size=3),
    st.one_of(
        st.none(), st.dictionaries(st.sampled_from(["count", "inputs", "outputs", "tolerance"]), _JSON, max_size=4)
    ),
)
def test_manifest_structures(files: dict, model: dict, golden: object) -> None:  # type: ignore[type-arg]
    from mlpack.artifact.schema import schema_problem
    from mlpack.core.validate import relative_member

    manifest = {"files": files, "model": model, "golden": golden}
    problem = schema_problem(manifest)
    if problem is None:  # sound: every used path is a safe, hashed file
        assert all(relative_member(name) is None for name in files)
        assert model["path"] in files


@FAST
@given(st.text(max_size=40))
def test_safe_component(text: str) -> None:
    from mlpack.core.validate import safe_component

    try:
        safe_component(text, what="name")
    except BadInputError:
        return
    assert "/" not in text and "\\" not in text and text not in ("", ".", "..")
