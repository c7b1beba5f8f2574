"""Which INT8 types fit a CPU, from the instruction sets of the machine that decides.

onnxruntime's guidance for CPU inference: UINT8 activations with INT8 weights (U8S8) where VNNI
(or AMX) multiplies them natively; on AVX2 without VNNI the U8S8 products of two 8-bit values can
saturate the 16-bit intermediate sums of its kernels, so weights lose one bit (``reduce_range``);
on ARM with the dot-product instructions, signed activations and weights (S8S8). The instruction
sets come from the Timer's machine (``MeasuredOn.isa``): this host today, the target once a device
measures the decisions.
"""

from __future__ import annotations

from dataclasses import dataclass

from mlpack.quant.settings import IntType

_VNNI = ("avx512_vnni", "avx_vnni", "amx_int8")
_ARM_DOT = ("asimddp", "i8mm")


@dataclass(frozen=True)
class Int8Format:
    activation: IntType
    weight: IntType
    reduce_range: bool
    why: str  # the instruction set that decided, for the report

    def describe(self) -> str:
        kinds = f"{self.activation.value.upper()}{self.weight.value.upper()}"
        return f"{kinds}{', reduce_range' if self.reduce_range else ''} ({self.why})"


def int8_format(isa: tuple[str, ...]) -> Int8Format:
    """The activation/weight types and ``reduce_range`` for a machine reporting ``isa``."""
    present = set(isa)
    vnni = [flag for flag in _VNNI if flag in present]
    if vnni:
        return Int8Format(IntType.U8, IntType.S8, False, f"{vnni[0]}: U8S8 runs natively")
    dot = [flag for flag in _ARM_DOT if flag in present]
    if dot:
        return Int8Format(IntType.S8, IntType.S8, False, f"ARM {dot[0]}: S8S8 dot products")
    if "avx2" in present:
        return Int8Format(IntType.U8, IntType.S8, True, "AVX2 without VNNI: 7-bit weights avoid saturation")
    if "asimd" in present:
        return Int8Format(IntType.S8, IntType.S8, False, "ARM NEON without dot-product: S8S8")
    return Int8Format(IntType.U8, IntType.S8, True, "no INT8 instructions reported: 7-bit weights, the safe form")
