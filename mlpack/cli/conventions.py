"""The conventions every command shares, applied once to the whole command tree.

- ``--json [FILE]``: typer's parser (its vendored click) has no option whose value may be left
  out, so a bare ``--json`` (last, or followed by another option) is read as ``--json=-``
  before parsing: JSON on stdout. ``--json FILE`` and ``--json=FILE`` write FILE.
- ``-h``/``--help`` everywhere (the context setting is inherited by every subcommand).
- ``-v``/``--verbose`` and ``-q``/``--quiet`` are declared once, on the root, and accepted after
  any command as well (``mlpack bench m.onnx -q``), listed in its help.
- Help shows click-style metavars (``PATH``, ``INTEGER``, ``[a|b]``) instead of typer's type
  names (``<list[str]>``), and arguments by their upper-case names.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from typer.core import TyperArgument, TyperCommand, TyperGroup, TyperOption

from mlpack.cli.flags import flags

JSON_OPTION = "--json"
CONTEXT = {"help_option_names": ["-h", "--help"]}
# The root's options that every command accepts too: they only set global flags.
SHARED_ROOT_OPTIONS = ("verbose", "quiet")


def json_to_stdout(args: Iterable[str]) -> list[str]:
    """``args`` with each bare ``--json`` (no value follows) spelled ``--json=-``.

    A value follows when the next token is not an option (``-`` alone is stdout, a value); after
    ``--`` every token is an argument and nothing is rewritten.
    """
    tokens = list(args)
    out: list[str] = []
    for i, token in enumerate(tokens):
        if token == "--":
            return out + tokens[i:]
        following = tokens[i + 1] if i + 1 < len(tokens) else None
        bare = following is None or (following.startswith("-") and following != "-")
        out.append(f"{JSON_OPTION}=-" if token == JSON_OPTION and bare else token)
    return out


def _metavar(param: TyperOption | TyperArgument) -> str:
    """A click-style metavar from typer's type descriptor: PATH, INTEGER, FLOAT, TEXT, [a|b]."""
    desc = param.type_descriptor
    if desc.is_choice:
        return "[" + "|".join(str(getattr(c, "value", c)) for c in desc.choices or ()) + "]"
    if desc.is_path:
        return "PATH"
    text = param.bare_type().removeprefix("list[").removesuffix("]")
    return {"int": "INTEGER", "float": "FLOAT", "str": "TEXT", "bool": "BOOLEAN"}.get(text, text.upper())


class _Conventions:
    """What the root group, the ``devices`` group and every command share: the parsing of
    ``--json`` and readable help."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        return super().parse_args(ctx, json_to_stdout(args))  # type: ignore[misc]

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        pieces = [self.options_metavar] if self.options_metavar else []  # type: ignore[attr-defined]
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if isinstance(param, TyperArgument):
                name = _argument_name(param)
                pieces.append(name if param.required else f"[{name}]")
        return pieces

    def format_options(self, ctx: Any, formatter: Any) -> None:
        arguments, options = [], []
        for param in self.get_params(ctx):  # type: ignore[attr-defined]
            if isinstance(param, TyperArgument):
                arguments.append((_argument_name(param), param.help or ""))
            elif (record := param.get_help_record(ctx)) is not None:
                options.append(record)
        if arguments:
            with formatter.section("Arguments"):
                formatter.write_dl(arguments)
        if options:
            with formatter.section("Options"):
                formatter.write_dl(options)


def _argument_name(param: TyperArgument) -> str:
    name = (param.name or "").upper()
    return name + ("..." if param.nargs != 1 else "")


def _tidy(command: Any) -> None:
    """Metavars a person reads, on every option of ``command``."""
    for param in command.params:
        if isinstance(param, TyperOption) and param.metavar is None and not param.is_flag and not param.count:
            param.metavar = _metavar(param)


class Command(_Conventions, TyperCommand):
    """A leaf command (``mlpack bench``)."""


class Group(_Conventions, TyperGroup):
    """A group: the root ``mlpack`` and ``mlpack devices``. The root hands its shared options
    (``-v``, ``-q``) to every command below it."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if ctx.parent is None:  # a new invocation (tests run many in one process): no flags left over
            flags.reset()
        return super().parse_args(ctx, args)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        _tidy(self)
        shared = [p for p in self.params if p.name in SHARED_ROOT_OPTIONS]
        for command in self.commands.values():
            _tidy(command)
            _share(command, shared)

    def collect_usage_pieces(self, ctx: Any) -> list[str]:
        return [*super().collect_usage_pieces(ctx), self.subcommand_metavar or "COMMAND [ARGS]..."]

    def format_options(self, ctx: Any, formatter: Any) -> None:
        super().format_options(ctx, formatter)
        self.format_commands(ctx, formatter)


def _share(command: Any, shared: list[Any]) -> None:
    """Add the root's ``-v``/``-q`` to ``command`` (and to every command of a group) once."""
    names = {p.name for p in command.params}
    command.params.extend(p for p in shared if p.name not in names)
    for sub in getattr(command, "commands", {}).values():
        _share(sub, shared)
