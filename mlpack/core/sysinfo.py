"""What machine a measurement ran on, so two results can be compared fairly."""

from __future__ import annotations

import os
import platform
import sys
from dataclasses import dataclass
from functools import cache
from typing import Any

from mlpack.core.version import mlpack_version

# Instruction sets that decide whether INT8 pays off: VNNI / AMX on x86, dot-product on ARM.
_X86_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "avx512_bf16", "avx512_fp16", "amx_int8")
_ARM_FLAGS = ("asimd", "asimddp", "asimdhp", "i8mm", "sve", "bf16")


@cache
def _cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            return handle.read()
    except OSError:
        return ""


def cpu_model() -> str:
    for line in _cpuinfo().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("model name", "Hardware", "Model"):
            return value.strip()
    return platform.processor() or platform.machine()


def cpu_features() -> dict[str, bool]:
    flags: set[str] = set()
    for line in _cpuinfo().splitlines():
        key, _, value = line.partition(":")
        if key.strip() in ("flags", "Features"):
            flags.update(value.split())
            break
    wanted = _ARM_FLAGS if platform.machine().lower() in ("aarch64", "arm64") else _X86_FLAGS
    return {flag: flag in flags for flag in wanted}


def int8_acceleration(features: dict[str, bool] | None = None) -> str:
    """A one-line verdict on whether this CPU has instructions that make INT8 fast."""
    features = cpu_features() if features is None else features
    fast = [f for f in ("avx512_vnni", "avx_vnni", "amx_int8", "asimddp", "i8mm") if features.get(f)]
    return f"yes ({', '.join(fast)})" if fast else "no (no VNNI/AMX/dot-product: INT8 may be slower than FP32)"


def available_cpus() -> list[int]:
    if hasattr(os, "sched_getaffinity"):
        return sorted(os.sched_getaffinity(0))
    return list(range(os.cpu_count() or 1))


def system_info() -> dict[str, Any]:
    import numpy
    import onnxruntime

    features = cpu_features()
    return {
        "cpu_model": cpu_model(),
        "machine": platform.machine(),
        "logical_cores": os.cpu_count(),
        "available_cpus": available_cpus(),
        "cpu_features": features,
        "int8_acceleration": int8_acceleration(features),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "versions": {"mlpack": mlpack_version(), "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__},
    }


def total_memory_mb() -> float | None:
    """This machine's physical memory, for the result's system record (None where unknown)."""
    import os

    try:
        return os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (ValueError, OSError, AttributeError):
        return None


@dataclass(frozen=True)
class MeasuredOn:
    """Where a speed decision was measured, for the report: every decision names its machine."""

    device: str  # "this host (hostname)" or the target device's name
    cpu: str
    isa: tuple[str, ...]  # the instruction sets that decide INT8 speed, as the machine reports them
    onnxruntime: str

    def describe(self) -> str:
        isa = ", ".join(self.isa) or "no INT8 instruction sets reported"
        return f"{self.device}: {self.cpu} ({isa}), onnxruntime {self.onnxruntime}"

    def as_dict(self) -> dict[str, Any]:
        return {"device": self.device, "cpu": self.cpu, "isa": list(self.isa), "onnxruntime": self.onnxruntime}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MeasuredOn:
        return cls(str(data["device"]), str(data["cpu"]), tuple(str(f) for f in data["isa"]), str(data["onnxruntime"]))


def measured_here() -> MeasuredOn:
    """This machine, as the decisions measured on it are reported."""
    import onnxruntime

    isa = tuple(flag for flag, on in cpu_features().items() if on)
    return MeasuredOn(f"this host ({platform.node() or 'unnamed'})", cpu_model(), isa, onnxruntime.__version__)
