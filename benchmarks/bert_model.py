"""A BERT-base-size encoder (110M parameters) exported to ONNX, and token data for it.

transformers is not a dependency, so the encoder is written in plain torch with BERT-base's
configuration: 12 layers, width 768, 12 heads, FFN 3072, vocabulary 30522, 128 tokens. Its
weights are initialised the way BERT's own initialiser (and so, roughly, training) leaves them:
normal(0, 0.02) for every matrix and embedding table, zero biases, LayerNorm scales of one.
Random-normal(0, 1) weights would make activations explode and quantise unrealistically.

The model and the data files are cached under ``benchmarks/out/`` (git-ignored there):

    .venv/bin/python benchmarks/bert_model.py            # build (or reuse) and print the paths
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

OUT = Path(__file__).resolve().parent / "out"
VOCAB, WIDTH, LAYERS, HEADS, FFN, MAX_POSITIONS, SEQ = 30522, 768, 12, 12, 3072, 512, 128


def _encoder() -> object:
    import torch
    from torch import nn

    class Layer(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.qkv = nn.ModuleList(nn.Linear(WIDTH, WIDTH) for _ in range(3))
            self.attention_out = nn.Linear(WIDTH, WIDTH)
            self.attention_norm = nn.LayerNorm(WIDTH, eps=1e-12)
            self.up = nn.Linear(WIDTH, FFN)
            self.down = nn.Linear(FFN, WIDTH)
            self.out_norm = nn.LayerNorm(WIDTH, eps=1e-12)

        def forward(self, x: torch.Tensor, mask_bias: torch.Tensor) -> torch.Tensor:
            batch, seq, _ = x.shape
            q, k, v = (p(x).view(batch, seq, HEADS, WIDTH // HEADS).transpose(1, 2) for p in self.qkv)
            scores = q @ k.transpose(-1, -2) / (WIDTH // HEADS) ** 0.5 + mask_bias
            context = (scores.softmax(-1) @ v).transpose(1, 2).reshape(batch, seq, WIDTH)
            x = self.attention_norm(x + self.attention_out(context))
            return self.out_norm(x + self.down(nn.functional.gelu(self.up(x))))

    class Encoder(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.words = nn.Embedding(VOCAB, WIDTH)
            self.positions = nn.Embedding(MAX_POSITIONS, WIDTH)
            self.token_types = nn.Embedding(2, WIDTH)
            self.embedding_norm = nn.LayerNorm(WIDTH, eps=1e-12)
            self.layers = nn.ModuleList(Layer() for _ in range(LAYERS))
            self.pooler = nn.Linear(WIDTH, WIDTH)

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            positions = torch.arange(input_ids.shape[1], device=input_ids.device)
            x = self.words(input_ids) + self.positions(positions) + self.token_types(torch.zeros_like(input_ids))
            x = self.embedding_norm(x)
            mask_bias = (1.0 - attention_mask[:, None, None, :].to(x.dtype)) * -10000.0
            for layer in self.layers:
                x = layer(x, mask_bias)
            return torch.tanh(self.pooler(x[:, 0]))

    torch.manual_seed(0)
    model = Encoder()
    for module in model.modules():  # BERT's initialiser
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, 0.0, 0.02)
        if isinstance(module, nn.Linear):
            nn.init.zeros_(module.bias)
        if isinstance(module, nn.LayerNorm):
            nn.init.ones_(module.weight)
            nn.init.zeros_(module.bias)
    return model.eval()


def token_data(samples: int, *, seed: int = 0) -> dict[str, np.ndarray]:
    """``samples`` sequences of SEQ tokens: Zipf-like token ids (as text has), padded tails masked out."""
    rng = np.random.default_rng(seed)
    ids = np.minimum(rng.zipf(1.3, size=(samples, SEQ)) + 999, VOCAB - 1).astype(np.int64)
    ids[:, 0] = 101  # [CLS]
    lengths = rng.integers(SEQ // 4, SEQ + 1, size=samples)
    mask = (np.arange(SEQ)[None, :] < lengths[:, None]).astype(np.int64)
    return {"input_ids": np.where(mask == 1, ids, 0), "attention_mask": mask}


def ensure_out() -> Path:
    """benchmarks/out/, created git-ignored."""
    OUT.mkdir(exist_ok=True)
    (OUT / ".gitignore").write_text("*\n")
    return OUT


def bert_model() -> Path:
    """The exported encoder (input_ids, attention_mask -> pooled [batch, 768]), built once."""
    path = ensure_out() / "bert_base.onnx"
    if path.exists():
        return path
    import torch

    model = _encoder()
    example = {k: torch.from_numpy(v) for k, v in token_data(2).items()}
    tmp = path.with_suffix(".tmp.onnx")
    with torch.no_grad():
        torch.onnx.export(
            model,
            (example["input_ids"], example["attention_mask"]),
            str(tmp),
            input_names=["input_ids", "attention_mask"],
            output_names=["pooled"],
            opset_version=17,
            dynamic_axes={"input_ids": {0: "batch"}, "attention_mask": {0: "batch"}, "pooled": {0: "batch"}},
            dynamo=False,
        )
    tmp.replace(path)
    return path


def calibration_data(samples: int) -> Path:
    """An .npz of ``samples`` token sequences for calibration, built once per size."""
    path = ensure_out() / f"bert_calib_{samples}.npz"
    if not path.exists():
        np.savez(path, **token_data(samples, seed=1))
    return path


if __name__ == "__main__":
    model_path = bert_model()
    sys.stdout.write(f"{model_path} ({model_path.stat().st_size / 1e6:.0f} MB)\n{calibration_data(256)}\n")
