"""Text from models and files, made safe for the terminal: the one place every renderer escapes through."""

from __future__ import annotations

from rich.markup import escape as markup_escape

from mlpack.report.formatting import plain


def escape(text: str) -> str:
    """Rich markup escaped and control characters shown as escapes: names come from models and
    files, and must neither style the terminal nor start lines of their own."""
    return markup_escape(plain(text))
