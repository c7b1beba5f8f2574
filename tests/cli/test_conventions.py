"""One meaning per flag across every command, and the spellings users of other tools expect:
``--json [FILE]``, ``-o/--output``, ``-h``, ``--version``, ``-v``/``-q``, readable help."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
import typer

from mlpack.cli import app
from mlpack.cli.conventions import json_to_stdout

# Old spellings kept, hidden, so that CI scripts keep working (each prints a deprecation note).
DEPRECATED = {("build", "--out"), ("pack", "--version"), ("run", "--input"), ("run", "-i")}


def _commands(command: typer.core.TyperGroup, prefix: str = "") -> dict[str, object]:
    """Every command below ``command`` by its full name, groups included (their own options)."""
    found: dict[str, object] = {}
    for name, sub in command.commands.items():
        full = f"{prefix}{name}"
        found[full] = sub
        if isinstance(sub, typer.core.TyperGroup):
            found |= _commands(sub, f"{full} ")
    return found


def _meaning(param: object) -> tuple[object, ...]:
    """What a flag means: the value it sets, and whether it takes one (repeatable or not is the same)."""
    return (param.name, param.is_flag, param.count)  # type: ignore[attr-defined]


def test_no_flag_means_two_things_across_commands() -> None:
    root = typer.main.get_command(app)
    meanings: dict[str, dict[tuple[object, ...], list[str]]] = defaultdict(lambda: defaultdict(list))
    hidden = set()
    top = root.make_context("mlpack", [], resilient_parsing=True)
    for name, command in {"mlpack": root, **_commands(root)}.items():
        ctx = top if command is root else command.make_context(name, [], parent=top, resilient_parsing=True)  # type: ignore[attr-defined]
        for param in command.get_params(ctx):  # type: ignore[attr-defined]
            if not isinstance(param, typer.core.TyperOption):
                continue
            for flag in (*param.opts, *param.secondary_opts):
                if param.hidden:
                    hidden.add((name, flag))
                else:
                    meanings[flag][_meaning(param)].append(name)
    clashes = {flag: dict(uses) for flag, uses in meanings.items() if len(uses) > 1}
    assert clashes == {}
    assert hidden == DEPRECATED  # hidden only for an old spelling, never a second meaning
    assert set(meanings["--json"]) == {("json_out", False, False)}
    assert {"-h", "-v", "-q", "-o"} <= set(meanings)


def test_every_command_takes_the_shared_options() -> None:
    root = typer.main.get_command(app)
    for name, command in _commands(root).items():
        flags = {flag for p in command.params for flag in p.opts}  # type: ignore[attr-defined]
        assert {"-v", "-q"} <= flags, name
        help_text = command.get_help(typer.Context(command, info_name=name))  # type: ignore[attr-defined]
        assert not re.search(r"<\w|list\[|{\w", help_text), (name, help_text)


@pytest.mark.parametrize(
    ("given", "read"),
    [
        (["m.onnx", "--json"], ["m.onnx", "--json=-"]),
        (["--json", "--runs", "3", "m.onnx"], ["--json=-", "--runs", "3", "m.onnx"]),
        (["m.onnx", "--json", "out.json"], ["m.onnx", "--json", "out.json"]),
        (["m.onnx", "--json", "-"], ["m.onnx", "--json", "-"]),
        (["m.onnx", "--json=r.json"], ["m.onnx", "--json=r.json"]),
        (["--", "--json"], ["--", "--json"]),
    ],
)
def test_json_alone_means_stdout(given: list[str], read: list[str]) -> None:
    assert json_to_stdout(given) == read


def test_json_alone_or_with_a_file(runner, gemm_mlp: Path, tmp_path: Path) -> None:
    alone = runner.invoke(app, ["inspect", str(gemm_mlp), "--json"])
    assert alone.exit_code == 0, alone.output
    assert json.loads(alone.stdout)["op_histogram"] == {"Gemm": 2, "Relu": 1}  # nothing else on stdout
    out = tmp_path / "info.json"
    to_file = runner.invoke(app, ["inspect", str(gemm_mlp), "--json", str(out)])
    assert to_file.exit_code == 0, to_file.output
    assert json.loads(out.read_text())["op_histogram"] == {"Gemm": 2, "Relu": 1}
    assert "Operators" in to_file.stdout  # the table as well, as bench and check always did
    swallowed = runner.invoke(app, ["bench", "--json", str(gemm_mlp), str(gemm_mlp)])
    assert swallowed.exit_code == 2 and swallowed.stderr.startswith("error: --json") and "input" in swallowed.stderr
    assert gemm_mlp.read_bytes()[:1] != b"{"  # the model was not overwritten


def test_old_spellings_work_with_a_note(runner, gemm_mlp: Path, tmp_path: Path) -> None:
    package = tmp_path / "m.mlpack"
    args = ["pack", str(gemm_mlp), "-o", str(package), "--golden", "1", "--version", "2.0.0", "--json"]
    packed = runner.invoke(app, args)
    assert packed.exit_code == 0, packed.output
    assert json.loads(packed.stdout)["manifest"]["version"] == "2.0.0"
    assert "--version is deprecated" in packed.stderr and "--model-version" in packed.stderr
    quiet = runner.invoke(app, [*args[:-3], "--model-version", "2.0.1", "--json", "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
    before = runner.invoke(app, ["-q", *args])  # before the command too: the old spelling's note is silenced
    assert before.exit_code == 0 and before.stderr == "" and json.loads(before.stdout)["manifest"]["version"] == "2.0.0"


def test_version_help_and_quiet(runner) -> None:
    from mlpack.core.version import mlpack_version

    shown = runner.invoke(app, ["--version"])
    assert shown.exit_code == 0 and shown.stdout.strip() == f"mlpack {mlpack_version()}"
    assert runner.invoke(app, ["check", "-h"]).stdout.startswith("Usage: mlpack check [OPTIONS] MODEL")
    helped = runner.invoke(app, ["--help"]).stdout
    assert "--install-completion" in helped and "--version" in helped
