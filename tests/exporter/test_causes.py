"""PyTorch's errors keep their cause: not cut to a first line that only says something failed."""

from __future__ import annotations

from mlpack.exporter.causes import cause_text

# The shape of torch.onnx.export's message (torch 2.13) when torch.export fails on a data-dependent `if`.
TORCH_ONNX = (
    "Failed to export the model with torch.export. \x1b[96mThis is step 1/3\x1b[0m of exporting the model to "
    "ONNX. Next steps:\n- Modify the model code for `torch.export.export` to succeed.\n\n## Exception summary\n\n"
    "<class 'torch.fx.experimental.symbolic_shapes.GuardOnDataDependentSymNode'>: Could not guard on "
    "data-dependent expression Eq(u0, 1) (unhinted: Eq(u0, 1)).  (Size-like symbols: none)\n\n"
    'The following call raised this error:\n  File "/src/model.py", line 6, in forward\n    if x.sum() > 0:\n'
)


class GuardOnDataDependentSymNode(RuntimeError):
    pass


def test_the_cause_and_the_users_line_survive() -> None:
    try:
        try:
            raise GuardOnDataDependentSymNode("Could not guard on data-dependent expression Eq(u0, 1).\n\nmore")
        except RuntimeError as inner:
            raise RuntimeError(TORCH_ONNX) from inner
    except RuntimeError as exc:
        text = cause_text(exc)
    assert text.startswith("Failed to export the model with torch.export; caused by GuardOnDataDependentSymNode")
    assert "Eq(u0, 1)" in text and "\x1b" not in text and "step 1/3" not in text
    assert text.endswith("(at /src/model.py, line 6, in forward: if x.sum() > 0:)")


def test_the_summary_is_read_when_there_is_no_chained_cause() -> None:
    text = cause_text(RuntimeError(TORCH_ONNX))
    assert "GuardOnDataDependentSymNode: Could not guard" in text and "line 6" in text


def test_a_plain_error_stays_as_it_is() -> None:
    message = "mat1 and mat2 shapes cannot be multiplied (2x10 and 16x4)"
    assert cause_text(RuntimeError(message)) == message
    assert cause_text(ValueError()) == "ValueError"
