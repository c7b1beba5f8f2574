"""One small trained model per output kind, for the fidelity tests (issue 19).

- ``frames``: a frame-wise multi-label tagger (sigmoid per frame and class, rare positives);
- ``tokens``: a per-token classifier (logits per token);
- ``classes``: a single-label classifier (logits per sample);
- ``value``: a regressor (one value per sample).

Each trains for a second or two. ``damaged=True`` plants a fault that FP32 never sees and INT8
does: one hidden unit is dead (its ReLU never fires), and the next layer reads it with a huge
weight in every output channel. Per-channel INT8 scales to that outlier and rounds the row's
real weights away, so the decisions change; blocks, FP16 or FP32 for that one tensor keep them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

KINDS = ("frames", "tokens", "classes", "value")
HIDDEN = 64
DEAD = 5  # the hidden unit planted dead in a damaged model
OUTLIER = 200.0


class _Body(nn.Module):
    def __init__(self, features: int, outputs: int) -> None:
        super().__init__()
        self.first = nn.Linear(features, HIDDEN)
        self.middle = nn.Linear(HIDDEN, HIDDEN)
        self.last = nn.Linear(HIDDEN, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.last(torch.relu(self.middle(torch.relu(self.first(x)))))


class Tagger(nn.Module):
    """(batch, frames, 16) -> sigmoid (batch, frames, 8)."""

    def __init__(self) -> None:
        super().__init__()
        self.body = _Body(16, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.body(x))


class TokenTagger(nn.Module):
    """(batch, tokens) ids -> logits (batch, tokens, 6)."""

    def __init__(self) -> None:
        super().__init__()
        self.embed = nn.Embedding(200, 32)
        self.body = _Body(32, 6)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.body(self.embed(ids))


class Plain(nn.Module):
    """(batch, 20) -> (batch, outputs)."""

    def __init__(self, outputs: int) -> None:
        super().__init__()
        self.body = _Body(20, outputs)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


def _data(kind: str, n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) of one kind of task."""
    directions = np.random.default_rng(11).standard_normal((20, 8)).astype(np.float32)
    if kind == "frames":
        x = rng.standard_normal((n, 40, 16)).astype(np.float32)
        # rare positives: a class is on where its feature pair is high (about 4% of frames)
        score = x[..., :8] + x[..., 8:]
        return x, (score > 2.4).astype(np.float32)
    if kind == "tokens":
        ids = rng.integers(0, 200, (n, 24))
        return ids.astype(np.int64), (ids * 7 % 6).astype(np.int64)
    x = rng.standard_normal((n, 20)).astype(np.float32)
    if kind == "classes":
        return x, np.argmax(x @ directions[:, :5], axis=1).astype(np.int64)
    return x, (np.tanh(x @ directions[:, :1]) + 0.3 * x[:, :1]).astype(np.float32)


def _model(kind: str) -> nn.Module:
    return {"frames": Tagger, "tokens": TokenTagger}.get(kind, lambda: Plain(5 if kind == "classes" else 1))()


def _loss(kind: str, output: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if kind == "frames":
        return nn.functional.binary_cross_entropy(output, target)
    if kind == "tokens":
        return nn.functional.cross_entropy(output.reshape(-1, 6), target.reshape(-1))
    if kind == "classes":
        return nn.functional.cross_entropy(output, target)
    return nn.functional.mse_loss(output, target)


def trained(kind: str, *, steps: int = 150, seed: int = 0) -> nn.Module:
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    model = _model(kind)
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(steps):
        x, y = _data(kind, 32, rng)
        loss = _loss(kind, model(torch.from_numpy(x)), torch.from_numpy(y))
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return model.eval()


def damage(model: nn.Module) -> nn.Module:
    """Plant the fault INT8 per channel cannot carry (see the module's docstring); FP32 is unchanged."""
    body = model.body  # type: ignore[union-attr]
    with torch.no_grad():
        body.first.weight[DEAD] = 0.0
        body.first.bias[DEAD] = -1e3
        body.middle.weight[:, DEAD] = OUTLIER
    return model


def export(kind: str, folder: Path, *, samples: int, damaged: bool = False, seed: int = 0) -> tuple[Path, Path]:
    """(model.onnx, data.npz) for one kind; the data are fresh samples of the same task."""
    model = trained(kind, seed=seed)
    if damaged:
        damage(model)
    name = {"frames": "frames", "tokens": "tags", "classes": "logits", "value": "value"}[kind]
    x, _ = _data(kind, 2, np.random.default_rng(seed))
    input_name = "ids" if kind == "tokens" else "x"
    path = folder / f"{kind}{'-damaged' if damaged else ''}.onnx"
    torch.onnx.export(
        model,
        (torch.from_numpy(x[:2]),),
        str(path),
        input_names=[input_name],
        output_names=[name],
        dynamic_axes={input_name: {0: "batch"}, name: {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return path, write_data(kind, folder, samples=samples, seed=seed + 100)


class TwoHeads(nn.Module):
    """(batch, 20) -> (``plain``: logits of a linear classifier too small to quantise, ``deep``:
    logits of a damaged body): only the second output can lose decisions."""

    def __init__(self, deep: nn.Module) -> None:
        super().__init__()
        self.plain = nn.Linear(20, 5)
        self.deep = deep

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.plain(x), self.deep(x)


def export_two_heads(folder: Path, *, samples: int, seed: int = 0) -> tuple[Path, Path]:
    """(model.onnx, data.npz) of :class:`TwoHeads`: INT8 per channel changes the second output's
    decisions only; the first output's weights stay FP32 in every mode."""
    torch.manual_seed(seed)
    model = TwoHeads(damage(trained("classes", seed=seed))).eval()
    x, _ = _data("classes", 2, np.random.default_rng(seed))
    path = folder / "two-heads.onnx"
    torch.onnx.export(
        model,
        (torch.from_numpy(x),),
        str(path),
        input_names=["x"],
        output_names=["plain", "deep"],
        dynamic_axes={"x": {0: "batch"}, "plain": {0: "batch"}, "deep": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    return path, write_data("classes", folder, samples=samples, seed=seed + 100)


def write_data(kind: str, folder: Path, *, samples: int, seed: int) -> Path:
    """A fresh sample of one kind's inputs (``seed`` picks which), as an .npz."""
    x, _ = _data(kind, samples, np.random.default_rng(seed))
    data = folder / f"{kind}-{samples}-{seed}.npz"
    np.savez(data, **{"ids" if kind == "tokens" else "x": x})
    return data
