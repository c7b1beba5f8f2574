"""Rendering of sizes explained: ``inspect --why`` and the size changes ``diff`` shows."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.console import Console
from rich.table import Table

from mlpack.cli.markup import escape
from mlpack.cli.render_model import human_size

if TYPE_CHECKING:
    from mlpack.artifact.why import SizeResult
    from mlpack.core.sizes import SizeBreakdown, SizeChange


def render_size(console: Console, result: SizeResult) -> None:
    model = result.model
    if result.package is not None:
        console.print(f"[bold]{escape(result.package)}[/]: {human_size(result.package_bytes or 0)} on disk")
        members = Table(title="Package members", title_justify="left")
        for column in ("file", "stored", "unpacked"):
            members.add_column(column, justify="left" if column == "file" else "right")
        for name, stored, unpacked in result.members:
            members.add_row(escape(name), human_size(stored), human_size(unpacked))
        console.print(members)
    console.print(f"[bold]{escape(model.path)}[/]: {human_size(model.size_bytes)} ({model.size_bytes:,} bytes)")
    console.print(_parts_table(model))
    console.print(_by_op_table(model))
    console.print(_tensor_table(model, result.top))
    limit = model.int8_at_rest_limit
    verdict = "at it" if model.size_bytes <= limit else f"{human_size(model.size_bytes - limit)} above it"
    console.print(
        f"INT8-at-rest limit: {human_size(limit)} (the size less 3/4 of its float32 tensors of >= 1024 values); "
        f"this file is {verdict}.",
        soft_wrap=True,
    )


def _share(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


def _parts_table(model: SizeBreakdown) -> Table:
    table = Table(title="Where the bytes go", title_justify="left")
    for column in ("part", "bytes", "share"):
        table.add_column(column, justify="left" if column == "part" else "right")
    for kind, size in model.by_kind().items():
        table.add_row(f"tensors: {kind}", human_size(size), _share(size, model.size_bytes))
    table.add_row(
        "metadata and doc strings", human_size(model.metadata_bytes), _share(model.metadata_bytes, model.size_bytes)
    )
    table.add_row(
        "graph (nodes, names, framing)", human_size(model.graph_bytes), _share(model.graph_bytes, model.size_bytes)
    )
    if model.external_data:
        where = ", ".join(model.external_data)
        table.add_row(
            f"of which external data ({escape(where)})",
            human_size(model.external_data_bytes),
            _share(model.external_data_bytes, model.size_bytes),
        )
    return table


def _by_op_table(model: SizeBreakdown) -> Table:
    table = Table(title="Tensor bytes by the operator that reads them", title_justify="left")
    for column in ("operator", "bytes", "share"):
        table.add_column(column, justify="left" if column == "operator" else "right")
    for op, size in model.by_op().items():
        table.add_row(escape(op), human_size(size), _share(size, model.size_bytes))
    return table


def _tensor_table(model: SizeBreakdown, top: int) -> Table:
    shown = model.tensors[:top]
    table = Table(title=f"Largest tensors ({len(shown)} of {len(model.tensors)})", title_justify="left")
    for column in ("tensor", "dtype", "shape", "bytes", "kind", "read by"):
        table.add_column(column, justify="right" if column == "bytes" else "left")
    for t in shown:
        shape = "x".join(str(d) for d in t.shape) or "scalar"
        table.add_row(escape(t.name), t.dtype, shape, human_size(t.bytes), t.kind, escape(t.op))
    return table


def size_change_table(changes: dict[str, list[SizeChange]]) -> Table | None:
    """The largest size changes, by part and by tensor; None where nothing changed."""
    rows = [("part", c) for c in changes.get("parts", [])] + [("tensor", c) for c in changes.get("tensors", [])]
    if not rows:
        return None
    table = Table(title="Largest size changes", title_justify="left")
    for column in ("", "name", "before", "after", "change"):
        table.add_column(column, justify="left" if column in ("", "name") else "right")
    for what, c in rows:
        sign = "+" if c.change > 0 else "-"
        table.add_row(what, escape(c.name), human_size(c.before), human_size(c.after), sign + human_size(abs(c.change)))
    return table
