"""`lambdactl help`, `lambdactl help COMMAND`, `lambdactl COMMAND help` and `--help`, laid out
like the AWS CLI's help pages and wrapped to the terminal (80 columns when piped)."""

from __future__ import annotations

import json
import shutil
import textwrap

from ._options import FLAG_OPTIONS, GLOBAL_HELP, PAGINATION_HELP
from ._spec import CommandSpec, choices, examples, placeholder, syntax_hint

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

APP_HELP = (
    "AWS Lambda on your own machine. The commands, flags, JSON shapes and error codes are those "
    "of `aws lambda`; state lives in LAMBDACTL_HOME."
)
SYNOPSIS = "lambdactl [options] <command> [<subcommand> ...] [parameters]"
WAIT_HELP = ("Wait until a function reaches a state, polling as the AWS CLI's waiters do "
             "(silent on success; exit 255 on failure or after the last attempt).")


def width() -> int:
    return max(40, min(shutil.get_terminal_size((80, 24)).columns, 100))


def _para(text: str, indent: int) -> list[str]:
    pad = " " * indent
    return textwrap.wrap(text, width() - 1, initial_indent=pad, subsequent_indent=pad,
                         break_on_hyphens=False, break_long_words=False) or [""]


def shorthand(type_: Any, top: bool = True) -> str:
    """The shorthand syntax of a structure, map or list, as the AWS CLI's help shows it."""
    if isinstance(type_, dict):
        if "structure" in type_:
            inner = ",".join(f"{k}={shorthand(v, False)}" for k, v in type_["structure"].items())
            return inner if top else "{" + inner + "}"
        if "map" in type_:
            v = shorthand(type_["map"], False)
            inner = f"KeyName1={v},KeyName2={v}"
            return inner if top else "{" + inner + "}"
        if "list" in type_:
            item = shorthand(type_["list"], False)
            return f"{item} {item}" if top else f"[{item},{item}]"
        if "enum" in type_:
            return "string"
    return {"long": "integer", "float": "double"}.get(str(type_), str(type_))


def _shorthand_lines(type_: Any) -> list[str]:
    """`Shorthand syntax: A=string,B=integer`, one member a line when it does not fit."""
    text = "Shorthand syntax: " + shorthand(type_)
    if len(text) + 8 < width() or "structure" not in type_:
        return _para(text, 8)
    members = [f"{k}={shorthand(v, False)}" for k, v in type_["structure"].items()]
    return ["        Shorthand syntax:"] + [f"          {m}," for m in members[:-1]] + [f"          {members[-1]}"]


def json_sample(type_: Any) -> Any:
    if isinstance(type_, dict):
        if "structure" in type_:
            return {k: json_sample(v) for k, v in type_["structure"].items()}
        if "map" in type_:
            return {"string": json_sample(type_["map"])}
        if "list" in type_:
            return [json_sample(type_["list"])]
        if "enum" in type_:
            return "|".join(type_["enum"]) if len(type_["enum"]) <= 6 else "string"
    return {"integer": 0, "long": 0, "double": 0.0, "float": 0.0, "boolean": True}.get(str(type_), str(type_))


def command_help(spec: CommandSpec) -> str:
    full = f"wait {spec.name}" if spec.waiter else spec.name
    out = ["NAME", *_para(f"{full} - {spec.help}", 4), "", "SYNOPSIS", f"    lambdactl {full}"]
    if spec.outfile:
        out.append("      <outfile>")
    for p in spec.params:
        shown = f"{p.flag} | --no-{p.flag[2:]}" if p.is_bool else f"{p.flag} {placeholder(p.type)}"
        out.append(f"      {shown}" if p.required else f"      [{shown}]")
    if spec.paginator:
        out += [f"      [{flag} <{'string' if flag == '--starting-token' else 'integer'}>]" for flag in PAGINATION_HELP]
    out += ["      [global options]", "", "OPTIONS"]
    if spec.outfile:
        out += ["    outfile <string> (required)", *_para("Where to write the response payload ('-' for stdout).", 8), ""]
    for p in spec.params:
        head = f"{p.flag} | --no-{p.flag[2:]} (boolean)" if p.is_bool else f"{p.flag} {placeholder(p.type)}"
        out.append(f"    {head}" + (" (required)" if p.required else ""))
        if p.help and p.help != syntax_hint(p.type):
            out += _para(p.help, 8)
        values = choices(p.type)
        if values:
            out += _para("Possible values: " + ", ".join(values), 8)
        if isinstance(p.type, dict) and not values:
            out += _shorthand_lines(p.type)
            if "list" not in p.type or isinstance(p.type["list"], dict):
                out += _para("JSON syntax: " + json.dumps(json_sample(p.type)), 8)
        out.append("")
    for flag, text in (PAGINATION_HELP.items() if spec.paginator else ()):
        out += [f"    {flag} <{'string' if flag == '--starting-token' else 'integer'}>", *_para(text, 8), ""]
    out += ["GLOBAL OPTIONS", *_para("--output, --query, --home, --endpoint-url, --region and the rest: "
                                     "see `lambdactl help`.", 4), "", "EXAMPLES"]
    for what, line in examples(spec):
        out += _para(what + ":", 4) + [""] + example_lines(line, 6) + [""]
    return "\n".join(out).rstrip() + "\n"


def example_lines(line: str, indent: int, cols: int | None = None) -> list[str]:
    """A command line broken before its flags, with shell continuations, to fit the width."""
    cols = cols or width()
    parts = line.replace(" --", "\0--").split("\0")
    rows: list[str] = []
    current = parts[0]
    for part in parts[1:]:
        if indent + len(current) + len(part) + 3 > cols:
            rows.append(current)
            current = "  " + part
        else:
            current += " " + part
    rows.append(current)
    pad = " " * indent
    return [pad + r + " \\" for r in rows[:-1]] + [pad + rows[-1]]


def _global_lines() -> list[str]:
    out = []
    for flag, text in GLOBAL_HELP.items():
        out.append(f"    {flag}" if flag in FLAG_OPTIONS else f"    {flag} <string>")
        out += _para(text, 8)
    out.append("    --version")
    out += _para("Print the version and exit.", 8)
    return out


def _listing(rows: list[tuple[str, str]]) -> list[str]:
    out = []
    for name, text in rows:
        out.append(f"    {name}")
        out += _para(text, 8)
    return out


def top_help() -> str:
    from ._spec import all_commands

    out = ["NAME", *_para("lambdactl - " + APP_HELP, 4), "", "SYNOPSIS", f"    {SYNOPSIS}", "",
           "LAMBDA COMMANDS"]
    out += _listing([(s.name, s.help) for s in all_commands()] + [("wait", WAIT_HELP)])
    out += ["", "LAMBDACTL COMMANDS"]
    out += _listing(own_commands())
    out += ["", "GLOBAL OPTIONS", *_global_lines(), "", "See `lambdactl <command> help` for a command's flags."]
    return "\n".join(out) + "\n"


def own_commands() -> list[tuple[str, str]]:
    """lambdactl's own commands with their one-line help, from the Typer app that runs them."""
    import typer.main

    from .app import build_own_app

    group = typer.main.get_command(build_own_app())
    rows = []
    for name, cmd in sorted(group.commands.items()):  # type: ignore[attr-defined]
        rows.append((name, ((cmd.help or "").strip().splitlines() or [""])[0]))
    return rows


def wait_help() -> str:
    from ._spec import all_waiters

    out = ["NAME", *_para("wait - " + WAIT_HELP, 4), "", "SYNOPSIS", "    lambdactl wait <subcommand> [parameters]", "",
           "SUBCOMMANDS"]
    out += _listing([(s.name, s.help) for s in all_waiters()])
    return "\n".join(out) + "\n"


def show_help(topic: list[str]) -> int:
    import sys

    from ._spec import command, waiter_command
    from .fast import OWN_COMMANDS, Usage, command_names, invalid_choice, refuse

    try:
        if not topic:
            text = top_help()
        elif topic[0] in OWN_COMMANDS:
            from .main import run_typer

            return run_typer([*topic, "--help"])
        elif topic[0] == "wait":
            if len(topic) == 1:
                text = wait_help()
            else:
                spec = waiter_command(topic[1])
                if spec is None:
                    from .fast import _waiter_names

                    raise invalid_choice("subcommand", topic[1], _waiter_names())
                text = command_help(spec)
        else:
            found = command(topic[0])
            if found is None:
                raise invalid_choice("command", topic[0], command_names())
            text = command_help(found)
    except Usage as exc:
        return refuse(exc)
    try:
        sys.stdout.write(text)
    except BrokenPipeError:
        pass
    return 0
