"""What a build reports: its result per stage, and the Markdown summary it writes (``build.md``)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpack.errors import ExitCode


@dataclass
class StageReport:
    name: str
    status: str  # built, up to date, failed, skipped
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    summary: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "status": self.status,
            "seconds": self.seconds,
            "outputs": self.outputs,
            "summary": self.summary,
            "error": self.error,
        }


@dataclass(frozen=True)
class BuildResult:
    config: Path
    out: Path
    stages: tuple[StageReport, ...]
    package: Path | None
    exit_code: ExitCode
    seconds: float
    message: str

    @property
    def ok(self) -> bool:
        return self.exit_code == ExitCode.OK

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "mlpack.build/1",
            "config": str(self.config),
            "out": str(self.out),
            "package": str(self.package) if self.package else None,
            "ok": self.ok,
            "exit_code": int(self.exit_code),
            "message": self.message,
            "seconds": self.seconds,
            "stages": [s.to_dict() for s in self.stages],
        }


_BUILD_MARKS = {"built": "✅ built", "up to date": "♻️ up to date", "failed": "❌ failed", "skipped": "⏭️ skipped"}


def build_markdown(result: BuildResult) -> str:
    headline = f"✅ {result.package}" if result.ok else f"❌ {result.message}"
    lines = [
        f"### mlpack build: {headline}",
        "",
        f"`{result.config}` -> `{result.out}` in {result.seconds:.1f} s",
        "",
        "| stage | result | seconds | summary |",
        "|---|---|---:|---|",
    ]
    for stage in result.stages:
        summary = stage.error or ", ".join(f"{k}: {_short(v)}" for k, v in stage.summary.items() if k != "steps")
        mark = _BUILD_MARKS.get(stage.status, stage.status)
        lines.append(f"| {stage.name} | {mark} | {stage.seconds:.2f} | {summary} |")
    return "\n".join(lines) + "\n"


def _short(value: object) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)
