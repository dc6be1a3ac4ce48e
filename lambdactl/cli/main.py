"""Entry point of the `lambdactl` console script and `python -m lambdactl`."""

from __future__ import annotations

import sys

from ._errors import ExitStatus, other_error

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP: unwound like Ctrl-C, so a sandbox or a transaction in progress is
    cleaned up instead of left behind by the default action (an immediate exit)."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _raise_terminated(signum: int, _frame: object) -> None:
    raise Terminated(signum)


def _terminate_like_interrupt() -> None:
    import signal

    for sig in (signal.SIGTERM, signal.SIGHUP):
        # Only where nobody chose otherwise (nohup, a parent ignoring them; serve sets its own).
        if signal.getsignal(sig) is signal.SIG_DFL:
            signal.signal(sig, _raise_terminated)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else list(argv)
    # A lone surrogate (from a non-UTF-8 argument or a "\ud800" escape in JSON input) can reach
    # a value we print: write it as the escape JSON would use instead of failing mid-output.
    try:
        sys.stdout.reconfigure(errors="backslashreplace")  # type: ignore[union-attr]
    except (AttributeError, ValueError):
        pass
    _terminate_like_interrupt()
    if args[:1] == ["__complete"]:
        from ._complete import complete

        return complete(args[1:])
    try:
        from .fast import run_fast

        code = run_fast(args)
        if code is None:
            code = run_typer(args)
    except Terminated as exc:
        code = 128 + exc.signum
    except KeyboardInterrupt:
        sys.stderr.write("\n")
        code = ExitStatus.INTERRUPTED
    except Exception as exc:  # noqa: BLE001 - the one place that turns any failure into exit 255
        code = unexpected(exc, debug="--debug" in args)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        pass
    return int(code)


def unexpected(exc: BaseException, *, debug: bool) -> int:
    """What the AWS CLI does with an error it has no words for: one line and exit 255; the
    traceback only with --debug."""
    if debug:
        import traceback

        traceback.print_exception(exc)
    return other_error(describe(exc))


def describe(exc: BaseException) -> str:
    """One line naming the problem (and the file, for an OSError)."""
    from ..errors import LambdaError

    if isinstance(exc, LambdaError):
        return exc.message
    if isinstance(exc, RecursionError):
        return "lambdactl: error: the input is nested too deeply to process"
    if isinstance(exc, MemoryError):
        return "lambdactl: error: out of memory"
    if isinstance(exc, OSError) and exc.strerror:
        where = f": {exc.filename}" if exc.filename else ""
        return f"lambdactl: error: {exc.strerror}{where}"
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"lambdactl: error: {type(exc).__name__}" + (f": {text[:500]}" if text else "")


# Set by entry(), which ends the process with os._exit right after the command (cli._run reads it).
PROCESS_ENDS_AFTER_COMMAND = False


def entry() -> None:
    """The console script and `python -m lambdactl`: run, flush, and leave at once.

    Finalizing the interpreter (tearing down every module, final collections) costs 5-10 ms
    after each command, as much as a whole `get-function` takes. By the time main() returns
    everything a command owns is written, committed and closed (the registry connection of a
    command that wrote too: closing it checkpoints the WAL, which makes the command's changes
    durable with `synchronous=NORMAL`), and its sandboxes are reaped; only the standard streams
    may still hold output.
    """
    global PROCESS_ENDS_AFTER_COMMAND
    PROCESS_ENDS_AFTER_COMMAND = True
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    import os

    os._exit(code)


def run_typer(args: list[str]) -> int:
    """The Typer app: lambdactl's own commands, and the API commands through the same parser as
    the fast path. Click's usage errors are written in the AWS CLI's form instead of rich boxes."""
    import typer
    from typer._click import exceptions as click  # Typer's own copy of click

    from .app import build_app, hide_double_dash

    app = build_app()
    try:
        code = app(args=hide_double_dash(args) if _is_api_line(args) else args, prog_name="lambdactl",
                   standalone_mode=False)
    except click.UsageError as exc:
        from ._errors import usage_error

        usage_error(f"lambdactl: error: {_click_words(exc)}")
        # lambdactl's own commands (lint, package, ...) keep their documented code 2.
        return ExitStatus.USAGE if _is_api_line(args) else exc.exit_code
    except typer.Abort:
        sys.stderr.write("\n")
        return ExitStatus.INTERRUPTED
    except typer.Exit as exc:
        return exc.exit_code
    return code if isinstance(code, int) else 0


def _click_words(exc: Any) -> str:
    """Click's message in argparse's words where the AWS CLI has them."""
    from typer._click import exceptions as click

    if isinstance(exc, click.NoSuchOption):
        return f"Unknown options: {exc.option_name}"
    if isinstance(exc, click.BadOptionUsage) and "requires an argument" in exc.message:
        return f"argument {exc.option_name}: expected one argument"
    return str(exc.format_message())


def _is_api_line(args: list[str]) -> bool:
    """Whether the command named (after any global options and their values) is an API one."""
    from ._options import VALUE_OPTIONS
    from .fast import OWN_COMMANDS

    i = 0
    while i < len(args) and args[i].startswith("-"):
        i += 2 if args[i] in VALUE_OPTIONS else 1
    return i >= len(args) or args[i] not in OWN_COMMANDS


if __name__ == "__main__":
    entry()
