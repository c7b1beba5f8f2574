"""``mlpack run``: inference from an intact package, inputs checked against its signature first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlpack.artifact.opened import OpenedPackage
from mlpack.core.fileio import atomic_path
from mlpack.core.validate import check_output
from mlpack.data.feeds import FeedOptions, model_dataset
from mlpack.data.npz import npz_bytes
from mlpack.data.runner import predict
from mlpack.errors import BadInputError


@dataclass(frozen=True)
class RunResult:
    output: Path
    samples: int
    outputs: dict[str, list[int]]  # name -> shape

    def to_dict(self) -> dict[str, Any]:
        return {"output": str(self.output), "samples": self.samples, "outputs": self.outputs}


def run_package(
    package: Path, inputs: Path, output: Path, *, batch_size: int = 256, feeding: FeedOptions | None = None
) -> RunResult:
    """Run the packaged model on ``inputs`` and write its outputs, refusing a tampered package.

    Args:
        package: the ``.mlpack`` file.
        inputs: an .npz with one array per model input, named by input (``labels`` and
            ``slices`` arrays are ignored); checked against the packaged signature first.
        output: where to write the outputs, one array per model output, as .npz (atomically).
        batch_size: samples per inference call.
        feeding: state pairs and values by name; None: those the package recorded (a model packed
            with state pairs runs the samples as a stream).

    Raises:
        TamperError: the package was changed after packing (exit 1): use ``verify`` for the details.
        BadInputError: inputs that do not fit the signature, a ``batch_size`` below 1, or a
            package that is not a zip or holds unsafe entries (exit 2).
    """
    if batch_size < 1:
        raise BadInputError(f"--batch-size must be at least 1, got {batch_size}.")
    check_output(Path(output), option="-o", inputs=(package, inputs))
    with OpenedPackage(package) as opened:
        opened.require_intact()
        if feeding is None:
            feeding = opened.manifest.model.feed_options()
        feeding.check(opened.signature)
        dataset = model_dataset(inputs, opened.signature.inputs, options=feeding)
        results = predict(opened.model_path, dataset, batch_size=batch_size, options=feeding)
        named = {o.name: r for o, r in zip(opened.signature.outputs, results, strict=True)}
    with atomic_path(Path(output)) as tmp:
        tmp.write_bytes(npz_bytes(named))
    return RunResult(Path(output), dataset.num_samples, {k: list(v.shape) for k, v in named.items()})
