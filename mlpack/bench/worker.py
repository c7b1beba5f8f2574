"""The measuring process behind ``mlpack bench``: one model, one configuration, one process.

A separate process per configuration keeps one model's allocations out of another's peak
memory and mlpack's own imports out of every figure. The parent drives it with the commands of
:mod:`mlpack.bench.protocol`, one JSON line each on stdin, and reads one reply per command on
stdout; nothing else is printed there.
"""

from __future__ import annotations

import json
import os
import sys
import time
from collections import defaultdict
from collections.abc import Iterable
from typing import IO, Any

from mlpack.bench.protocol import (
    Command,
    Failed,
    Finish,
    Finished,
    Init,
    Loaded,
    NodeTime,
    OpTime,
    Profile,
    Profiled,
    Reply,
    Run,
    Timed,
    WorkerConfig,
    from_json,
    to_json,
)
from mlpack.errors import InternalError

TOP_NODES = 10  # the profile names this many of the slowest nodes


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
        self.config: WorkerConfig | None = None

    def handle(self, command: Command) -> Reply:
        """The reply to one command."""
        if isinstance(command, Init):
            return self.init(command.config)
        if isinstance(command, Finish):
            return self.finish()
        if self.session is None:
            raise InternalError(f"the bench worker got {type(command).__name__} before Init")
        if isinstance(command, Run):
            return self.run(command.count)
        return self.profile(command.count, command.prefix, command.warmup)

    def init(self, config: WorkerConfig) -> Loaded:
        import numpy as np  # noqa: F401  (imported before the baseline, like onnxruntime)
        import onnxruntime  # noqa: F401

        from mlpack.core.onnxio import load_model, run_session
        from mlpack.core.signature import signature_of

        self.config = config
        if config.cpus and hasattr(os, "sched_setaffinity"):
            os.sched_setaffinity(0, config.cpus)
        self.feeds = _feeds(signature_of(load_model(config.model, check=False)), config)
        baseline = rss_mb()
        started = time.perf_counter_ns()
        self.session = self._session()
        load_ms = (time.perf_counter_ns() - started) / 1e6
        started = time.perf_counter_ns()
        run_session(self.session, self.feeds)
        first_ms = (time.perf_counter_ns() - started) / 1e6
        return Loaded(
            load_ms=load_ms,
            first_inference_ms=first_ms,
            baseline_rss_mb=baseline,
            input_shapes={k: tuple(v.shape) for k, v in self.feeds.items()},
        )

    def _session(self, profile_prefix: str | None = None) -> Any:
        from mlpack.core.choices import ExecutionMode
        from mlpack.core.onnxio import create_session

        config = self.config
        assert config is not None  # handle() lets nothing but Init through before a session exists
        return create_session(
            config.model,
            threads=config.threads,
            sequential=config.execution_mode is ExecutionMode.SEQUENTIAL,
            graph_optimization=config.graph_optimization.value,
            allow_spinning=config.spinning,
            profile_prefix=profile_prefix,
        )

    def run(self, count: int) -> Timed:
        """Time ``count`` inferences; only the inference call sits between the two clock reads."""
        run = self.session.run
        feeds = self.feeds
        clock = time.perf_counter_ns
        samples = []
        for _ in range(count):
            started = clock()
            run(None, feeds)
            samples.append((clock() - started) / 1e6)
        return Timed(samples_ms=tuple(samples))

    def profile(self, count: int, prefix: str, warmup: int = 0) -> Profiled:
        """Per-operator times from onnxruntime's profiler, in a session separate from the timed one;
        its first ``warmup`` runs are left out, as the timed runs leave theirs."""
        session = self._session(profile_prefix=prefix)
        for _ in range(warmup + count):
            session.run(None, self.feeds)
        path = session.end_profiling()
        with open(path, encoding="utf-8") as handle:
            events = json.load(handle)
        os.unlink(path)
        return _breakdown(events, count, warmup)

    def finish(self) -> Finished:
        return Finished(peak_rss_mb=rss_mb("VmHWM"))


def _breakdown(events: list[dict[str, Any]], runs: int, warmup: int = 0) -> Profiled:
    """Kernel time per operator type and per node, from an onnxruntime profiler trace: the median
    over the runs after the first ``warmup`` (a kernel belongs to the run whose span holds it), so
    that one slow run on a busy machine does not stand for all of them."""
    spans = sorted((e["ts"], e["ts"] + e.get("dur", 0)) for e in events if e.get("name") == "model_run")[warmup:]
    if not spans:  # an older trace without run spans: every kernel event counts
        spans = [(float("-inf"), float("inf"))]
    per_op: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(spans))
    per_node: dict[str, list[float]] = defaultdict(lambda: [0.0] * len(spans))
    node_op: dict[str, str] = {}
    for event in events:
        if event.get("cat") != "Node" or not str(event.get("name", "")).endswith("_kernel_time"):
            continue
        run = next((i for i, (start, end) in enumerate(spans) if start <= event.get("ts", 0) <= end), None)
        if run is None:  # a warm-up run's kernel
            continue
        node = event["name"][: -len("_kernel_time")]
        node_op[node] = event.get("args", {}).get("op_name", "?")
        per_op[node_op[node]][run] += event.get("dur", 0)
        per_node[node][run] += event.get("dur", 0)
    by_op = {op: _median(times) for op, times in per_op.items()}
    by_node = {node: _median(times) for node, times in per_node.items()}
    total = sum(by_op.values()) or 1.0
    slowest = sorted(by_node.items(), key=lambda kv: -kv[1])[:TOP_NODES]
    finite = [end - start for start, end in spans if end != float("inf")]
    return Profiled(
        runs=len(finite) or runs,
        total_ms_per_run=sum(by_op.values()) / 1000,
        op_types=tuple(
            OpTime(op=op, ms_per_run=us / 1000, share=us / total)
            for op, us in sorted(by_op.items(), key=lambda kv: -kv[1])
        ),
        nodes=tuple(NodeTime(node=n, op=node_op[n], ms_per_run=us / 1000, share=us / total) for n, us in slowest),
        warmup=warmup,
        profiled_run_ms=_median(finite) / 1000 if finite else 0.0,
    )


def _median(values: list[float]) -> float:
    ordered = sorted(values) or [0.0]
    middle = len(ordered) // 2
    return ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2


def _feeds(signature: Any, config: WorkerConfig) -> dict[str, Any]:
    from mlpack.data.feeds import step_feeds

    return step_feeds(
        config.model,
        signature,
        data=config.data,
        options=config.feeding,
        batch_size=config.batch_size,
        seed=config.seed,
    )


def serve(worker: Worker, lines: Iterable[str], out: IO[str]) -> None:
    """Answer each command line with one reply line, until Finish (answered even if it fails).

    Args:
        worker: holds the session between commands.
        lines: the commands, one JSON line each.
        out: where the replies go.
    """
    for line in lines:
        command: Command | None = None
        reply: Reply
        try:
            message = from_json(line)
            if not isinstance(message, (Init, Run, Profile, Finish)):
                raise InternalError(f"the bench worker got a reply ({type(message).__name__}) as a command")
            command = message
            reply = worker.handle(command)
        except Exception as exc:  # every failure goes back to the parent, which raises it
            reply = Failed.from_exception(exc)
        out.write(to_json(reply) + "\n")
        out.flush()
        if isinstance(command, Finish):
            break


def main() -> None:
    out = sys.stdout
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the protocol
    serve(Worker(), sys.stdin, out)


if __name__ == "__main__":
    main()
