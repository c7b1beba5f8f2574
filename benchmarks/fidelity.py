"""Decisions kept by each --quantize mode, per output kind, and how stable the verdict is.

For each family of tests/helpers/fidelity_models.py (a frame-wise multi-label tagger with rare positives,
a per-token classifier, a single-label classifier, a regressor), trained briefly, as is and with
a planted fault that INT8 per channel cannot carry ("damaged"), each mode is built on one sample
of the task's inputs with no bar at all (auto with its own, since its ladder needs one), then
judged by mlpack's fidelity module with the mode's default tolerance:

- size: the file against FP32;
- decisions: lost / judged (the reference's sure decisions), agreement and F1 with their 95%
  lower bounds, and the verdict;
- latency: p50 against FP32 at batch 1, interleaved in one process;
- the per-layer report's costliest tensor (each quantised alone);
- verdict flips: the same artifact judged on ``--repeats`` pairs of independent samples of the
  task's inputs; a flip is a pair whose two verdicts differ.

    python benchmarks/fidelity.py [--quick | --families frames,value] [--repeats 5] [--json out.json]
"""

from __future__ import annotations

import argparse
import functools
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import mlpack  # noqa: E402
from mlpack.core.fidelity import Tolerance, compare_outputs  # noqa: E402
from mlpack.data.runner import predict  # noqa: E402
from mlpack.data.sources import load_dataset  # noqa: E402
from mlpack.errors import MlpackError  # noqa: E402
from mlpack.quant.modes import default_tolerance  # noqa: E402
from mlpack.quant.settings import QuantMode  # noqa: E402
from mlpack.quant.timing import p50_ratios  # noqa: E402
from tests.helpers.fidelity_models import KINDS, export, write_data  # noqa: E402

MODES = (QuantMode.DYNAMIC, QuantMode.FP16, QuantMode.WEIGHTS, QuantMode.INT4, QuantMode.AUTO)
SAMPLES = {"frames": 64, "tokens": 64, "classes": 600, "value": 300}


def judge(model: Path, artifact: Path, data: Path, mode: QuantMode) -> Any:
    """The artifact against FP32 on ``data``, as optimize and check judge it."""
    specs = mlpack.inspect_model(model).signature.inputs
    dataset = load_dataset(data, specs)
    reference, produced = predict(model, dataset), predict(artifact, dataset)
    names = [o.name for o in mlpack.inspect_model(model).signature.outputs]
    return compare_outputs(reference, produced, names=names, tolerance=default_tolerance(mode), label=str(data))


def build(model: Path, out: Path, data: Path, mode: QuantMode) -> tuple[Any, str | None]:
    bar = None if mode is QuantMode.AUTO else Tolerance(atol=None)
    try:
        return mlpack.optimize(model, out, quantize=mode, data=data, tolerance=bar), None
    except MlpackError as exc:
        return None, exc.message


@functools.cache
def trained(kind: str, damaged: bool, folder: Path) -> tuple[Path, Path]:
    return export(kind, folder, samples=SAMPLES[kind], damaged=damaged)


def row(kind: str, damaged: bool, mode: QuantMode, folder: Path, repeats: int) -> dict[str, Any]:
    model, data = trained(kind, damaged, folder)
    out = folder / f"{kind}-{damaged}-{mode.value}.onnx"
    result, refused = build(model, out, data, mode)
    entry: dict[str, Any] = {"family": kind, "damaged": damaged, "mode": mode.value, "refused": refused}
    if result is None:
        return entry
    verdict = judge(model, out, data, mode)
    diff = verdict.outputs[0]
    d = diff.decisions
    feeds = {k: v[:1] for k, v in np.load(data).items()}
    entry |= {
        "size_ratio": result.size_ratio,
        "cosine": diff.cosine_similarity,
        "decisions": d.to_dict() if d else None,
        "verdict": verdict.passed,
        "latency_ratio": p50_ratios([model, out], feeds)[1],
        "costliest": result.layers[0] if result.layers else None,
    }
    pairs = []
    for r in range(repeats):
        first, second = (write_data(kind, folder, samples=SAMPLES[kind], seed=1000 + 2 * r + i) for i in (0, 1))
        pairs.append((judge(model, out, first, mode).passed, judge(model, out, second, mode).passed))
    entry["flips"] = sum(a != b for a, b in pairs)
    entry["pairs"] = len(pairs)
    return entry


def show(entry: dict[str, Any]) -> str:
    name = f"{entry['family']}{' (damaged)' if entry['damaged'] else ''}"
    if entry.get("refused"):
        return f"{name:20} {entry['mode']:8} refused: {entry['refused'][:110]}"
    d = entry["decisions"]
    if d:
        figures = f"lost {d['lost']:5}/{d['judged']:6} agree {d['agreement']:.4f} (>= {d['agreement_low']:.4f})"
        figures += f" F1 {d['f1']:.3f} (>= {d['f1_low']:.3f})" if d["f1"] is not None else " " * 22
    else:
        figures = f"values: cosine {entry['cosine']:.5f}".ljust(66)
    worst = entry["costliest"]
    costly = f"{worst['tensor']} ({worst['decisions_lost']} lost)" if worst else "-"
    return (
        f"{name:20} {entry['mode']:8} size {entry['size_ratio']:.2f} {figures} "
        f"{'PASS' if entry['verdict'] else 'FAIL'} lat {entry['latency_ratio']:.2f}x "
        f"flips {entry['flips']}/{entry['pairs']}  costliest {costly}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="the classifier and the tagger, undamaged and damaged")
    parser.add_argument("--families", help=f"comma-separated, of {', '.join(KINDS)}")
    parser.add_argument("--repeats", type=int, default=5, help="pairs of independent samples per artifact")
    parser.add_argument("--json", type=Path, help="write every row as JSON")
    args = parser.parse_args()
    kinds = tuple(args.families.split(",")) if args.families else ("frames", "classes") if args.quick else KINDS
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind in kinds:
            for damaged in (False, True):
                for mode in MODES:
                    entry = row(kind, damaged, mode, Path(tmp), args.repeats)
                    rows.append(entry)
                    print(show(entry), flush=True)  # noqa: T201
    flips = sum(r.get("flips", 0) for r in rows)
    pairs = sum(r.get("pairs", 0) for r in rows)
    print(f"verdict flips between independent samples: {flips} of {pairs} pairs")  # noqa: T201
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1, default=str))


if __name__ == "__main__":
    main()
