"""`lambdactl serve`, `serve status` and `serve stop`: run the local Lambda endpoint."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Annotated

import typer

from ._errors import ExitStatus

HomeOption = Annotated[str | None, typer.Option("--home", help="The registry directory.")]


def _settings(home: str | None, region: str | None = None):  # type: ignore[no-untyped-def]
    from ..settings import Settings

    return Settings.load(home, region)


def _health(url: str, timeout: float = 1.0, key: tuple[str, str, str] | None = None) -> dict | None:  # type: ignore[type-arg]
    """The server's health document; signed with `key` (access key, secret, region), a server
    with --require-auth adds its pid, version and pool to the bare status."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    headers: dict[str, str] = {}
    if key is not None:
        from .. import sigv4

        sigv4.sign("GET", parts.netloc, "/lambdactl/health", headers, b"", *key)
    try:
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=timeout)
        conn.request("GET", "/lambdactl/health", headers=headers)
        resp = conn.getresponse()
        data = resp.read()
        conn.close()
        return json.loads(data) if resp.status == 200 else None
    except (OSError, ValueError):
        return None


def register(app: typer.Typer) -> None:
    serve_app = typer.Typer(help="Serve the Lambda REST API on loopback (boto3, the AWS CLI and SDKs work against it).")

    @serve_app.callback(invoke_without_command=True)
    def serve(
        ctx: typer.Context,
        host: Annotated[str, typer.Option("--host", help="Address to bind (loopback by default).")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="Port to listen on (0 picks a free one).")] = 9001,
        detach: Annotated[bool, typer.Option("--detach", help="Run in the background; print where it listens.")] = False,
        idle_timeout: Annotated[float | None, typer.Option("--idle-timeout", help="Seconds an idle warm environment is kept (default 300, config server.idle_timeout_s).")] = None,
        home: HomeOption = None,
        region: Annotated[str | None, typer.Option("--region", help="Region used in ARNs.")] = None,
        require_auth: Annotated[bool, typer.Option("--require-auth", help="Accept only REST requests SigV4-signed with an access key of config.toml [server.credentials].")] = False,
        quiet: Annotated[bool, typer.Option("--quiet", help="No access log (one stderr line per request: method, path, operation, status, milliseconds).")] = False,
    ) -> None:
        """Run the Lambda endpoint in the foreground (Ctrl-C stops it), or in the background with --detach."""
        if ctx.invoked_subcommand is not None:
            return
        settings = _settings(home, region)
        from ..settings import read_server_file

        running = read_server_file(settings.home)
        if running is not None:
            typer.echo(f"lambdactl: a server already runs for this home at {running['url']} (pid {running['pid']}); "
                       "stop it with `lambdactl serve stop`.", err=True)
            raise typer.Exit(ExitStatus.OTHER)
        from ..server.core import UsageError, check_bind

        try:
            check_bind(host, require_auth)
        except UsageError as exc:
            typer.echo(f"lambdactl: {exc}", err=True)
            raise typer.Exit(ExitStatus.USAGE) from None
        if detach:
            raise typer.Exit(_detach(settings.home, host, port, idle_timeout, region, require_auth, quiet))
        from ..server.core import LambdaServer

        try:
            server = LambdaServer(settings, host, port, idle_timeout_s=idle_timeout, require_auth=require_auth)
        except ValueError as exc:
            typer.echo(f"lambdactl: {exc}", err=True)
            raise typer.Exit(ExitStatus.CONFIG) from None
        except OSError as exc:
            typer.echo(f"lambdactl: cannot listen on {host}:{port}: {exc.strerror}", err=True)
            raise typer.Exit(ExitStatus.OTHER) from None

        def _stop(signum: int, frame: object) -> None:
            # Stop on another thread, so a stuck environment cannot keep the process alive: after
            # 20 s, print every thread's stack for the report and leave (sandboxes die with us).
            import threading

            def watchdog() -> None:
                if not done.wait(20):
                    import faulthandler

                    print("lambdactl serve: stop took over 20 s; exiting", file=sys.stderr)
                    faulthandler.dump_traceback(file=sys.stderr)
                    os._exit(1)

            def stop_now() -> None:
                server.stop()
                done.set()

            threading.Thread(target=watchdog, daemon=True).start()
            threading.Thread(target=stop_now, daemon=True).start()

        import threading

        done = threading.Event()

        signal.signal(signal.SIGTERM, _stop)
        signal.signal(signal.SIGINT, _stop)
        if signal.getsignal(signal.SIGHUP) is not signal.SIG_IGN:  # nohup keeps it ignored
            signal.signal(signal.SIGHUP, _stop)
        # Everything the start-up line needs is loaded before the server accepts: a flood of
        # connections may take every descriptor a lazy import would need.
        announcement = _announcement(server.url, settings)
        if not quiet:
            from ..server.access_log import AccessLog, rotator

            max_log = int(float(settings.get("server.log_max_mb", SERVER_LOG_MAX_MB)) * 1024 * 1024)
            server.access_log = AccessLog(sys.stderr, server.router, rotator(settings.home / "server.log", max_log))
        server.start()
        from ..registry.db import backup_in_background

        backup_in_background(settings.registry_path)
        typer.echo(json.dumps({"url": server.url, "pid": os.getpid(), "home": str(settings.home)}))
        sys.stdout.flush()
        print(announcement, file=sys.stderr, flush=True)
        # The kernel may hand SIGTERM to any thread (one already holding a pending SIGCHLD from a
        # sandbox makes another thread likelier); CPython runs the Python handler only when the
        # main thread next executes bytecode, so the main thread must never block without end.
        while not server.wait(0.25):
            pass
        done.wait(25)
        if server.access_log is not None:
            server.access_log.close()

    @serve_app.command("status")
    def status(home: HomeOption = None) -> None:
        """Print the running server's address and pool state; exit 1 when none runs."""
        from ..settings import read_server_file

        settings = _settings(home)
        info = read_server_file(settings.home)
        from ._run import signing_key

        health = _health(info["url"], key=signing_key(settings) if info.get("require_auth") else None) if info else None
        if info is None or health is None:
            typer.echo(json.dumps({"running": False, "home": str(settings.home)}, indent=4))
            raise typer.Exit(1)
        typer.echo(json.dumps({"running": True, **info, "pool": health.get("pool", {})}, indent=4))

    @serve_app.command("stop")
    def stop(home: HomeOption = None, timeout: Annotated[float, typer.Option("--timeout", help="Seconds to wait before killing it.")] = 15.0) -> None:
        """Stop the running server (SIGTERM: every environment is shut down)."""
        from ..settings import SERVER_FILE, read_server_file

        settings = _settings(home)
        info = read_server_file(settings.home)
        if info is None:
            typer.echo("lambdactl: no server is running for this home.", err=True)
            raise typer.Exit(1)
        pid = int(info["pid"])
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except OSError:
                break
            time.sleep(0.05)
        else:
            os.kill(pid, signal.SIGKILL)
            (settings.home / SERVER_FILE).unlink(missing_ok=True)
        typer.echo(json.dumps({"stopped": pid}))

    app.add_typer(serve_app, name="serve")


def _announcement(url: str, settings) -> str:  # type: ignore[no-untyped-def]
    """The start-up line for stderr (stdout's JSON line is for programs): where, which home, which sandbox."""
    from ..runtime.sandbox import detect_mode_cached

    mode = detect_mode_cached(settings.cache_dir / "sandbox.json").name
    return f"lambdactl serve: listening on {url} (home {settings.home}, sandbox {mode})"


SERVER_LOG_MAX_MB = 10  # config.toml [server] log_max_mb: server.log past this becomes server.log.1


def _detach(home: Path, host: str, port: int, idle_timeout: float | None, region: str | None, require_auth: bool,
            quiet: bool) -> int:
    from ..settings import ensure_home, open_private

    home = home.resolve()
    ensure_home(home)
    log = os.fdopen(open_private(home / "server.log", os.O_WRONLY | os.O_APPEND), "ab")
    args = [sys.executable, "-m", "lambdactl", "serve", "--host", host, "--port", str(port), "--home", str(home)]
    if idle_timeout is not None:
        args += ["--idle-timeout", str(idle_timeout)]
    if region:
        args += ["--region", region]
    if require_auth:
        args.append("--require-auth")
    if quiet:
        args.append("--quiet")
    # cwd: `python -m` puts its working directory first on sys.path, and a `lambdactl/` folder in
    # the user's current directory must not be what the server runs.
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True, close_fds=True,
                            cwd=home)
    from ..settings import read_server_file

    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            typer.echo(f"lambdactl: the server exited at start (code {proc.returncode}); see {home / 'server.log'}", err=True)
            return ExitStatus.OTHER
        info = read_server_file(home)
        if info is not None and info.get("pid") == proc.pid and _health(info["url"]):
            typer.echo(json.dumps({"url": info["url"], "pid": proc.pid, "home": str(home)}))
            return ExitStatus.OK
        time.sleep(0.05)
    proc.terminate()
    typer.echo("lambdactl: the server did not come up within 20 s", err=True)
    return ExitStatus.OTHER
