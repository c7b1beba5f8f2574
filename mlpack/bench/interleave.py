"""The parent's side of measuring: one worker process per configuration, driven in turns.

Each configuration (model x batch size x thread count) runs in its own worker process
(:mod:`mlpack.bench.worker`), spoken to through :mod:`mlpack.bench.protocol`. Configurations are
timed interleaved, a block of runs each in turn, so that a drift of the machine hits them alike;
warm-up runs come first, and timing goes on until both a minimum count and a minimum duration
are reached for every one.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TypeVar

from mlpack.bench.adaptive import StoppingRule
from mlpack.bench.protocol import (
    Command,
    Failed,
    Finish,
    Finished,
    Init,
    Loaded,
    Profile,
    Profiled,
    Run,
    Timed,
    WorkerConfig,
    from_json,
    to_json,
)
from mlpack.bench.settings import BenchSettings
from mlpack.core.progress import Progress
from mlpack.errors import InternalError, ModelLoadError

BLOCK_SECONDS = 0.05  # one turn of the interleaving: long enough to dwarf the switching cost
# Alone, a configuration needs no interleaving: longer blocks only keep the progress bar moving,
# and leave fewer pauses in which onnxruntime's threads go to sleep and must be woken.
SOLO_BLOCK_SECONDS = 0.5
PROFILE_RUNS = 20
PROFILE_WARMUP = 5  # untimed runs of the profiling session first, however few --warmup asks
WARMUP_SECONDS = 1.0  # the adaptive rule's warm-up, at most


@dataclass(frozen=True)
class Configuration:
    """One thing measured: a model at one batch size and thread count."""

    model: Path
    name: str
    batch_size: int
    threads: int | None


@dataclass
class Outcome:
    """What one configuration's worker reported, gathered while the measurement goes on."""

    loaded: Loaded
    samples_ms: list[float] = field(default_factory=list)
    block: int = 1  # timed runs per turn of the interleaving
    profile: Profiled | None = None
    peak_rss_mb: float = 0.0
    stopped_by: str = ""  # what ended the timing: see mlpack.bench.adaptive


_ReplyT = TypeVar("_ReplyT", Loaded, Timed, Profiled, Finished)


class WorkerProcess:
    """The parent's end of one worker process: a typed method per command of the protocol."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "mlpack.bench.worker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )

    def init(self, config: WorkerConfig) -> Loaded:
        return self._call(Init(config), Loaded)

    def run(self, count: int) -> Timed:
        return self._call(Run(count), Timed)

    def profile(self, count: int, prefix: str, warmup: int = 0) -> Profiled:
        return self._call(Profile(count, prefix, warmup), Profiled)

    def finish(self) -> Finished:
        return self._call(Finish(), Finished)

    def _call(self, command: Command, expected: type[_ReplyT]) -> _ReplyT:
        stdin: IO[str] = self.proc.stdin  # type: ignore[assignment]
        stdout: IO[str] = self.proc.stdout  # type: ignore[assignment]
        try:
            stdin.write(to_json(command) + "\n")
            stdin.flush()
            line = stdout.readline()
        except BrokenPipeError:
            line = ""
        if not line:
            raise self._stopped()
        reply = from_json(line)
        if isinstance(reply, Failed):
            raise reply.to_error()
        if not isinstance(reply, expected):
            raise InternalError(f"the measuring process answered {type(command).__name__} with {type(reply).__name__}")
        return reply

    def _stopped(self) -> ModelLoadError:
        """Why the worker ended without replying: a crash in onnxruntime is the model's doing."""
        code = self.proc.wait()
        if code < 0:
            return ModelLoadError(
                f"onnxruntime crashed ({signal.Signals(-code).name}) while measuring; "
                "this model cannot be run by onnxruntime on this CPU."
            )
        stderr = self.proc.stderr.read() if self.proc.stderr else ""
        return ModelLoadError(f"the measuring process stopped (exit {code}): {stderr.strip()[-300:]}")

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        for stream in (self.proc.stdin, self.proc.stdout, self.proc.stderr):
            if stream:
                stream.close()


def measure_interleaved(
    configs: list[Configuration],
    settings: BenchSettings,
    *,
    cpus: tuple[int, ...] | None,
    spinning: bool,
    progress: Progress | None,
) -> dict[Configuration, Outcome]:
    """Start one worker per configuration, warm each up, time them in turns, then wind them up.

    Args:
        configs: what to measure, one worker process each.
        settings: minimum runs and time, warm-up, inputs, session options and whether to profile.
        cpus: pin every worker to these CPUs; None: wherever the OS likes.
        spinning: let onnxruntime's threads spin between runs (fast alone, a thief when interleaved).
        progress: called with what is being done and the fraction done.
    """
    report = progress or (lambda what, done: None)
    workers: dict[Configuration, WorkerProcess] = {}
    try:
        outcomes = _start(configs, settings, cpus, spinning, workers, report)
        _warm_up(workers, outcomes, settings, report)
        _time_in_turns(workers, outcomes, settings, report)
        _wind_up(workers, outcomes, settings, report)
    finally:
        for worker in workers.values():
            worker.close()
    return outcomes


def _start(
    configs: list[Configuration],
    settings: BenchSettings,
    cpus: tuple[int, ...] | None,
    spinning: bool,
    workers: dict[Configuration, WorkerProcess],
    report: Progress,
) -> dict[Configuration, Outcome]:
    """Fills ``workers`` as it goes, so that the caller closes every process started before a failure."""
    outcomes = {}
    for config in configs:
        report(f"loading {config.name} (batch {config.batch_size})", 0.0)
        workers[config] = WorkerProcess()
        loaded = workers[config].init(
            WorkerConfig(
                model=config.model,
                batch_size=config.batch_size,
                threads=config.threads,
                cpus=cpus,
                execution_mode=settings.execution_mode,
                graph_optimization=settings.graph_optimization,
                spinning=spinning,
                data=settings.data,
                seed=settings.seed,
                feeding=settings.feeding,
            )
        )
        outcomes[config] = Outcome(loaded)
    return outcomes


def _warm_up(
    workers: dict[Configuration, WorkerProcess],
    outcomes: dict[Configuration, Outcome],
    settings: BenchSettings,
    report: Progress,
) -> None:
    """Untimed runs, whose typical latency sizes each configuration's turn of the interleaving."""
    seconds = BLOCK_SECONDS if len(workers) > 1 else SOLO_BLOCK_SECONDS
    for config, worker in workers.items():
        report(f"warming up {config.name}", 0.0)
        warm = _warm_up_runs(worker, settings, outcomes[config].loaded.first_inference_ms)
        typical_ms = sorted(warm)[len(warm) // 2] if warm else outcomes[config].loaded.first_inference_ms
        outcomes[config].block = max(1, min(settings.runs, int(seconds * 1000 / max(typical_ms, 1e-3))))


def _warm_up_runs(worker: WorkerProcess, settings: BenchSettings, first_ms: float) -> list[float]:
    """``settings.warmup`` runs. The adaptive rule caps them by time, counting the (untimed) first
    inference as one: a large model at batch 32 would spend more time warming up than measuring,
    and one run of several seconds has warmed every cache there is."""
    if settings.adaptive is None:
        return list(worker.run(max(settings.warmup, 1)).samples_ms)
    seconds = min(WARMUP_SECONDS, settings.adaptive.max_seconds / 10)
    count = min(settings.warmup - 1, int(seconds * 1000 / max(first_ms, 1e-3)))
    return list(worker.run(count).samples_ms) if count > 0 else []


def _time_in_turns(
    workers: dict[Configuration, WorkerProcess],
    outcomes: dict[Configuration, Outcome],
    settings: BenchSettings,
    report: Progress,
) -> None:
    """A block of timed runs per configuration in turn, until the stopping rule says each has enough."""
    rule = StoppingRule(runs=settings.runs, duration_s=settings.duration_s, adaptive=settings.adaptive)
    pending = list(workers)
    while pending:
        for config in list(pending):
            samples = outcomes[config].samples_ms
            samples += workers[config].run(outcomes[config].block).samples_ms
            reason = rule.stop_reason(samples)
            if reason is not None:
                outcomes[config].stopped_by = reason
                pending.remove(config)
        fractions = [rule.fraction_done(o.samples_ms) for o in outcomes.values()]
        report("measuring", min(fractions) if fractions else 1.0)


def _wind_up(
    workers: dict[Configuration, WorkerProcess],
    outcomes: dict[Configuration, Outcome],
    settings: BenchSettings,
    report: Progress,
) -> None:
    """The operator profile where asked, after the timing so it cannot disturb it; then the peak memory."""
    for config, worker in workers.items():
        if settings.profile:
            report(f"profiling {config.name}", 1.0)
            with tempfile.TemporaryDirectory(prefix="mlpack-profile-") as tmp:
                prefix = str(Path(tmp) / "ort")
                outcomes[config].profile = worker.profile(PROFILE_RUNS, prefix, max(settings.warmup, PROFILE_WARMUP))
        outcomes[config].peak_rss_mb = worker.finish().peak_rss_mb
