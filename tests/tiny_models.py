"""Tiny PyTorch models for the tests, named as ``tests/tiny_models.py:FACTORY`` sources."""

import torch
from torch import nn


class MLP(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 4))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


class CNN(nn.Module):
    """Conv + BatchNorm + pooling + a linear head, on 1x8x8 images."""

    def __init__(self) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 8, 3, padding=1),
            nn.BatchNorm2d(8),
            nn.ReLU(),
            nn.MaxPool2d(2),
        )
        self.head = nn.Linear(8 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(torch.flatten(self.features(x), 1))


class Encoder(nn.Module):
    """A two-layer transformer encoder over token ids with an attention mask (1 = keep)."""

    def __init__(self, vocab: int = 50, width: int = 32) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab, width)
        layer = nn.TransformerEncoderLayer(width, 4, 64, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, 2, enable_nested_tensor=False)
        self.head = nn.Linear(width, 3)

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(self.embed(ids), src_key_padding_mask=mask == 0)
        return self.head(hidden.mean(dim=1))


def _seeded(model: nn.Module) -> nn.Module:
    # BatchNorm running statistics away from the defaults, so folding them is really tested.
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.running_mean.uniform_(-0.5, 0.5)
            module.running_var.uniform_(0.5, 2.0)
    return model.eval()


def mlp() -> nn.Module:
    torch.manual_seed(0)
    return _seeded(MLP())


def cnn() -> nn.Module:
    torch.manual_seed(0)
    return _seeded(CNN())


def encoder() -> nn.Module:
    torch.manual_seed(0)
    return _seeded(Encoder())


def not_a_module() -> int:
    return 42


def broken() -> nn.Module:
    raise RuntimeError("factory exploded")


class Noisy(nn.Module):
    """Adds fresh noise on every call: no export can match it, so verification must fail."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(16, 4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) + torch.rand_like(self.linear(x))


def noisy() -> nn.Module:
    torch.manual_seed(0)
    return Noisy().eval()
