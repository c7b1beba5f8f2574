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
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from mlpack.errors import BadInputError, ExitCode, MlpackError

F = TypeVar("F", bound=Callable[..., Any])


class _Flags:
    """The global options (``mlpack --debug COMMAND``), set by the app's callback."""

    debug = False


flags = _Flags()

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
JsonFile = Annotated[str | None, typer.Option("--json", help="Write the full result to FILE ('-': stdout).")]
AsJson = Annotated[bool, typer.Option("--json", help="Print the result as JSON only.")]
Target = Annotated[str | None, typer.Option(help="Run on this device: ssh://[user@]host[:port] or an SSH host alias.")]
Timeout = Annotated[float, typer.Option(help="With --target: give up after this many seconds.")]
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
SetOption = Annotated[
    list[str] | None,
    typer.Option(
        "--set", help="INPUT=VALUE: give an input by value, e.g. sr=16000 (a number or a JSON list; repeatable)."
    ),
]


def console(stderr: bool = False) -> Any:
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    # Logs and pipes get a width that fits the bench table instead of rich's 80 columns.
    return Console(stderr=stderr, highlight=False, width=None if stream.isatty() else 150)


def print_error(message: str) -> None:
    """One ``error: ...`` line on stderr, as every failure reads."""
    from rich.markup import escape

    console(stderr=True).print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)


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
            check_options(kwargs)  # NaN, inf and out-of-range numbers, before any work starts
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
            raise fail(
                f"internal error (a bug in mlpack, please report it with --debug output): {type(exc).__name__}: {exc}",
                int(ExitCode.INTERNAL),
            ) from None

    return wrapper  # type: ignore[return-value]


def print_json(payload: dict[str, Any]) -> None:
    typer.echo(json.dumps(payload, indent=2, default=str))


def write_json(destination: str, payload: dict[str, Any]) -> None:
    """``-`` prints to stdout (and nothing else goes there); a path is written atomically."""
    if destination == "-":
        print_json(payload)
    else:
        from mlpack.core.fileio import write_text_atomic

        write_text_atomic(Path(destination), json.dumps(payload, indent=2, default=str) + "\n")


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


def feeding(state: list[str] | None, values: list[str] | None) -> Any:
    """The --state and --set options as the API's FeedOptions."""
    from mlpack.data.feeds import FeedOptions

    return FeedOptions.parse(tuple(state or ()), tuple(values or ()))


@contextlib.contextmanager
def progress() -> Iterator[Callable[[str, float], None]]:
    """``update(what, fraction)``, drawing a progress bar on stderr while the block runs."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.percentage:>3.0f}%"),
        TimeElapsedColumn(),
        console=console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task("starting", total=1.0)

        def update(what: str, fraction: float) -> None:
            bar.update(task, description=what, completed=fraction)

        yield update


@contextlib.contextmanager
def spinner(what: str = "starting") -> Iterator[Callable[[str, float], None]]:
    """``update(what, fraction)``, showing what is happening on stderr (work without a fraction done)."""
    with console(stderr=True).status(what) as status:

        def update(what: str, fraction: float) -> None:
            status.update(what)

        yield update


# -- running a command on a device (--target) -------------------------------------------------

REPORTS = ["--json", "check.json", "--markdown", "check.md", "--junit", "check.xml"]
REPORT_FILES = ("check.json", "check.md", "check.xml")


def file_job(args: list[str], uploads: dict[str, Path], options: dict[str, Path | None], fetch: tuple[str, ...]) -> Any:
    """An mlpack command for a device: each file option's file is copied there under a name of its own."""
    from mlpack.core.fileio import require_file
    from mlpack.remote.jobs import RemoteJob

    uploads = {name: require_file(Path(path), "file") for name, path in uploads.items()}
    for option, path in options.items():
        if path is not None:
            name = f"{option.strip('-')}{''.join(Path(path).suffixes[-1:])}"
            uploads[name] = require_file(Path(path), f"{option} file")
            args = [*args, option, name]
    return RemoteJob(tuple(args), uploads=uploads, fetch=fetch)


def run_on_target(url: str, timeout: float, job: Any) -> Any:
    """The device's answer to an mlpack command; its own bad-input or internal error raised here."""
    from mlpack.errors import InternalError, RemoteError
    from mlpack.remote.jobs import run_job
    from mlpack.remote.ssh import parse_target

    target = parse_target(url)
    with console(stderr=True).status(f"running on {target.label}"):
        outcome = run_job(target, job, timeout_s=timeout)
    if outcome.exit_code == ExitCode.BAD_INPUT:
        raise RemoteError(f"on {target.label}: {outcome.error_line()}")
    if outcome.exit_code not in (ExitCode.OK, ExitCode.FAILED, ExitCode.INCONCLUSIVE):
        raise InternalError(f"on {target.label} (exit {outcome.exit_code}): {outcome.error_line()}")
    return outcome


def device_json(outcome: Any, name: str | None) -> dict[str, Any]:
    """The device's JSON result (a fetched file, or its stdout), saying that it ran there."""
    from mlpack.errors import RemoteError

    raw = outcome.files.get(name, b"") if name else outcome.stdout.encode("utf-8")
    try:
        result = json.loads(raw)
    except ValueError:
        raise RemoteError(f"{outcome.target.label} returned no readable result: {outcome.error_line()}") from None
    if isinstance(result.get("device"), dict):
        result["device"] |= {"measured_on_device": True, "note": "measured on the device itself"}
    return result | {"on_device": True, "target": outcome.target.url(), "system": outcome.system}


def relay(outcome: Any, json_out: str | None, result: dict[str, Any]) -> None:
    """The JSON where asked; otherwise the device's own rendering (unless it is JSON); then its exit code."""
    if json_out:
        write_json(json_out, result)
    if json_out != "-" and outcome.stdout.strip() and not outcome.stdout.lstrip().startswith("{"):
        typer.echo(outcome.stdout, nl=False)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)
