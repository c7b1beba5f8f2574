"""Terminal rendering of what the fidelity check saw: each output's meaning and decisions, and the
per-layer report's costliest tensors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.table import Table

from mlpack.cli.markup import escape
from mlpack.core.fidelity import Comparison

TOP_LAYERS = 5


def decision_lines(comparison: Comparison) -> list[str]:
    """One line per output: what it was taken to mean, and how its decisions held."""
    lines = []
    for diff in comparison.outputs:
        meaning, decisions = diff.meaning, diff.decisions
        if meaning is None:
            continue
        line = f"[bold]{escape(diff.name)}[/]: {meaning.kind.value} ({escape(meaning.because)})"
        if decisions is not None:
            line += (
                f"; {escape(decisions.what)}: {decisions.kept} of {decisions.judged} sure decisions kept "
                f"(agreement {decisions.agreement:.4f}, {decisions.confidence:.0%} lower bound "
                f"{decisions.agreement_low:.4f})"
            )
            if decisions.f1 is not None and decisions.f1_low is not None:
                line += f", F1 {decisions.f1:.4f} (lower bound {decisions.f1_low:.4f})"
            if decisions.unsure:
                line += (
                    f"; {decisions.unsure} unsure set apart ({escape(decisions.unsure_because)}), "
                    f"{decisions.unsure_changed} of them changed"
                )
        elif diff.snr_db is not None:
            line += f"; SNR {diff.snr_db:.1f} dB, relative error {diff.relative_error or 0.0:.3g}"
        if diff.note:
            line += f" [yellow]({escape(diff.note)})[/]"
        lines.append(line)
    return lines


def layer_table(layers: Sequence[dict[str, Any]]) -> Table:
    """The tensors whose own quantisation costs the most, costliest first."""
    samples = layers[0].get("samples", "?") if layers else "?"
    table = Table(title=f"Costliest tensors, each quantised alone ({samples} samples)", title_justify="left")
    for column in ("tensor", "representation", "decisions lost", "output cosine"):
        table.add_column(column)
    for entry in list(layers)[:TOP_LAYERS]:
        table.add_row(
            escape(str(entry["tensor"])),
            str(entry["representation"]),
            f"{entry['decisions_lost']} of {entry['decisions']}",
            f"{entry['cosine']:.6f}",
        )
    if len(layers) > TOP_LAYERS:
        table.add_row(f"... {len(layers) - TOP_LAYERS} more (see --json)", "", "", "")
    return table
