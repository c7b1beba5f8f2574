"""What a candidate's outputs are held to: numeric closeness, and the decisions the task takes.

``Tolerance`` is the one bar optimize (every mode), tune, check and diff judge with. Per output,
an ``OutputRule`` overrides what the output is taken to mean (``--threshold NAME=VALUE`` on the
command line, ``threshold = { NAME = VALUE }`` in a budget file).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from enum import Enum
from typing import Any

from mlpack.core.fidelity.confidence import DEFAULT_CONFIDENCE
from mlpack.errors import BadInputError


class OutputKind(str, Enum):
    CLASSES = "classes"  # class scores (softmax, log-softmax or logits): top-1 per position
    PROBABILITIES = "probabilities"  # independent probabilities (sigmoid, masks): thresholded per element
    LABELS = "labels"  # integer or boolean outputs: each element is a decision
    BOXES = "boxes"  # detection boxes (x1, y1, x2, y2): matched by IoU
    VALUES = "values"  # regression, embeddings, audio: cosine, relative error, SNR


@dataclass(frozen=True)
class OutputRule:
    """What one output means, as the user says: its kind, threshold and unsure level."""

    name: str
    kind: OutputKind | None = None
    threshold: float | None = None  # probabilities: an element is active at or above it
    unsure: float | None = None  # margin (class scores) or distance to the threshold below which
    # the reference itself is not sure, so a changed decision is not counted as lost
    scores: str | None = None  # boxes: the output holding each box's score

    @classmethod
    def parse(cls, text: str, *, option: str = "--threshold") -> OutputRule:
        """``NAME=0.3``, ``NAME=classes``, ``NAME=0.3,unsure=0.1``, ``NAME=boxes,scores=OUT``."""
        name, sep, value = text.partition("=")
        if not sep or not name.strip() or not value.strip():
            raise BadInputError(f"{option} takes NAME=VALUE (a threshold like 0.3, or a kind), got '{text}'.")
        return cls.from_value(name.strip(), value.strip(), option=option)

    @classmethod
    def from_value(cls, name: str, value: Any, *, option: str = "--threshold") -> OutputRule:
        """One output's rule from a number (a threshold) or a text like ``"0.3,unsure=0.1"``."""
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return cls(name, OutputKind.PROBABILITIES, _finite(float(value), name, option))
        head, *extras = [part.strip() for part in str(value).split(",")]
        kind, threshold = _kind_or_threshold(head, name, option)
        fields: dict[str, Any] = {}
        for extra in extras:
            key, sep, raw = extra.partition("=")
            if key == "unsure" and sep:
                fields["unsure"] = _finite(_number(raw, name, option), name, option)
            elif key == "scores" and sep and raw:
                fields["scores"] = raw
            else:
                raise BadInputError(f"{option} {name}: unknown part '{extra}'; use unsure=LEVEL or scores=OUTPUT.")
        return cls(name, kind, threshold, **fields)

    def to_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind.value if self.kind else None,
            "threshold": self.threshold,
            "unsure": self.unsure,
            "scores": self.scores,
        }


def _kind_or_threshold(head: str, name: str, option: str) -> tuple[OutputKind | None, float | None]:
    kinds = {k.value: k for k in OutputKind}
    if head in kinds:
        return kinds[head], 0.5 if kinds[head] is OutputKind.PROBABILITIES else None
    return OutputKind.PROBABILITIES, _finite(_number(head, name, option), name, option)


def _number(raw: str, name: str, option: str) -> float:
    try:
        return float(raw)
    except ValueError:
        kinds = ", ".join(k.value for k in OutputKind)
        raise BadInputError(f"{option} {name}={raw}: give a threshold (a number) or one of {kinds}.") from None


def _finite(value: float, name: str, option: str) -> float:
    if value != value or value in (float("inf"), float("-inf")):
        raise BadInputError(f"{option} {name}: {value} is not a finite number.")
    return value


def parse_rules(texts: Iterable[str] = (), *, option: str = "--threshold") -> tuple[OutputRule, ...]:
    """Rules from repeated ``NAME=VALUE`` texts; an output named twice is bad input."""
    rules = tuple(OutputRule.parse(t, option=option) for t in texts)
    names = [r.name for r in rules]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise BadInputError(f"{option} names {twice} more than once; give each output one rule.")
    return rules


def rules_from_mapping(values: Mapping[str, Any], *, option: str = "threshold") -> tuple[OutputRule, ...]:
    return tuple(OutputRule.from_value(name, value, option=option) for name, value in values.items())


@dataclass(frozen=True)
class Tolerance:
    """An output passes if every element is within ``atol + rtol * |reference|`` (when atol is
    set), its mean per-sample cosine similarity is at least ``min_cosine`` (when set), and the
    decisions it carries (top-1 per position for class scores, thresholded elements for
    probabilities, matched boxes) agree with the reference's, and their F1 where decisions are
    sparse, at ``min_agreement`` or above *at the stated confidence* (when set): the lower bound
    must clear the bar. Decisions the reference itself is unsure of are reported apart."""

    atol: float | None = 1e-4
    rtol: float = 1e-3
    min_cosine: float | None = None
    min_agreement: float | None = None
    outputs: tuple[OutputRule, ...] = ()  # per-output meaning, where the user states it
    confidence: float = DEFAULT_CONFIDENCE

    def rule(self, name: str) -> OutputRule | None:
        return next((r for r in self.outputs if r.name == name), None)

    def with_rules(self, rules: Iterable[OutputRule]) -> Tolerance:
        """This tolerance with ``rules`` replacing any rule for the same output."""
        given = tuple(rules)
        named = {r.name for r in given}
        return replace(self, outputs=tuple(r for r in self.outputs if r.name not in named) + given)

    def describe(self) -> str:
        parts = []
        if self.atol is not None:
            parts.append(f"|diff| <= {self.atol:g} + {self.rtol:g}*|ref|")
        if self.min_cosine is not None:
            parts.append(f"cosine >= {self.min_cosine:.10g}")
        if self.min_agreement is not None:
            parts.append(
                f"decisions agree (and F1 of active ones) >= {self.min_agreement:.10g} "
                f"at {self.confidence:.0%} confidence"
            )
        return " and ".join(parts) or "none"

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "atol": self.atol,
            "rtol": self.rtol,
            "min_cosine": self.min_cosine,
            "min_agreement": self.min_agreement,
        }
        if self.outputs:
            out["outputs"] = {r.name: r.to_dict() for r in self.outputs}
        if self.confidence != DEFAULT_CONFIDENCE:
            out["confidence"] = self.confidence
        return out
