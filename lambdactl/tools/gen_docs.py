"""Generate man pages and shell completions from the CLI itself.

`python -m lambdactl.tools.gen_docs` rewrites `man/` and `completions/`; `--check` exits 1 when
the committed copies differ from what the CLI would generate (the test suite runs that).
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from .. import __version__

ROOT = Path(__file__).resolve().parent.parent.parent


def _cli() -> Any:
    import typer.main

    from ..cli.app import build_app

    return typer.main.get_command(build_app())


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
        out.append(
            {
                "names": names,
                "help": (getattr(p, "help", "") or "").strip(),
                "flag": bool(getattr(p, "is_flag", False)),
                "required": bool(p.required),
                "panel": getattr(p, "rich_help_panel", None) or "",
            }
        )
    return out


def _arguments(cmd: Any) -> list[str]:
    return [p.name.upper() for p in cmd.params if getattr(p, "param_type_name", "") == "argument"]


def _roff(text: str) -> str:
    return text.replace("\\", "\\\\").replace("-", "\\-").replace("'", "\\(aq")


def man_pages() -> dict[str, str]:
    cli = _cli()
    pages: dict[str, str] = {}
    head = f'.TH {{name}} 1 "" "lambdactl {__version__}" "lambdactl manual"\n'
    lines = [head.format(name="LAMBDACTL"), ".SH NAME", "lambdactl \\- AWS Lambda on your own machine", ".SH SYNOPSIS",
             ".B lambdactl", "[\\fIGLOBAL OPTIONS\\fR] \\fICOMMAND\\fR [\\fIPARAMETERS\\fR]", ".SH DESCRIPTION",
             _roff(cli.help or ""), ".SH COMMANDS"]
    for name, cmd in _commands(cli):
        lines += [".TP", f"\\fB{_roff(name)}\\fR", _roff((cmd.help or "").strip().splitlines()[0] if cmd.help else "")]
    lines += [".SH GLOBAL OPTIONS"]
    for opt in _options(cli):
        lines += [".TP", "\\fB" + _roff(", ".join(opt["names"])) + "\\fR", _roff(opt["help"])]
    lines += [
        ".SH ENVIRONMENT", ".TP", "\\fBLAMBDACTL_HOME\\fR",
        "Directory of the registry, code blobs and config.toml (default: the user data directory).",
        ".SH EXIT STATUS",
        "0 success; 252 usage or parameter error; 254 the service answered with an error; 255 other failures; 130 interrupted. "
        "\\fBlint\\fR exits 1 when it finds errors and 2 on usage errors.",
        ".SH SEE ALSO", ", ".join(f"\\fBlambdactl\\-{_roff(n.replace(' ', '-'))}\\fR(1)" for n, _ in _commands(cli)),
    ]
    pages["lambdactl.1"] = "\n".join(lines) + "\n"
    for name, cmd in _commands(cli):
        args = " ".join(f"\\fI{a}\\fR" for a in _arguments(cmd))
        body = [head.format(name="LAMBDACTL-" + _roff(name.replace(" ", "-").upper())), ".SH NAME",
                f"lambdactl\\-{_roff(name.replace(' ', '-'))} \\- {_roff((cmd.help or '').strip().splitlines()[0] if cmd.help else name)}",
                ".SH SYNOPSIS", f".B lambdactl {_roff(name)}", f"[\\fIOPTIONS\\fR] {args}".rstrip(), ".SH DESCRIPTION",
                _roff((cmd.help or "").strip()), ".SH OPTIONS"]
        for opt in _options(cmd):
            label = ", ".join(opt["names"]) + ("" if opt["flag"] else " \\fIVALUE\\fR")
            body += [".TP", "\\fB" + _roff(", ".join(opt["names"])) + "\\fR" + ("" if opt["flag"] else " \\fIVALUE\\fR"),
                     _roff(opt["help"]) + (" (required)" if opt["required"] else "")]
            del label
        body += [".SH SEE ALSO", "\\fBlambdactl\\fR(1)"]
        pages[f"lambdactl-{name.replace(' ', '-')}.1"] = "\n".join(body) + "\n"
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


def completions() -> dict[str, str]:
    cli = _cli()
    cmds = _commands(cli)
    global_opts = sorted({n for o in _options(cli) for n in o["names"] if n.startswith("--")})
    # Keyed by the first word: a group (`logs`) completes its subcommands and their options.
    per_cmd: dict[str, list[str]] = {}
    for name, cmd in cmds:
        top, _, sub = name.partition(" ")
        words = set(per_cmd.get(top, [])) | {n for o in _options(cmd) for n in o["names"] if n.startswith("--")}
        if sub:
            words.add(sub)
        per_cmd[top] = sorted(words)
    names = " ".join(per_cmd)

    bash = [
        "# bash completion for lambdactl (generated by python -m lambdactl.tools.gen_docs)",
        "_lambdactl() {",
        "    local cur cmd i",
        '    cur="${COMP_WORDS[COMP_CWORD]}"',
        '    cmd=""',
        "    for ((i = 1; i < COMP_CWORD; i++)); do",
        '        case "${COMP_WORDS[i]}" in -*) ;; *) cmd="${COMP_WORDS[i]}"; break ;; esac',
        "    done",
        '    if [[ -z "$cmd" ]]; then',
        f'        COMPREPLY=($(compgen -W "{names} {" ".join(global_opts)}" -- "$cur"))',
        "        return",
        "    fi",
        '    case "$cmd" in',
    ]
    for name, opts in per_cmd.items():
        bash.append(f'        {name}) COMPREPLY=($(compgen -W "{" ".join(opts)}" -- "$cur")) ;;')
    bash += ["    esac", '    [[ "$cur" != -* ]] && COMPREPLY+=($(compgen -f -- "$cur"))', "}",
             "complete -o filenames -F _lambdactl lambdactl", ""]

    zsh = ["#compdef lambdactl", "# zsh completion for lambdactl (generated by python -m lambdactl.tools.gen_docs)", "",
           "_lambdactl() {", "    local -a commands", "    commands=("]
    for name, cmd in cmds:
        if " " in name:
            continue
        first = ((cmd.help or "").strip().splitlines() or [""])[0].replace("'", "'\\''").replace(":", "\\:")
        zsh.append(f"        '{name}:{first}'")
    for group in sorted({n.partition(" ")[0] for n, _ in cmds if " " in n}):
        zsh.append(f"        '{group}:{group} commands'")
    zsh += ["    )", "    if (( CURRENT == 2 )); then", "        _describe 'command' commands", "        return", "    fi",
            "    case ${words[2]} in"]
    for name, opts in per_cmd.items():
        zsh.append(f"        {name}) _arguments '*:file:_files' " + " ".join(f"'{o}[]'" for o in opts if o.startswith("--")) + " ;;")
    zsh += ["    esac", "}", "", 'compdef _lambdactl lambdactl', ""]

    fish = ["# fish completion for lambdactl (generated by python -m lambdactl.tools.gen_docs)"]
    for name in per_cmd:
        cmd = dict(cmds).get(name)
        first = ((cmd.help or "").strip().splitlines() or [""])[0].replace("'", "\\'") if cmd else f"{name} commands"
        fish.append(f"complete -c lambdactl -n '__fish_use_subcommand' -f -a '{name}' -d '{first}'")
    for name, opts in per_cmd.items():
        for o in opts:
            if o.startswith("--"):
                fish.append(f"complete -c lambdactl -n '__fish_seen_subcommand_from {name}' -l '{o[2:]}'")
            else:
                fish.append(f"complete -c lambdactl -n '__fish_seen_subcommand_from {name}' -f -a '{o}'")
    fish.append("")
    return {"lambdactl.bash": "\n".join(bash), "_lambdactl": "\n".join(zsh), "lambdactl.fish": "\n".join(fish)}


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
