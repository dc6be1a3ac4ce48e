"""The lean path for `aws lambda`-style commands: tokenise argv against the command's spec and run
it, without importing Typer (which alone costs ~50 ms, five times Python's own start-up).

It declines (returns None) whenever the line needs help text, names something unknown or is
malformed, and the Typer app then handles the line and prints the usage error or help.
"""

from __future__ import annotations

from ._options import FLAG_OPTIONS, SKELETON, SKELETON_CHOICES, VALUE_OPTIONS, GlobalOptions
from ._spec import CommandSpec, command, waiter_command

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

HELP_TOKENS = frozenset({"-h", "--help", "help"})


def tokenize(argv: list[str]) -> tuple[CommandSpec | None, dict[str, Any], GlobalOptions, str | None] | None:
    opts = GlobalOptions()
    cmd: CommandSpec | None = None
    raw: dict[str, Any] = {}
    outfile: str | None = None
    waiting = False  # `wait NAME ...`
    i = 0
    n = len(argv)
    while i < n:
        tok = argv[i]
        if tok in HELP_TOKENS:
            return None
        if tok.startswith("--") and len(tok) > 2:
            name, eq, inline = tok.partition("=")
            if name in FLAG_OPTIONS and not eq:
                setattr(opts, FLAG_OPTIONS[name], True)
                i += 1
                continue
            if name == SKELETON:
                if eq:
                    opts.generate_cli_skeleton = inline
                elif i + 1 < n and argv[i + 1] in SKELETON_CHOICES:
                    opts.generate_cli_skeleton = argv[i + 1]
                    i += 1
                else:
                    opts.generate_cli_skeleton = "input"
                i += 1
                continue
            if name in VALUE_OPTIONS and not (cmd and cmd.param(name)):
                if eq:
                    value = inline
                elif i + 1 < n:
                    value = argv[i + 1]
                    i += 1
                else:
                    return None
                setattr(opts, VALUE_OPTIONS[name], value)
                i += 1
                continue
            if cmd is None:
                return None
            p = cmd.param(name)
            if p is None and name.startswith("--no-"):
                p = cmd.param("--" + name[5:])
                if p is not None and p.is_bool and not eq:
                    raw[p.dest] = False
                    i += 1
                    continue
                return None
            if p is None:
                return None
            if p.is_bool:
                if eq:
                    return None
                raw[p.dest] = True
                i += 1
                continue
            if p.is_list:
                values = [inline] if eq else []
                j = i + 1
                while not eq and j < n and not argv[j].startswith("--"):
                    values.append(argv[j])
                    j += 1
                if not values:
                    return None
                raw[p.dest] = values
                i = j
                continue
            if eq:
                raw[p.dest] = inline
            elif i + 1 < n:
                raw[p.dest] = argv[i + 1]
                i += 1
            else:
                return None
            i += 1
            continue
        if cmd is None:
            if tok == "wait" and not waiting:
                waiting = True
                i += 1
                continue
            cmd = waiter_command(tok) if waiting else command(tok)
            if cmd is None:
                return None
        elif cmd.outfile and outfile is None:
            outfile = tok
        else:
            return None
        i += 1
    if cmd is not None and cmd.outfile and outfile is None and opts.generate_cli_skeleton is None:
        return None
    if waiting and cmd is None:
        return None
    return cmd, raw, opts, outfile


def run_fast(argv: list[str]) -> int | None:
    parsed = tokenize(argv)
    if parsed is None:
        return None
    cmd, raw, opts, outfile = parsed
    if cmd is None:
        if opts.version:
            from . import version_string

            print(version_string())
            return 0
        return None
    from ._run import execute

    return execute(cmd, raw, opts, outfile)
