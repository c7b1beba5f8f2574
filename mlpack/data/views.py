"""Views: how a tensor becomes the features its statistics summarise (:class:`mlpack.data.stats.View`).

A view is chosen once, when statistics are recorded, from the tensor's signature, its first block
of values, its batch axis and, where the user names one, its channel axis; it is stored with the
statistics, so new data is cut into the same features.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from mlpack.data.stats import View
from mlpack.errors import InputSpecError

if TYPE_CHECKING:
    import numpy as np

    from mlpack.core.signature import TensorSpec

PER_COLUMN_CATEGORIES = 16  # an integer input this narrow is a row of categorical features
_CHANNEL_COUNTS = (1, 2, 3, 4)  # channels of an image: a fixed last axis this small is NHWC's C


def parse_channel_axes(texts: tuple[str, ...] | list[str]) -> dict[str, int | None]:
    """``--channel-axis NAME=AXIS`` (an axis number, or ``none`` to pool every value) by tensor name."""
    axes: dict[str, int | None] = {}
    for text in texts:
        name, sep, value = text.partition("=")
        value = value.strip().lower()
        if not sep or not name.strip() or not (value == "none" or value.lstrip("-").isdigit()):
            raise InputSpecError(f"--channel-axis takes NAME=AXIS (an axis number, or none to pool), got '{text}'.")
        if name.strip() in axes:
            raise InputSpecError(f"--channel-axis names '{name.strip()}' twice; give each tensor one axis.")
        axes[name.strip()] = None if value == "none" else int(value)
    return axes


def view_for(
    spec: TensorSpec,
    array: np.ndarray,
    *,
    role: str,
    cap: int,
    batch_axis: int = 0,
    channel_axis: int | None | str = "auto",
) -> View:
    """How a tensor is summarised: per feature or channel, pooled, as categories, lengths or classes.

    Unless the user names the channel axis, a fixed dimension after the batch is a feature or
    channel axis (NCHW images, [batch, channels, time] audio, [batch, F] tables), or a small fixed
    last axis of a 4-axis tensor (NHWC images); a symbolic one is a length, whose positions are pooled.

    Args:
        spec: the tensor's signature entry.
        array: a first block of its values, with the batch on ``batch_axis``.
        role: "input" or "output".
        cap: the most features this tensor may have; wider axes are pooled into groups.
        batch_axis: the axis that carries the samples.
        channel_axis: ``"auto"`` (from the signature), an axis number, or None (pool every value).
    """
    import numpy as np

    floating = np.issubdtype(array.dtype, np.floating)
    if channel_axis == "auto":
        rows = array.astype(np.float64)
        if role == "output" and floating and array.ndim == 2 and array.shape[1 - batch_axis] >= 2 and batch_axis < 2:
            rows = np.moveaxis(rows, batch_axis, 0)
            probabilities = bool(np.all((rows >= 0) & (rows <= 1)) and np.allclose(rows.sum(axis=1), 1.0, atol=1e-3))
            return View("classes", probabilities=probabilities, batch_axis=batch_axis)
        if not floating and role == "input" and "mask" in spec.name.lower() and array.ndim >= 2:
            return View("lengths", batch_axis=batch_axis)
    axis = _feature_axis(spec, array, batch_axis) if channel_axis == "auto" else _user_axis(spec, array, channel_axis)
    if axis is not None and axis == batch_axis:
        raise InputSpecError(f"--channel-axis {spec.name}={axis} is the batch axis; name the channel axis.")
    if not floating:
        if axis is not None and array.ndim == 2 and array.shape[axis] <= PER_COLUMN_CATEGORIES:
            groups = tuple((i, i + 1) for i in range(array.shape[axis]))
            return View("categories", axis=axis, groups=groups, batch_axis=batch_axis)
        return View("categories", batch_axis=batch_axis)
    if axis is None:
        return View("pooled", batch_axis=batch_axis)
    return View("features", axis=axis, groups=_groups(array.shape[axis], cap), batch_axis=batch_axis)


def _user_axis(spec: TensorSpec, array: np.ndarray, axis: int | None | str) -> int | None:
    if axis is None or isinstance(axis, str):
        return None
    if not -array.ndim <= axis < array.ndim:
        raise InputSpecError(f"--channel-axis {spec.name}={axis}: '{spec.name}' has {array.ndim} axes.")
    return axis % array.ndim


def _feature_axis(spec: TensorSpec, array: np.ndarray, batch_axis: int) -> int | None:
    """The axis after the batch if fixed, else a fixed last axis, else a fixed axis before the batch
    (``[F, batch]``); an NHWC image's last axis when only it is channel-sized."""
    ndim = array.ndim
    if ndim < 2 or len(spec.shape) != ndim:
        return None
    fixed = [isinstance(d, int) for d in spec.shape]
    if ndim == 4 and batch_axis == 0 and all(fixed[1:]):
        nhwc = spec.shape[3] in _CHANNEL_COUNTS and spec.shape[1] not in _CHANNEL_COUNTS
        return 3 if nhwc else 1
    for axis in (batch_axis + 1, ndim - 1, 0):
        if axis < ndim and axis != batch_axis and fixed[axis]:
            return axis
    return None


def _groups(size: int, cap: int) -> tuple[tuple[int, int], ...]:
    """Positions 0..size split into at most ``cap`` contiguous groups of (nearly) equal width."""
    count = min(size, cap)
    bounds = [round(i * size / count) for i in range(count + 1)]
    return tuple((bounds[i], bounds[i + 1]) for i in range(count))


def feature_names(name: str, view: View, ndim: int) -> list[str]:
    """The features' names, as reports show them: ``x[3]``, ``image[channel 0]``, ``mask (length)``."""
    if view.kind == "classes":
        return [f"{name} (predicted class)", f"{name} (confidence)"]
    if view.kind == "lengths":
        return [f"{name} (sequence length)"]
    if not view.groups:
        return [name]
    channels = ndim > 2 and view.axis is not None
    where = "channel " if channels else ("" if ndim == 2 else f"axis {view.axis}: ")
    return [f"{name}[{where}{a}]" if b == a + 1 else f"{name}[{where}{a}:{b}]" for a, b in view.groups]


def feature_values(view: View, array: np.ndarray) -> list[np.ndarray]:
    """One flat array of values per feature of ``view``, from a block of the tensor."""
    import numpy as np

    array, axis = batch_first(view, array)
    if view.kind == "classes":
        scores = array.astype(np.float64)
        if not view.probabilities:
            scores = np.exp(scores - scores.max(axis=1, keepdims=True))
            scores /= scores.sum(axis=1, keepdims=True)
        return [np.argmax(scores, axis=1), scores.max(axis=1)]
    if view.kind == "lengths":
        return [(array.reshape(array.shape[0], -1) != 0).sum(axis=1)]
    if axis is None or not view.groups:
        return [array.reshape(-1)]
    columns = np.moveaxis(array, axis, -1)
    columns = columns.reshape(-1, columns.shape[-1])
    return [columns[:, a:b].reshape(-1) for a, b in view.groups]


def batch_first(view: View, array: np.ndarray) -> tuple[np.ndarray, int | None]:
    """The block with its samples on axis 0, and where the view's feature axis is then."""
    import numpy as np

    if view.batch_axis == 0:
        return array, view.axis
    axis = view.axis
    if axis is not None and axis < view.batch_axis:
        axis += 1
    return np.moveaxis(array, view.batch_axis, 0), axis


def check_view(view: View, spec: TensorSpec, *, where: str) -> None:
    """Raise InputSpecError where a recorded view cannot cut this tensor (axis out of range, groups
    past the axis's end): statistics recorded for another model, or edited."""
    rank = len(spec.shape)
    for label, axis in (("axis", view.axis), ("batch_axis", view.batch_axis)):
        if axis is not None and axis >= max(rank, 1):
            raise InputSpecError(f"{where}: the view's {label} {axis} is outside '{spec.name}' ({rank} axes).")
    if view.axis is not None and view.groups:
        size = spec.shape[view.axis]
        if isinstance(size, int) and view.groups[-1][1] > size:
            raise InputSpecError(
                f"{where}: the view's groups reach position {view.groups[-1][1]} of axis {view.axis}, "
                f"which has {size} in '{spec.name}'."
            )


def per_sample(view: View, ndim: int) -> bool:
    """Whether each sample gives one value per feature: only then are the counts independent draws."""
    if view.kind in ("classes", "lengths"):
        return True
    if view.axis is None or not view.groups:
        return ndim == 1
    return ndim == 2 and all(b == a + 1 for a, b in view.groups)
