"""The measuring process behind ``mlpack bench``: one model, one configuration, one process.

A separate process per configuration keeps one model's allocations out of another's peak
memory and mlpack's own imports out of every figure. The parent drives it with JSON lines on
stdin and reads JSON lines on stdout; nothing else is printed there.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any


def rss_mb(field: str = "VmRSS") -> float:
    """Resident memory from /proc (VmRSS now, VmHWM the peak); getrusage's peak elsewhere."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024 * 1024) if sys.platform == "darwin" else peak / 1024


class Worker:
    def __init__(self) -> None:
        self.session: Any = None
        self.feeds: dict[str, Any] = {}
        self.config: dict[str, Any] = {}

    def init(self, config: dict[str, Any]) -> dict[str, Any]:
        import numpy as np  # noqa: F401  (imported before the baseline, like onnxruntime)
        import onnxruntime  # noqa: F401

        from mlpack.core.onnxio import load_model, run_session
        from mlpack.core.signature import signature_of

        self.config = config
        if config.get("cpus") and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, config["cpus"])
        model_path = Path(config["model"])
        specs = signature_of(load_model(model_path, check=False)).inputs
        self.feeds = _feeds(specs, config)
        baseline = rss_mb()
        started = time.perf_counter_ns()
        self.session = self._session()
        load_ms = (time.perf_counter_ns() - started) / 1e6
        started = time.perf_counter_ns()
        run_session(self.session, self.feeds)
        first_ms = (time.perf_counter_ns() - started) / 1e6
        return {
            "load_ms": load_ms,
            "first_inference_ms": first_ms,
            "baseline_rss_mb": baseline,
            "input_shapes": {k: list(v.shape) for k, v in self.feeds.items()},
        }

    def _session(self, profile_prefix: str | None = None) -> Any:
        from mlpack.core.onnxio import create_session

        c = self.config
        return create_session(
            Path(c["model"]),
            threads=c.get("threads"),
            sequential=c.get("execution_mode", "sequential") == "sequential",
            graph_optimization=c.get("graph_optimization", "all"),
            allow_spinning=c.get("spinning", True),
            profile_prefix=profile_prefix,
        )

    def run(self, count: int) -> dict[str, Any]:
        """Time ``count`` inferences; only the inference call sits between the two clock reads."""
        run = self.session.run
        feeds = self.feeds
        clock = time.perf_counter_ns
        samples = []
        for _ in range(count):
            started = clock()
            run(None, feeds)
            samples.append((clock() - started) / 1e6)
        return {"samples_ms": samples}

    def profile(self, count: int, prefix: str) -> dict[str, Any]:
        """Per-operator times from onnxruntime's profiler, in a session separate from the timed one."""
        session = self._session(profile_prefix=prefix)
        for _ in range(count):
            session.run(None, self.feeds)
        path = session.end_profiling()
        with open(path, encoding="utf-8") as handle:
            events = json.load(handle)
        os.unlink(path)
        by_op: dict[str, float] = defaultdict(float)
        by_node: dict[str, float] = defaultdict(float)
        node_op: dict[str, str] = {}
        for event in events:
            if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
                continue
            node = event["name"][: -len("_kernel_time")]
            op = event.get("args", {}).get("op_name", "?")
            by_op[op] += event.get("dur", 0)
            by_node[node] += event.get("dur", 0)
            node_op[node] = op
        total = sum(by_op.values()) or 1.0
        top = sorted(by_node.items(), key=lambda kv: -kv[1])[:10]
        return {
            "runs": count,
            "total_ms_per_run": total / 1000 / count,
            "op_types": [
                {"op": op, "ms_per_run": us / 1000 / count, "share": us / total}
                for op, us in sorted(by_op.items(), key=lambda kv: -kv[1])
            ],
            "nodes": [
                {"node": n, "op": node_op[n], "ms_per_run": us / 1000 / count, "share": us / total} for n, us in top
            ],
        }

    def finish(self) -> dict[str, Any]:
        return {"peak_rss_mb": rss_mb("VmHWM")}


def _feeds(specs: Any, config: dict[str, Any]) -> dict[str, Any]:
    import numpy as np

    from mlpack.core.data import generate_inputs, load_dataset

    batch = int(config["batch_size"])
    if config.get("data"):
        dataset = load_dataset(Path(config["data"]), specs)
        rows = np.arange(batch) % dataset.num_samples
        return {name: np.ascontiguousarray(array[rows]) for name, array in dataset.inputs.items()}
    return generate_inputs(specs, batch_size=batch, seed=int(config.get("seed", 0)))


def main() -> None:
    from mlpack.errors import MlpackError

    worker = Worker()
    out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the protocol
    for line in sys.stdin:
        command = json.loads(line)
        try:
            action = command.pop("action")
            reply = getattr(worker, action)(**command)
        except MlpackError as exc:
            reply = {"error": str(exc), "error_type": type(exc).__name__, "exit_code": int(exc.exit_code)}
        except Exception as exc:  # reported to the parent, which raises it as a bug
            reply = {"error": f"{type(exc).__name__}: {exc}", "error_type": "internal", "exit_code": 4}
        out.write(json.dumps(reply) + "\n")
        out.flush()
        if command.get("action") == "finish" or action == "finish":
            break


if __name__ == "__main__":
    main()
