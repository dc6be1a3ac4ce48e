"""lambdactl's own commands beside the `aws lambda` ones: `logs tail` and `doctor`.

Thin like the rest of the CLI: read options, call the library, print.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated

import typer

from ..errors import LambdaError
from ._errors import ExitStatus

if TYPE_CHECKING:
    from ..service import Service


def _service(home: str | None) -> Service:
    from ..service import Service
    from ..settings import Settings

    return Service(Settings.load(home))


def _storage_exit(svc: Service, exc: BaseException) -> BaseException:
    """A registry that cannot be read (damaged, a read-only home, ...) as the service words it."""
    explained = svc.storage_error(exc)
    if explained is exc or not isinstance(explained, LambdaError):
        return exc
    from ._errors import service_error

    return typer.Exit(service_error(explained.code, "FilterLogEvents", explained.message))


def register(app: typer.Typer) -> None:
    logs_app = typer.Typer(help="Read the logs of invocations (CloudWatch Logs, kept locally).", no_args_is_help=True)

    @logs_app.command("tail")
    def tail(
        function_name: Annotated[str, typer.Argument(help="Function name or ARN (its log group is /aws/lambda/NAME).")],
        follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new events as they arrive.")] = False,
        since: Annotated[str, typer.Option("--since", help="How far back to start: 10m, 2h, 1d or an ISO-8601 time.")] = "10m",
        log_group: Annotated[str | None, typer.Option("--log-group", help="Read this log group instead.")] = None,
        raw: Annotated[bool, typer.Option("--raw", help="Print terminal control characters as they are (by default ESC and other controls are shown as \\xNN).")] = False,
        home: Annotated[str | None, typer.Option("--home", help="The registry directory.")] = None,
    ) -> None:
        """Print the log events of a function, oldest first, like `aws logs tail`."""
        import sqlite3

        from ..errors import LambdaError
        from ..runtime.logs import escape_controls
        from ..service import logs

        svc = _service(home)
        try:
            group = log_group or logs.function_log_group(svc, function_name)
            start = logs.parse_since(since)
        except (sqlite3.Error, OSError) as exc:
            raise _storage_exit(svc, exc) from None
        except LambdaError as exc:
            from ._errors import service_error

            raise typer.Exit(service_error(exc.code, "FilterLogEvents", exc.message)) from None
        except ValueError as exc:
            typer.echo(f"lambdactl: error: {exc}", err=True)
            raise typer.Exit(ExitStatus.USAGE) from None
        last = 0
        out = sys.stdout.buffer
        try:
            while True:
                for event_id, stream, _ts, message in logs.events(svc, group, since=start, after_id=last):
                    lines = message.split(b"\n")  # not splitlines: a carriage return is shown, not obeyed
                    if lines[-1] == b"":
                        lines.pop()
                    for line in lines:
                        out.write(f"{stream} ".encode() + (line if raw else escape_controls(line)) + b"\n")
                    last = event_id
                out.flush()
                if not follow:
                    break
                time.sleep(0.5)
        except KeyboardInterrupt:
            raise typer.Exit(0) from None
        except (sqlite3.Error, OSError) as exc:
            raise _storage_exit(svc, exc) from None

    app.add_typer(logs_app, name="logs")

    @app.command("doctor")
    def doctor(
        output: Annotated[str, typer.Option("--output", help="json or text.")] = "text",
        gc: Annotated[bool, typer.Option("--gc", help="Also remove what nothing references: orphaned code and layer zips, files of killed writers, unused extracted code, old invocation rows.")] = False,
        home: Annotated[str | None, typer.Option("--home", help="The registry directory.")] = None,
        repair: Annotated[bool, typer.Option("--repair", help="Move a damaged registry.db aside (never deleted) and rebuild it from the rows still readable, else from its backup.")] = False,
    ) -> None:
        """Show how functions are sandboxed here and which runtimes were found, and where."""
        if repair:
            raise typer.Exit(_repair(home, output))
        from ..runtime.doctor import report
        from ..service.invoke import runtime_overrides

        svc = _service(home)
        data = report(runtime_overrides(svc), svc.settings.cache_dir / "runtimes.json")
        if gc:
            data["gc"] = _collect(svc)
        if output == "json":
            from ._output import render

            render(data, "json")
            return
        sb = data["sandbox"]
        typer.echo(f"sandbox: {sb['mode']}" + (f" ({sb['bubblewrap_version']})" if sb.get("bubblewrap_version") else ""))
        if sb.get("reason"):
            typer.echo(f"  why: {sb['reason']}")
        for key in ("isolation", "tmp_limit", "process_limit", "open_files_limit", "seccomp",
                    "freezing", "warning", "advice"):
            if key in sb:
                typer.echo(f"  {key.replace('_', ' ')}: {sb[key]}")
        typer.echo(f"memory: {data['memory']['method']} every {data['memory']['interval_ms']:g} ms")
        typer.echo("runtimes:")
        for runtime, info in data["runtimes"].items():
            if info["found"]:
                typer.echo(f"  {runtime:<16} {info['version']:<10} {info['executable'] or '(bootstrap in the code or a layer)'}")
            else:
                typer.echo(f"  {runtime:<16} missing    searched: {'; '.join(info['searched'])}")
        if gc:
            _print_gc(data["gc"])


def _collect(svc: object) -> dict[str, object]:
    from ..errors import LambdaError
    from ..service.storage import collect_garbage

    try:
        return collect_garbage(svc, cache_trees=True)  # type: ignore[arg-type]
    except LambdaError as exc:  # a malformed cap in config.toml
        typer.echo(f"lambdactl: error: {exc.message}", err=True)
        raise typer.Exit(ExitStatus.CONFIG) from None


def _print_gc(gc: dict) -> None:  # type: ignore[type-arg]
    typer.echo(f"gc: removed {len(gc['removed'])} files, {gc['bytes_freed']} bytes freed")
    for item in gc["removed"]:
        typer.echo(f"  {item['path']} ({item['bytes']} bytes)")
    typer.echo(f"  logs over their caps: {gc['log_bytes_trimmed']} bytes trimmed")
    typer.echo(f"  invocation rows past their age: {gc['invocations_trimmed']} removed")


def _repair(home: str | None, output: str) -> int:
    """`doctor --repair`: the registry layer does the work; this prints what it did."""
    from ..registry.db import repair
    from ..settings import read_server_file, resolve_home

    where = resolve_home(home)  # config.toml is not read: it may be what is broken
    running = read_server_file(where) if where.is_dir() else None
    if running is not None:
        typer.echo(f"lambdactl: a server runs for this home (pid {running['pid']}); stop it with "
                   "`lambdactl serve stop` before repairing its registry.", err=True)
        return ExitStatus.OTHER
    done = repair(where / "registry.db")
    if output == "json":
        from ._output import render

        render(done, "json")
        return ExitStatus.OK
    typer.echo(f"registry: {done['registry']}")
    if "moved_aside" in done:
        typer.echo(f"  moved aside: {done['moved_aside']} (kept; delete it once you are satisfied)")
    typer.echo(f"  rebuilt from: {done['source']}")
    for table, count in done["rows"].items():  # type: ignore[attr-defined]
        typer.echo(f"    {table}: {count} rows")
    for table, why in (done.get("unreadable") or {}).items():  # type: ignore[attr-defined]
        typer.echo(f"  rows lost in {table}: {why}")
    return ExitStatus.OK
