"""What ``pack`` is handed, checked before anything is read or written.

The package's output must not overwrite one of its inputs, two included files must not share a
name (the second would silently replace the first under ``files/``), and the golden-sample count
is bounded: golden samples are a handful kept for a device check, not a data set.
"""

from __future__ import annotations

from pathlib import Path

from mlpack.core.onnxio import require_external_data
from mlpack.core.validate import check_number, check_output, relative_member
from mlpack.errors import BadInputError

# Enough for any on-device check; a header-sized request (10**9) must not allocate gigabytes.
MAX_GOLDEN = 10_000


def check_pack_inputs(
    model: Path,
    output: Path,
    *,
    include: tuple[Path, ...],
    reads: tuple[Path | None, ...],
    golden: int,
) -> None:
    """Refuse a pack that would destroy an input, lose an included file or allocate without bound.

    Args:
        model: the ONNX model (its external data files count as inputs too).
        output: the package to write.
        include: the extra files, stored under ``files/<name>``.
        reads: every other file pack reads (report, golden data, statistics data).
        golden: the golden samples asked for.

    Raises:
        BadInputError: ``output`` is an input or cannot be written, two included files share a
            name, a name cannot be stored, or ``golden`` is out of range (exit 2).
    """
    check_number(golden, name="--golden", minimum=0, maximum=MAX_GOLDEN)
    check_output(Path(output), option="-o", inputs=(model, *require_external_data(model), *include, *reads))
    seen: dict[str, Path] = {}
    for extra in include:
        name = Path(extra).name
        if name in seen:
            raise BadInputError(
                f"--include {extra} and --include {seen[name]} would both be stored as files/{name}; "
                "rename one of them."
            )
        problem = relative_member(f"files/{name}")
        if problem:
            raise BadInputError(f"--include {extra}: its name {problem}; rename it.")
        seen[name] = Path(extra)
