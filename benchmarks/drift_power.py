"""How often `mlpack drift` catches a shift of a given size, and how often it cries wolf.

A tiny model (written here with onnx.helper) takes a table of 8 standard-normal features and an
RGB image of uniform [0, 1] pixels; its class is the sign of x[0] * x[1]. A package records the
statistics of 2000 validation samples. Then, for each sample size, fresh samples are drawn again
and again, either from the validation distribution (false alarms: any feature flagged) or with one
shift of growing size (detections: the shifted feature flagged):

- mean shift of x[2] and x[3], in standard deviations;
- scale change of x[2] (its standard deviation multiplied);
- image channel 1 brightened (added to its pixels, whose std is 0.29);
- class prior: P(class 1) moved from 0.5, with every input's marginal distribution unchanged, so
  only the outputs can show it.

All at the default thresholds (PSI 0.25, JS distance 0.1). Prints the detection rate per shift and
sample size side by side, the false-alarm rate, and the smallest shift caught in >= 90% of draws.

    .venv/bin/python benchmarks/drift_power.py [--repeats 30] [--null-repeats 100] [--sizes 100,200,500,2000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper

from mlpack.artifact.pack import pack
from mlpack.budget.drift import DriftThresholds, drift_against, load_reference

Shift = Callable[[dict[str, np.ndarray], float], None]


def build_model(path: Path) -> Path:
    """logits = 3 * [p, -p], p = x0 * x1 (+ 0 * the image mean, so the image is an input it reads)."""
    consts = [
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("three", TensorProto.FLOAT, [], [3.0]),
        *(helper.make_tensor(n, TensorProto.INT64, [1], [v]) for n, v in (("s0", 0), ("s1", 1), ("s2", 2))),
    ]
    nodes = [
        helper.make_node("Slice", ["x", "s0", "s1", "s1"], ["x0"]),
        helper.make_node("Slice", ["x", "s1", "s2", "s1"], ["x1"]),
        helper.make_node("Mul", ["x0", "x1"], ["p"]),
        helper.make_node("ReduceMean", ["img"], ["m"], axes=[1, 2, 3], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Unsqueeze", ["z", "s1"], ["z2"]),
        helper.make_node("Add", ["p", "z2"], ["p2"]),
        helper.make_node("Neg", ["p2"], ["q"]),
        helper.make_node("Concat", ["p2", "q"], ["pq"], axis=1),
        helper.make_node("Mul", ["pq", "three"], ["logits"]),
    ]
    graph = helper.make_graph(
        nodes,
        "drift_power",
        [
            helper.make_tensor_value_info("x", TensorProto.FLOAT, ["batch", 8]),
            helper.make_tensor_value_info("img", TensorProto.FLOAT, ["batch", 3, 8, 8]),
        ],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 2])],
        consts,
    )
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    return path


def draw(n: int, rng: np.random.Generator, class_one: float = 0.5) -> dict[str, np.ndarray]:
    x = rng.standard_normal((n, 8)).astype(np.float32)
    # x1's sign relative to x0's sets the class; x0 is symmetric, so x1 stays standard normal.
    ones = rng.random(n) < class_one
    x[:, 1] = np.abs(x[:, 1]) * np.sign(x[:, 0]) * np.where(ones, 1, -1)
    return {"x": x, "img": rng.uniform(0, 1, (n, 3, 8, 8)).astype(np.float32)}


def mean_shift(arrays: dict[str, np.ndarray], size: float) -> None:
    arrays["x"][:, 2:4] += size


def scale_change(arrays: dict[str, np.ndarray], size: float) -> None:
    arrays["x"][:, 2] *= size


def brighten(arrays: dict[str, np.ndarray], size: float) -> None:
    arrays["img"][:, 1] += size


# name, the features that count as caught, sizes, and how the shift is applied
SHIFTS: list[tuple[str, tuple[str, ...], tuple[float, ...], Shift | None]] = [
    ("mean shift x[2:4] (SD)", ("x[2]", "x[3]"), (0.1, 0.25, 0.5, 0.75, 1.0), mean_shift),
    ("scale x[2] (x SD)", ("x[2]",), (1.1, 1.25, 1.5, 2.0), scale_change),
    ("brighten img ch 1 (+)", ("img[channel 1]",), (0.02, 0.05, 0.1, 0.2), brighten),
    ("class prior P(1)", ("logits (predicted class)", "logits (confidence)"), (0.55, 0.6, 0.7, 0.8), None),
]


def flagged(folder: Path, model: Path, reference, arrays: dict[str, np.ndarray]) -> set[str]:
    data = folder / "new.npz"
    np.savez(data, **arrays)
    result = drift_against(reference, model, data, name="validation", thresholds=DriftThresholds())
    return {f.feature for f in result.drifted}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=30, help="draws per shift, size and sample size")
    parser.add_argument("--null-repeats", type=int, default=100, help="draws without shift, per sample size")
    parser.add_argument("--sizes", default="100,200,500,2000", help="sample sizes of the new data")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        model = build_model(folder / "model.onnx")
        np.savez(folder / "val.npz", **draw(2000, np.random.default_rng(0)))
        package = pack(model, folder / "model.mlpack", data=folder / "val.npz").output
        reference = load_reference(package)
        rng = np.random.default_rng(1)

        false_alarms = {}
        for n in sizes:
            alarms = sum(bool(flagged(folder, model, reference, draw(n, rng))) for _ in range(args.null_repeats))
            false_alarms[n] = alarms / args.null_repeats

        rows = []
        for name, features, magnitudes, apply in SHIFTS:
            for size in magnitudes:
                rates = {}
                for n in sizes:
                    caught = 0
                    for _ in range(args.repeats):
                        arrays = draw(n, rng, class_one=size) if apply is None else draw(n, rng)
                        if apply is not None:
                            apply(arrays, size)
                        caught += bool(flagged(folder, model, reference, arrays) & set(features))
                    rates[n] = caught / args.repeats
                rows.append((name, size, rates))

    header = f"{'shift':<26}{'size':>6}" + "".join(f"{f'n={n}':>10}" for n in sizes)
    print("Detection rate at the default thresholds (PSI >= 0.25, JS distance >= 0.1), 2000 recorded samples")
    print(f"{args.repeats} draws per cell; false alarms over {args.null_repeats} fresh validation-like draws\n")
    print(header)
    print("-" * len(header))
    print(f"{'no shift: false alarms':<26}{'-':>6}" + "".join(f"{false_alarms[n]:>10.0%}" for n in sizes))
    for name, size, rates in rows:
        print(f"{name:<26}{size:>6g}" + "".join(f"{rates[n]:>10.0%}" for n in sizes))
    if 500 in sizes:
        print("\nSmallest shift caught in >= 90% of draws at n=500:")
        for name, *_ in SHIFTS:
            caught = [size for shift, size, rates in rows if shift == name and rates[500] >= 0.9]
            print(f"  {name:<26}{min(caught) if caught else 'none of those tried'}")
    print(f"\n{time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
