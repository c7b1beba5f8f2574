"""Train the digits example models on scikit-learn's bundled data set (seconds on a laptop CPU).

Writes, under the output folder: ``<model>.pt`` (a state_dict), and ``heldout.npz`` /
``calib.npz`` (inputs as ``x``, plus ``labels`` and ``slices``) for checking and calibration.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DEFAULT_OUT = HERE / "out"
SEED = 0


def load_split() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x = (digits.images / 16.0).astype(np.float32)[:, None, :, :]  # N x 1 x 8 x 8, in [0, 1]
    y = digits.target.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(x, y, test_size=0.25, random_state=SEED, stratify=y)
    return x_train, y_train, x_test, y_test


def ink_slices(x: np.ndarray) -> np.ndarray:
    """A slice id per sample: light, medium or heavy pen strokes (tertiles of total ink).

    Stroke weight stands in for a user group (pens, scanners, handwriting styles) whose
    accuracy a quantised model could degrade on its own.
    """
    ink = x.reshape(len(x), -1).sum(axis=1)
    edges = np.quantile(ink, [1 / 3, 2 / 3])
    return np.digitize(ink, edges).astype(np.int64)


def save_data(out: Path) -> None:
    x_train, _, x_test, y_test = load_split()
    np.savez(out / "heldout.npz", x=x_test, labels=y_test, slices=ink_slices(x_test))
    # 512: calibration samples also verify static INT8, and 256 cannot show 99% of the decisions
    # kept at 95% confidence.
    np.savez(out / "calib.npz", x=x_train[:512])


def train(name: str, out: Path, epochs: int) -> Path:
    import torch

    sys.path.insert(0, str(HERE))
    import model as models

    torch.manual_seed(SEED)
    net = getattr(models, name)().train()
    x_train, y_train, _, _ = load_split()
    xs, ys = torch.from_numpy(x_train), torch.from_numpy(y_train)
    optimiser = torch.optim.AdamW(net.parameters(), lr=2e-3, weight_decay=1e-4)
    loss_fn = torch.nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(SEED)
    for _ in range(epochs):
        order = torch.randperm(len(xs), generator=generator)
        for start in range(0, len(xs), 64):
            batch = order[start : start + 64]
            optimiser.zero_grad()
            loss_fn(net(xs[batch]), ys[batch]).backward()
            optimiser.step()
    path = out / f"{name}.pt"
    torch.save(net.eval().state_dict(), path)
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", choices=["cnn", "transformer"], default="cnn")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--if-missing", action="store_true", help="do nothing when the weights already exist")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.if_missing and (args.out / f"{args.model}.pt").exists() and (args.out / "heldout.npz").exists():
        return
    started = time.perf_counter()
    save_data(args.out)
    path = train(args.model, args.out, args.epochs)
    print(f"trained {args.model} in {time.perf_counter() - started:.1f} s -> {path}")


if __name__ == "__main__":
    main()
