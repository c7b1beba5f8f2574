"""The model families mlpack must shrink, trained briefly so their weights look trained.

Random-normal weights quantise unrealistically well; a few seconds of training on a small
synthetic task give weights with the outliers and per-channel spread of real ones. Used by the
tests (tiny sizes) and by benchmarks/shrink.py (realistic sizes).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn


class PitchNet(nn.Module):
    """1-D convolutions over a waveform frame -> a pitch bin (a pitch tracker's shape)."""

    def __init__(self, channels: int = 32, bins: int = 16) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv1d(1, channels, 9, stride=2, padding=4),
            nn.BatchNorm1d(channels),
            nn.ReLU(),
            nn.Conv1d(channels, channels * 2, 9, stride=2, padding=4),
            nn.BatchNorm1d(channels * 2),
            nn.ReLU(),
            nn.Conv1d(channels * 2, channels * 2, 9, stride=2, padding=4),
            nn.ReLU(),
        )
        self.head = nn.Linear(channels * 2, bins)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=2))


class SequenceRNN(nn.Module):
    """A stacked LSTM or GRU over feature frames -> a class (a speaker or keyword encoder's shape)."""

    def __init__(self, cell: str = "LSTM", features: int = 20, hidden: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.rnn = getattr(nn, cell)(features, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


class TokenEncoder(nn.Module):
    """A transformer encoder with a large embedding table (a sentence encoder's shape)."""

    def __init__(self, vocab: int = 2000, width: int = 64, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        layer = nn.TransformerEncoderLayer(width, 4, width * 2, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.head = nn.Linear(width, 4)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(self.embed(ids), src_key_padding_mask=mask == 0)
        return self.head(hidden.mean(dim=1))


@dataclass(frozen=True)
class Family:
    model: nn.Module
    inputs: dict[str, np.ndarray]  # named like the exported model's inputs
    labels: np.ndarray
    specs: tuple[str, ...]  # --input specs for export


def _pitch(size: str, n: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    length = 256 if size == "tiny" else 1024
    labels = rng.integers(0, 16, n)
    t = np.arange(length) / 8000
    freqs = 100 * 2 ** (labels / 4 + rng.uniform(0, 0.25, n))
    x = np.sin(2 * np.pi * freqs[:, None] * t) + 0.1 * rng.standard_normal((n, length))
    return {"x": x[:, None, :].astype(np.float32)}, labels


def _sequences(size: str, n: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], np.ndarray]:
    patterns = np.random.default_rng(7).standard_normal((8, 20)).astype(np.float32)
    labels = rng.integers(0, 8, n)
    steps = 16 if size == "tiny" else 50
    x = patterns[labels][:, None, :] * rng.uniform(0.3, 1.0, (n, steps, 1)) + rng.standard_normal((n, steps, 20))
    return {"x": x.astype(np.float32)}, labels


def _tokens(size: str, n: int, rng: np.random.Generator, vocab: int) -> tuple[dict[str, np.ndarray], np.ndarray]:
    seq = 16 if size == "tiny" else 64
    ids = rng.integers(1, vocab, (n, seq))
    labels = (ids[:, : seq // 2].mean(axis=1) * 4 // vocab).astype(np.int64).clip(0, 3)
    mask = np.ones((n, seq), dtype=np.int64)
    cut = rng.integers(seq // 2, seq + 1, n)
    mask[np.arange(seq)[None, :] >= cut[:, None]] = 0
    return {"ids": ids.astype(np.int64), "mask": mask}, labels


def family(name: str, size: str = "tiny", *, samples: int = 256, seed: int = 0) -> Family:
    """A freshly built and briefly trained model of one family, with evaluation data."""
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    big = size != "tiny"
    if name == "conv1d":
        model: nn.Module = PitchNet(channels=64 if big else 16)
        make = lambda n: _pitch(size, n, rng)  # noqa: E731
        specs: tuple[str, ...] = (f"x:batch,1,{256 if size == 'tiny' else 1024}",)
    elif name in ("lstm", "gru"):
        model = SequenceRNN(name.upper(), hidden=256 if big else 48)
        make = lambda n: _sequences(size, n, rng)  # noqa: E731
        specs = (f"x:batch,{16 if size == 'tiny' else 50},20",)
    elif name == "encoder":
        vocab = 20000 if big else 2000
        model = TokenEncoder(vocab=vocab, width=256 if big else 48, layers=2)
        make = lambda n: _tokens(size, n, rng, vocab)  # noqa: E731
        seq = 16 if size == "tiny" else 64
        specs = (f"ids:batch,{seq}:int64", f"mask:batch,{seq}:int64")
    else:
        raise KeyError(name)
    _train(model, make, steps=60 if size == "tiny" else 150)
    inputs, labels = make(samples)
    return Family(model.eval(), inputs, labels, specs)


def _train(model: nn.Module, make, *, steps: int) -> None:  # type: ignore[no-untyped-def]
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(steps):
        inputs, labels = make(32)
        logits = model(*(torch.from_numpy(v) for v in inputs.values()))
        loss = nn.functional.cross_entropy(logits, torch.from_numpy(labels).long())
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()


def export_family(name: str, folder: Path, size: str = "tiny", *, samples: int = 1024) -> tuple[Path, Path]:
    """(model.onnx, data.npz with inputs and labels) for one family.

    1024 samples: enough for a 95% lower bound to show 99% of the decisions kept (issue 19); 256
    could not, whatever the model.

    Exported with torch's TorchScript exporter, as most ONNX files people download were: LSTM
    and GRU become ONNX's own recurrent ops, Linear becomes Gemm or MatMul.
    """
    built = family(name, size, samples=samples)
    onnx_path = folder / f"{name}.onnx"
    names = list(built.inputs)
    example = tuple(torch.from_numpy(v[:2]) for v in built.inputs.values())
    torch.onnx.export(
        built.model,
        example,
        str(onnx_path),
        input_names=names,
        output_names=["logits"],
        dynamic_axes={**{n: {0: "batch"} for n in names}, "logits": {0: "batch"}},
        opset_version=17,
        dynamo=False,
    )
    data = folder / f"{name}.npz"
    np.savez(data, **built.inputs, labels=built.labels)
    return onnx_path, data
