"""mlpack drift: statistics recorded at pack time, scores against new data, budgets, reports, bad input.

One tiny model, written inline with onnx.helper, has every kind of input drift looks at: a table
of float features, an RGB image, token ids and their mask. Its output depends only on the sign of
x[0] * x[1], so the class priors can move while every input's marginal distribution stays put.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from mlpack.artifact.pack import pack
from mlpack.budget.check import check
from mlpack.budget.drift import DriftThresholds, drift, load_reference
from mlpack.budget.driftscore import chi2_sf, chi_square_test, fisher_test, holm, js_distance, psi
from mlpack.cli import app
from mlpack.data.collect import observe_stats, record_stats
from mlpack.data.stats import MAX_BYTES
from mlpack.errors import BadInputError, DataError, ExitCode, InputSpecError
from tests.helpers.processes import runtime_only_env

SEQ, VOCAB = 8, 50


def make_model(path: Path) -> Path:
    """logits = 3 * [p, -p] with p = x0 * x1, plus zero times a term of every other input."""
    zero = helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0])
    three = helper.make_tensor("three", TensorProto.FLOAT, [], [3.0])
    nodes = [
        helper.make_node("Slice", ["x", "s0", "s1", "axis1"], ["x0"]),
        helper.make_node("Slice", ["x", "s1", "s2", "axis1"], ["x1"]),
        helper.make_node("Mul", ["x0", "x1"], ["p"]),
        helper.make_node("ReduceMean", ["img"], ["img_mean"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Cast", ["ids"], ["ids_f"], to=TensorProto.FLOAT),
        helper.make_node("Cast", ["mask"], ["mask_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["ids_f", "mask_f"], ["tokens"]),
        helper.make_node("ReduceMean", ["tokens"], ["tok_mean"], axes=[1], keepdims=0),
        helper.make_node("Add", ["img_mean", "tok_mean"], ["others"]),
        helper.make_node("Mul", ["others", "zero"], ["nothing"]),
        helper.make_node("Unsqueeze", ["nothing", "axis1"], ["nothing2"]),
        helper.make_node("Add", ["p", "nothing2"], ["p2"]),
        helper.make_node("Neg", ["p2"], ["q"]),
        helper.make_node("Concat", ["p2", "q"], ["pq"], axis=1),
        helper.make_node("Mul", ["pq", "three"], ["logits"]),
    ]
    ints = [
        helper.make_tensor(name, TensorProto.INT64, [1], [value])
        for name, value in (("s0", 0), ("s1", 1), ("s2", 2), ("axis1", 1))
    ]
    graph = helper.make_graph(
        nodes,
        "drifty",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8]),
            helper.make_tensor_value_info("img", TensorProto.FLOAT, ["batch", 3, 8, 8]),
            helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", "seq"]),
            helper.make_tensor_value_info("mask", TensorProto.INT64, ["batch", "seq"]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        [zero, three, *ints],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def sample(
    n: int,
    seed: int,
    *,
    mean_shift: float = 0.0,
    scale: float = 1.0,
    bright: float = 0.0,
    class_one: float = 0.5,
    tokens_shift: bool = False,
) -> dict[str, np.ndarray]:
    """Validation-like data, or data moved in one way: feature x[2] shifted or scaled, image channel
    1 brightened, class 1 (x0 * x1 > 0) at another prior with the same marginals, other tokens."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 8)).astype(np.float32)
    x[:, 2] = x[:, 2] * scale + mean_shift
    # The sign of x1 relative to x0 sets the class; x0 is symmetric, so x1's marginal stays normal.
    want_one = rng.random(n) < class_one
    x[:, 1] = np.abs(x[:, 1]) * np.sign(x[:, 0]) * np.where(want_one, 1, -1)
    img = rng.uniform(0, 1, (n, 3, 8, 8)).astype(np.float32)
    img[:, 1] = np.clip(img[:, 1] + bright, 0, 1.5)
    weights = 1.0 / np.arange(1, VOCAB + 1)
    if tokens_shift:
        weights = weights[::-1]
    ids = rng.choice(VOCAB, size=(n, SEQ), p=weights / weights.sum()).astype(np.int64)
    lengths = rng.integers(4, SEQ + 1, n)
    mask = (np.arange(SEQ)[None, :] < lengths[:, None]).astype(np.int64)
    return {"x": x, "img": img, "ids": ids, "mask": mask}


def save(folder: Path, name: str, arrays: dict[str, np.ndarray]) -> Path:
    path = folder / name
    np.savez(path, **arrays)
    return path


@pytest.fixture(scope="module")
def case(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("drift")
    model = make_model(folder / "model.onnx")
    val = save(folder, "val.npz", sample(1000, 0))
    package = pack(model, folder / "model.mlpack", data=val).output
    return {"folder": folder, "model": model, "val": val, "package": package}


# Recording ----------------------------------------------------------------------------------------


def test_pack_records_bounded_statistics_named_in_the_manifest(case: dict[str, Path]) -> None:
    from mlpack.artifact.manifest import read_manifest

    manifest = read_manifest(case["package"])
    stats = manifest["data_stats"]
    assert stats["samples"] == 1000 and stats["source"] == "val.npz" and stats["path"] == "stats/data.json"
    assert 0 < stats["size_bytes"] <= stats["max_bytes"] == MAX_BYTES
    assert manifest["files"]["stats/data.json"]["size"] == stats["size_bytes"]  # covered by the hashes
    reference = load_reference(case["package"])
    views = {t.name: t.view.kind for t in reference.tensors}
    assert views == {"x": "features", "img": "features", "ids": "categories", "mask": "lengths", "logits": "classes"}
    names = [f.name for t in reference.tensors for f in t.features]
    assert "x[2]" in names and "img[channel 1]" in names and "mask (sequence length)" in names
    assert "logits (predicted class)" in names and "logits (confidence)" in names
    x2 = next(f for t in reference.tensors for f in t.features if f.name == "x[2]")
    # just below the placing half's minimum, 9 deciles, its maximum; counted on the other 500 samples
    assert len(x2.bins) == 11 and sum(x2.counts) == 500 == x2.samples and x2.per_sample
    assert abs(sum(x2.proportions) - 1) < 1e-12 and x2.values == 1000
    assert abs(x2.summary["mean"]) < 0.1 and abs(x2.summary["std"] - 1) < 0.1 and x2.summary["nan_rate"] == 0


def test_statistics_stay_bounded_for_wide_inputs(tmp_path: Path) -> None:
    width = 5000
    w = helper.make_tensor("w", TensorProto.FLOAT, [width, 3], np.ones(width * 3, dtype=np.float32).tolist())
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "wide",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["batch", 3])],
        [w],
    )
    model = tmp_path / "wide.onnx"
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), model)
    data = save(tmp_path, "wide.npz", {"x": np.random.default_rng(0).standard_normal((300, width)).astype("f4")})
    stats = record_stats(model, data)
    assert len(stats.to_json()) <= MAX_BYTES
    x = stats.tensors[0]
    assert 1 < len(x.features) < width and x.features[0].name.startswith("x[0:") and not x.features[0].per_sample


def test_blocks_give_the_same_statistics_as_one_read(case: dict[str, Path]) -> None:
    """Streaming: the scores do not depend on how the file is cut into blocks."""
    new = save(case["folder"], "blocks.npz", sample(300, 5, mean_shift=0.5))
    reference = load_reference(case["package"])
    small = observe_stats(reference, case["model"], new, batch_size=7)
    whole = observe_stats(reference, case["model"], new, batch_size=1000)
    tensors = zip(small.tensors, whole.tensors, strict=True)
    pairs = [(a, b) for ta, tb in tensors for a, b in zip(ta.features, tb.features, strict=True)]
    assert len(pairs) > 10
    for a, b in pairs:
        assert (a.name, a.counts, a.values) == (b.name, b.counts, b.values)
        assert a.summary == pytest.approx(b.summary, rel=1e-9, abs=1e-12)  # moments merged block by block


# Scores -------------------------------------------------------------------------------------------


def test_scores_have_their_usual_meaning() -> None:
    assert psi([0.5, 0.5], [0.5, 0.5]) == 0 and psi([0.5, 0.5], [0.9, 0.1]) > 0.25
    assert js_distance([0.2, 0.8], [0.2, 0.8]) == 0 and js_distance([1, 0], [0, 1]) == pytest.approx(1)
    assert chi2_sf(3.841, 1) == pytest.approx(0.05, abs=1e-3) and chi2_sf(16.919, 9) == pytest.approx(0.05, abs=1e-3)
    assert chi_square_test([0.5, 0.5], 1000, [0.5, 0.5], 1000)[2] == pytest.approx(1)  # type: ignore[index]
    assert chi_square_test([0.5, 0.5], 4, [0.5, 0.5], 4) is None  # too few to test
    # Fisher's exact test, two-sided (scipy.stats.fisher_exact gives 1.7493e-4 and 1.0188e-4)
    assert fisher_test(0, 1000, 50, 5000) == pytest.approx(1.7493e-4, rel=1e-3)
    assert fisher_test(0, 1000, 3, 50) == pytest.approx(1.0188e-4, rel=1e-3) and fisher_test(5, 100, 5, 100) == 1
    assert holm([0.01, 0.04, 0.03, 0.5]) == pytest.approx([0.04, 0.09, 0.09, 0.5])


def test_no_shift_exits_0(case: dict[str, Path], runner) -> None:
    fresh = save(case["folder"], "fresh.npz", sample(500, 1))
    result = drift(case["package"], data=fresh)
    assert result.ok and result.exit_code == ExitCode.OK and not result.drifted
    assert result.samples == 500 and result.reference_samples == 1000
    cli = runner.invoke(app, ["drift", str(case["package"]), "--data", str(fresh)])
    assert cli.exit_code == 0 and "no drift" in cli.output


@pytest.mark.parametrize(
    ("shift", "moved"),
    [
        ({"mean_shift": 1.0}, "x[2]"),
        ({"scale": 2.5}, "x[2]"),
        ({"bright": 0.4}, "img[channel 1]"),
        ({"tokens_shift": True}, "ids"),
    ],
)
def test_each_shift_exits_1_naming_the_moved_feature(case: dict[str, Path], runner, shift, moved: str) -> None:
    new = save(case["folder"], "moved.npz", sample(500, 2, **shift))
    result = drift(case["package"], data=new)
    assert not result.ok and result.exit_code == ExitCode.FAILED
    assert result.features[0].feature == moved and result.features[0].role == "input"  # most moved first
    assert {f.feature for f in result.drifted} == {moved}
    cli = runner.invoke(app, ["drift", str(case["package"]), "--data", str(new), "--json", "-"])
    assert cli.exit_code == 1
    payload = json.loads(cli.stdout)
    assert payload["ok"] is False and payload["exit_code"] == 1 and payload["features"][0]["feature"] == moved


def test_a_class_prior_change_shows_only_in_the_outputs(case: dict[str, Path]) -> None:
    new = save(case["folder"], "prior.npz", sample(500, 3, class_one=0.85))
    result = drift(case["package"], data=new)
    assert not result.ok
    assert {f.role for f in result.drifted} == {"output"}
    top = result.features[0]
    assert top.feature == "logits (predicted class)" and top.method == "js" and top.p_value is not None
    assert top.p_value < 1e-6  # 500 independent predictions: the chi-square test applies


def test_every_feature_is_tested_and_given_both_effect_sizes(case: dict[str, Path]) -> None:
    new = save(case["folder"], "named.npz", sample(500, 4))
    features = {f.feature: f for f in drift(case["package"], data=new).features}
    assert features["x[2]"].method == "psi" and features["ids"].method == "js"
    assert all("chi-square" in f.test_note and 0 <= f.p_value <= f.p_adjusted <= 1 for f in features.values())
    assert all(f.psi >= 0 and 0 <= f.js <= 1 for f in features.values())
    # Pixels of one image move together: the channel counts at most one value per sample, not 64.
    recorded, new_n = re.search(r"n (\d+) recorded, (\d+) new", features["img[channel 1]"].test_note).groups()
    assert 400 < int(recorded) <= 500 and 400 < int(new_n) <= 500
    assert "n 500 recorded, 500 new" in features["x[2]"].test_note  # one value per sample: each counts


def test_alpha_and_effect_size_floors_are_options(case: dict[str, Path], runner) -> None:
    new = save(case["folder"], "mild.npz", sample(500, 6, mean_shift=0.4))
    found = drift(case["package"], data=new)
    assert not found.ok and found.features[0].feature == "x[2]" and found.features[0].psi < 0.5
    assert "alpha 0.05" in found.summary and found.to_dict()["alpha"] == 0.05
    # A floor on the effect size: a shift the test sees but smaller than the floor does not count.
    floored = drift(case["package"], data=new, thresholds=DriftThresholds(psi=0.5))
    assert floored.ok and floored.features[0].feature == "x[2]"
    cli = runner.invoke(app, ["drift", str(case["package"]), "--data", str(new), "--psi", "0.5"])
    assert cli.exit_code == 0 and "alpha 0.05" in cli.output
    # A false-alarm rate so small that this much evidence is not enough.
    tiny = drift(case["package"], data=new, thresholds=DriftThresholds(alpha=1e-300))
    assert tiny.ok
    cli = runner.invoke(app, ["drift", str(case["package"]), "--data", str(new), "--alpha", "1e-300", "--json", "-"])
    assert cli.exit_code == 0 and json.loads(cli.stdout)["thresholds"]["alpha"] == 1e-300
    with pytest.raises(BadInputError, match="--psi"):
        DriftThresholds(psi=0)
    with pytest.raises(BadInputError, match="--alpha"):
        DriftThresholds(alpha=1.5)


def test_reports_as_check_writes_them(case: dict[str, Path], runner, tmp_path: Path) -> None:
    new = save(case["folder"], "report.npz", sample(500, 7, mean_shift=1.0))
    md, xml, js = tmp_path / "drift.md", tmp_path / "drift.xml", tmp_path / "drift.json"
    cli = runner.invoke(
        app,
        [
            "drift",
            str(case["package"]),
            "--data",
            str(new),
            "--markdown",
            str(md),
            "--junit",
            str(xml),
            "--json",
            str(js),
        ],
    )
    assert cli.exit_code == 1 and "DRIFT" in cli.output
    assert "❌ data drifted" in md.read_text() and "`x[2]`" in md.read_text()
    suite = ET.parse(xml).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    assert [c.get("name") for c in suite.iter("testcase") if c.find("failure") is not None] == ["x[2]"]
    assert json.loads(js.read_text())["schema"] == "mlpack.drift/1"


# Bad input ------------------------------------------------------------------------------------------


def test_a_package_without_statistics_says_how_to_record_them(case: dict[str, Path], runner, tmp_path: Path) -> None:
    bare = pack(case["model"], tmp_path / "bare.mlpack").output
    with pytest.raises(BadInputError, match="pack MODEL -o PKG --data"):
        drift(bare, data=case["val"])
    cli = runner.invoke(app, ["drift", str(bare), "--data", str(case["val"]), "--json", str(tmp_path / "out.json")])
    assert cli.exit_code == ExitCode.BAD_INPUT and "--data VAL.npz" in cli.output
    assert "Traceback" not in cli.output and not (tmp_path / "out.json").exists()


@pytest.mark.parametrize(
    ("arrays", "message"),
    [
        (lambda s: {k: v for k, v in s.items() if k != "img"}, "lacks arrays"),
        (lambda s: {**s, "x": s["x"][:, :5]}, "dimension 1 must be 8"),
        (lambda s: {k: v[:20] for k, v in s.items()}, "at least 50"),
    ],
)
def test_bad_data_exits_2_writing_nothing(case: dict[str, Path], runner, tmp_path: Path, arrays, message) -> None:
    bad = save(tmp_path, "bad.npz", arrays(sample(100, 8)))
    with pytest.raises((DataError, InputSpecError), match=message):
        drift(case["package"], data=bad)
    out = tmp_path / "out.json"
    cli = runner.invoke(app, ["drift", str(case["package"]), "--data", str(bad), "--json", str(out)])
    assert cli.exit_code == ExitCode.BAD_INPUT and message in cli.output and not out.exists()
    assert len(cli.output.strip().splitlines()) <= 2


def test_pack_refuses_too_little_data_and_leaves_nothing(case: dict[str, Path], runner, tmp_path: Path) -> None:
    few = save(tmp_path, "few.npz", sample(10, 9))
    target = tmp_path / "few.mlpack"
    cli = runner.invoke(app, ["pack", str(case["model"]), "-o", str(target), "--data", str(few)])
    assert cli.exit_code == ExitCode.BAD_INPUT and "at least 50" in cli.output and not target.exists()


def test_a_tampered_reference_is_not_trusted(case: dict[str, Path], tmp_path: Path, runner) -> None:
    import zipfile

    tampered = tmp_path / "tampered.mlpack"
    with zipfile.ZipFile(case["package"]) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == "stats/data.json":
                data = data.replace(b'"samples":1000', b'"samples":1001')
            dst.writestr(info.filename, data)
    cli = runner.invoke(app, ["drift", str(tampered), "--data", str(case["val"])])
    assert cli.exit_code == ExitCode.BAD_INPUT and "mlpack verify" in cli.output
    assert runner.invoke(app, ["verify", str(tampered)]).exit_code == ExitCode.FAILED


# Budgets ------------------------------------------------------------------------------------------


def _budgets(folder: Path, body: str) -> Path:
    path = folder / "drift-budgets.toml"
    path.write_text("[budget]\n" + body)
    return path


def test_check_gates_on_input_and_output_drift(case: dict[str, Path], runner, tmp_path: Path) -> None:
    budgets = _budgets(tmp_path, "max_input_drift = 0.25\nmax_output_drift = { psi = 0.25, js = 0.1 }\n")
    fresh = save(tmp_path, "fresh.npz", sample(500, 10))
    held = check(case["model"], budgets=budgets, data=fresh, drift_reference=case["package"])
    assert held.ok and {v.budget for v in held.verdicts} == {
        "max_input_drift.psi",
        "max_output_drift.psi",
        "max_output_drift.js",
    }
    assert held.to_dict()["drift"]["ok"] is True
    moved = save(tmp_path, "moved.npz", sample(500, 11, class_one=0.9))
    broken = check(case["model"], budgets=budgets, data=moved, drift_reference=case["package"])
    failed = {v.budget for v in broken.verdicts if v.status.value == "fail"}
    assert failed == {"max_output_drift.psi", "max_output_drift.js"} and broken.exit_code == ExitCode.FAILED
    cli = runner.invoke(
        app,
        [
            "check",
            str(case["model"]),
            "-b",
            str(budgets),
            "--data",
            str(moved),
            "--drift-reference",
            str(case["package"]),
        ],
    )
    assert cli.exit_code == 1 and "max_output_drift.js" in cli.output


def test_check_takes_a_statistics_file_as_reference(case: dict[str, Path], tmp_path: Path) -> None:
    import zipfile

    stats = tmp_path / "val-stats.json"
    with zipfile.ZipFile(case["package"]) as archive:
        stats.write_bytes(archive.read("stats/data.json"))
    moved = save(tmp_path, "moved.npz", sample(500, 12, mean_shift=1.0))
    result = check(
        case["model"], budgets=_budgets(tmp_path, "max_input_drift = 0.25\n"), data=moved, drift_reference=stats
    )
    verdict = next(v for v in result.verdicts if v.budget == "max_input_drift.psi")
    assert verdict.status.value == "fail" and "x[2]" in verdict.detail


def test_drift_budgets_need_data_and_a_reference(case: dict[str, Path], runner, tmp_path: Path) -> None:
    budgets = _budgets(tmp_path, "max_input_drift = 0.25\n")
    cli = runner.invoke(app, ["check", str(case["model"]), "-b", str(budgets), "--data", str(case["val"])])
    assert cli.exit_code == ExitCode.BAD_INPUT and "--drift-reference PKG" in cli.output


@pytest.mark.parametrize(
    ("body", "message"),
    [("max_input_drift = { kl = 0.1 }", "unknown drift method"), ("max_output_drift = { js = 2 }", "between 0 and 1")],
)
def test_malformed_drift_budgets_name_the_line(tmp_path: Path, runner, case: dict[str, Path], body, message) -> None:
    budgets = _budgets(tmp_path, body + "\n")
    cli = runner.invoke(
        app,
        [
            "check",
            str(case["model"]),
            "-b",
            str(budgets),
            "--data",
            str(case["val"]),
            "--drift-reference",
            str(case["package"]),
        ],
    )
    assert cli.exit_code == ExitCode.BAD_INPUT and message in cli.output and "drift-budgets.toml:2" in cli.output


# Build and the device -------------------------------------------------------------------------------


def test_build_records_the_check_data(case: dict[str, Path], tmp_path: Path) -> None:
    from mlpack.artifact.manifest import read_manifest
    from mlpack.pipeline.build import build

    (tmp_path / "model.onnx").write_bytes(case["model"].read_bytes())
    (tmp_path / "val.npz").write_bytes(case["val"].read_bytes())
    (tmp_path / "budgets.toml").write_text("[budget]\nmax_size_mb = 5\n")
    config = tmp_path / "mlpack.toml"
    config.write_text(
        '[model]\nname = "d"\nsource = "model.onnx"\n\n[optimize]\nsimplify = false\n\n'
        '[check]\nbudgets = "budgets.toml"\ndata = "val.npz"\nreference = false\n'
    )
    result = build(config, out=tmp_path / "dist")
    assert result.ok, result.message
    assert result.package is not None and read_manifest(result.package)["data_stats"]["samples"] == 1000
    config.write_text(config.read_text() + "\n[pack]\nstats = false\n")
    again = build(config, out=tmp_path / "dist")
    assert again.package is not None and read_manifest(again.package)["data_stats"] is None


def test_drift_runs_without_torch_or_onnxsim(case: dict[str, Path], tmp_path: Path) -> None:
    moved = save(tmp_path, "moved.npz", sample(300, 13, bright=0.4))
    done = subprocess.run(
        [sys.executable, "-m", "mlpack.cli", "drift", str(case["package"]), "--data", str(moved), "--json", "-"],
        env=runtime_only_env(tmp_path),
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1, done.stderr
    assert json.loads(done.stdout)["features"][0]["feature"] == "img[channel 1]"


def test_a_model_fixed_at_batch_1_records_the_statistics_of_its_twin(tmp_path: Path) -> None:
    """pack --data on a model fixed at batch 1 (YOLO, tf2onnx exports) was exit 2, "one call as
    given, not samples", for a file of 300 samples the model now reads one per call."""
    from tests.helpers.models import make_gemm_mlp

    data = save(tmp_path, "x.npz", {"x": np.random.default_rng(0).standard_normal((300, 16)).astype("f4")})
    fixed = record_stats(make_gemm_mlp(tmp_path / "fixed.onnx", batch=1), data)
    dynamic = record_stats(make_gemm_mlp(tmp_path / "dynamic.onnx"), data)
    assert fixed.samples == 300
    pairs = [
        (a, b)
        for ta, tb in zip(fixed.tensors, dynamic.tensors, strict=True)
        for a, b in zip(ta.features, tb.features, strict=True)
    ]
    assert len(pairs) > 16 and all((a.name, a.counts) == (b.name, b.counts) for a, b in pairs)
