"""``mlpack build``: the whole chain from one config file, and ``mlpack init`` to start one.

export (or take an ONNX file) -> optimise or tune -> check against budgets -> pack, all under one
output folder, with a summary report (JSON and Markdown). Each stage is keyed by the content
hashes of its inputs and its settings; a stage whose key and outputs are unchanged is reused, so
a second build with nothing changed only re-reads hashes.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlpack.core.fileio import require_file, write_text_atomic
from mlpack.core.progress import Progress
from mlpack.core.tomlfile import TomlDocument, check_keys, read_toml
from mlpack.errors import BadInputError, ConfigError, ExitCode, MlpackError

STATE_FILE = ".mlpack-build.json"
_SECTIONS = {
    "model": ("name", "version", "source", "weights", "inputs", "example_inputs", "opset", "trust_pickle"),
    "optimize": (
        "quantize",
        "simplify",
        "per_channel",
        "calibration",
        "calibration_method",
        "quant_format",
        "max_accuracy_drop",
        "eval",
        "data",
        "objective",
        "max_time",
    ),
    "check": ("budgets", "device", "data", "reference", "runs", "duration"),
    "pack": ("include", "golden", "golden_data", "preprocessing", "model_card"),
}
_TYPES: dict[str, type | tuple[type, ...]] = {
    "name": str,
    "version": str,
    "source": str,
    "weights": str,
    "inputs": list,
    "example_inputs": str,
    "opset": int,
    "trust_pickle": bool,
    "quantize": str,
    "simplify": bool,
    "per_channel": bool,
    "calibration": str,
    "calibration_method": str,
    "quant_format": str,
    "max_accuracy_drop": (int, float),
    "eval": str,
    "data": str,
    "objective": str,
    "max_time": (int, float),
    "budgets": str,
    "device": str,
    "reference": bool,
    "runs": int,
    "duration": (int, float),
    "include": list,
    "golden": int,
    "golden_data": str,
    "preprocessing": dict,
    "model_card": dict,
}
_CHOICES = {
    "quantize": ("none", "dynamic", "static", "fp16", "tune"),
    "calibration_method": ("minmax", "entropy", "percentile"),
    "quant_format": ("qdq", "qoperator"),
    "objective": ("latency", "size"),
}
_PATHS = ("source", "weights", "example_inputs", "calibration", "eval", "data", "budgets", "golden_data")


@dataclass(frozen=True)
class BuildConfig:
    path: Path
    sections: dict[str, dict[str, Any]]

    def get(self, section: str, key: str, default: Any = None) -> Any:
        return self.sections.get(section, {}).get(key, default)


def load_build_config(path: Path) -> BuildConfig:
    doc = read_toml(path)
    base = Path(path).resolve().parent
    unknown = [k for k in doc.data if k not in _SECTIONS]
    if unknown:
        raise doc.error(f"unknown section; expected {', '.join(f'[{s}]' for s in _SECTIONS)}", unknown[0])
    if "model" not in doc.data or "source" not in doc.data.get("model", {}):
        raise doc.error('missing: every build needs [model] source = "pkg.module:factory" or a file', "model")
    sections: dict[str, dict[str, Any]] = {}
    for section, values in doc.data.items():
        if not isinstance(values, dict):
            raise doc.error("must be a table", "", section)
        check_keys(doc, section, values, _SECTIONS[section])
        sections[section] = {key: _value(doc, section, key, value, base) for key, value in values.items()}
    return BuildConfig(Path(path), sections)


def _value(doc: TomlDocument, section: str, key: str, value: Any, base: Path) -> Any:
    expected = _TYPES[key]
    if isinstance(value, bool) and expected is not bool:
        raise doc.error(f"must be {_type_name(expected)}, got a boolean", section, key)
    if not _is_instance(value, expected):
        raise doc.error(f"must be {_type_name(expected)}, got {type(value).__name__} {value!r}", section, key)
    if key in _CHOICES and value not in _CHOICES[key]:
        raise doc.error(f"must be one of {', '.join(_CHOICES[key])}, got {value!r}", section, key)
    if key in ("inputs", "include") and not all(isinstance(v, str) for v in value):
        raise doc.error("must be a list of strings", section, key)
    if key in ("golden", "runs", "opset", "max_time", "duration", "max_accuracy_drop") and value < 0:
        raise doc.error(f"cannot be negative, got {value}", section, key)
    if key in _PATHS:
        return _resolve_path(value, base) if not (key == "source" and _is_module_reference(value)) else value
    if key == "include":
        return [str(base / v) for v in value]
    return value


def _is_instance(value: Any, expected: type | tuple[type, ...]) -> bool:
    return isinstance(value, expected)


def _type_name(expected: type | tuple[type, ...]) -> str:
    names = {
        str: "a string",
        int: "a whole number",
        float: "a number",
        bool: "true or false",
        list: "a list",
        dict: "a table",
    }
    kinds = expected if isinstance(expected, tuple) else (expected,)
    return " or ".join(names.get(k, k.__name__) for k in kinds)


def _is_module_reference(source: str) -> bool:
    target, sep, attr = source.rpartition(":")
    return bool(sep) and attr.isidentifier() and not target.endswith(".py") and "/" not in target


def _resolve_path(value: str, base: Path) -> str:
    """Relative to the config file; ``file.py:factory`` keeps its factory part."""
    target, sep, attr = value.rpartition(":")
    if sep and target.endswith(".py") and attr.isidentifier():
        return f"{base / target}:{attr}"
    return str(base / value)


# --- stages and caching --------------------------------------------------------------------------


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

    def to_dict(self) -> dict[str, Any]:
        return {
            "schema": "mlpack.build/1",
            "config": str(self.config),
            "out": str(self.out),
            "package": str(self.package) if self.package else None,
            "exit_code": int(self.exit_code),
            "message": self.message,
            "seconds": self.seconds,
            "stages": [s.to_dict() for s in self.stages],
        }


def _hash(path: Path) -> str:
    from mlpack.artifact.package import sha256_file

    return sha256_file(path)


def _source_files(source: str) -> list[Path]:
    """The files whose content defines an export source, for the cache key."""
    target, sep, attr = source.rpartition(":")
    if sep and attr.isidentifier() and target.endswith(".py"):
        return [Path(target)]
    if sep and attr.isidentifier():
        import importlib.util

        try:
            spec = importlib.util.find_spec(target)
        except (ImportError, ValueError):
            spec = None
        return [Path(spec.origin)] if spec and spec.origin and Path(spec.origin).is_file() else []
    return [Path(source)]


class _Cache:
    def __init__(self, out: Path) -> None:
        self.path = out / STATE_FILE
        try:
            self.state: dict[str, Any] = json.loads(self.path.read_text()) if self.path.is_file() else {}
        except (json.JSONDecodeError, OSError):
            self.state = {}  # a damaged cache only costs a rebuild

    def key(self, stage: str, settings: dict[str, Any], files: list[Path]) -> str:
        from mlpack.core.version import mlpack_version

        payload = {
            "stage": stage,
            "mlpack": mlpack_version(),
            "settings": settings,
            "files": {str(f): _hash(f) for f in files if f.is_file()},
        }
        return hashlib.sha256(json.dumps(payload, sort_keys=True, default=str).encode()).hexdigest()

    def fresh(self, stage: str, key: str) -> dict[str, Any] | None:
        entry = self.state.get(stage)
        if not entry or entry.get("key") != key:
            return None
        for output, digest in entry.get("outputs", {}).items():
            if not Path(output).is_file() or _hash(Path(output)) != digest:
                return None
        return entry

    def store(self, stage: str, key: str, outputs: list[Path], summary: dict[str, Any]) -> None:
        self.state[stage] = {"key": key, "outputs": {str(p): _hash(p) for p in outputs}, "summary": summary}
        write_text_atomic(self.path, json.dumps(self.state, indent=2, default=str))




def build(
    config_path: Path, *, out: Path = Path("dist"), force: bool = False, progress: Progress | None = None
) -> BuildResult:
    """Run every stage, reusing the ones that are up to date; stop at the first failure."""
    started = time.perf_counter()
    report = progress or (lambda what, done: None)
    config = load_build_config(require_file(Path(config_path), "build config"))
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cache = _Cache(out)
    if force:
        cache.state = {}
    stages: list[StageReport] = []
    name = config.get("model", "name") or Path(str(config.get("model", "source")).rpartition(":")[0] or "model").stem
    version = config.get("model", "version", "0.1.0")
    plan: list[tuple[str, Callable[[BuildConfig, Path, _Cache, dict[str, Any]], StageReport]]] = [
        ("export", _export),
        ("optimize", _optimize),
        ("check", _check),
        ("pack", _pack),
    ]
    context: dict[str, Any] = {"name": name, "version": version}
    package = None
    exit_code, message = ExitCode.OK, "built"
    for index, (stage, run) in enumerate(plan):
        report(f"{stage}", index / len(plan))
        began = time.perf_counter()
        try:
            stage_report = run(config, out, cache, context)
        except MlpackError as exc:
            stages.append(StageReport(stage, "failed", time.perf_counter() - began, error=str(exc)))
            exit_code, message = exc.exit_code, f"build stopped at the {stage} stage: {exc}"
            break
        stage_report.seconds = time.perf_counter() - began
        stages.append(stage_report)
        if stage_report.status == "failed":
            exit_code = ExitCode(stage_report.summary.get("exit_code", ExitCode.FAILED))
            message = f"build stopped at the {stage} stage: {stage_report.error}"
            break
    else:
        package = context.get("package")
    result = BuildResult(
        Path(config_path),
        out,
        tuple(stages),
        package,
        exit_code,
        time.perf_counter() - started,
        message if exit_code else f"built {package}",
    )
    write_text_atomic(out / "build.json", json.dumps(result.to_dict(), indent=2, default=str) + "\n")
    write_text_atomic(out / "build.md", build_markdown(result))
    report("done", 1.0)
    return result


def _stage(
    cache: _Cache,
    stage: str,
    settings: dict[str, Any],
    files: list[Path],
    outputs: list[Path],
    produce: Callable[[], dict[str, Any]],
) -> StageReport:
    key = cache.key(stage, settings, files)
    entry = cache.fresh(stage, key)
    if entry is not None:
        return StageReport(stage, "up to date", outputs=[str(p) for p in outputs], summary=entry["summary"])
    summary = produce()
    cache.store(stage, key, outputs, summary)
    return StageReport(stage, "built", outputs=[str(p) for p in outputs], summary=summary)


def _export(config: BuildConfig, out: Path, cache: _Cache, context: dict[str, Any]) -> StageReport:
    from mlpack.core.inputspec import parse_input_spec
    from mlpack.exporter.export import export

    model = config.sections["model"]
    target = out / "model.onnx"
    files = [*_source_files(model["source"]), *(Path(model[k]) for k in ("weights", "example_inputs") if k in model)]
    context["fp32"] = target

    def produce() -> dict[str, Any]:
        result = export(
            model["source"],
            target,
            inputs=tuple(parse_input_spec(s) for s in model.get("inputs", [])),
            example_inputs=Path(model["example_inputs"]) if "example_inputs" in model else None,
            weights=Path(model["weights"]) if "weights" in model else None,
            opset=model.get("opset"),
            trust_pickle=model.get("trust_pickle", False),
        )
        return {
            "exporter": result.exporter,
            "size_bytes": result.size_bytes,
            "opset": result.opset,
            "max_abs_error": max((c.max_abs_error for c in result.checks), default=0.0),
        }

    return _stage(cache, "export", model, files, [target], produce)


def _optimize(config: BuildConfig, out: Path, cache: _Cache, context: dict[str, Any]) -> StageReport:
    from mlpack.quant.optimize import optimize
    from mlpack.quant.registry import CalibrationMethod, QuantFormat, QuantizeSettings, QuantMode

    settings = config.sections.get("optimize", {"quantize": "none"})
    target = out / "model.opt.onnx"
    files = [context["fp32"], *(Path(settings[k]) for k in ("calibration", "eval", "data") if k in settings)]
    context["model"] = target

    def produce() -> dict[str, Any]:
        if settings.get("quantize") == "tune":
            return _tune(config, settings, context["fp32"], target)
        quantize = QuantMode(settings.get("quantize", "none"))
        result = optimize(
            context["fp32"],
            target,
            simplify=settings.get("simplify", True),
            quantize=quantize,
            settings=QuantizeSettings(
                per_channel=settings.get("per_channel", True),
                calibration=Path(settings["calibration"]) if "calibration" in settings else None,
                calibration_method=CalibrationMethod(settings.get("calibration_method", "minmax")),
                quant_format=QuantFormat(settings.get("quant_format", "qdq")),
            ),
            data=Path(settings["data"]) if "data" in settings else None,
            max_accuracy_drop=settings.get("max_accuracy_drop"),
            eval_data=Path(settings["eval"]) if "eval" in settings else None,
        )
        return {
            "quantize": quantize.value,
            "size_before": result.size_before,
            "size_after": result.size_after,
            "size_ratio": result.size_ratio,
            "min_cosine": result.comparison.min_cosine,
            "steps": list(result.steps),
        }

    report = _stage(cache, "optimize", settings, files, [target], produce)
    context["optimization"] = report.summary
    return report


def _tune(config: BuildConfig, settings: dict[str, Any], fp32: Path, target: Path) -> dict[str, Any]:
    from mlpack.pipeline.tune import Objective, tune

    check = config.sections.get("check", {})
    if "budgets" not in check or "data" not in (check | settings):
        raise ConfigError(f'{config.path}: quantize = "tune" needs [check] budgets and data to tune against.')
    result = tune(
        fp32,
        target,
        budgets=Path(check["budgets"]),
        data=Path(settings.get("data") or check["data"]),
        calibration=Path(settings["calibration"]) if "calibration" in settings else None,
        device=check.get("device"),
        objective=Objective(settings.get("objective", "latency")),
        max_time_s=float(settings.get("max_time", 300)),
    )
    if result.chosen is None:
        raise MlpackError("tune found no candidate that meets the budgets; see mlpack tune for the full table.")
    return {
        "quantize": "tune",
        "chosen": result.chosen,
        "size_after": target.stat().st_size,
        "candidates": len(result.candidates),
    }


def _check(config: BuildConfig, out: Path, cache: _Cache, context: dict[str, Any]) -> StageReport:
    from mlpack.budget.check import check
    from mlpack.report.markdown import check_markdown

    settings = config.sections.get("check")
    if not settings:
        return StageReport("check", "skipped", summary={"reason": "no [check] section"})
    if "budgets" not in settings:
        raise BadInputError(f'{config.path}: [check] needs budgets = "budgets.toml".')
    report_json, report_md = out / "check.json", out / "check.md"
    reference = context["fp32"] if settings.get("reference", True) and context["fp32"] != context["model"] else None
    files = [
        context["model"],
        Path(settings["budgets"]),
        *([Path(settings["data"])] if "data" in settings else []),
        *([reference] if reference else []),
    ]
    context["check_report"] = report_json

    def produce() -> dict[str, Any]:
        result = check(
            context["model"],
            budgets=Path(settings["budgets"]),
            device=settings.get("device"),
            reference=reference,
            data=Path(settings["data"]) if "data" in settings else None,
            runs=settings.get("runs", 100),
            duration_s=settings.get("duration", 1.0),
        )
        write_text_atomic(report_json, json.dumps(result.to_dict(), indent=2, default=str) + "\n")
        write_text_atomic(report_md, check_markdown(result))
        summary: dict[str, Any] = {"summary": result.summary, "exit_code": int(result.exit_code)}
        if result.quality is not None:
            for metric in ("accuracy", "reference_accuracy", "agreement"):
                if metric in result.quality.metrics:
                    summary[metric] = result.quality.metrics[metric]
        return summary

    report = _stage(cache, "check", settings, files, [report_json, report_md], produce)
    if report.summary.get("exit_code"):
        report.status, report.error = "failed", report.summary["summary"]
    return report


def _pack(config: BuildConfig, out: Path, cache: _Cache, context: dict[str, Any]) -> StageReport:
    from mlpack.artifact.package import pack

    settings = config.sections.get("pack", {})
    target = out / f"{context['name']}-{context['version']}.mlpack"
    report_path = context.get("check_report")
    files = [
        context["model"],
        *([report_path] if report_path else []),
        *(Path(p) for p in settings.get("include", [])),
        *([Path(settings["golden_data"])] if "golden_data" in settings else []),
    ]
    context["package"] = target
    key_settings = settings | {"name": context["name"], "version": context["version"]}

    def produce() -> dict[str, Any]:
        result = pack(
            context["model"],
            target,
            name=context["name"],
            version=context["version"],
            include=tuple(Path(p) for p in settings.get("include", [])),
            preprocessing=settings.get("preprocessing"),
            optimization=context.get("optimization"),
            report=report_path,
            golden=settings.get("golden", 4),
            golden_data=Path(settings["golden_data"]) if "golden_data" in settings else None,
            model_card=settings.get("model_card"),
        )
        return {"size_bytes": result.size_bytes, "files": len(result.manifest["files"])}

    return _stage(cache, "pack", key_settings, files, [target], produce)


def build_markdown(result: BuildResult) -> str:
    marks = {"built": "✅ built", "up to date": "♻️ up to date", "failed": "❌ failed", "skipped": "⏭️ skipped"}
    lines = [
        f"### mlpack build: {'✅ ' + str(result.package) if not result.exit_code else '❌ ' + result.message}",
        "",
        f"`{result.config}` -> `{result.out}` in {result.seconds:.1f} s",
        "",
        "| stage | result | seconds | summary |",
        "|---|---|---:|---|",
    ]
    for stage in result.stages:
        summary = stage.error or ", ".join(f"{k}: {_short(v)}" for k, v in stage.summary.items() if k != "steps")
        lines.append(f"| {stage.name} | {marks.get(stage.status, stage.status)} | {stage.seconds:.2f} | {summary} |")
    return "\n".join(lines) + "\n"


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


# --- init ------------------------------------------------------------------------------------------

STARTER = """\
# mlpack build config: `mlpack build {path}` runs export -> optimize -> check -> pack.
# Paths are relative to this file. Every key is optional unless marked required.

[model]
name = "{name}"
version = "0.1.0"
source = "{source}"             # required: pkg.module:factory, file.py:factory, TorchScript or .onnx
# weights = "state_dict.pt"     # for a factory source (loaded with weights_only=True)
inputs = [{inputs}]             # NAME:SHAPE[:DTYPE]; a named dimension (batch, seq) is dynamic
# example_inputs = "inputs.npz" # instead of, or with, inputs
# opset = 18

[optimize]
quantize = "dynamic"            # none, dynamic, static, fp16, or "tune" (searches, needs [check])
per_channel = true
# calibration = "calib.npz"     # static INT8
# calibration_method = "minmax" # minmax, entropy, percentile
# max_accuracy_drop = 0.01      # static: accuracy-aware, with eval = "val.npz"
# eval = "val.npz"
# data = "val.npz"              # inputs the output check runs on (default: generated)

# [check]
# budgets = "budgets.toml"      # see `mlpack check --help`
# device = "rpi4"
# data = "val.npz"              # inputs, labels and optional slices
# reference = true              # compare with the exported FP32 model

[pack]
golden = 4                      # golden inputs and outputs stored for `mlpack verify --run`
# include = ["labels.txt"]
# preprocessing = {{ mean = 0.5, std = 0.25, layout = "NCHW" }}
# model_card = {{ intended_use = "...", limitations = "..." }}
"""


def init(
    output: Path, *, source: str = "model.py:build", inputs: tuple[str, ...] = ("x:1x3x224x224",), force: bool = False
) -> Path:
    """Write a commented starter config; never over an existing file unless ``force``."""
    output = Path(output)
    if output.exists() and not force:
        raise BadInputError(f"{output} already exists; pass --force to overwrite it.")
    name = Path(source.rpartition(":")[0] or source).stem or "model"
    text = STARTER.format(path=output, name=name, source=source, inputs=", ".join(json.dumps(i) for i in inputs))
    write_text_atomic(output, text)
    return output
