"""Second probe, item 4: control characters and markup in tensor names never reach a report raw:
JUnit XML stays well-formed, Markdown and the terminal get no escape codes and no injected lines."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

import onnx
from onnx import TensorProto, helper

from tests.helpers.hostile import CliRunner, app

HOSTILE = "x\x1b[31m\n</name>error: injected|<b>\x00\x07"


def _hostile_model(path: Path) -> Path:
    node = helper.make_node("Relu", [HOSTILE], ["y\x1b]0;title\x07\r\nerror: fake"])
    graph = helper.make_graph(
        [node],
        "g",
        [helper.make_tensor_value_info(HOSTILE, TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("y\x1b]0;title\x07\r\nerror: fake", TensorProto.FLOAT, ["batch", 4])],
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def test_reports_of_a_model_with_hostile_names(tmp_path: Path) -> None:
    model = _hostile_model(tmp_path / "h.onnx")
    budget = tmp_path / "b.toml"
    budget.write_text("[budget]\nmax_size_mb = 5\nmax = { max_abs_error = 1 }\n")
    import numpy as np

    np.savez(tmp_path / "d.npz", **{"v": np.ones((4, 4), np.float32)})
    out = {k: tmp_path / f"r.{k}" for k in ("json", "md", "xml")}
    result = CliRunner().invoke(
        app,
        [
            "check",
            str(model),
            "-b",
            str(budget),
            "--reference",
            str(model),
            "--data",
            str(tmp_path / "d.npz"),
            "--json",
            str(out["json"]),
            "--markdown",
            str(out["md"]),
            "--junit",
            str(out["xml"]),
        ],
    )
    assert result.exit_code in (0, 1), (result.stdout, result.stderr)
    ET.parse(out["xml"])  # well-formed
    for text in (out["md"].read_text(), result.stdout, result.stderr):
        assert "\x1b" not in text and "\x07" not in text and "\x00" not in text
        assert not any(line.lstrip().startswith("error: injected") for line in text.splitlines())
        assert not any(line.lstrip().startswith("error: fake") for line in text.splitlines())
    json.loads(out["json"].read_text())


def test_inspect_prints_no_escape_codes(tmp_path: Path) -> None:
    model = _hostile_model(tmp_path / "h.onnx")
    result = CliRunner().invoke(app, ["inspect", str(model)])
    assert result.exit_code == 0, result.stderr
    assert "\x1b" not in result.stdout and "\x07" not in result.stdout
    assert not any(line.lstrip().startswith("error:") for line in result.stdout.splitlines())
