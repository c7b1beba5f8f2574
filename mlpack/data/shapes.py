"""The shapes generated inputs take, and what was invented to get them: never a silent guess.

A model leaves some dimensions open (an image's sides, a window's length). Generated inputs need
a size for each: ``--shape NAME:1x3x320x320`` states it (as benchmark_app's ``-shape``); else the
graph may tell (a Resize to a constant size, the network's total stride) and a default fills the
rest. Every open dimension that the user did not state is *invented*: reports say so, and a
latency budget is not judged on it (a 320x320 detector timed at 64x64 ran 9x faster).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from mlpack.core.signature import TensorSpec
from mlpack.errors import InputSpecError

if TYPE_CHECKING:
    import onnx

DEFAULT_OPEN_DIM = 64  # an open dimension the graph says nothing about (a window, a feature count)
DEFAULT_SEQUENCE_LENGTH = 128  # a dimension named like a sequence: tokens in a sentence, frames
DEFAULT_IMAGE_SIDE = 224  # the commonest input side of image models, rounded to the model's stride
_SEQUENCE_WORDS = ("seq", "len", "token", "time", "frame", "step", "word", "sentence", "position")
_STRIDED = ("Conv", "MaxPool", "AveragePool", "ConvInteger", "QLinearConv")


@dataclass(frozen=True)
class InputShape:
    """``--shape NAME:1x3x320x320``: the whole shape of one input's generated values."""

    name: str
    dims: tuple[int, ...]

    def text(self) -> str:
        return f"{self.name}:{'x'.join(str(d) for d in self.dims)}"

    @classmethod
    def parse(cls, text: str) -> InputShape:
        name, sep, dims = text.rpartition(":")
        try:
            parsed = tuple(int(d) for d in dims.lower().split("x"))
        except ValueError:
            parsed = ()
        if not sep or not name.strip() or not parsed or any(d < 1 for d in parsed):
            raise InputSpecError(f"--shape takes NAME:DIMS with positive sizes, e.g. images:1x3x320x320; got '{text}'.")
        return cls(name.strip(), parsed)

    def check(self, spec: TensorSpec) -> None:
        if len(self.dims) != len(spec.shape):
            raise InputSpecError(
                f"--shape {self.text()}: '{spec.name}' has {len(spec.shape)} dimensions {spec.shape_text()}."
            )
        for axis, (given, want) in enumerate(zip(self.dims, spec.shape, strict=True)):
            if isinstance(want, int) and given != want:
                raise InputSpecError(
                    f"--shape {self.text()}: dimension {axis} of '{spec.name}' is fixed at {want} {spec.shape_text()}."
                )


@dataclass(frozen=True)
class GeneratedShape:
    """One input's generated shape, and which of its axes were filled by a default."""

    name: str
    shape: tuple[int, ...]
    invented: tuple[int, ...] = ()  # axes neither fixed by the model, the batch, nor stated by the user
    why: str = ""  # where the invented sizes came from

    def text(self) -> str:
        shape = f"{self.name} {'x'.join(str(d) for d in self.shape)}"
        return shape + (f" ({self.why})" if self.invented else "")

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "shape": list(self.shape), "invented_axes": list(self.invented), "why": self.why}


@dataclass(frozen=True)
class ModelHints:
    """What the graph says about the sizes of open image sides."""

    image_side: int | None = None
    why: str = ""


def model_hints(model: onnx.ModelProto) -> ModelHints:
    """An image side the graph implies: the target of a Resize to a constant size, else the
    commonest side rounded up to a multiple of the network's total stride."""
    from onnx import helper, numpy_helper

    inits = {i.name: i for i in model.graph.initializer}
    for node in model.graph.node:
        if node.op_type == "Resize" and len(node.input) >= 4 and node.input[3] in inits:
            sizes = numpy_helper.to_array(inits[node.input[3]]).ravel()
            if len(sizes) == 4 and sizes[2] > 0:
                return ModelHints(int(sizes[2]), f"the size the model's Resize scales to ({int(sizes[2])})")
    stride: dict[str, int] = {}
    total = 1
    for node in model.graph.node:
        incoming = max((stride.get(i, 1) for i in node.input if i), default=1)
        step = 1
        if node.op_type in _STRIDED:
            attrs = {a.name: helper.get_attribute_value(a) for a in node.attribute}
            step = max([int(s) for s in attrs.get("strides", [1])] or [1])
        for out in node.output:
            stride[out] = incoming * step
        total = max(total, incoming * step)
    if total == 1:
        return ModelHints()
    side = -(-DEFAULT_IMAGE_SIDE // total) * total
    return ModelHints(side, f"{side}: a common image side, a multiple of the model's total stride {total}")


def generated_shape(
    spec: TensorSpec,
    *,
    batch_size: int,
    batch_axis: int | None,
    stated: Mapping[str, InputShape] | None = None,
    dim_values: Mapping[str, int] | None = None,
    hints: ModelHints = ModelHints(),
) -> GeneratedShape:
    """The shape of ``spec``'s generated values: stated by ``--shape`` (its batch axis still takes
    ``batch_size``), or fixed dims, the batch, named sizes given, and defaults for the rest."""
    given = (stated or {}).get(spec.name)
    dim_values = dim_values or {}
    image_axes = _image_axes(spec)
    shape: list[int] = []
    invented: list[int] = []
    reasons: set[str] = set()
    for axis, dim in enumerate(spec.shape):
        if isinstance(dim, int):
            shape.append(dim)
        elif axis == batch_axis:
            shape.append(batch_size)
        elif given is not None:
            shape.append(given.dims[axis])
        elif isinstance(dim, str) and dim in dim_values:
            shape.append(dim_values[dim])
        else:
            size, reason = _default(axis, dim, image_axes, hints)
            shape.append(size)
            invented.append(axis)
            reasons.add(reason)
    why = "open dims filled by mlpack: " + "; ".join(sorted(reasons)) if invented else ""
    return GeneratedShape(spec.name, tuple(shape), tuple(invented), why)


def _default(axis: int, dim: object, image_axes: tuple[int, ...], hints: ModelHints) -> tuple[int, str]:
    if axis in image_axes and hints.image_side:
        return hints.image_side, f"image sides {hints.why}"
    if axis in image_axes:
        return DEFAULT_IMAGE_SIDE, f"image sides {DEFAULT_IMAGE_SIDE}, the commonest (the graph does not say)"
    if isinstance(dim, str) and any(word in dim.lower() for word in _SEQUENCE_WORDS):
        return DEFAULT_SEQUENCE_LENGTH, f"'{dim}' {DEFAULT_SEQUENCE_LENGTH}, a sentence's length"
    return DEFAULT_OPEN_DIM, f"other open dims {DEFAULT_OPEN_DIM}"


def _image_axes(spec: TensorSpec) -> tuple[int, ...]:
    """The two open sides of a 4-D float input with 1-4 channels first (NCHW) or last (NHWC)."""
    if len(spec.shape) != 4 or not spec.dtype.startswith("float"):
        return ()
    channels_first, channels_last = spec.shape[1], spec.shape[3]
    if isinstance(channels_first, int) and 1 <= channels_first <= 4:
        return tuple(a for a in (2, 3) if not isinstance(spec.shape[a], int))
    if isinstance(channels_last, int) and 1 <= channels_last <= 4:
        return tuple(a for a in (1, 2) if not isinstance(spec.shape[a], int))
    return ()
