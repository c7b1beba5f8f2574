"""PyTorch's errors in one line that keeps their point: what failed, the cause underneath, and the
line of the user's code that raised it.

torch wraps its errors: ``torch.onnx.export`` says "Failed to export the model with torch.export.
This is step 1/3 ... Next steps:" on its first line, and the cause (a data-dependent ``if``, a
shape mismatch) and the user's line that raised it come twenty lines later or in ``__cause__``.
"""

from __future__ import annotations

import re

_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")
_SENTENCE_END = re.compile(r"(?<=\.)\s+(?=[A-Z])")
# The last user frame torch quotes: 'File "/x/model.py", line 6, in forward\n    if x.sum() > 0:'
_FRAME = re.compile(r'File "([^"]+)", line (\d+), in (\S+)\n\s+(\S[^\n]*)')


def _first_sentence(exc: BaseException) -> str:
    lines = [line.strip() for line in _ANSI.sub("", str(exc)).splitlines() if line.strip()]
    if not lines:
        return type(exc).__name__
    return _SENTENCE_END.split(lines[0], maxsplit=1)[0].rstrip(":.")


def cause_text(exc: BaseException, *, limit: int = 500) -> str:
    """``exc`` in one line: its first sentence, the innermost cause's, and where in the user's code."""
    root = exc
    while root.__cause__ is not None and root.__cause__ is not root:
        root = root.__cause__
    parts = [_first_sentence(exc)]
    if root is not exc:
        parts.append(f"{type(root).__name__}: {_first_sentence(root)}")
    else:
        summary = re.search(r"## Exception summary\s+<class '[\w.]*?(\w+)'>: ([^\n]+)", _ANSI.sub("", str(exc)))
        if summary:
            parts.append(f"{summary.group(1)}: {summary.group(2).strip()}")
    frames = _FRAME.findall(_ANSI.sub("", f"{root}\n{exc}"))
    text = "; caused by ".join(dict.fromkeys(parts))
    if frames:
        path, line, function, code = frames[0]
        text += f" (at {path}, line {line}, in {function}: {code.strip()})"
    return text if len(text) <= limit else text[: limit - 1] + "…"
