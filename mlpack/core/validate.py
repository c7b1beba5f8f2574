"""One place that checks what a user hands over before any work starts: paths and numbers.

Paths: an output is never one of the inputs (writing it would destroy the source), its folder
exists (or can be created) and is writable, it is not a directory, and where a name is joined
under an output folder it stays inside it. Numbers: finite and in range (:func:`check_number`,
which settings types and API functions call for their own values), and no command-line option
NaN or infinite (:func:`check_options`).
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from mlpack.errors import BadInputError

# The longest file-name component most file systems accept (ext4, APFS, NTFS: 255).
MAX_NAME_BYTES = 255

# Resource bounds for values read from files (device profiles, mlpack.toml, manifests): one place.
# A count past int32 overflows onnxruntime's and numpy's indices long before it could be honoured.
MAX_COUNT = 2**31 - 1
# 16 TiB: more memory than any machine a profile could describe.
MAX_MEMORY_MB = float(2**24)


def max_threads() -> int:
    """The most intra-op threads a file may ask for: a few per core of this machine, where the
    measuring runs (threads = 100000 started 2,000 threads and held 16 GB before failing)."""
    return max(64, 4 * (os.cpu_count() or 1))


def same_file(a: Path, b: Path) -> bool:
    """Whether two paths name the same file (through links and relative spellings alike)."""
    try:
        return os.path.samefile(a, b)
    except OSError:
        return Path(os.path.abspath(a)) == Path(os.path.abspath(b))


def check_output(output: Path, *, option: str, inputs: Iterable[Path | None] = ()) -> Path:
    """Refuse an output that would destroy an input or that cannot be written; return it.

    Args:
        output: the file the command will write.
        option: the option that named it (``-o``, ``--json``...), for the message.
        inputs: every file the command reads; writing over any of them is refused.

    Raises:
        BadInputError: ``output`` is an input, a directory, or under a folder that is missing and
            cannot be created, or that is not writable (exit 2).
    """
    output = Path(output)
    for source in inputs:
        if source is None or not Path(source).exists():
            continue
        if same_file(output, Path(source)):
            raise BadInputError(
                f"{option} {output} is also an input: writing it would destroy the source; choose another path."
            )
        if Path(source).is_dir() and _inside(output, Path(source)):
            raise BadInputError(
                f"{option} {output} is inside the input folder {source}: writing it would change that input; "
                "choose a path outside it."
            )
    if output.is_dir():
        raise BadInputError(f"{option} {output} is a directory; name a file to write.")
    if not Path(os.path.abspath(output)).parent.exists():
        raise BadInputError(
            f"{option} {output}: the folder {output.parent} does not exist; create it first or fix the path."
        )
    check_folder(output.parent, option=option, target=output)
    return output


def _inside(path: Path, folder: Path) -> bool:
    """Whether ``path`` (which may not exist yet) lies under ``folder``, links resolved."""
    root = Path(folder).resolve()
    resolved = Path(os.path.abspath(path))
    resolved = resolved.parent.resolve() / resolved.name if resolved.parent.exists() else resolved
    return root in resolved.parents


def check_folder(folder: Path, *, option: str, target: Path | None = None, make_parents: bool = False) -> Path:
    """A folder that outputs can be written into: it exists and is writable, or its nearest existing
    parent is a writable directory (the command creates the rest).

    Args:
        folder: the folder outputs go to.
        option: the option that named it, for the message.
        target: the file (or folder) the user named, for the message (default: ``folder``).
        make_parents: the command makes the whole path (build's ``--out``, a tree it owns, as
            ``make``'s output folders); otherwise only the folder named may be missing.

    Raises:
        BadInputError: something on the way is a file, or the folder cannot be written (exit 2).
    """
    named = target if target is not None else folder
    probe = Path(os.path.abspath(folder))
    if not make_parents and not probe.exists() and not probe.parent.exists():
        # Only the folder named is made: a typo in a CI path must not grow a stray tree.
        raise BadInputError(
            f"{option} {named}: the folder {probe.parent} does not exist; create it first or fix the path."
        )
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise BadInputError(f"{option} {named}: {probe} is a file, not a folder; choose another path.")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise BadInputError(f"{option} {named}: cannot write in {probe} (permission denied); choose another path.")
    return Path(folder)


def check_appendable(path: Path, *, what: str, inputs: Iterable[Path | None] = ()) -> Path:
    """A file that is appended to (a CI step summary): it is not a folder, not an input, and can be written.

    Raises:
        BadInputError: it is a directory or one of ``inputs``, or neither it nor its folder is
            writable (exit 2).
    """
    path = Path(path)
    for source in inputs:
        if source is not None and Path(source).exists() and same_file(path, Path(source)):
            raise BadInputError(
                f"{what} {path} is also an input: appending the report would corrupt it; fix the variable or unset it."
            )
    if path.is_dir():
        raise BadInputError(f"{what} {path} is a directory, not a file; fix the variable or unset it.")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise BadInputError(f"{what} {path} is not writable (permission denied); fix the variable or unset it.")
        return path
    check_folder(path.parent, option=what, target=path)
    return path


def safe_component(value: str, *, what: str) -> str:
    """A name used as (part of) one file name: no separators, no '..', no control characters.

    Raises:
        BadInputError: the name could climb out of its folder or cannot be a file name (exit 2).
    """
    if not value or value in (".", "..") or any(c in value for c in "/\\:\0") or not value.isprintable():
        raise BadInputError(
            f"{what} {value!r} cannot be part of a file name: use letters, digits, '.', '-' and '_' "
            "(no '/', '\\', ':' or '..')."
        )
    if len(value.encode("utf-8")) > MAX_NAME_BYTES - 16:
        raise BadInputError(f"{what} is {len(value)} characters long; keep it under {MAX_NAME_BYTES - 16}.")
    return value


def check_inside(folder: Path, path: Path, *, what: str) -> Path:
    """``path`` resolved, refused unless it lies inside ``folder`` (resolved too, links followed).

    Raises:
        BadInputError: the path resolves outside ``folder`` (exit 2).
    """
    root = Path(folder).resolve()
    resolved = Path(path).resolve()
    if resolved != root and root not in resolved.parents:
        raise BadInputError(f"{what} {path} lies outside {folder}; keep it inside that folder.")
    return resolved


def relative_member(name: str) -> str | None:
    """Why ``name`` is not a safe relative path inside a package, or None when it is.

    Safe: relative, '/'-separated, normalised (no '', '.' or '..' parts), printable, each part a
    file-system-sized name.
    """
    if not isinstance(name, str) or not name:
        return "is not a non-empty string"
    if name.startswith("/") or "\\" in name or (len(name) > 1 and name[1] == ":"):
        return "is not a relative path"
    parts = name.split("/")
    if any(part in ("", ".", "..") for part in parts) or PurePosixPath(name).as_posix() != name:
        return "is not a normalised path inside the package"
    if not name.isprintable():
        return "holds control characters"
    if any(len(part.encode("utf-8")) > MAX_NAME_BYTES for part in parts):
        return f"has a name longer than {MAX_NAME_BYTES} bytes"
    return None


def check_number(
    value: float,
    *,
    name: str,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
) -> float:
    """A finite number within bounds, else a one-line error naming ``name`` and the range.

    Args:
        value: the number given.
        name: the option or key, as the user wrote it (``--duration``, ``max_size_mb``).
        minimum: the smallest value allowed (None: no bound).
        maximum: the largest value allowed (None: no bound).
        exclusive_minimum: ``minimum`` itself is not allowed (a duration must be above 0).
        exclusive_maximum: ``maximum`` itself is not allowed (a confidence must be below 1).

    Raises:
        BadInputError: NaN, infinite, or out of range (exit 2).
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise BadInputError(f"{name} must be a number, got {value!r}.")
    if not math.isfinite(value):
        raise BadInputError(f"{name} must be a finite number, got {value}.")
    below = minimum is not None and (value <= minimum if exclusive_minimum else value < minimum)
    above = maximum is not None and (value >= maximum if exclusive_maximum else value > maximum)
    if below or above:
        described = describe_range(minimum, maximum, exclusive_minimum, exclusive_maximum)
        raise BadInputError(f"{name} must be {described}, got {value}.")
    return value


def describe_range(
    minimum: float | None, maximum: float | None, exclusive_minimum: bool = False, exclusive_maximum: bool = False
) -> str:
    """'above 0', 'at least 1', 'between 0 and 1', 'in [0.5, 1)' — the range in words."""
    low = None if minimum is None else (f"above {minimum:g}" if exclusive_minimum else f"at least {minimum:g}")
    high = None if maximum is None else (f"below {maximum:g}" if exclusive_maximum else f"at most {maximum:g}")
    if low is None or high is None:
        return low or high or "a finite number"
    if exclusive_minimum or exclusive_maximum:
        return f"in {'(' if exclusive_minimum else '['}{minimum:g}, {maximum:g}{')' if exclusive_maximum else ']'}"
    return f"between {minimum:g} and {maximum:g}"


def check_options(values: dict[str, object]) -> None:
    """Refuse NaN and infinity in any of a command's numeric options, before any work starts.

    Each option's range is checked in one place of its own: the settings type or API function that
    takes the value, or (where none does before the work) next to the option's declaration in the CLI.

    Raises:
        BadInputError: the first option that is not finite, named as the user types it (exit 2).
    """
    for key, value in values.items():
        if isinstance(value, float) and not math.isfinite(value):
            check_number(value, name=f"--{key.replace('_', '-')}")


def check_reports(reports: dict[str, object], *, inputs: Iterable[Path | None] = (), summary: bool = False) -> None:
    """Check every report a command will write, before it measures anything: a report that cannot be
    written would otherwise fail after the work and hide the verdict.

    Args:
        reports: option -> the path given (None: not asked for; '-' is stdout).
        inputs: the files the command reads; no report may overwrite one.
        summary: the command appends to ``$GITHUB_STEP_SUMMARY`` when it is set; check it too.

    Raises:
        BadInputError: the first report that cannot be written, named by its option (exit 2).
    """
    inputs = [p for p in inputs if p is not None]
    for option, path in reports.items():
        if path is not None and str(path) != "-":
            check_output(Path(str(path)), option=option, inputs=inputs)
    if summary and os.environ.get("GITHUB_STEP_SUMMARY"):
        check_appendable(Path(os.environ["GITHUB_STEP_SUMMARY"]), what="GITHUB_STEP_SUMMARY", inputs=inputs)


def check_override_names(source: Path, overrides: Mapping[str, object], device: str | None) -> None:
    """A ``[budget.NAME]`` table that nearly names the device checked is a typo, not another device:
    silently ignoring it would drop the stricter limits it holds.

    Args:
        source: the budget file, for the message.
        overrides: its per-device tables, by name.
        device: the device being checked (None: defaults only, nothing to compare).

    Raises:
        BadInputError: an override's name is a near miss of ``device`` (exit 2).
    """
    import difflib

    if device is None or device in overrides:
        return
    close = difflib.get_close_matches(device, list(overrides), n=1, cutoff=0.8)
    if close:
        raise BadInputError(
            f"{source}: [budget.{close[0]}] does not apply to --device {device}; "
            f"if it is meant for {device}, fix its name (it would be ignored)."
        )
