"""In a CI log (stderr not a terminal) a long step says what it does at least every 10 s: counted
on a fake clock, never by sleeping."""

from __future__ import annotations

import json
from pathlib import Path

from mlpack.cli import app
from mlpack.cli.progress_lines import EVERY, ProgressLines
from tests.helpers.hostile import PROGRESS_LINE


class FakeTime:
    """A clock that moves only when the ticker waits; the run stops at ``end`` seconds."""

    def __init__(self, end: float) -> None:
        self.now, self.end, self.waits = 0.0, end, 0

    def __call__(self) -> float:
        return self.now

    def wait(self, timeout: float | None = None) -> bool:
        self.waits += 1
        self.now = min(self.end, self.now + (timeout or 0.0))
        return self.now >= self.end


def _run(end: float, updates: dict[float, str]) -> list[tuple[float, str]]:
    clock = FakeTime(end)
    written: list[tuple[float, str]] = []
    lines = ProgressLines(lambda text: written.append((clock.now, text)), clock=clock)
    lines.update("loading", 0.0)
    for at, what in sorted(updates.items()):  # the stage's own updates, between the ticker's waits
        clock.end = at
        lines.run(clock)
        lines.update(what, at / end)
    clock.end = end
    lines.run(clock)
    return written


def test_a_silent_step_still_writes_a_line_every_few_seconds() -> None:
    written = _run(150.0, {})  # tune printed nothing for 150 s before
    times = [at for at, _ in written]
    assert len(written) >= 150 / 10
    assert all(b - a <= 10 for a, b in zip([0.0, *times], [*times, 150.0], strict=True))
    assert all(text.endswith("loading") for _, text in written)
    assert EVERY < 10


def test_each_new_step_is_a_line_with_its_share_done() -> None:
    written = _run(30.0, {2.0: "measuring", 3.0: "measuring", 20.0: "profiling"})
    steps = [text.split("] ", 1)[1] for _, text in written]
    assert steps[:2] == ["loading", "measuring (7%)"]  # a repeated step is no new line
    assert "profiling (67%)" in steps
    assert written[1][1].startswith("[    2 s]")


def test_bench_in_a_pipe_prints_progress_on_stderr_and_json_alone_on_stdout(runner, gemm_mlp: Path) -> None:
    result = runner.invoke(app, ["bench", str(gemm_mlp), "--runs", "5", "--duration", "0", "--warmup", "1", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["measurements"]
    assert PROGRESS_LINE.search(result.stderr), result.stderr
    quiet = runner.invoke(app, ["bench", str(gemm_mlp), "--runs", "5", "--duration", "0", "--json", "-q"])
    assert quiet.exit_code == 0 and quiet.stderr == ""
