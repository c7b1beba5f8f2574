"""``mlpack.toml``: the build config, parsed into frozen dataclasses with errors that name file:line.

Choices are the enums the CLI offers (a new quantisation mode is accepted here as soon as it is
registered), and a key left out means what the API's own default means: defaults are read from the
settings dataclasses (CheckSettings, TuneSettings, QuantizeSettings) and, for the stages that take
loose arguments (export, optimize, pack), from the functions' signatures; never restated here.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from mlpack.artifact.pack import pack as run_pack
from mlpack.budget.settings import CheckSettings
from mlpack.core.fidelity import OutputRule, rules_from_mapping
from mlpack.core.inputspec import parse_input_spec
from mlpack.core.signature import TensorSpec
from mlpack.core.sourceref import SourceRef
from mlpack.core.tomlfile import TomlDocument, check_keys, read_toml
from mlpack.core.validate import MAX_COUNT, check_inside, safe_component
from mlpack.data.feeds import FeedOptions
from mlpack.data.stream import parse_state_pairs
from mlpack.data.values import SetValue
from mlpack.errors import BadInputError, ConfigError, InputSpecError, MlpackError
from mlpack.exporter.export import export as run_export
from mlpack.pipeline.tune_settings import Objective, TuneSettings
from mlpack.quant.optimize import optimize as run_optimize
from mlpack.quant.ranges import parse_memory
from mlpack.quant.settings import CalibrationMethod, QuantFormat, QuantizeSettings, QuantMode

TUNE = "tune"  # the one [optimize] quantize value that is not a QuantMode: search, then choose
_QUANTIZE_SETTINGS = QuantizeSettings()
_CHECK_SETTINGS = CheckSettings()
_TUNE_SETTINGS = TuneSettings()
E = TypeVar("E", bound=Enum)
T = TypeVar("T")


def _api_default(function: Callable[..., Any], parameter: str) -> Any:
    """The default ``function`` declares for ``parameter``: a key left out means what the API means."""
    return inspect.signature(function).parameters[parameter].default


@dataclass(frozen=True)
class ModelConfig:
    """[model]: what to export. ``source`` has its relative file path read from the config's folder."""

    source: SourceRef
    name: str | None = None
    version: str = _api_default(run_pack, "version")
    weights: Path | None = None
    inputs: tuple[TensorSpec, ...] = _api_default(run_export, "inputs")
    example_inputs: Path | None = None
    opset: int | None = _api_default(run_export, "opset")
    trust_pickle: bool = _api_default(run_export, "trust_pickle")
    # ``state = ["OUT=IN"]`` and ``set = { sr = 16000 }``: how every stage after export feeds the model.
    feeding: FeedOptions = _api_default(run_optimize, "feeding")

    @property
    def package_name(self) -> str:
        """``name``, else the factory's file or module; an exported file gives the generic ``model``."""
        if self.name:
            return self.name
        return self.source.stem if self.source.is_factory else "model"


@dataclass(frozen=True)
class OptimizeConfig:
    """[optimize]: one quantisation mode, or ``tune`` (``quantize = "tune"``) to search for the best."""

    quantize: QuantMode = _api_default(run_optimize, "quantize")
    tune: bool = False
    simplify: bool = _api_default(run_optimize, "simplify")
    per_channel: bool = _QUANTIZE_SETTINGS.per_channel
    calibration: Path | None = None
    calibration_method: CalibrationMethod = _QUANTIZE_SETTINGS.calibration_method
    calibration_memory: int = _QUANTIZE_SETTINGS.calibration_memory  # bytes; the key takes "1GB", "512MB"
    quant_format: QuantFormat = _QUANTIZE_SETTINGS.quant_format
    max_accuracy_drop: float | None = _api_default(run_optimize, "max_accuracy_drop")
    eval_data: Path | None = None  # the key is ``eval``
    data: Path | None = None
    objective: Objective = _TUNE_SETTINGS.objective
    max_time_s: float = _TUNE_SETTINGS.max_time_s  # the key is ``max_time``
    min_agreement: float | None = None  # the decision bar; None: the mode's own
    threshold: tuple[OutputRule, ...] = ()  # what outputs mean, as --threshold says


@dataclass(frozen=True)
class CheckConfig:
    """[check]: the budgets the optimised model must meet (an empty or absent section skips the check)."""

    budgets: Path
    device: str | None = None  # None: the default budgets, on this machine as is
    data: Path | None = None
    reference: bool = True  # also run the exported FP32 model, for accuracy drop and agreement
    drift_reference: Path | None = None  # recorded statistics for max_input_drift / max_output_drift
    runs: int = _CHECK_SETTINGS.runs
    duration_s: float = _CHECK_SETTINGS.duration_s  # the key is ``duration``


@dataclass(frozen=True)
class PackConfig:
    """[pack]: what goes into the .mlpack besides the model. ``data`` is the data whose statistics
    are recorded for ``mlpack drift`` (default: [check] data; ``stats = false`` records none)."""

    include: tuple[Path, ...] = _api_default(run_pack, "include")
    golden: int = _api_default(run_pack, "golden")
    golden_data: Path | None = None
    data: Path | None = None
    stats: bool = True
    preprocessing: Mapping[str, Any] | None = None
    model_card: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class BuildConfig:
    """A whole ``mlpack.toml``; ``check`` is None when the file asks for no check."""

    path: Path
    model: ModelConfig
    optimize: OptimizeConfig
    check: CheckConfig | None
    pack: PackConfig


_SECTIONS = ("model", "optimize", "check", "pack")


def load_build_config(path: Path) -> BuildConfig:
    """Read and validate a build config; paths in it are read from the config file's folder.

    Args:
        path: the ``mlpack.toml`` to read.

    Raises:
        ConfigError: the file is not valid TOML, or a section, key, type or choice is wrong
            (the message names file:line and the key).
    """
    doc = read_toml(path)
    base = Path(path).resolve().parent
    unknown = [name for name in doc.data if name not in _SECTIONS]
    if unknown:
        raise doc.error(f"unknown section; expected {', '.join(f'[{s}]' for s in _SECTIONS)}", unknown[0])
    if not isinstance(doc.data.get("model"), dict) or "source" not in doc.data["model"]:
        raise doc.error('missing: every build needs [model] source = "pkg.module:factory" or a file', "model")
    tables = {name: _Table(doc, name, base) for name in _SECTIONS}
    config = BuildConfig(
        path=Path(path),
        model=_model(tables["model"]),
        optimize=_optimize(tables["optimize"]),
        check=_check(tables["check"]),
        pack=_pack(tables["pack"]),
    )
    for table in tables.values():
        table.check_unknown_keys()
    _check_tune_inputs(config, doc)
    return config


class _Table:
    """One [section]: typed reads whose errors point at the key's line; it remembers the keys read."""

    def __init__(self, doc: TomlDocument, name: str, base: Path) -> None:
        values = doc.data.get(name, {})
        if not isinstance(values, dict):
            raise doc.error("must be a table", "", name)
        self.doc, self.name, self.values, self.base = doc, name, values, base
        self.known: list[str] = []

    def error(self, message: str, key: str) -> ConfigError:
        return self.doc.error(message, self.name, key)

    def check_unknown_keys(self) -> None:
        check_keys(self.doc, self.name, self.values, tuple(self.known))

    def _read(self, key: str, kinds: tuple[type, ...], what: str) -> Any:
        self.known.append(key)
        value = self.values.get(key)
        if value is None:
            return None
        if isinstance(value, bool) and bool not in kinds:
            raise self.error(f"must be {what}, got a boolean", key)
        if not isinstance(value, kinds):
            raise self.error(f"must be {what}, got {type(value).__name__} {value!r}", key)
        return value

    def _not_negative(self, key: str, value: float | None) -> None:
        if value is not None and value < 0:
            raise self.error(f"cannot be negative, got {value}", key)

    def text(self, key: str) -> str | None:
        return self._read(key, (str,), "a string")

    def flag(self, key: str) -> bool | None:
        return self._read(key, (bool,), "true or false")

    def count(self, key: str) -> int | None:
        value = self._read(key, (int,), "a whole number")
        self._not_negative(key, value)
        if value is not None and value > MAX_COUNT:
            raise self.error(f"must be at most {MAX_COUNT}, got {value}", key)
        return value

    def number(self, key: str) -> float | None:
        value = self._read(key, (int, float), "a number")
        self._not_negative(key, value)
        return None if value is None else float(value)

    def mapping(self, key: str) -> dict[str, Any] | None:
        return self._read(key, (dict,), "a table")

    def strings(self, key: str) -> tuple[str, ...] | None:
        value = self._read(key, (list,), "a list")
        if value is not None and not all(isinstance(item, str) for item in value):
            raise self.error("must be a list of strings", key)
        return None if value is None else tuple(value)

    def path(self, key: str) -> Path | None:
        value = self.text(key)
        return None if value is None else self.base / value

    def paths(self, key: str, *, inside: bool = False) -> tuple[Path, ...] | None:
        """Paths read from the config's folder; ``inside``: each must stay inside that folder (files
        that get packed: a config must not ship the host's files)."""
        values = self.strings(key)
        if values is None:
            return None
        if inside:
            for value in values:
                try:
                    check_inside(self.base, self.base / value, what=key)
                except BadInputError as exc:
                    raise self.error(
                        f"{value!r} lies outside the config's folder; copy the file into the project", key
                    ) from exc
        return tuple(self.base / value for value in values)

    def file_name(self, key: str) -> str | None:
        """A string that becomes part of an output's file name (the package's name and version)."""
        value = self.text(key)
        if value is not None:
            try:
                safe_component(value, what=key)
            except BadInputError as exc:
                raise self.error(exc.message.removeprefix(f"{key} "), key) from exc
        return value

    def choice(self, key: str, enum: type[E]) -> E | None:
        value = self.text(key)
        if value is None:
            return None
        try:
            return enum(value)
        except ValueError:
            raise self.error(f"must be one of {', '.join(m.value for m in enum)}, got {value!r}", key) from None


def _given(cls: Callable[..., T], **values: Any) -> T:
    """``cls`` from the values the file gave; a key left out keeps the field's default."""
    return cls(**{key: value for key, value in values.items() if value is not None})


def _model(table: _Table) -> ModelConfig:
    return _given(
        ModelConfig,
        source=SourceRef.parse(str(table.text("source"))).relative_to(table.base),
        name=table.file_name("name"),
        version=table.file_name("version"),
        weights=table.path("weights"),
        inputs=_input_specs(table),
        example_inputs=table.path("example_inputs"),
        opset=table.count("opset"),
        trust_pickle=table.flag("trust_pickle"),
        feeding=_feeding(table),
    )


def _feeding(table: _Table) -> FeedOptions | None:
    """``state`` pairs and ``set`` values, as ``--state OUT=IN`` and ``--set NAME=VALUE`` take them."""
    state, values = table.strings("state"), table.mapping("set")
    if state is None and values is None:
        return None
    try:
        pairs = parse_state_pairs(state or ())
    except InputSpecError as exc:
        raise table.error(str(exc).replace("--state", "state"), "state") from exc
    sets = []
    for name, value in (values or {}).items():
        if not _numeric(value):
            raise table.error(f"{name} must be a number or a list of numbers, got {value!r}", "set")
        sets.append(SetValue(name=name, value=json.dumps(value)))
    return FeedOptions(state=pairs, values=tuple(sets))


def _numeric(value: Any) -> bool:
    """A number, or a (nested) list of numbers: what an input's value can be."""
    if isinstance(value, list):
        return all(_numeric(item) for item in value)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _input_specs(table: _Table) -> tuple[TensorSpec, ...] | None:
    texts = table.strings("inputs")
    if texts is None:
        return None
    try:
        return tuple(parse_input_spec(text) for text in texts)
    except InputSpecError as exc:
        raise table.error(str(exc), "inputs") from exc


def _optimize(table: _Table) -> OptimizeConfig:
    quantize, tuning = _quantize(table)
    return _given(
        OptimizeConfig,
        quantize=quantize,
        tune=tuning,
        simplify=table.flag("simplify"),
        per_channel=table.flag("per_channel"),
        calibration=table.path("calibration"),
        calibration_method=table.choice("calibration_method", CalibrationMethod),
        calibration_memory=_calibration_memory(table),
        quant_format=table.choice("quant_format", QuantFormat),
        max_accuracy_drop=table.number("max_accuracy_drop"),
        eval_data=table.path("eval"),
        data=table.path("data"),
        objective=table.choice("objective", Objective),
        max_time_s=table.number("max_time"),
        min_agreement=_fraction(table, "min_agreement"),
        threshold=_threshold(table),
    )


def _fraction(table: _Table, key: str) -> float | None:
    value = table.number(key)
    if value is not None and value > 1:
        raise table.error(f"must be a fraction between 0 and 1, got {value}", key)
    return value


def _threshold(table: _Table) -> tuple[OutputRule, ...] | None:
    """``threshold = { frames = 0.3 }``: what outputs mean, as ``--threshold`` says."""
    value = table.mapping("threshold")
    if value is None:
        return None
    try:
        return rules_from_mapping(value, option="threshold")
    except MlpackError as exc:
        raise table.error(exc.message.rstrip("."), "threshold") from exc


def _calibration_memory(table: _Table) -> int | None:
    value = table._read("calibration_memory", (str, int, float), 'a size such as "1GB"')
    if value is None:
        return None
    try:
        return parse_memory(str(value), option="calibration_memory")
    except BadInputError as exc:
        raise table.error(str(exc).removeprefix("calibration_memory "), "calibration_memory") from exc


def _quantize(table: _Table) -> tuple[QuantMode | None, bool | None]:
    """``quantize`` is a QuantMode, or ``tune``: the search that picks one per budgets."""
    value = table.text("quantize")
    if value == TUNE:
        return None, True
    if value is None or value in {mode.value for mode in QuantMode}:
        return (None if value is None else QuantMode(value)), None
    choices = ", ".join([*(mode.value for mode in QuantMode), TUNE])
    raise table.error(f"must be one of {choices}, got {value!r}", "quantize")


def _check(table: _Table) -> CheckConfig | None:
    if not table.values:
        return None
    budgets = table.path("budgets")
    if budgets is None:
        raise table.doc.error('[check] needs budgets = "budgets.toml"', "check")
    return _given(
        CheckConfig,
        budgets=budgets,
        device=table.text("device"),
        data=table.path("data"),
        reference=table.flag("reference"),
        drift_reference=table.path("drift_reference"),
        runs=table.count("runs"),
        duration_s=table.number("duration"),
    )


def _pack(table: _Table) -> PackConfig:
    return _given(
        PackConfig,
        include=table.paths("include", inside=True),
        golden=table.count("golden"),
        golden_data=table.path("golden_data"),
        data=table.path("data"),
        stats=table.flag("stats"),
        preprocessing=table.mapping("preprocessing"),
        model_card=table.mapping("model_card"),
    )


def _check_tune_inputs(config: BuildConfig, doc: TomlDocument) -> None:
    """Tuning measures candidates against the budgets, on data: both must be named before any work."""
    if not config.optimize.tune:
        return
    if config.check is None or (config.optimize.data or config.check.data) is None:
        raise doc.error(
            f'quantize = "{TUNE}" needs [check] budgets and data (in [check] or [optimize]) to tune against',
            "optimize",
            "quantize",
        )
