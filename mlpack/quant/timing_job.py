"""The device's side of a remote timing: ``python -m mlpack.quant.timing_job ANSWER FEEDS [MODEL...]``.

Started by the agent (:mod:`mlpack.remote.agent`) for :class:`mlpack.remote.timer.RemoteTimer`: it
times the models against the first with :func:`mlpack.quant.timing.p50_ratios`, interleaved in
this one process, once per feed set (one per batch size), and writes the ratios and where they
were measured (this device's CPU, instruction sets and onnxruntime) to ANSWER as JSON. With no
model it only says where it runs.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main(argv: list[str]) -> int:
    from mlpack.core.feedsets import read_feed_sets
    from mlpack.core.sysinfo import measured_here
    from mlpack.errors import ExitCode, MlpackError
    from mlpack.quant.timing import p50_ratios

    if len(argv) < 2:
        sys.stderr.write("error: usage: python -m mlpack.quant.timing_job ANSWER FEEDS [MODEL...]\n")
        return int(ExitCode.BAD_INPUT)
    answer, feeds, models = Path(argv[0]), Path(argv[1]), [Path(m) for m in argv[2:]]
    try:
        ratios = [p50_ratios(models, feeds) for feeds in read_feed_sets(feeds)] if models else []
    except MlpackError as exc:  # a model this device's onnxruntime cannot load or run: bad input
        sys.stderr.write(f"error: {exc.message}\n")
        return int(exc.exit_code)
    answer.write_text(json.dumps({"ratios": ratios, "measured_on": measured_here().as_dict()}), encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
