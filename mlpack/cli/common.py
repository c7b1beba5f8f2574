"""What every command shares: error handling, the console, JSON and CI report writers, the progress
bar, the options several commands declare, and the parsers of option values.

Nothing here imports a stage at module level, so that ``mlpack --help`` stays fast.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import sys
import traceback
import typing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mlpack.cli.flags import flags
from mlpack.errors import BadInputError, ExitCode, MlpackError

F = TypeVar("F", bound=Callable[..., Any])
T = TypeVar("T")


@dataclass(frozen=True)
class Range:
    """The values an option takes, declared next to it: ``Annotated[float, typer.Option(...), Range(0)]``.

    Only for options whose API does not check the value before the work starts; a settings type
    that checks its own fields (CheckSettings, BenchSettings...) is the one place for the others.
    """

    minimum: float | None = None
    maximum: float | None = None
    exclusive_minimum: bool = False

    def check(self, value: object, option: str) -> None:
        from mlpack.core.validate import check_number

        if isinstance(value, (int, float)) and not isinstance(value, bool):
            check_number(
                value, name=option, minimum=self.minimum, maximum=self.maximum, exclusive_minimum=self.exclusive_minimum
            )


def _ranges(command: Callable[..., Any]) -> dict[str, tuple[str, Range]]:
    """Each parameter declared with a Range: (its option as typed, the range)."""
    found = {}
    for name, hint in typing.get_type_hints(command, include_extras=True).items():
        metadata = getattr(hint, "__metadata__", ())
        option = next((m for m in metadata if isinstance(m, typer.models.OptionInfo)), None)
        declared = [d for d in ((option.param_decls or ()) if option else ()) if d.startswith("--")]
        for limit in (m for m in metadata if isinstance(m, Range)):
            found[name] = (declared[0] if declared else f"--{name.replace('_', '-')}", limit)
    return found


# Options several commands share, declared once.
BudgetDevice = Annotated[str | None, typer.Option("--device", help="Device profile whose budgets and threads apply.")]
DevicesFile = Annotated[Path | None, typer.Option("--devices", help="TOML file with more [device.NAME] profiles.")]
ReferenceModel = Annotated[
    Path | None, typer.Option("--reference", help="Reference model for accuracy drop and agreement.")
]
Confidence = Annotated[float, typer.Option("--confidence", help="Confidence of the latency intervals.")]
MaxRemeasure = Annotated[
    int, typer.Option("--max-remeasure", help="Re-measurements when a latency is too close to call.")
]
# Files a command reads: `bench --json a.onnx b.onnx` would take a.onnx as the JSON file to write.
_INPUT_SUFFIXES = (".onnx", ".mlpack", ".npz", ".toml", ".pt", ".pth", ".py", ".data", ".png")


def check_json_destination(value: object) -> None:
    """Refuse a --json path named like an input: a model or data file taken as the JSON file to write
    (a bare --json before the arguments) would be destroyed."""
    if isinstance(value, str) and value != "-" and Path(value).suffix.lower() in _INPUT_SUFFIXES:
        raise BadInputError(
            f"--json {value} is also an input (a {Path(value).suffix} file), not a JSON file to write: "
            "put a bare --json after the arguments (JSON on stdout), or name a .json file."
        )


def json_option(what: str = "the result") -> Any:
    """The one ``--json [FILE]`` option: alone, ``what`` as JSON on stdout and nothing else there
    (progress and notes go to stderr); with FILE, written to FILE (``-``: stdout) beside the usual
    output. The bare form is read by :func:`mlpack.cli.conventions.json_to_stdout`."""
    return typer.Option(
        "--json",
        metavar="[FILE]",
        help=f"Print {what} as JSON on stdout and nothing else there; with FILE, write it to FILE.",
    )


JsonOut = Annotated[str | None, json_option()]
Wide = Annotated[
    bool, typer.Option("--wide", help="Every column of the tables, however wide (--json holds every figure).")
]
Target = Annotated[
    str | None,
    typer.Option(
        help="Run on this device: ssh://[user@]host[:port] or a host alias from ~/.ssh/config "
        "(not a device profile: that is --device)."
    ),
]
Timeout = Annotated[float, typer.Option(help="With --target: give up after this many seconds."), Range(0, None, True)]
CiMarkdown = Annotated[
    Path | None, typer.Option(help="Write a Markdown report (also appended to $GITHUB_STEP_SUMMARY when set).")
]
# One definition of the input options every command that feeds a model shares.
StateOption = Annotated[
    list[str] | None,
    typer.Option(
        "--state",
        help="OUTPUT=INPUT: the output feeds that input on the next call; data runs as a stream of calls "
        "carrying the state from zeros (or the data's value) (repeatable).",
    ),
]
ThresholdOption = Annotated[
    list[str] | None,
    typer.Option(
        "--threshold",
        help="OUTPUT=VALUE: what an output means, for judging its decisions: a threshold (0.3: each element "
        "active at or above it), or classes, probabilities, labels, boxes, values; add ',unsure=0.1' to set "
        "the reference's unsure level (repeatable).",
    ),
]
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="INPUT=VALUE: give an input by value, e.g. sr=16000 (a number or a JSON list; repeatable)."
    ),
]
ChannelAxisOption = Annotated[
    list[str] | None,
    typer.Option(
        "--channel-axis",
        help="NAME=AXIS: the axis of a tensor whose positions are the data statistics' features, e.g. "
        "img=3 for NHWC (none: pool every value; default: from the signature; repeatable).",
    ),
]

ShapeOption = Annotated[
    list[str] | None,
    typer.Option(
        "--shape",
        help="NAME:DIMS, e.g. images:1x3x320x320: the size of an input's open dimensions for generated inputs "
        "(its batch axis still follows the batch size; repeatable).",
    ),
]


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # A terminal's own width; in a pipe or a log, $COLUMNS where set (rich reads it), else 120, and
    # lines of text are never broken there (a path cut in two cannot be searched for or copied).
    log = not stream.isatty()
    wide_log = log and not os.environ.get("COLUMNS", "").isdigit()
    return Console(stderr=stderr, highlight=False, width=120 if wide_log else None, soft_wrap=log)


def print_error(message: str) -> None:
    """One ``error: ...`` line on stderr, as every failure reads."""
    from mlpack.cli.markup import escape

    console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


def note(message: str) -> None:
    """A note for people on stderr (never on stdout, which may hold JSON); silent with -q."""
    if not flags.quiet:
        from mlpack.cli.markup import escape

        console(stderr=True).print(f"[yellow]note:[/] {escape(message)}", soft_wrap=True)


def renamed(old_value: T | None, value: T, *, old: str, new: str) -> T:
    """An option's old spelling, still accepted (hidden) so that CI scripts keep working."""
    if old_value is None:
        return value
    note(f"{old} is deprecated and will be removed; use {new}.")
    return old_value


def fail(message: str, code: int) -> typer.Exit:
    print_error(message)
    return typer.Exit(code)


def handle_errors(command: F) -> F:
    """MlpackError → its message on stderr and its exit code; anything else is a bug (exit 4)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        from mlpack.core.signals import Terminated, terminate_like_interrupt
        from mlpack.core.validate import check_options

        terminate_like_interrupt()
        try:
            check_options(kwargs)  # no NaN or infinity in any number, before any work starts
            check_json_destination(kwargs.get("json_out"))
            for name, (option, limit) in _ranges(command).items():
                limit.check(kwargs.get(name), option)
            return command(*args, **kwargs)
        except typer.Exit:
            raise
        except MlpackError as exc:
            if flags.debug:
                traceback.print_exc()
            raise fail(str(exc), int(exc.exit_code)) from None
        except Terminated:
            raise fail("terminated", 143) from None
        except KeyboardInterrupt:
            raise fail("interrupted", 130) from None
        except Exception as exc:
            if flags.debug:
                traceback.print_exc()
            from mlpack.core.fileio import disk_full

            if (full := disk_full(exc)) is not None:
                raise fail(str(full), int(full.exit_code)) from None
            raise fail(
                f"internal error (a bug in mlpack, please report it with --debug output): {type(exc).__name__}: {exc}",
                int(ExitCode.INTERNAL),
            ) from None

    return wrapper  # type: ignore[return-value]


def print_json(payload: dict[str, Any]) -> None:
    from mlpack.core.jsonout import dumps

    typer.echo(dumps(payload))


def write_json(destination: str, payload: dict[str, Any]) -> None:
    """``-`` prints to stdout (and nothing else goes there); a path is written atomically."""
    if destination == "-":
        print_json(payload)
    else:
        from mlpack.core.fileio import write_text_atomic
        from mlpack.core.jsonout import dumps

        write_text_atomic(Path(destination), dumps(payload) + "\n")


def emit(result: Any, json_out: str | None) -> None:
    """The JSON where asked (a file, or stdout for '-'), and the result's rendering (chosen by its type
    in :data:`mlpack.cli.render.RENDERERS`) unless stdout holds JSON."""
    if json_out:
        write_json(json_out, result.to_dict())
    if json_out != "-":
        from mlpack.cli.render import render

        render(console(), result)


def exit_with(result: Any) -> None:
    """A result's own exit code (a broken budget, a failed verification) once it has been shown."""
    if result.exit_code:
        raise typer.Exit(int(result.exit_code))


def write_ci_reports(
    text: str, *, markdown: Path | None = None, junit: Path | None = None, junit_xml: str | None = None
) -> None:
    """The one writer of CI reports: the Markdown report where asked, and appended to
    ``$GITHUB_STEP_SUMMARY`` when that is set; the JUnit XML where asked."""
    from mlpack.core.fileio import write_text_atomic

    if markdown:
        write_text_atomic(markdown, text)
    if os.environ.get("GITHUB_STEP_SUMMARY"):
        with open(os.environ["GITHUB_STEP_SUMMARY"], "a", encoding="utf-8") as summary:
            summary.write(text)
    if junit and junit_xml is not None:
        write_text_atomic(junit, junit_xml)


def positive_ints(text: str, option: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v) for v in text.split(",") if v.strip())
    except ValueError:
        raise BadInputError(f"{option} takes comma-separated whole numbers, like 1,8,32; got '{text}'.") from None
    if not values or any(v < 1 for v in values):
        raise BadInputError(f"{option} values must be positive whole numbers; got '{text}'.")
    return values


def parse_pairs(items: list[str] | None, option: str) -> dict[str, Any]:
    """KEY=VALUE options; values that read as JSON (numbers, lists) are kept typed."""
    parsed: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise BadInputError(f"{option} takes KEY=VALUE, got '{item}'.")
        try:
            parsed[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            parsed[key.strip()] = value
    return parsed


def feeding(state: list[str] | None, values: list[str] | None, shapes: list[str] | None = None) -> Any:
    """The --state, --set and --shape options as the API's FeedOptions."""
    from mlpack.data.feeds import FeedOptions

    return FeedOptions.parse(tuple(state or ()), tuple(values or ()), tuple(shapes or ()))


def thresholds(texts: list[str] | None) -> Any:
    """The --threshold options as the API's per-output rules."""
    from mlpack.core.fidelity import parse_rules

    return parse_rules(texts or ())


Update = Callable[[str, float], None]


@contextlib.contextmanager
def progress(what: str = "starting") -> Iterator[Update]:
    """``update(what, fraction)`` while the block runs: a bar on a terminal; plain lines on stderr in
    a log (or with -v), at least every few seconds; nothing with -q."""
    if flags.quiet:
        yield lambda what, fraction: None
    elif flags.verbose or not sys.stderr.isatty():
        yield from _lines(what)
    else:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        with Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TimeElapsedColumn(),
            console=console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(what, total=1.0)

            def update(what: str, fraction: float) -> None:
                bar.update(task, description=what, completed=fraction)

            yield update


@contextlib.contextmanager
def spinner(what: str = "starting") -> Iterator[Update]:
    """``update(what, fraction)`` for work without a fraction done: a spinner on a terminal, plain
    lines in a log (or with -v), nothing with -q."""
    if flags.quiet:
        yield lambda what, fraction: None
    elif flags.verbose or not sys.stderr.isatty():
        yield from _lines(what)
    else:
        with console(stderr=True).status(what) as status:

            def update(what: str, fraction: float) -> None:
                status.update(what)

            yield update


def _lines(what: str) -> Iterator[Update]:
    from mlpack.cli.progress_lines import progress_lines

    def write(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    with progress_lines(write, what) as update:
        yield update
