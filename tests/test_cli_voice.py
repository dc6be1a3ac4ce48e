"""The CLI speaks as the AWS CLI does: usage errors in its words (exit 252), help as
`lambdactl help [COMMAND]` / `COMMAND help` / `--help`, `--output table` laid out like its tables;
and its completions and man pages describe values, not only flags."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from lambdactl.cli._spec import all_commands, all_waiters

from .helpers import ROLE, console_script, create_args, run_cli
from .test_awscli import aws, aws_cli

ROOT = Path(__file__).resolve().parent.parent
USAGE_HEAD = [
    "usage: lambdactl [options] <command> [<subcommand> ...] [parameters]",
    "To see help text, you can run:",
    "",
    "  lambdactl help",
    "  lambdactl <command> help",
    "  lambdactl <command> <subcommand> help",
]


def _aws_usage_error(*args: str) -> subprocess.CompletedProcess[str]:
    env = {"PATH": os.environ.get("PATH", ""), "HOME": "/nonexistent", "AWS_ACCESS_KEY_ID": "x",
           "AWS_SECRET_ACCESS_KEY": "y", "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null"}
    return subprocess.run([aws_cli(), "lambda", *args], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.parametrize("args", [
    ["get-function"],
    ["get-function", "--function-name", "f", "--x", "1"],
    ["get-function", "--function-name"],
    ["invoke", "--function-name", "f"],
    ["create-function", "--publish=x"],
    ["get-function", "--function-name", "f", "stray"],
    ["wait", "function-exists"],
])
def test_usage_errors_say_what_the_aws_cli_says(home: Path, args: list[str]) -> None:
    ours = run_cli(*args, home=home)
    theirs = _aws_usage_error(*args)
    assert ours.code == 252, ours.stderr
    assert ours.stdout == ""
    lines = ours.stderr.splitlines()
    assert lines[1:7] == USAGE_HEAD, ours.stderr
    # The error line is the AWS CLI's, with lambdactl for aws.
    expected = theirs.stderr.strip().splitlines()[-1].replace("aws: error:", "lambdactl: error:")
    assert lines[-1] == expected
    assert "╭" not in ours.stderr and "Traceback" not in ours.stderr


def test_invalid_choices_list_the_valid_ones(home: Path) -> None:
    r = run_cli("get-funtion", "--function-name", "f", home=home)
    assert r.code == 252
    assert "lambdactl: error: argument command: Invalid choice, valid choices are:" in r.stderr
    assert re.search(r"^get-function +\| ", r.stderr, re.M) or re.search(r"\| get-function$", r.stderr, re.M)
    assert r.stderr.rstrip().endswith("Invalid choice: 'get-funtion', maybe you meant:\n\n  * get-function")
    r = run_cli("list-functions", "--output", "xml", home=home)
    assert r.code == 252 and "lambdactl: error: argument --output: Invalid choice, valid choices are:" in r.stderr
    assert re.search(r"^json +\| text$", r.stderr, re.M)
    r = run_cli("wait", "function-actve", "--function-name", "f", home=home)
    assert r.code == 252 and "argument subcommand: Invalid choice" in r.stderr and "  * function-active" in r.stderr
    r = run_cli(home=home)
    assert (r.code, r.stderr.splitlines()[-1]) == (252, "lambdactl: error: the following arguments are required: command")


def test_own_commands_usage_errors_have_no_rich_boxes(home: Path, tmp_path: Path) -> None:
    r = run_cli("package", home=home)
    assert r.code == 2  # lambdactl's own commands keep their documented status
    assert "╭" not in r.stderr and r.stderr.splitlines()[-1].startswith("lambdactl: error: ")
    r = run_cli("package", str(tmp_path), "-o", str(tmp_path / "x.zip"), "--bogus", home=home)
    assert (r.code, r.stderr.splitlines()[-1]) == (2, "lambdactl: error: Unknown options: --bogus")


def test_help_forms_agree(home: Path) -> None:
    forms = [["help", "invoke"], ["invoke", "help"], ["invoke", "--help"], ["invoke", "-h"],
             ["--output", "json", "invoke", "help"]]
    outputs = [run_cli(*f, home=home) for f in forms]
    assert all(o.code == 0 for o in outputs), [o.stderr for o in outputs]
    assert len({o.stdout for o in outputs}) == 1
    text = outputs[0].stdout
    assert text.startswith("NAME\n    invoke - ")
    assert "    --function-name <string> (required)" in text and "    outfile <string> (required)" in text
    assert "Possible values: Event, RequestResponse, DryRun" in text
    assert "EXAMPLES" in text and "      lambdactl invoke --function-name my-function" in text
    top = run_cli("help", home=home)
    assert top.code == 0 and "LAMBDA COMMANDS" in top.stdout and "LAMBDACTL COMMANDS" in top.stdout
    assert "    package\n" in top.stdout and "    --endpoint-url <string>\n" in top.stdout
    assert run_cli("--help", home=home).stdout == top.stdout
    waiter = run_cli("wait", "function-active", "help", home=home)
    assert waiter.code == 0 and waiter.stdout.startswith("NAME\n    wait function-active - ")
    assert run_cli("help", "wait", home=home).stdout.count("\n    function-") >= 4
    own = run_cli("help", "package", home=home)
    assert own.code == 0 and "--out" in own.stdout
    assert run_cli("help", "no-such-thing", home=home).code == 252


def test_help_placeholders_come_from_the_model(home: Path) -> None:
    text = run_cli("create-function", "help", home=home).stdout
    for placeholder in ("--memory-size <integer>", "--environment <structure>", "--layers <list of strings>",
                        "--zip-file <blob>", "--tags <map>", "--publish | --no-publish", "--function-name <string>"):
        assert placeholder in text
    assert "<str>" not in text
    assert "    --role <string> (required)" in text
    assert "Shorthand syntax: Variables={KeyName1=string,KeyName2=string}" in text
    assert 'JSON syntax: {"Variables": {"string": "string"}}' in text


def test_help_fits_80_columns_when_piped(home: Path) -> None:
    env = {"COLUMNS": "80"}
    names = [[s.name] for s in all_commands()] + [["wait", s.name] for s in all_waiters()] + [[]]
    for words in names:
        r = run_cli("help", *words, home=home, env=env)
        assert r.code == 0, r.stderr
        too_long = [line for line in r.stdout.splitlines() if len(line) > 80 and " " in line.strip()]
        assert not too_long, (words, too_long)


def test_table_output_is_laid_out_like_the_aws_cli(server: dict, tmp_path: Path, zip_path: Path) -> None:
    home = Path(server["home"])
    assert run_cli(*create_args("f", zip_path, "--environment", "Variables={AA=1,BB=2}"), home=home).code == 0
    env = {"COLUMNS": "80"}
    for args in (["get-function-configuration", "--function-name", "f"], ["list-functions"],
                 ["list-functions", "--query", "Functions[].[FunctionName,Runtime]"],
                 ["list-functions", "--query", "Functions[].{N:FunctionName,M:MemorySize}"]):
        ours = run_cli(*args, "--output", "table", home=home, env=env)
        theirs = aws(server, *args, "--output", "table")
        assert ours.code == 0 and theirs.returncode == 0, (ours.stderr, theirs.stderr)
        assert _shape(ours.stdout) == _shape(theirs.stdout), (ours.stdout, theirs.stdout)
        widths = {len(line) for line in ours.stdout.splitlines()}
        assert len(widths) == 1, widths  # every row spans the same width, nothing cut off
    out = run_cli("get-function-configuration", "--function-name", "f", "--output", "table", home=home, env=env).stdout
    assert out.splitlines()[1].strip("|").strip() == "GetFunctionConfiguration"
    assert re.search(r"^\|\|\| AA +\| 1 +\|\|\|$", out, re.M)  # Environment > Variables, two levels in


def _shape(table: str) -> list[tuple[object, ...]]:
    """A table's structure without its padding: border lines by nesting depth, rows as cells."""
    shape: list[tuple[object, ...]] = []
    for line in table.splitlines():
        if set(line) == {"-"}:
            shape.append(("top",))
            continue
        depth = len(line) - len(line.lstrip("|"))
        inner = line[depth:len(line) - depth]
        if inner.startswith("+"):
            shape.append(("border", depth))
        else:
            shape.append(("row", depth, tuple(cell.strip() for cell in inner.split("|"))))
    return shape


def _bash_complete(words: list[str], home: Path, cwd: Path) -> list[str]:
    script = (
        f"source {ROOT / 'completions' / 'lambdactl.bash'}\n"
        'COMP_WORDS=("$@"); COMP_CWORD=$((${#COMP_WORDS[@]} - 1)); _lambdactl\n'
        'printf "%s\\n" "${COMPREPLY[@]}"\n'
    )
    env = {**os.environ, "LAMBDACTL_HOME": str(home),
           "PATH": f"{Path(console_script()).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
    proc = subprocess.run(["bash", "-c", script, "bash", *words], capture_output=True, text=True, env=env,
                          cwd=cwd, timeout=60)
    assert proc.returncode == 0, proc.stderr
    return [w for w in proc.stdout.splitlines() if w]


def test_bash_completion_completes_values(home: Path, tmp_path: Path, zip_path: Path) -> None:
    assert run_cli(*create_args("alpha", zip_path), home=home).code == 0
    assert run_cli(*create_args("beta", zip_path), home=home).code == 0
    assert run_cli("create-alias", "--function-name", "alpha", "--name", "live", "--function-version", "$LATEST",
                   home=home).code == 0
    (tmp_path / "event.json").write_text("{}")
    assert _bash_complete(["lambdactl", "list-functions", "--output", "t"], home, tmp_path) == ["table", "text"]
    assert _bash_complete(["lambdactl", "--output", "ya"], home, tmp_path) == ["yaml", "yaml-stream"]
    assert _bash_complete(["lambdactl", "invoke", "--log-type", ""], home, tmp_path) == ["None", "Tail"]
    assert _bash_complete(["lambdactl", "invoke", "--invocation-type", "E"], home, tmp_path) == ["Event"]
    assert _bash_complete(["lambdactl", "invoke", "--cli-binary-format", "r"], home, tmp_path) == ["raw-in-base64-out"]
    assert "python3.12" in _bash_complete(["lambdactl", "create-function", "--runtime", "py"], home, tmp_path)
    assert _bash_complete(["lambdactl", "get-function", "--function-name", ""], home, tmp_path) == ["alpha", "beta"]
    assert _bash_complete(["lambdactl", "get-alias", "--function-name", "alpha", "--qualifier", "l"], home, tmp_path) == ["live"]
    assert sorted(_bash_complete(["lambdactl", "invoke", "--payload", "fi"], home, tmp_path)) == ["file://", "fileb://"]
    assert _bash_complete(["lambdactl", "invoke", "--payload", "file://ev"], home, tmp_path) == ["file://event.json"]
    assert _bash_complete(["lambdactl", "create-function", "--zip-file", "fileb://co"], home, tmp_path) == ["fileb://code.zip"]
    assert "--memory-size" in _bash_complete(["lambdactl", "update-function-configuration", "--mem"], home, tmp_path)
    assert "invoke" in _bash_complete(["lambdactl", "help", "inv"], home, tmp_path)


def test_the_completion_helper_is_quiet_without_a_registry(tmp_path: Path) -> None:
    r = run_cli("__complete", "functions", home=tmp_path / "none")
    assert (r.code, r.stdout, r.stderr) == (0, "", "")
    assert not (tmp_path / "none").exists()


@pytest.mark.parametrize("shell,check", [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])])
def test_zsh_and_fish_completions_parse(shell: str, check: list[str]) -> None:
    if shutil.which(shell) is None:
        pytest.skip(f"{shell} is not installed")
    name = {"zsh": "_lambdactl", "fish": "lambdactl.fish"}[shell]
    proc = subprocess.run([*check, str(ROOT / "completions" / name)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr


def test_fish_completes_output_formats() -> None:
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed")
    proc = subprocess.run(["fish", "-c", f"source {ROOT / 'completions' / 'lambdactl.fish'}; "
                           "complete -C 'lambdactl list-functions --output t'"],
                          capture_output=True, text=True, timeout=60)
    assert proc.stdout.split() == ["table", "text"], proc.stderr


def test_man_pages_have_examples_and_are_packaged() -> None:
    for page in sorted((ROOT / "man").glob("*.1")):
        text = page.read_text()
        assert ".SH EXAMPLES" in text, page.name
    text = (ROOT / "man" / "lambdactl-create-function.1").read_text()
    assert "\\-\\-memory\\-size <integer>" in text and "\\-\\-zip\\-file <blob>" in text
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"share/man/man1" = ["man/*.1"]' in pyproject


def test_man_finds_the_pages_of_an_installed_package(tmp_path: Path) -> None:
    """The wheel's data files land in PREFIX/share/man, which man(1) searches for PREFIX/bin on PATH."""
    if shutil.which("man") is None:
        pytest.skip("man is not installed")
    prefix = Path(console_script()).parent.parent
    installed = prefix / "share" / "man" / "man1" / "lambdactl-invoke.1"
    env = {**os.environ, "PATH": f"{prefix / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}", "MANWIDTH": "80",
           "MANPAGER": "cat", "PAGER": "cat"}
    env.pop("MANPATH", None)
    # An editable install has no data files: read the committed page as `man -l` would.
    page = ["lambdactl-invoke"] if installed.exists() else ["-l", str(ROOT / "man" / "lambdactl-invoke.1")]
    proc = subprocess.run(["man", *page], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 0 and "EXAMPLES" in proc.stdout, proc.stderr


def test_roles_and_examples_are_valid_command_lines(home: Path) -> None:
    """Every generated example parses: its flags exist and its required flags are there."""
    import shlex

    from lambdactl.cli._spec import examples
    from lambdactl.cli.fast import Help, parse

    for spec in all_commands() + all_waiters():
        for _, line in examples(spec):
            argv = shlex.split(line.split("|")[0])[1:]
            parsed = parse(argv)
            assert parsed is not None and not isinstance(parsed, Help), line
    assert ROLE.startswith("arn:aws:iam::")


def test_the_parser_knows_every_own_command() -> None:
    """Lines naming lambdactl's own commands go to the Typer app; every one of them, and only them."""
    from lambdactl.cli._help import own_commands
    from lambdactl.cli._spec import OWN_EXAMPLES
    from lambdactl.cli.fast import OWN_COMMANDS

    names = {name for name, _ in own_commands()}
    assert names == set(OWN_COMMANDS)
    assert {name.partition(" ")[0] for name in OWN_EXAMPLES} == names
