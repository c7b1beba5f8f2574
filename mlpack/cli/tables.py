"""Tables that fit the width they are shown at, and numbers with units scaled to their size.

A wide table cut to 80 columns shows every cell as ``0…``; instead the essential columns come first
and the others join while they fit (all of them with ``--wide``; every figure is in ``--json``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from rich.console import Console
from rich.table import Table

from mlpack.cli.markup import escape

# A column costs its text plus one space each side and a border line.
_PER_COLUMN = 3
# Text columns wrap: count them at least this wide (a narrower one is a sliver, better left out).
_WRAPS_AT = 30


@dataclass(frozen=True)
class Column:
    """``rank`` 0 is always shown; higher ranks join, lowest first, while the table fits."""

    name: str
    rank: int = 0
    right: bool = True


def fitted(
    title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]], *, width: int, wide: bool = False
) -> tuple[Table, list[str]]:
    """The table with the columns that fit in ``width`` (all with ``wide``), and the names left out.

    ``rows`` hold the cells as shown (rich markup allowed); widths are measured on their text.
    """
    from rich.text import Text

    def size(i: int) -> int:
        cells = [Text.from_markup(row[i]).cell_len for row in rows]
        widest = max([len(columns[i].name), *cells])
        return (widest if columns[i].right else min(widest, _WRAPS_AT)) + _PER_COLUMN

    keep: set[int] = set()
    used = 1
    for i in sorted(range(len(columns)), key=lambda i: (columns[i].rank, i)):
        cost = size(i)
        if wide or columns[i].rank == 0 or used + cost <= width:
            keep.add(i)
            used += cost
    table = Table(title=title, title_justify="left")
    shown = sorted(keep)
    for i in shown:
        table.add_column(columns[i].name, justify="right" if columns[i].right else "left")
    for row in rows:
        table.add_row(*(row[i] for i in shown))
    return table, [columns[i].name for i in range(len(columns)) if i not in keep]


def show(console: Console, table: Table, dropped: Sequence[str], *, wide: bool = False) -> None:
    """Print ``table``: at its natural width with ``wide`` (a log or a pager scrolls), else within
    the console's, with a line naming the columns left out."""
    if wide:
        needed = console.measure(table, options=console.options.update_width(10_000)).maximum
        if needed > console.width:  # the same stream and colours, wider than the window
            console = Console(
                file=console.file,
                width=needed,
                force_terminal=console.is_terminal,
                color_system=console.color_system,  # type: ignore[arg-type]
                highlight=False,
            )
    console.print(table)
    if dropped:
        console.print(left_out(dropped))


def left_out(names: Sequence[str]) -> str:
    """The line under a table that lost columns to the width."""
    return f"[dim]not shown at this width: {escape(', '.join(names))} (--wide, or --json for every figure)[/]"


def _digits(value: float, significant: int = 3) -> str:
    """``value`` with ``significant`` digits, trailing zeros kept (23.0, 7.20, 150)."""
    if value == 0:
        return "0"
    decimals = max(0, significant - 1 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}"


def duration(ms: float | None) -> str:
    """A time in the unit its size reads best in: 7.20 µs, 0.840 ms, 12.5 ms, 1.25 s."""
    if ms is None or not math.isfinite(ms):
        return "-"
    magnitude = abs(ms)
    if magnitude >= 1000:
        return f"{_digits(ms / 1000)} s"
    if magnitude >= 0.1 or magnitude == 0:
        return f"{_digits(ms)} ms"
    return f"{_digits(ms * 1000)} µs"


def size(num_bytes: float) -> str:
    """A size in binary units, named as such: 512 B, 40.0 KiB, 1.25 MiB."""
    value = float(num_bytes)
    for unit in ("B", "KiB", "MiB"):
        if abs(value) < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{_digits(value)} {unit}"
        value /= 1024
    return f"{_digits(value)} GiB"
