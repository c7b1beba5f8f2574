"""Convolutional families, trained for a few seconds here so their weights look trained.

- ``classifier``: MobileNetV2-like (depthwise-separable blocks, ReLU6, a residual add), 3x128x128
  -> 10 class logits;
- ``detector``: a small single-stage detector (YOLO-like: strided 3x3 convs with SiLU, a 1x1
  head on a 20x20 grid) -> per-cell class logits (background + 3) and box offsets;
- ``audio-tagger``: a conv net over a 64-band x 256-frame log-mel patch -> 8 sigmoid tags;
- ``unet``: a U-Net-like segmenter (max-pool down, nearest resize up, skip concatenations),
  3x96x96 -> per-pixel logits over 3 classes.

and four at the sizes edge models have (a few ms per frame here, where INT8 kernels, not per-op
overhead, decide the latency; the small ones above run in 0.3-2.5 ms):

- ``mobilenet-v2``: MobileNetV2-like (inverted residual blocks: 1x1 expand, depthwise 3x3, 1x1
  linear projection, residual adds), 3x160x160 -> 10 class logits;
- ``unet-wide``: the U-Net with 32/64/128 channels on 128x128;
- ``audio-tagger-wide``: the audio tagger with 64/128/256/256 channels;
- ``detector-320``: YOLOv8n-like at 320x320 (SiLU backbone to 256 channels, an FPN neck, an
  anchor-free head decoded as YOLOv8 exports it: (batch, 4 + 3, 1600) boxes in pixels and sigmoid
  scores), the size of the trained detector that motivated static INT8 in auto.

Each returns (model.onnx, data.npz, eval.npz): ``data`` (1024 samples; 512 for detector-320) is
what mlpack is given, ``eval`` (512 other samples; 256) is what every mode is judged on. Used by
benchmarks/shrink.py.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

CONV_FAMILIES = ("classifier", "detector", "audio-tagger", "unet", "mobilenet-v2", "unet-wide", "audio-tagger-wide")
CONV_FAMILIES += ("detector-320",)
YOLO_STRIDE = 8  # detector-320's head: one anchor per 8x8 cell, 40x40 of them


def _block(cin: int, cout: int, stride: int = 1, act: type[nn.Module] = nn.ReLU6) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), act())


def _separable(cin: int, cout: int, stride: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cin, 3, stride, 1, groups=cin, bias=False),
        nn.BatchNorm2d(cin),
        nn.ReLU6(),
        nn.Conv2d(cin, cout, 1, bias=False),
        nn.BatchNorm2d(cout),
        nn.ReLU6(),
    )


class Classifier(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.stem = _block(3, 32, 2)
        self.blocks = nn.Sequential(_separable(32, 64, 2), _separable(64, 128, 2), _separable(128, 128, 1))
        self.residual = _separable(128, 128, 1)
        self.last = _separable(128, 256, 2)
        self.head = nn.Linear(256, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = self.blocks(self.stem(x))
        h = self.last(h + self.residual(h))
        return self.head(h.mean(dim=(2, 3)))


class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int) -> None:
        super().__init__()
        hidden = cin * expand
        layers: list[nn.Module] = (
            [] if expand == 1 else [nn.Conv2d(cin, hidden, 1, bias=False), nn.BatchNorm2d(hidden), nn.ReLU6()]
        )
        layers += [
            nn.Conv2d(hidden, hidden, 3, stride, 1, groups=hidden, bias=False),
            nn.BatchNorm2d(hidden),
            nn.ReLU6(),
            nn.Conv2d(hidden, cout, 1, bias=False),
            nn.BatchNorm2d(cout),
        ]
        self.body = nn.Sequential(*layers)
        self.residual = stride == 1 and cin == cout

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x) if self.residual else self.body(x)


class MobileNetV2(nn.Module):
    # (expansion, channels, repeats, first stride): MobileNetV2's table, cut after the 96-channel stage.
    STAGES = ((1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 3, 2), (6, 96, 2, 1))

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = [_block(3, 32, 2)]
        cin = 32
        for expand, cout, repeats, stride in self.STAGES:
            for index in range(repeats):
                layers.append(InvertedResidual(cin, cout, stride if index == 0 else 1, expand))
                cin = cout
        layers.append(_block(cin, 384, 1))
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(384, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x).mean(dim=(2, 3)))


class Detector(nn.Module):
    def __init__(self, classes: int = 3) -> None:
        super().__init__()
        widths = (16, 32, 64, 128)
        layers, cin = [], 3
        for width in widths:
            layers += [_block(cin, width, 2 if width < 128 else 1, nn.SiLU), _block(width, width, 1, nn.SiLU)]
            cin = width
        self.backbone = nn.Sequential(*layers)
        self.head = nn.Conv2d(128, classes + 1 + 4, 1)
        self.classes = classes

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.head(self.backbone(x)).flatten(2).transpose(1, 2)  # (batch, cells, channels)
        return out[..., : self.classes + 1], out[..., self.classes + 1 :]


class YoloDetector(nn.Module):
    """YOLOv8n-like at 320x320: a strided SiLU backbone (16 to 256 channels), an FPN neck (nearest
    upsample, concatenation) and an anchor-free head on the stride-8 grid, decoded as YOLOv8 exports
    it: (batch, 4 + classes, anchors), box centre and size in pixels, then sigmoid class scores."""

    def __init__(self, classes: int = 3, size: int = 320) -> None:
        super().__init__()

        def stage(cin: int, cout: int) -> nn.Sequential:
            return nn.Sequential(_block(cin, cout, 2, nn.SiLU), _block(cout, cout, 1, nn.SiLU))

        self.p3 = nn.Sequential(_block(3, 16, 2, nn.SiLU), stage(16, 32), stage(32, 64))
        self.p4, self.p5 = stage(64, 128), stage(128, 256)
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.n4 = nn.Sequential(_block(256 + 128, 128, 1, nn.SiLU), _block(128, 128, 1, nn.SiLU))
        self.n3 = nn.Sequential(_block(128 + 64, 64, 1, nn.SiLU), _block(64, 64, 1, nn.SiLU))
        self.box, self.cls = nn.Conv2d(64, 4, 1), nn.Conv2d(64, classes, 1)
        cells = size // YOLO_STRIDE
        yy, xx = torch.meshgrid(torch.arange(cells), torch.arange(cells), indexing="ij")
        self.register_buffer("grid", torch.stack([xx, yy]).float().unsqueeze(0))

    def raw(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        p3 = self.p3(x)
        p4 = self.p4(p3)
        h = self.n4(torch.cat([self.up(self.p5(p4)), p4], dim=1))
        h = self.n3(torch.cat([self.up(h), p3], dim=1))
        return self.box(h), self.cls(h)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        box, cls = self.raw(x)
        centre = (torch.sigmoid(box[:, :2]) + self.grid) * YOLO_STRIDE
        size = torch.exp(box[:, 2:].clamp(-4, 4)) * YOLO_STRIDE
        return torch.cat([centre, size, torch.sigmoid(cls)], dim=1).flatten(2)


class AudioTagger(nn.Module):
    def __init__(self, widths: tuple[int, ...] = (32, 64, 128, 128)) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for index, (cin, cout) in enumerate(zip((1, *widths), widths, strict=False)):
            layers += ([nn.MaxPool2d(2)] if index else []) + [_block(cin, cout, 1, nn.ReLU)]
        self.features = nn.Sequential(*layers)
        self.head = nn.Linear(widths[-1], 8)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(self.head(self.features(x).mean(dim=(2, 3))))


class UNet(nn.Module):
    def __init__(self, width: int = 16) -> None:
        super().__init__()
        w1, w2, w3 = width, 2 * width, 4 * width
        self.down1 = nn.Sequential(_block(3, w1, 1, nn.ReLU), _block(w1, w1, 1, nn.ReLU))
        self.down2 = nn.Sequential(nn.MaxPool2d(2), _block(w1, w2, 1, nn.ReLU), _block(w2, w2, 1, nn.ReLU))
        self.bottom = nn.Sequential(nn.MaxPool2d(2), _block(w2, w3, 1, nn.ReLU), _block(w3, w3, 1, nn.ReLU))
        self.up = nn.Upsample(scale_factor=2, mode="nearest")
        self.dec2 = nn.Sequential(_block(w3 + w2, w2, 1, nn.ReLU), _block(w2, w2, 1, nn.ReLU))
        self.dec1 = nn.Sequential(_block(w2 + w1, w1, 1, nn.ReLU), _block(w1, w1, 1, nn.ReLU))
        self.out = nn.Conv2d(w1, 3, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        d1 = self.down1(x)
        d2 = self.down2(d1)
        h = self.dec2(torch.cat([self.up(self.bottom(d2)), d2], dim=1))
        h = self.dec1(torch.cat([self.up(h), d1], dim=1))
        return self.out(h).permute(0, 2, 3, 1)  # per pixel, classes last


def _gratings(n: int, rng: np.random.Generator, size: int = 128) -> tuple[np.ndarray, np.ndarray]:
    labels = rng.integers(0, 10, n)
    yy, xx = np.mgrid[0:size, 0:size] / size
    theta = labels * np.pi / 10 + rng.normal(0, 0.05, n)
    freq = rng.uniform(4, 8, n)
    phase = rng.uniform(0, 2 * np.pi, n)
    wave = np.sin(
        2 * np.pi * freq[:, None, None] * (np.cos(theta)[:, None, None] * xx + np.sin(theta)[:, None, None] * yy)
        + phase[:, None, None]
    )
    colour = rng.uniform(0.3, 1.0, (n, 3, 1, 1))
    x = wave[:, None] * colour + 0.3 * rng.standard_normal((n, 3, size, size))
    return x.astype(np.float32), labels


def _squares(
    n: int, rng: np.random.Generator, size: int = 160, grid: int = 20
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    x = 0.2 * rng.standard_normal((n, 3, size, size)).astype(np.float32)
    cls = np.zeros((n, grid * grid), np.int64)
    boxes = np.zeros((n, grid * grid, 4), np.float32)
    cell = size // grid
    for i in range(n):
        side = int(rng.integers(12, 32))
        top, left = (int(v) for v in rng.integers(0, size - side, 2))
        kind = int(rng.integers(0, 3))
        x[i, kind, top : top + side, left : left + side] += 1.5
        cy, cx = (top + side / 2) / cell, (left + side / 2) / cell
        index = int(cy) * grid + int(cx)
        cls[i, index] = kind + 1
        boxes[i, index] = (cy - int(cy), cx - int(cx), side / size, side / size)
    return x, cls, boxes


def _objects(n: int, rng: np.random.Generator, size: int = 320) -> tuple[np.ndarray, np.ndarray]:
    """Images with one to three coloured squares; per grid cell (stride 8) the class (0: none) and
    the box (centre offset in the cell, log of the side over the stride) of the square centred there."""
    cells = size // YOLO_STRIDE
    x = 0.2 * rng.standard_normal((n, 3, size, size)).astype(np.float32)
    target = np.zeros((n, 5, cells, cells), np.float32)
    for i in range(n):
        for _ in range(int(rng.integers(1, 4))):
            side = int(rng.integers(24, 64))
            top, left = (int(v) for v in rng.integers(0, size - side, 2))
            kind = int(rng.integers(0, 3))
            x[i, kind, top : top + side, left : left + side] += 1.5
            cy, cx = (top + side / 2) / YOLO_STRIDE, (left + side / 2) / YOLO_STRIDE
            target[i, :, int(cy), int(cx)] = (kind + 1, cx - int(cx), cy - int(cy), *[np.log(side / YOLO_STRIDE)] * 2)
    return x, target


def _spectrograms(n: int, rng: np.random.Generator, frames: int = 256) -> tuple[np.ndarray, np.ndarray]:
    tags = (rng.random((n, 8)) < 0.3).astype(np.float32)
    x = rng.standard_normal((n, 1, 64, frames)).astype(np.float32) * 0.5
    for i, k in zip(*np.nonzero(tags), strict=True):
        start = int(rng.integers(0, frames // 2))
        x[i, 0, k * 8 : k * 8 + 8, start : start + frames // 3] += 2.0
    return x, tags


def _shapes(n: int, rng: np.random.Generator, size: int = 96) -> tuple[np.ndarray, np.ndarray]:
    x = 0.3 * rng.standard_normal((n, 3, size, size)).astype(np.float32)
    mask = np.zeros((n, size, size), np.int64)
    yy, xx = np.mgrid[0:size, 0:size]
    for i in range(n):
        for _ in range(int(rng.integers(1, 4))):
            r = int(rng.integers(6, 18))
            cy, cx = (int(v) for v in rng.integers(r, size - r, 2))
            kind = int(rng.integers(1, 3))  # 1: a square, 2: a disc
            square = (np.abs(yy - cy) < r) & (np.abs(xx - cx) < r)
            inside = square if kind == 1 else (yy - cy) ** 2 + (xx - cx) ** 2 < r * r
            mask[i][inside] = kind
            x[i][:, inside] += np.array([1.0, 0.5, -0.5])[:, None]
    return x, mask


def _make(name: str, n: int, rng: np.random.Generator) -> tuple[dict[str, np.ndarray], tuple[np.ndarray, ...]]:
    if name in ("classifier", "mobilenet-v2"):
        x, labels = _gratings(n, rng, 128 if name == "classifier" else 160)
        return {"image": x}, (labels,)
    if name == "detector":
        x, cls, boxes = _squares(n, rng)
        return {"image": x}, (cls, boxes)
    if name == "detector-320":
        x, target = _objects(n, rng)
        return {"image": x}, (target,)
    if name.startswith("audio-tagger"):
        x, tags = _spectrograms(n, rng)
        return {"mel": x}, (tags,)
    x, mask = _shapes(n, rng, 96 if name == "unet" else 128)
    return {"image": x}, (mask,)


def _loss(name: str, out: torch.Tensor | tuple[torch.Tensor, ...], targets: tuple[np.ndarray, ...]) -> torch.Tensor:
    t = [torch.from_numpy(v) for v in targets]
    if name == "detector":
        assert isinstance(out, tuple)
        scores, boxes = out
        weight = torch.tensor([0.05, 1.0, 1.0, 1.0])
        positive = (t[0] > 0).unsqueeze(-1).float()
        box_loss = (torch.abs(boxes - t[1]) * positive).sum() / positive.sum().clamp(min=1)
        return nn.functional.cross_entropy(scores.reshape(-1, 4), t[0].reshape(-1), weight=weight) + box_loss
    assert isinstance(out, torch.Tensor)
    if name == "detector-320":
        return _yolo_loss(out, t[0])
    if name.startswith("audio-tagger"):
        return nn.functional.binary_cross_entropy(out, t[0])
    if name.startswith("unet"):
        return nn.functional.cross_entropy(out.reshape(-1, 3), t[0].reshape(-1))
    return nn.functional.cross_entropy(out, t[0])


def _yolo_loss(raw: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Class scores (sigmoid, every cell, positives weighted up) and box regression (cells with an
    object) of ``YoloDetector.raw``'s outputs stacked on the channel axis."""
    box, cls = raw[:, :4], raw[:, 4:]
    kind = target[:, 0].long()
    wanted = nn.functional.one_hot(kind, cls.shape[1] + 1)[..., 1:].permute(0, 3, 1, 2).float()
    scores = nn.functional.binary_cross_entropy_with_logits(cls, wanted, pos_weight=torch.tensor(20.0))
    positive = (kind > 0).unsqueeze(1).float()
    offsets = torch.cat([torch.sigmoid(box[:, :2]), box[:, 2:]], dim=1)
    boxes = (torch.abs(offsets - target[:, 1:]) * positive).sum() / positive.sum().clamp(min=1)
    return scores + boxes


def _model(name: str) -> nn.Module:
    return {
        "classifier": Classifier,
        "detector": Detector,
        "audio-tagger": AudioTagger,
        "unet": UNet,
        "mobilenet-v2": MobileNetV2,
        "unet-wide": lambda: UNet(32),
        "audio-tagger-wide": lambda: AudioTagger((64, 128, 256, 256)),
        "detector-320": YoloDetector,
    }[name]()


def export_conv_family(
    name: str, folder: Path, *, steps: int = 40, samples: int = 1024, held_out: int = 512
) -> tuple[Path, Path, Path]:
    """(model.onnx, data.npz, eval.npz) for one family, trained for ``steps`` batches of 16."""
    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    model = _model(name)
    optimiser = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    torch.set_num_threads(2)
    for _ in range(steps):
        inputs, targets = _make(name, 16, rng)
        forward = model.raw if isinstance(model, YoloDetector) else model  # trained on the raw head
        out = forward(*(torch.from_numpy(v) for v in inputs.values()))
        loss = _loss(name, torch.cat(out, dim=1) if isinstance(model, YoloDetector) else out, targets)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    model.eval()
    data, _ = _make(name, samples, rng)
    held, _ = _make(name, held_out, np.random.default_rng(1))
    names = list(data)
    outputs = {"detector": ["scores", "boxes"], "detector-320": ["output0"]}.get(
        name, ["tags" if name.startswith("audio-tagger") else "logits"]
    )
    path = folder / f"{name}.onnx"
    torch.onnx.export(
        model,
        tuple(torch.from_numpy(v[:2]) for v in data.values()),
        str(path),
        input_names=names,
        output_names=outputs,
        dynamic_axes={**{n: {0: "batch"} for n in names}, **{o: {0: "batch"} for o in outputs}},
        opset_version=17,
        dynamo=False,
    )
    np.savez(folder / f"{name}.npz", **data)
    np.savez(folder / f"{name}.eval.npz", **held)
    return path, folder / f"{name}.npz", folder / f"{name}.eval.npz"
