"""Shared formatting of verdict values for every report format."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mlpack.budget.verdicts import Verdict


# A figure in the unit its budget was written in: how many of that unit make one MB or one ms.
_PER_BASE = {
    "MB": {"B": 1024.0**2, "KiB": 1024.0, "MiB": 1.0, "GiB": 1 / 1024},
    "ms": {"µs": 1000.0, "ms": 1.0, "s": 1 / 1000},
}


def value_text(value: float | None, unit: str, shown: str = "") -> str:
    """``value`` (in ``unit``) as reports show it; in ``shown`` (the unit its budget was written in,
    "KiB" for "40 KB") where given. Sizes are binary and say so."""
    if value is None:
        return "-"
    if unit == "ratio":
        return f"{value:.2%}"
    if unit == "x":
        return f"{value:.3f}x"
    if unit in _PER_BASE:
        label = shown if shown in _PER_BASE[unit] else ("MiB" if unit == "MB" else unit)
        value *= _PER_BASE[unit][label]
        return f"{value:.3f} {label}" if abs(value) < 10 else f"{value:.1f} {label}"
    return f"{value:.4g}"


def margin_text(verdict: Verdict) -> str:
    if verdict.margin is None:
        return "-"
    sign = "+" if verdict.margin >= 0 else "-"
    return sign + value_text(abs(verdict.margin), verdict.unit, verdict.shown_unit)


def status_text(verdict: Verdict) -> str:
    """pass / FAIL / inconclusive, with warning-only budgets marked as such."""
    if verdict.status.value == "pass":
        return "pass"
    if verdict.warn_only:
        return f"warning ({verdict.status.value})"
    return "FAIL" if verdict.status.value == "fail" else "inconclusive"


# The one place that makes names from files (tensor names, paths, features) safe in every report
# format: a model is untrusted input, and its names reach terminals, PR comments and CI test views.


def plain(text: object) -> str:
    """``text`` with every control or unprintable character shown as its escape (``\\x1b``, ``\\n``):
    no escape codes reach a terminal and no name starts a line of its own."""
    value = str(text)
    if value.isprintable():
        return value
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in value)


def md(text: object) -> str:
    """``text`` for a Markdown cell or line: plain, and with the characters that open markup, HTML
    or a table cell escaped."""
    out = plain(text)
    for char, escaped in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ("|", "\\|"), ("`", "'")):
        out = out.replace(char, escaped)
    return out


def xml_text(text: object) -> str:
    """``text`` as XML 1.0 may hold it: the characters it forbids (most control characters, lone
    surrogates, U+FFFE/U+FFFF) shown as escapes; the writer escapes <, > and & itself."""
    return "".join(c if _xml_allowed(ord(c)) else plain(c) for c in str(text))


def _xml_allowed(code: int) -> bool:
    return code in (0x9, 0xA, 0xD) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or code >= 0x10000
