"""The one argv parser of the `aws lambda`-style commands, read from the command specs.

It runs without importing Typer (which alone costs ~50 ms, five times Python's own start-up) and
answers every mistake the way the AWS CLI's argparse does, in its words, with exit 252. The
Typer app hands its API commands' arguments to `parse_command` too, so both entry points accept
and refuse the same lines; only lambdactl's own commands (package, lint, serve, ...) are left to
Typer, and `parse` returns None for those.
"""

from __future__ import annotations

from ._options import (
    BINARY_FORMATS,
    COLORS,
    FLAG_OPTIONS,
    SKELETON,
    SKELETON_CHOICES,
    VALUE_OPTIONS,
    GlobalOptions,
)
from ._spec import CommandSpec, command, waiter_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    Parsed = tuple[CommandSpec | None, dict[str, Any], GlobalOptions, str | None]

HELP_FLAGS = frozenset({"-h", "--help"})
# lambdactl's own commands, parsed by their Typer modules.
OWN_COMMANDS = frozenset({"package", "package-layer", "lint", "serve", "logs", "doctor"})
# Command groups: `lambdactl GROUP SUBCOMMAND ...` (the event services will add theirs here).
GROUPS = ("wait",)


class Usage(Exception):
    """A line the CLI refuses before running anything: the AWS CLI's words, exit 252."""

    def __init__(self, message: str, *, plain: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.plain = plain  # printed as is after the usage lines (`Unknown options: ...`)


class Help:
    """`lambdactl help [COMMAND [SUBCOMMAND]]`, `lambdactl COMMAND help` or `--help`/`-h`."""

    def __init__(self, topic: list[str]) -> None:
        self.topic = topic



def columns(names: list[str] | tuple[str, ...]) -> str:
    """Choices two to a line, as the AWS CLI lists them."""
    rows = []
    for i in range(0, len(names), 2):
        pair = names[i:i + 2]
        rows.append((f"{pair[0]:<40} | {pair[1]}" if len(pair) == 2 else pair[0]).rstrip())
    return "\n".join(rows)


def invalid_choice(argument: str, value: str, valid: list[str] | tuple[str, ...]) -> Usage:
    text = f"argument {argument}: Invalid choice, valid choices are:\n\n{columns(valid)}\n"
    import difflib

    close = difflib.get_close_matches(value, valid, cutoff=0.8)  # as close as the AWS CLI asks
    if close:
        text += f"\n\nInvalid choice: '{value}', maybe you meant:\n\n" + "\n".join(f"  * {c}" for c in close)
    return Usage(text)


def command_names() -> list[str]:
    from ._spec import all_command_names

    return sorted([*all_command_names(), *GROUPS, *OWN_COMMANDS]) + ["help"]


def _waiter_names() -> list[str]:
    from ..api_model import WAITER_NAMES
    from ._spec import kebab

    return [kebab(n) for n in WAITER_NAMES]


CHOICES: dict[str, tuple[str, ...]] = {
    "--cli-binary-format": BINARY_FORMATS,
    "--color": COLORS,
}


def _check_choice(flag: str, value: str) -> None:
    if flag == "--output":
        from ._output import FORMATS

        valid: tuple[str, ...] = FORMATS
    else:
        valid = CHOICES.get(flag, ())
    if valid and value not in valid:
        raise invalid_choice(flag, value, valid)


def _value(argv: list[str], i: int, flag: str, inline: str | None) -> tuple[str, int]:
    """The value of a one-argument flag and the index after it; argparse's error without one."""
    if inline is not None:
        return inline, i + 1
    if i + 1 < len(argv) and not argv[i + 1].startswith("--"):
        return argv[i + 1], i + 2
    raise Usage(f"argument {flag}: expected one argument")


def help_topic(argv: list[str]) -> list[str] | None:
    """The words asking for help, if the line asks for it: `help` as the first word or right
    after the command (or group and subcommand), or `-h`/`--help` anywhere."""
    words: list[str] = []
    i = 0
    while i < len(argv):
        tok = argv[i]
        if tok.startswith("-"):
            if words:
                break  # the leading words end at the command's first flag
            if tok in VALUE_OPTIONS:
                i += 1  # a global option's value before the command
        else:
            words.append(tok)
        i += 1
    depth = 3 if words and words[0] in GROUPS else 2
    if "help" not in words[:depth] and not HELP_FLAGS.intersection(argv):
        return None
    return [w for w in words[:depth] if w != "help"]


def parse(argv: list[str]) -> Parsed | Help | None:
    """The whole line: global options, the command (or group and subcommand), its flags.
    None when the command is one of lambdactl's own (the Typer app parses those)."""
    topic = help_topic(argv)
    if topic is not None:
        return Help(topic)
    opts = GlobalOptions()
    i = 0
    n = len(argv)
    unknown: list[str] = []
    while i < n:
        tok = argv[i]
        if tok.startswith("--") and len(tok) > 2:
            i = _global(argv, i, opts, None, unknown)
            continue
        if tok in OWN_COMMANDS:
            return None
        if tok in GROUPS:
            if i + 1 >= n or argv[i + 1].startswith("-"):
                raise Usage("the following arguments are required: subcommand")
            sub = argv[i + 1]
            cmd = waiter_command(sub)
            if cmd is None:
                raise invalid_choice("subcommand", sub, _waiter_names())
            return parse_command(cmd, argv[i + 2:], opts, unknown)
        cmd = command(tok)
        if cmd is None:
            raise invalid_choice("command", tok, command_names())
        return parse_command(cmd, argv[i + 1:], opts, unknown)
    if unknown:
        raise Usage("Unknown options: " + ", ".join(unknown), plain=True)
    if opts.version:
        return None, {}, opts, None
    raise Usage("the following arguments are required: command")


def _global(argv: list[str], i: int, opts: GlobalOptions, cmd: CommandSpec | None, unknown: list[str]) -> int:
    """One global option at argv[i] (or an unknown flag, collected); the index after it."""
    tok = argv[i]
    name, eq, inline = tok.partition("=")
    if name in FLAG_OPTIONS:
        if eq:
            raise Usage(f"argument {name}: ignored explicit argument '{inline}'")
        setattr(opts, FLAG_OPTIONS[name], True)
        return i + 1
    if name == SKELETON:
        # An optional value, as in the AWS CLI: `--generate-cli-skeleton` alone means input.
        if eq:
            value = inline
        elif i + 1 < len(argv) and not argv[i + 1].startswith("-") and (cmd is not None or argv[i + 1] in SKELETON_CHOICES):
            value = argv[i + 1]
            i += 1
        else:
            value = "input"
        if value not in SKELETON_CHOICES:
            raise invalid_choice(SKELETON, value, SKELETON_CHOICES)
        opts.generate_cli_skeleton = value
        return i + 1
    if name in VALUE_OPTIONS:
        value, after = _value(argv, i, name, inline if eq else None)
        _check_choice(name, value)
        setattr(opts, VALUE_OPTIONS[name], value)
        return after
    unknown.append(tok)
    # What follows an unknown flag is not ours either, up to the next flag.
    i += 1
    while i < len(argv) and not argv[i].startswith("--"):
        unknown.append(argv[i])
        i += 1
    return i


def parse_command(cmd: CommandSpec, argv: list[str], opts: GlobalOptions | None = None,
                  unknown: list[str] | None = None) -> Parsed:
    """The arguments after the command's name (both entry points call this)."""
    opts = opts if opts is not None else GlobalOptions()
    unknown = unknown if unknown is not None else []
    raw: dict[str, Any] = {}
    outfile: str | None = None
    i = 0
    n = len(argv)
    while i < n:
        tok = argv[i]
        if tok.startswith("--") and len(tok) > 2:
            name, eq, inline = tok.partition("=")
            p = cmd.param(name)
            if p is None and name.startswith("--no-"):
                negated = cmd.param("--" + name[5:])
                if negated is not None and negated.is_bool:
                    if eq:
                        raise Usage(f"argument {name}: ignored explicit argument '{inline}'")
                    raw[negated.dest] = False
                    i += 1
                    continue
            if p is None:
                i = _global(argv, i, opts, cmd, unknown)
                continue
            if p.is_bool:
                if eq:
                    raise Usage(f"argument {name}: ignored explicit argument '{inline}'")
                raw[p.dest] = True
                i += 1
            elif p.is_list:
                values = [inline] if eq else []
                j = i + 1
                while not eq and j < n and not argv[j].startswith("--"):
                    values.append(argv[j])
                    j += 1
                if not values:
                    raise Usage(f"argument {name}: expected at least one argument")
                raw[p.dest] = values
                i = j
            else:
                raw[p.dest], i = _value(argv, i, name, inline if eq else None)
            continue
        if cmd.outfile and outfile is None:
            outfile = tok
        else:
            unknown.append(tok)
        i += 1
    if opts.generate_cli_skeleton is None and opts.cli_input_json is None and opts.cli_input_yaml is None:
        missing = [p.flag for p in cmd.params if p.required and p.dest not in raw]
        if cmd.outfile and outfile is None:
            missing.append("outfile")
        if missing:
            raise Usage("the following arguments are required: " + ", ".join(missing))
    elif cmd.outfile and outfile is None and opts.generate_cli_skeleton is None:
        raise Usage("the following arguments are required: outfile")
    if unknown:
        raise Usage("Unknown options: " + ", ".join(unknown), plain=True)
    return cmd, raw, opts, outfile


def refuse(exc: Usage) -> int:
    from ._errors import usage_error

    return usage_error(exc.message if exc.plain else f"lambdactl: error: {exc.message}")


def run_fast(argv: list[str]) -> int | None:
    try:
        parsed = parse(argv)
    except Usage as exc:
        return refuse(exc)
    if parsed is None:
        return None
    return run_parsed(parsed)


def run_parsed(parsed: Parsed | Help) -> int:
    """Help, the version, or the command; both entry points end here."""
    if isinstance(parsed, Help):
        from ._help import show_help

        return show_help(parsed.topic)
    cmd, raw, opts, outfile = parsed
    if cmd is None or opts.version:
        from . import version_string

        print(version_string())
        return 0
    from ._run import execute

    return execute(cmd, raw, opts, outfile)
