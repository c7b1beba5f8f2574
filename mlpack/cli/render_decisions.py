"""Where optimize's speed decisions were measured, for people: the machines and each timing."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from mlpack.cli.markup import escape
from mlpack.core.sysinfo import MeasuredOn


def measured_on_line(record: dict[str, Any]) -> str:
    """One line naming every machine the decisions were measured on, and at which batch sizes."""
    where = "; ".join(MeasuredOn.from_dict(d).describe() for d in record["measured_on"])
    sizes = ", ".join(str(b) for b in record["batch_sizes"])
    batches = f"batch size {sizes}" if len(record["batch_sizes"]) == 1 else f"batch sizes {sizes}, the slowest counts"
    return f"speed decisions measured on {escape(where)} ({batches})"


def timings_table(record: dict[str, Any]) -> Table:
    """Each timing auto made: the ratio to the first model per batch size (and device), the slowest decides."""
    timings = record["timings"]
    table = Table(title="Speed decisions: p50 against the unquantised model, interleaved", title_justify="left")
    columns = ["model", *[f"batch {b}" for b in timings[0]["batch_sizes"]], "decides"]
    for column in columns:
        table.add_column(column, justify="left" if column == "model" else "right")
    for timing in timings:
        for index, model in enumerate(timing["models"][1:], start=1):
            per_batch = [f"{ratios[index]:.2f}x" for ratios in timing["batch_sizes"].values()]
            table.add_row(escape(model), *per_batch, f"{timing['ratios'][index]:.2f}x")
            for device, by_batch in timing.get("devices", {}).items():
                cells = [f"{ratios[index]:.2f}x" for ratios in by_batch.values()]
                table.add_row(f"  on {escape(device)}", *cells, "")
    return table
