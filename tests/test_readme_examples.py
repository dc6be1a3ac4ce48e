"""The README's recipes work as written: its Makefile never deploys a zip that failed lint, and its
`lambdactl` examples of `aws lambda` commands do the same with the real AWS CLI as with lambdactl."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lambdactl.cli._spec import all_commands

from .conftest import start_server
from .helpers import console_script, make_zip, run_cli

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
HELLO = ROOT / "docs" / "examples" / "hello"
ROLE = "arn:aws:iam::123456789012:role/lambda"
# lambdactl's own flags, which the AWS CLI rightly refuses.
LAMBDACTL_ONLY_FLAGS = ("--code-dir",)


def _blocks(language: str) -> list[str]:
    return re.findall(rf"^```{language}\n(.*?)^```", README, re.M | re.S)


def _env(home: Path) -> dict[str, str]:
    env = dict(os.environ, LAMBDACTL_HOME=str(home))
    env["PATH"] = f"{Path(console_script()).parent}{os.pathsep}{env.get('PATH', '')}"
    return env


def _code_sha(home: Path, name: str) -> str:
    r = run_cli("get-function-configuration", "--function-name", name, "--query", "CodeSha256", "--output", "text", home=home)
    assert r.code == 0, r.stderr
    return r.stdout.strip()


# -- the Makefile ---------------------------------------------------------------------------------


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_makefile_never_deploys_a_zip_that_failed_lint(tmp_path: Path) -> None:
    (makefile,) = [b for b in _blocks("make") if "lambdactl lint" in b]
    function = re.search(r"^FUNCTION := (\S+)$", makefile, re.M).group(1)  # type: ignore[union-attr]
    (tmp_path / "Makefile").write_text(makefile)
    home = tmp_path / "home"
    good = tmp_path / "good.zip"
    good.write_bytes(make_zip())
    r = run_cli("create-function", "--function-name", function, "--runtime", "python3.12", "--handler", "app.handler",
                "--role", ROLE, "--zip-file", f"fileb://{good}", home=home)
    assert r.code == 0, r.stderr
    deployed = _code_sha(home, function)
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("def handle(event, context):\n    return event\n")  # not the handler lint expects

    def make() -> subprocess.CompletedProcess[str]:
        return subprocess.run(["make", "deploy"], cwd=tmp_path, env=_env(home), capture_output=True, text=True, timeout=120)

    for _ in range(2):  # the second run must not take the failed build for a finished one
        failed = make()
        assert failed.returncode != 0, failed.stdout
        assert "LZ023" in failed.stdout + failed.stderr
        assert not (tmp_path / "build" / "function.zip").exists()
        assert not list((tmp_path / "build").glob("*.tmp"))
        assert _code_sha(home, function) == deployed

    (src / "app.py").write_text("def handler(event, context):\n    return {'fixed': True}\n")
    ok = make()
    assert ok.returncode == 0, ok.stdout + ok.stderr
    built = (tmp_path / "build" / "function.zip").read_bytes()
    sha = _code_sha(home, function)
    assert sha != deployed
    assert sha == base64.b64encode(hashlib.sha256(built).digest()).decode()
    again = make()
    assert again.returncode == 0 and "update-function-code" not in again.stdout


# -- the examples, with the AWS CLI ---------------------------------------------------------------


def example_lines() -> list[list[str]]:
    """The README's `lambdactl <command> ...` lines of `sh` blocks (continuations joined, comments
    dropped) for commands the AWS CLI has too, as argument lists after `lambdactl`."""
    aws_commands = {spec.name for spec in all_commands()} | {"wait"}
    lines = []
    for block in _blocks("sh"):
        for line in block.replace("\\\n", " ").splitlines():
            if not line.startswith("lambdactl "):
                continue
            args = shlex.split(line, comments=True)[1:]
            if args and args[0] in aws_commands and not any(a in LAMBDACTL_ONLY_FLAGS for a in args):
                lines.append(args)
    return lines


def _fixtures(workdir: Path) -> None:
    """The files the examples name, in the folder they run in."""
    subprocess.run([console_script(), "package", str(HELLO), "-o", str(workdir / "hello.zip")], check=True, capture_output=True)
    layer = workdir / "layer"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "shared.py").write_text("VALUE = 1\n")
    subprocess.run([console_script(), "package-layer", str(layer), "-o", str(workdir / "layer.zip")], check=True, capture_output=True)
    (workdir / "event.json").write_text(json.dumps({"name": "Ada"}))
    (workdir / "v1.zip").write_bytes(make_zip())


class World:
    """One registry the examples run against, through one face (the AWS CLI or lambdactl)."""

    def __init__(self, home: Path, workdir: Path, face: list[str], env: dict[str, str]) -> None:
        self.home, self.workdir, self.face, self.env = home, workdir, face, env

    def run(self, args: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*self.face, *args], cwd=self.workdir, env=self.env, capture_output=True, text=True, timeout=120)

    def lambdactl(self, *args: str) -> int:
        return run_cli(*args, home=self.home).code

    def prepare(self, args: list[str]) -> None:
        """Put the registry in the state the example assumes: `hello` with versions 1 and 2 and
        alias `live`; nothing yet of what the example creates."""
        if self.lambdactl("get-function", "--function-name", "hello") != 0:
            assert self.lambdactl("create-function", "--function-name", "hello", "--runtime", "python3.12", "--handler",
                                  "app.handler", "--role", ROLE, "--zip-file", f"fileb://{self.workdir / 'v1.zip'}",
                                  "--publish") == 0
            assert self.lambdactl("update-function-code", "--function-name", "hello", "--zip-file",
                                  f"fileb://{self.workdir / 'hello.zip'}", "--publish") == 0
            assert self.lambdactl("create-alias", "--function-name", "hello", "--name", "live", "--function-version", "1") == 0
        command, name = args[0], _flag(args, "--function-name")
        if command == "create-function":
            self.lambdactl("delete-function", "--function-name", name)
        elif command == "create-alias":
            self.lambdactl("delete-alias", "--function-name", name, "--name", _flag(args, "--name"))
        elif command == "create-function-url-config":
            self.lambdactl("delete-function-url-config", "--function-name", name)


def _flag(args: list[str], flag: str) -> str:
    return args[args.index(flag) + 1] if flag in args else ""


def _error_code(stderr: str) -> str | None:
    m = re.search(r"An error occurred \((\w+)\)", stderr)
    return m.group(1) if m else None


def test_readme_examples_run_the_same_with_the_aws_cli(tmp_path: Path) -> None:
    examples = example_lines()
    assert len(examples) > 20  # the extraction found the examples
    aws = Path(sys.executable).parent / "aws"
    if not aws.exists():
        pytest.skip("the AWS CLI is not installed in this environment")
    env = dict(os.environ, AWS_ACCESS_KEY_ID="local", AWS_SECRET_ACCESS_KEY="local", AWS_DEFAULT_REGION="us-east-1",
               AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_PAGER="")
    env.pop("AWS_PROFILE", None)
    aws_home, own_home = tmp_path / "aws-home", tmp_path / "own-home"
    aws_dir, own_dir = tmp_path / "aws-work", tmp_path / "own-work"
    for d in (aws_home, own_home, aws_dir, own_dir):
        d.mkdir()
    _fixtures(aws_dir)
    _fixtures(own_dir)
    for info in start_server(aws_home):
        by_aws = World(aws_home, aws_dir, [str(aws), "lambda", "--endpoint-url", info["url"]], env)
        by_us = World(own_home, own_dir, [console_script()], {**env, "LAMBDACTL_HOME": str(own_home)})
        differences = []
        for args in examples:
            outcomes = []
            for world in (by_aws, by_us):
                world.prepare(args)
                r = world.run(args)
                outcomes.append((r.returncode, _error_code(r.stderr), r.stderr.strip()[-300:]))
            # Every example is meant to work; one that fails in either face is a broken example.
            if outcomes[0][0] != 0 or outcomes[1][0] != 0:
                differences.append(f"lambdactl {shlex.join(args)}\n  aws: {outcomes[0]}\n  lambdactl: {outcomes[1]}")
        assert not differences, "examples that fail:\n" + "\n".join(differences)


@pytest.mark.parametrize("text", [
    'AdditionalVersionWeights={"1"=0.1}', "AdditionalVersionWeights={1=0.1}", "'A'=1", "a b=1", "A=1,B=x y",
    "Variables={STAGE=dev,LEVEL=debug}", "k:1/x#y.z-_=v", "=1", "é=1",
])
def test_shorthand_accepts_what_the_aws_cli_accepts(text: str) -> None:
    from awscli.shorthand import ShorthandParseError, ShorthandParser

    from lambdactl.cli._values import ParamError, parse_shorthand

    try:
        ShorthandParser().parse(text)
        aws_ok = True
    except ShorthandParseError:
        aws_ok = False
    try:
        parse_shorthand(text, "--x")
        ours_ok = True
    except ParamError:
        ours_ok = False
    assert ours_ok == aws_ok
