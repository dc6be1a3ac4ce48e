"""Generate man pages and shell completions from the CLI itself.

`python -m lambdactl.tools.gen_docs` rewrites `man/` and `completions/`; `--check` exits 1 when
the committed copies differ from what the CLI would generate (the test suite runs that).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..cli._options import FLAG_OPTIONS, GLOBAL_HELP, PAGINATION_HELP

if TYPE_CHECKING:
    from ..cli._spec import CommandSpec

ROOT = Path(__file__).resolve().parent.parent.parent


def _cli() -> Any:
    """lambdactl's own commands (package, lint, serve, ...), from the Typer app that runs them."""
    import typer.main

    from ..cli.app import build_own_app

    return typer.main.get_command(build_own_app())


def _api_specs() -> list[tuple[str, CommandSpec]]:
    """The `aws lambda`-style commands, by their full names (`wait function-active`)."""
    from ..cli._spec import all_commands, all_waiters

    out = [(s.name, s) for s in all_commands()] + [(f"wait {s.name}", s) for s in all_waiters()]
    return sorted(out, key=lambda kv: kv[0])


def _commands(group: Any) -> list[tuple[str, Any]]:
    """Every runnable command, sub-groups flattened (`logs tail`); a group that runs by itself
    (`serve`, whose options are the callback's) is listed before its subcommands."""
    out: list[tuple[str, Any]] = []
    for name, cmd in sorted(group.commands.items()):
        if hasattr(cmd, "commands"):
            if getattr(cmd, "invoke_without_command", False):
                out.append((name, cmd))
            out.extend((f"{name} {sub}", subcmd) for sub, subcmd in _commands(cmd))
        else:
            out.append((name, cmd))
    return out


def _options(cmd: Any) -> list[dict[str, Any]]:
    out = []
    for p in cmd.params:
        if getattr(p, "param_type_name", "") != "option" or getattr(p, "hidden", False):
            continue
        names = list(p.opts) + list(getattr(p, "secondary_opts", []))
        choices = getattr(getattr(p, "type_descriptor", None), "choices", None)
        out.append(
            {
                "names": names,
                "help": (getattr(p, "help", "") or "").strip(),
                "flag": bool(getattr(p, "is_flag", False)),
                "required": bool(p.required),
                "choices": [str(getattr(c, "value", c)) for c in choices] if choices else [],
            }
        )
    return out


def _arguments(cmd: Any) -> list[str]:
    return [p.name.upper() for p in cmd.params if getattr(p, "param_type_name", "") == "argument"]


def _roff(text: str) -> str:
    return text.replace("\\", "\\\\").replace("-", "\\-").replace("'", "\\(aq")


def _first_line(text: str | None) -> str:
    return ((text or "").strip().splitlines() or [""])[0]


def _examples_roff(rows: tuple[tuple[str, str], ...] | list[tuple[str, str]]) -> list[str]:
    out = [".SH EXAMPLES"]
    for what, line in rows:
        out += [".PP", _roff(what + ":"), ".PP", ".RS 4", ".nf", _roff(line), ".fi", ".RE"]
    return out


HEAD = '.TH {name} 1 "" "lambdactl ' + __version__ + '" "lambdactl manual"'


def _api_page(name: str, spec: CommandSpec) -> str:
    from ..cli._help import example_lines
    from ..cli._spec import choices, examples, placeholder, syntax_hint

    dashed = name.replace(" ", "-")
    body = [HEAD.format(name="LAMBDACTL-" + _roff(dashed.upper())), ".SH NAME",
            f"lambdactl\\-{_roff(dashed)} \\- {_roff(_first_line(spec.help) or name)}",
            ".SH SYNOPSIS", ".nf", f"\\fBlambdactl {_roff(name)}\\fR"]
    if spec.outfile:
        body.append("  \\fIoutfile\\fR")
    for p in spec.params:
        shown = f"{p.flag} | --no-{p.flag[2:]}" if p.is_bool else f"{p.flag} {placeholder(p.type)}"
        body.append("  " + _roff(shown if p.required else f"[{shown}]"))
    if spec.paginator:
        body += ["  " + _roff(f"[{flag} <value>]") for flag in PAGINATION_HELP]
    body += ["  [\\fIglobal options\\fR]", ".fi", ".SH DESCRIPTION", _roff(spec.help), ".SH OPTIONS"]
    if spec.outfile:
        body += [".TP", "\\fIoutfile\\fR (required)", "Where to write the response payload (\\(aq\\-\\(aq for stdout)."]
    for p in spec.params:
        head = f"{p.flag} | --no-{p.flag[2:]}" if p.is_bool else f"{p.flag} {placeholder(p.type)}"
        text = p.help if p.help and p.help != syntax_hint(p.type) else ""
        values = choices(p.type)
        if values:
            text += " Possible values: " + ", ".join(values) + "."
        elif isinstance(p.type, dict):
            from ..cli._help import shorthand

            text += " Shorthand syntax: " + shorthand(p.type) + "."
        body += [".TP", "\\fB" + _roff(head) + "\\fR" + (" (required)" if p.required else ""), _roff(text.strip())]
    for flag, text in (PAGINATION_HELP.items() if spec.paginator else ()):
        body += [".TP", "\\fB" + _roff(flag) + "\\fR \\fIvalue\\fR", _roff(text)]
    body += [".SH GLOBAL OPTIONS", "See \\fBlambdactl\\fR(1)."]
    body += _examples_roff([(what, "\n".join(example_lines(line, 4, 80))) for what, line in examples(spec)])
    body += [".SH SEE ALSO", "\\fBlambdactl\\fR(1)"]
    return "\n".join(body) + "\n"


def _own_page(name: str, cmd: Any) -> str:
    from ..cli._spec import OWN_EXAMPLES

    dashed = name.replace(" ", "-")
    args = " ".join(f"\\fI{a}\\fR" for a in _arguments(cmd))
    body = [HEAD.format(name="LAMBDACTL-" + _roff(dashed.upper())), ".SH NAME",
            f"lambdactl\\-{_roff(dashed)} \\- {_roff(_first_line(cmd.help) or name)}",
            ".SH SYNOPSIS", f".B lambdactl {_roff(name)}", f"[\\fIOPTIONS\\fR] {args}".rstrip(), ".SH DESCRIPTION",
            _roff((cmd.help or "").strip()), ".SH OPTIONS"]
    for opt in _options(cmd):
        body += [".TP", "\\fB" + _roff(", ".join(opt["names"])) + "\\fR" + ("" if opt["flag"] else " \\fIVALUE\\fR"),
                 _roff(opt["help"]) + (" (required)" if opt["required"] else "")]
    if name in OWN_EXAMPLES:
        body += _examples_roff(OWN_EXAMPLES[name])
    body += [".SH SEE ALSO", "\\fBlambdactl\\fR(1)"]
    return "\n".join(body) + "\n"


def man_pages() -> dict[str, str]:
    from ..cli._help import APP_HELP, SYNOPSIS

    cli = _cli()
    own = _commands(cli)
    api = _api_specs()
    names = sorted([n for n, _ in api] + [n for n, _ in own])
    pages: dict[str, str] = {}
    lines = [HEAD.format(name="LAMBDACTL"), ".SH NAME", "lambdactl \\- AWS Lambda on your own machine", ".SH SYNOPSIS",
             ".B lambdactl", _roff(SYNOPSIS.removeprefix("lambdactl ")), ".SH DESCRIPTION", _roff(APP_HELP),
             ".SH COMMANDS"]
    helps = {n: _first_line(s.help) for n, s in api} | {n: _first_line(c.help) for n, c in own}
    for name in names:
        lines += [".TP", f"\\fB{_roff(name)}\\fR", _roff(helps[name])]
    lines += [".SH GLOBAL OPTIONS"]
    for flag, text in GLOBAL_HELP.items():
        lines += [".TP", "\\fB" + _roff(flag) + "\\fR" + ("" if flag in FLAG_OPTIONS else " \\fIVALUE\\fR"), _roff(text)]
    lines += [".TP", "\\fB\\-\\-version\\fR", "Print the version and exit."]
    lines += [
        ".SH HELP", "\\fBlambdactl help\\fR, \\fBlambdactl help\\fR \\fICOMMAND\\fR, \\fBlambdactl\\fR \\fICOMMAND\\fR "
        "\\fBhelp\\fR and \\fB\\-\\-help\\fR print help as the AWS CLI does.",
        ".SH ENVIRONMENT", ".TP", "\\fBLAMBDACTL_HOME\\fR",
        "Directory of the registry, code blobs and config.toml (default: the user data directory).",
        ".SH EXIT STATUS",
        "0 success; 252 usage or parameter error; 254 the service answered with an error; 255 other failures; 130 interrupted. "
        "\\fBlint\\fR exits 1 when it finds errors and 2 on usage errors.",
    ]
    lines += _examples_roff([("Create a function, invoke it and read its log",
                              "lambdactl create-function --function-name my-function --runtime python3.12 \\\n"
                              "  --handler app.handler --role arn:aws:iam::123456789012:role/r --zip-file fileb://f.zip\n"
                              "lambdactl invoke --function-name my-function out.json\n"
                              "lambdactl logs tail my-function")])
    lines += [".SH SEE ALSO", ", ".join(f"\\fBlambdactl\\-{_roff(n.replace(' ', '-'))}\\fR(1)" for n in names)]
    pages["lambdactl.1"] = "\n".join(lines) + "\n"
    for name, spec in api:
        pages[f"lambdactl-{name.replace(' ', '-')}.1"] = _api_page(name, spec)
    for name, cmd in own:
        pages[f"lambdactl-{name.replace(' ', '-')}.1"] = _own_page(name, cmd)
    return pages


def lint_rules_page() -> str:
    """lambdactl-lint-rules(7): every rule of `lambdactl lint`, from the rule registry."""
    from ..packaging.rules import RULES

    lines = [f'.TH LAMBDACTL-LINT-RULES 7 "" "lambdactl {__version__}" "lambdactl manual"', ".SH NAME",
             "lambdactl\\-lint\\-rules \\- what lambdactl lint checks in a deployment zip", ".SH DESCRIPTION",
             "Each finding names a rule by its stable id. Errors make \\fBlambdactl lint\\fR exit 1; warnings and "
             "notes do not. Select or ignore rules with \\fB\\-\\-select\\fR and \\fB\\-\\-ignore\\fR.", ".SH RULES"]
    for rule_id in sorted(RULES):
        r = RULES[rule_id]
        lines += [".TP", f"\\fB{r.id}\\fR {_roff(r.name)} ({r.severity})", _roff(r.summary),
                  ".br", "Why: " + _roff(" ".join(r.why.split())), ".br", "Fix: " + _roff(r.fix)]
    lines += [".SH SEE ALSO", "\\fBlambdactl\\-lint\\fR(1)"]
    return "\n".join(lines) + "\n"


# Flags whose values come from the registry, through the hidden `lambdactl __complete`.
REGISTRY_VALUES = {"--function-name": "functions", "--qualifier": "qualifiers"}
# Flags that take a file's contents: complete `fileb://`/`file://`, then the path after it.
FILE_FLAGS = ("--zip-file", "--payload", "--cli-input-json", "--cli-input-yaml", "--environment", "--client-context")


def _value_table() -> dict[str, list[str]]:
    """Flag -> the values it takes, for every flag with a fixed set (globals, the model's enums,
    lambdactl's own commands' choices)."""
    from ..cli._options import BINARY_FORMATS, COLORS, SKELETON, SKELETON_CHOICES
    from ..cli._output import FORMATS
    from ..cli._spec import choices
    from ..models import SUPPORTED_RUNTIMES

    table: dict[str, set[str]] = {"--output": set(FORMATS), "--cli-binary-format": set(BINARY_FORMATS),
                                  "--color": set(COLORS), SKELETON: set(SKELETON_CHOICES)}
    for _, spec in _api_specs():
        for p in spec.params:
            values = choices(p.type)
            if values:
                if p.member in ("Runtime", "CompatibleRuntimes"):
                    values = tuple(sorted(SUPPORTED_RUNTIMES))
                table.setdefault(p.flag, set()).update(values)
    for _, cmd in _commands(_cli()):
        for opt in _options(cmd):
            for name in opt["names"]:
                if opt["choices"]:
                    table.setdefault(name, set()).update(opt["choices"])
    return {flag: sorted(values) for flag, values in sorted(table.items())}


def _words() -> dict[str, list[str]]:
    """First word -> what may follow it: flags, and a group's subcommands."""
    per_cmd: dict[str, set[str]] = {}
    for name, spec in _api_specs():
        top, _, sub = name.partition(" ")
        words = per_cmd.setdefault(top, set())
        words.update(p.flag for p in spec.params)
        words.update(f"--no-{p.flag[2:]}" for p in spec.params if p.is_bool)
        if spec.paginator:
            words.update(PAGINATION_HELP)
        if sub:
            words.add(sub)
    for name, cmd in _commands(_cli()):
        top, _, sub = name.partition(" ")
        words = per_cmd.setdefault(top, set())
        words.update(n for o in _options(cmd) for n in o["names"] if n.startswith("--"))
        if sub:
            words.add(sub)
    return {name: sorted(words) for name, words in sorted(per_cmd.items())}


def _helps() -> dict[str, str]:
    out = {name.partition(" ")[0]: _first_line(spec.help) for name, spec in _api_specs() if " " not in name}
    out["wait"] = "Wait until a function reaches a state."
    for name, cmd in _commands(_cli()):
        top = name.partition(" ")[0]
        out.setdefault(top, _first_line(cmd.help) if " " not in name else f"{top} commands")
    return dict(sorted(out.items()))


def completions() -> dict[str, str]:
    per_cmd = _words()
    values = _value_table()
    helps = _helps()
    global_opts = sorted([*GLOBAL_HELP, "--version"])
    value_globals = " ".join(f for f in GLOBAL_HELP if f not in FLAG_OPTIONS)
    names = " ".join([*per_cmd, "help"])
    return {"lambdactl.bash": _bash(per_cmd, values, names, global_opts, value_globals),
            "_lambdactl": _zsh(per_cmd, values, helps, global_opts),
            "lambdactl.fish": _fish(per_cmd, values, helps, global_opts)}


def _bash(per_cmd: dict[str, list[str]], values: dict[str, list[str]], names: str, global_opts: list[str],
          value_globals: str) -> str:
    files = "|".join(FILE_FLAGS)
    bash = [
        "# bash completion for lambdactl (generated by python -m lambdactl.tools.gen_docs)",
        "",
        "# Paths after a file:// or fileb:// prefix; folders end in / and take no space.",
        "_lambdactl_files() {",
        "    local IFS=$'\\n' f",
        "    COMPREPLY=()",
        '    for f in $(compgen -f -- "$2"); do',
        '        [[ -d "$f" ]] && f="$f/"',
        '        COMPREPLY+=("$1$f")',
        "    done",
        "    compopt -o nospace 2>/dev/null",
        "}",
        "",
        "# The value of a flag given earlier on the line (for --qualifier: the function).",
        "_lambdactl_flag_value() {",
        "    local i",
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        [[ "${COMP_WORDS[i]}" == "$1" ]] && { echo "${COMP_WORDS[i+1]}"; return; }',
        "    done",
        "}",
        "",
        "_lambdactl() {",
        "    local cur prev cmd i home",
        "    COMPREPLY=()",
        '    cur="${COMP_WORDS[COMP_CWORD]}"',
        '    prev="${COMP_WORDS[COMP_CWORD-1]}"',
        '    cmd=""',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in',
        f'            {value_globals.replace(" ", "|")}) ((i++)) ;;',
        "            -*) ;;",
        '            *) cmd="${COMP_WORDS[i]}"; break ;;',
        "        esac",
        "    done",
        '    case "$cur" in',
        '        fileb://*) _lambdactl_files fileb:// "${cur#fileb://}"; return ;;',
        '        file://*) _lambdactl_files file:// "${cur#file://}"; return ;;',
        "    esac",
        '    home=$(_lambdactl_flag_value --home)',
        '    case "$prev" in',
    ]
    for flag, words in values.items():
        bash.append(f'        {flag}) COMPREPLY=($(compgen -W "{" ".join(words)}" -- "$cur")); return ;;')
    bash += [
        "        --function-name)",
        '            COMPREPLY=($(compgen -W "$(lambdactl __complete functions ${home:+--home "$home"} 2>/dev/null)" -- "$cur"))',
        "            return ;;",
        "        --qualifier)",
        '            COMPREPLY=($(compgen -W "$(lambdactl __complete qualifiers "$(_lambdactl_flag_value --function-name)" '
        '${home:+--home "$home"} 2>/dev/null)" -- "$cur"))',
        "            return ;;",
        f"        {files})",
        '            COMPREPLY=($(compgen -W "fileb:// file://" -- "$cur"))',
        "            compopt -o nospace 2>/dev/null",
        "            return ;;",
        "        --home|--code-dir) COMPREPLY=($(compgen -d -- \"$cur\")); return ;;",
        "    esac",
        '    if [[ -z "$cmd" ]]; then',
        f'        COMPREPLY=($(compgen -W "{names} {" ".join(global_opts)}" -- "$cur"))',
        "        return",
        "    fi",
        '    case "$cmd" in',
    ]
    for name, opts in per_cmd.items():
        bash.append(f'        {name}) COMPREPLY=($(compgen -W "{" ".join(opts)} {" ".join(global_opts)}" -- "$cur")) ;;')
    bash += ["    esac",
             '    [[ "$cur" != -* && "$cmd" != "help" ]] && COMPREPLY+=($(compgen -f -- "$cur"))',
             '    [[ "$cmd" == "help" ]] && COMPREPLY=($(compgen -W "' + names + '" -- "$cur"))',
             "    return 0",
             "}",
             "complete -o filenames -F _lambdactl lambdactl", ""]
    return "\n".join(bash)


def _zsh_escape(text: str) -> str:
    return text.replace("'", "'\\''").replace(":", "\\:").replace("[", "\\[").replace("]", "\\]")


def _zsh(per_cmd: dict[str, list[str]], values: dict[str, list[str]], helps: dict[str, str], global_opts: list[str]) -> str:
    zsh = ["#compdef lambdactl", "# zsh completion for lambdactl (generated by python -m lambdactl.tools.gen_docs)", "",
           "_lambdactl_registry() {",
           "    local -a names",
           '    names=(${(f)"$(lambdactl __complete "$@" 2>/dev/null)"})',
           "    compadd -a names",
           "}", "",
           "_lambdactl_values() {",
           "    case $1 in"]
    for flag, words in values.items():
        zsh.append(f"        {flag}) compadd -- {' '.join(words)} ;;")
    zsh += ["        --function-name) _lambdactl_registry functions ;;",
            "        --qualifier) _lambdactl_registry qualifiers ${words[${words[(i)--function-name]}+1]} ;;",
            "        " + "|".join(FILE_FLAGS) + ")",
            "            if [[ $PREFIX == fileb://* || $PREFIX == file://* ]]; then",
            "                compset -P '*://'; _files",
            "            else",
            "                compadd -S '' -- fileb:// file://",
            "            fi ;;",
            "        *) _files ;;",
            "    esac",
            "}", "",
            "_lambdactl() {", "    local -a commands", "    commands=("]
    for name, text in helps.items():
        zsh.append(f"        '{name}:{_zsh_escape(text)}'")
    zsh += ["        'help:Show help for lambdactl or a command'", "    )",
            "    if (( CURRENT == 2 )); then", "        _describe 'command' commands", "        return", "    fi",
            "    if [[ ${words[CURRENT-1]} == --* && ${words[CURRENT-1]} != --no-* ]]; then",
            "        case ${words[CURRENT-1]} in",
            "            " + "|".join(f for f in global_opts if f in FLAG_OPTIONS or f == "--version") + ") ;;",
            "            *) _lambdactl_values ${words[CURRENT-1]}; return ;;",
            "        esac",
            "    fi",
            "    case ${words[2]} in",
            "        help) _describe 'command' commands ;;"]
    for name, opts in per_cmd.items():
        zsh.append(f"        {name}) compadd -- {' '.join(opts)} {' '.join(global_opts)} ;;")
    zsh += ["    esac", "}", "", 'compdef _lambdactl lambdactl', ""]
    return "\n".join(zsh)


def _fish(per_cmd: dict[str, list[str]], values: dict[str, list[str]], helps: dict[str, str], global_opts: list[str]) -> str:
    fish = ["# fish completion for lambdactl (generated by python -m lambdactl.tools.gen_docs)",
            "function __lambdactl_registry",
            "    set -l tokens (commandline -opc)",
            "    set -l fn (contains -i -- --function-name $tokens)",
            "    if test \"$argv[1]\" = qualifiers; and test -n \"$fn\"",
            "        lambdactl __complete qualifiers $tokens[(math $fn + 1)] 2>/dev/null",
            "    else if test \"$argv[1]\" = functions",
            "        lambdactl __complete functions 2>/dev/null",
            "    end",
            "end",
            "function __lambdactl_files",
            "    set -l tok (commandline -ct)",
            "    set -l prefix (string match -r '^fileb?://' -- $tok)",
            "    if test -z \"$prefix\"",
            "        printf '%s\\n' fileb:// file://",
            "    else",
            "        __fish_complete_path (string replace -r '^fileb?://' '' -- $tok) | string replace -r '^' $prefix",
            "    end",
            "end"]
    for name, text in helps.items():
        fish.append(f"complete -c lambdactl -n '__fish_use_subcommand' -f -a '{name}' -d '{text.replace(chr(39), chr(92) + chr(39))}'")
    fish.append("complete -c lambdactl -n '__fish_use_subcommand' -f -a 'help' -d 'Show help'")
    for flag in global_opts:
        takes = flag not in FLAG_OPTIONS and flag != "--version"
        line = f"complete -c lambdactl -l '{flag[2:]}'" + (" -r" if takes else "")
        if flag in values:
            line += f" -f -a '{' '.join(values[flag])}'"
        fish.append(line)
    for name, opts in per_cmd.items():
        for o in opts:
            cond = f"__fish_seen_subcommand_from {name}"
            if not o.startswith("--"):
                fish.append(f"complete -c lambdactl -n '{cond}' -f -a '{o}'")
                continue
            line = f"complete -c lambdactl -n '{cond}' -l '{o[2:]}'"
            if o in values:
                line += f" -r -f -a '{' '.join(values[o])}'"
            elif o in REGISTRY_VALUES:
                line += f" -r -f -a '(__lambdactl_registry {REGISTRY_VALUES[o]})'"
            elif o in FILE_FLAGS:
                line += " -r -f -a '(__lambdactl_files)'"
            fish.append(line)
    fish.append("")
    return "\n".join(fish)


def generated() -> dict[Path, str]:
    out = {ROOT / "man" / name: text for name, text in man_pages().items()}
    out[ROOT / "man" / "lambdactl-lint-rules.7"] = lint_rules_page()
    out.update({ROOT / "completions" / name: text for name, text in completions().items()})
    return out


def stale(files: dict[Path, str]) -> list[str]:
    problems = []
    for path, text in files.items():
        if not path.exists() or path.read_text(encoding="utf-8") != text:
            problems.append(str(path.relative_to(ROOT)))
    for folder in ("man", "completions"):
        for path in (ROOT / folder).glob("*"):
            if path not in files:
                problems.append(f"{path.relative_to(ROOT)} (no longer generated)")
    return problems


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    files = generated()
    if "--check" in args:
        problems = stale(files)
        for p in problems:
            print(f"stale: {p}", file=sys.stderr)
        return 1 if problems else 0
    for folder in ("man", "completions"):
        (ROOT / folder).mkdir(exist_ok=True)
        for path in (ROOT / folder).glob("*"):
            if path not in files:
                path.unlink()
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")
    print(f"wrote {len(files)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
