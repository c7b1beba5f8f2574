"""Speed decisions measured on a device: the :class:`mlpack.quant.timing.Timer` of ``--target``.

``--quantize auto`` asks its timer "how fast is each of these models against the first?". This
one answers on the device: the models and the inputs (one set per batch size) are copied there
through the agent's job machinery, the device's own mlpack times them interleaved in one process
(:mod:`mlpack.quant.timing_job`, the same code that times on this host), and the ratios come back
with the device's identity (CPU, instruction sets, onnxruntime). Building the models stays here.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from mlpack.core.feedsets import write_feed_sets
from mlpack.core.sysinfo import MeasuredOn
from mlpack.errors import ExitCode, InternalError, RemoteError
from mlpack.remote.jobs import DEFAULT_TIMEOUT_S, RemoteJob, run_job
from mlpack.remote.ssh import parse_target

_ANSWER = "ratios.json"
_FEEDS = "feeds.npz"


class RemoteTimer:
    """Times models against the first on ``target``, one SSH job per question.

    Args:
        target: ``ssh://[user@]host[:port]`` or an SSH host alias (checked here, before any work).
        timeout_s: per job: give up (and have the device remove its folder) after this many seconds.

    Attributes:
        jobs: how many jobs ran on the device; ``seconds``: the wall time they took, SSH included.
    """

    def __init__(self, target: str, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.target = parse_target(target)
        self.timeout_s = timeout_s
        self.jobs = 0
        self.seconds = 0.0
        self._measured_on: MeasuredOn | None = None

    @property
    def label(self) -> str:
        return self.target.label

    @property
    def measured_on(self) -> MeasuredOn:
        """The device's identity; asks the device (one short job) the first time, so an unreachable
        or unprepared device fails here, before any model is built for it."""
        if self._measured_on is None:
            self._ask([], [])
        assert self._measured_on is not None
        return self._measured_on

    def p50_ratios(self, models: list[Path], feeds: dict[str, Any]) -> list[float]:
        return self.p50_ratios_each(models, [feeds])[0]

    def p50_ratios_each(self, models: list[Path], feed_sets: Sequence[dict[str, Any]]) -> list[list[float]]:
        """The ratios for each feed set (one per batch size), all timed in one job on the device."""
        return self._ask(models, feed_sets)

    def _ask(self, models: list[Path], feed_sets: Sequence[dict[str, Any]]) -> list[list[float]]:
        started = time.perf_counter()
        with tempfile.TemporaryDirectory(prefix="mlpack-timer-") as tmp:
            feeds = Path(tmp) / _FEEDS
            write_feed_sets(feeds, feed_sets)
            names = [f"m{i}.onnx" for i in range(len(models))]
            uploads = {_FEEDS: feeds} | {name: Path(m) for name, m in zip(names, models, strict=True)}
            job = RemoteJob((_ANSWER, _FEEDS, *names), uploads=uploads, fetch=(_ANSWER,), entry="ratios")
            outcome = run_job(self.target, job, timeout_s=self.timeout_s)
        self.jobs += 1
        self.seconds += time.perf_counter() - started
        if outcome.exit_code == ExitCode.BAD_INPUT:
            raise RemoteError(f"timing on {self.label}: {outcome.error_line()}")
        if outcome.exit_code != ExitCode.OK or _ANSWER not in outcome.files:
            raise InternalError(f"timing on {self.label} failed (exit {outcome.exit_code}): {outcome.error_line()}")
        try:
            answer = json.loads(outcome.files[_ANSWER])
            there = MeasuredOn.from_dict(answer["measured_on"])
            ratios = [[float(r) for r in row] for row in answer["ratios"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise RemoteError(f"{self.label} returned no readable timing ({exc}).") from None
        # The device calls itself "this host (its hostname)": named here by its target, with that hostname.
        self._measured_on = replace(there, device=f"{self.label} {there.device.removeprefix('this host ')}")
        return ratios
