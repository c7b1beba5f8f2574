"""Tables fit the width they are shown at; numbers carry units scaled to their size."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from mlpack.cli.render import BENCH_COLUMNS
from mlpack.cli.tables import duration, fitted, show, size

ROW = (
    "digits-cnn.int8.onnx", "1", "default", "12.3 ms", "0.410 ms", "21.0 µs", "±1.9%", "23.0 µs", "25.1 µs",
    "31.0 µs", "21.7 µs", "7.1%", "47,066", "5.47 KiB", "3.2 MiB", "0.62x",
)  # fmt: skip


def _shown(width: int, wide: bool = False) -> tuple[str, list[str]]:
    table, dropped = fitted("Latency", BENCH_COLUMNS, [ROW, ROW], width=width, wide=wide)
    out = Console(file=io.StringIO(), width=width, highlight=False)
    show(out, table, dropped, wide=wide)
    return out.file.getvalue(), dropped  # type: ignore[attr-defined]


@pytest.mark.parametrize("width", [80, 100, 120])
def test_the_bench_table_fits_without_cutting_a_cell(width: int) -> None:
    text, dropped = _shown(width)
    assert max(len(line) for line in text.splitlines()) <= width
    assert "not shown at this width" in text
    assert "…" not in text  # no cell cut to "0…"
    for essential in ("model", "batch", "p50", "21.0 µs"):
        assert essential in text
    assert dropped  # 16 columns never fit in 120
    assert len(_shown(80)[1]) >= len(_shown(120)[1])


def test_wide_shows_every_column() -> None:
    text, dropped = _shown(80, wide=True)
    assert dropped == [] and "peak memory" in text and "vs first" in text and "…" not in text


@pytest.mark.parametrize(
    ("ms", "shown"),
    [(0.0072, "7.20 µs"), (0.021, "21.0 µs"), (0.84, "0.840 ms"), (12.5, "12.5 ms"), (150, "150 ms"), (1250, "1.25 s")],
)
def test_times_read_in_their_own_unit(ms: float, shown: str) -> None:
    assert duration(ms) == shown


def test_sizes_are_binary_and_say_so() -> None:
    assert [size(b) for b in (512, 40 * 1024, 5600, 1.25 * 1024**2)] == ["512 B", "40.0 KiB", "5.47 KiB", "1.25 MiB"]


def test_build_stages_read_in_words_not_keys() -> None:
    from mlpack.cli.render_build import stage_text

    optimized = {"quantize": "auto", "size_before": 1_200_000, "size_after": 410_000, "size_ratio": 0.342}
    optimized |= {"min_cosine": 0.99991, "decisions": [{"output": "y", "kept": 99}], "steps": ["x"], "layers": [{}]}
    text = stage_text("optimize", optimized)
    assert text == "quantize auto; 1.14 MiB -> 400 KiB (0.34x); min output cosine 0.9999"
    exported = {"exporter": "dynamo", "size_bytes": 1_200_000, "opset": 18, "max_abs_error": 3.2e-7}
    expected = "1.14 MiB, opset 18, dynamo exporter; max abs error against PyTorch 3.2e-07"
    assert stage_text("export", exported) == expected
    assert stage_text("pack", {"size_bytes": 2048, "files": 4}) == "2.00 KiB, 4 files"
