"""Both entry points of the CLI (the fast path and the Typer app) accept and refuse the same
command lines, with the same words and exit status, for every command: argv generated from
each command's spec with good and bad values, unknown flags, missing required flags, repeated
flags and stray positionals."""

from __future__ import annotations

import contextlib
import io
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lambdactl.cli import _run
from lambdactl.cli._spec import CommandSpec, ParamSpec, all_commands, all_waiters, choices

SPECS = all_commands() + all_waiters()


def _good(p: ParamSpec) -> st.SearchStrategy[list[str]]:
    t = p.type
    if p.is_bool:
        return st.just([])
    if choices(t):
        one = st.sampled_from(choices(t))
        return st.lists(one, min_size=1, max_size=2) if p.is_list else one.map(lambda v: [v])
    if p.is_list:
        return st.lists(st.sampled_from(["a", "b-1", "arn:aws:x"]), min_size=1, max_size=3)
    if isinstance(t, dict):
        return st.sampled_from([["{}"], ['{"Variables": {"A": "1"}}'], ["K=V"]])
    if t in ("integer", "long"):
        return st.sampled_from([["5"], ["128"], ["0"]])
    return st.sampled_from([["my-function"], ["x y"], ["arn:aws:lambda:us-east-1:123456789012:function:f"]])


BAD = st.sampled_from([["lots"], ["{not json"], [], ["--"], ["-1"], [""], ["file:///no/such/file"]])


@st.composite
def flag_tokens(draw: Any, p: ParamSpec) -> list[str]:
    kind = draw(st.sampled_from(["good", "good", "bad", "inline", "negated"]))
    if p.is_bool:
        if kind == "inline":
            return [f"{p.flag}=yes"]
        return [f"--no-{p.flag[2:]}"] if kind == "negated" else [p.flag]
    values = draw(_good(p)) if kind != "bad" else draw(BAD)
    if kind == "inline" and values:
        return [f"{p.flag}={values[0]}"]
    return [p.flag, *values]


GLOBALS = st.sampled_from([
    ["--output", "json"], ["--output", "xml"], ["--output"], ["--query", "Functions"], ["--query", "[[["],
    ["--debug"], ["--debug=1"], ["--no-paginate"], ["--max-items", "2"], ["--max-items", "none"],
    ["--cli-binary-format", "base64"], ["--cli-binary-format", "hex"], ["--color", "off"],
    ["--generate-cli-skeleton"], ["--generate-cli-skeleton", "output"], ["--region", "eu-west-1"],
    ["--cli-read-timeout", "5"], ["--cli-input-json", "{}"],
])
STRAYS = st.sampled_from([["--bogus"], ["--bogus", "1"], ["--x=1"], ["stray"], ["-v"], ["out.json"], ["--no-such"]])


@st.composite
def command_lines(draw: Any) -> list[str]:
    spec: CommandSpec = draw(st.sampled_from(SPECS))
    parts: list[list[str]] = []
    for p in spec.params:
        # Required flags are mostly given; the others now and then; some twice.
        given_p = draw(st.booleans()) or (p.required and draw(st.integers(0, 4)) > 0)
        if given_p:
            parts.append(draw(flag_tokens(p)))
            if draw(st.integers(0, 9)) == 0:
                parts.append(draw(flag_tokens(p)))
    if spec.outfile and draw(st.integers(0, 4)) > 0:
        parts.append(["out.json"])
    parts += draw(st.lists(GLOBALS, max_size=2))
    parts += draw(st.lists(STRAYS, max_size=1))
    parts = draw(st.permutations(parts)) if len(parts) < 8 else parts
    head = ["wait", spec.name] if spec.waiter else [spec.name]
    before = draw(st.sampled_from([[], ["--output", "text"], ["--debug"], ["--region", "us-west-2"]]))
    return [*before, *head, *[tok for part in parts for tok in part]]


def _run_path(entry: Any, argv: list[str], calls: list[Any]) -> tuple[int, str, Any]:
    err = io.StringIO()
    calls.clear()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        code = entry(argv)
    return code, err.getvalue(), list(calls)


@pytest.fixture(scope="module")
def recorded() -> Any:
    """`_run.execute` replaced by what it does before calling the service: the option checks
    and the request build (values converted by the model), recorded instead of sent."""
    calls: list[Any] = []
    real = _run.execute

    def fake(cmd: CommandSpec, raw: dict[str, Any], opts: Any, outfile: str | None = None) -> int:
        try:
            _run._check_options(opts)
            request = None if opts.generate_cli_skeleton else _run.build_request(cmd, raw, opts)
        except _run.ParamError as exc:
            calls.append(("refused", str(exc)))
            return 252
        except Exception as exc:  # noqa: BLE001 - a conversion's own error, compared as such
            calls.append(("error", type(exc).__name__))
            return 254
        calls.append((cmd.name, cmd.waiter, repr(request), outfile,
                      sorted((k, v) for k, v in vars(opts).items())))
        return 0

    _run.execute = fake  # type: ignore[assignment]
    yield calls
    _run.execute = real  # type: ignore[assignment]


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(argv=command_lines())
def test_fast_path_and_typer_agree(recorded: list[Any], argv: list[str], tmp_path_factory: Any) -> None:
    from lambdactl.cli.fast import run_fast
    from lambdactl.cli.main import run_typer

    fast = _run_path(run_fast, argv, recorded)
    typer_ = _run_path(run_typer, argv, recorded)
    assert fast[0] is not None, argv
    assert fast == typer_, argv
    assert fast[0] in (0, 252, 254), (argv, fast)
    if fast[0] == 252 and not fast[2]:  # refused by the parser, before the request was built
        assert fast[1].lstrip().startswith("usage: lambdactl [options] <command>"), fast[1]
        lines = fast[1].splitlines()
        assert any(line.startswith(("lambdactl: error: ", "Unknown options: ")) for line in lines), fast[1]
    assert "╭" not in fast[1] and "Traceback" not in fast[1]


def test_the_generator_makes_both_kinds_of_line(recorded: list[Any]) -> None:
    """The comparison above would pass vacuously if every generated line were refused."""
    from lambdactl.cli.fast import run_fast

    assert _run_path(run_fast, ["get-function", "--function-name", "f"], recorded)[0] == 0
    assert _run_path(run_fast, ["get-function"], recorded)[0] == 252
