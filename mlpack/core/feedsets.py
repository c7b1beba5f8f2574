"""The file a device's timing job reads: several sets of model inputs (one per batch size) in one .npz.

Written on the host by :mod:`mlpack.remote.timer`, read on the device by :mod:`mlpack.quant.timing_job`.
Input names go in a list of their own, since an ONNX input name may hold characters an archive
member's name should not; arrays are stored as ``SET.INDEX``. Nothing is pickled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_NAMES = "names"


def write_feed_sets(path: Path, sets: Sequence[dict[str, Any]]) -> None:
    """Save the feed sets (each: input name -> array) to ``path``."""
    import numpy as np

    names = [list(feeds) for feeds in sets]
    arrays: dict[str, Any] = {_NAMES: np.array(json.dumps(names))}
    arrays |= {f"{s}.{i}": np.asarray(feeds[name]) for s, feeds in enumerate(sets) for i, name in enumerate(names[s])}
    with open(path, "wb") as handle:
        np.savez(handle, **arrays)


def read_feed_sets(path: Path) -> list[dict[str, Any]]:
    """The feed sets saved by :func:`write_feed_sets`."""
    import numpy as np

    with np.load(path, allow_pickle=False) as archive:
        names = json.loads(str(archive[_NAMES]))
        return [{name: archive[f"{s}.{i}"] for i, name in enumerate(set_names)} for s, set_names in enumerate(names)]
