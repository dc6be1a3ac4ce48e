"""`lambdactl serve` says what it does: a start-up line and one access-log line per request on
stderr (off with --quiet), and in the log file of a detached server."""

from __future__ import annotations

import http.client
import re
import time
from pathlib import Path
from urllib.parse import urlsplit

from .conftest import start_server
from .helpers import make_zip, run_cli

ACCESS = re.compile(r"^(\S+) (\S+) (\S+) (\d{3}) (\d+\.\d)ms$", re.M)


def _lines_when(path: Path, done, wait_s: float = 20.0) -> str:  # type: ignore[no-untyped-def]
    """The file's text once `done(text)` holds (the writer thread runs a moment after the answer)."""
    deadline = time.monotonic() + wait_s
    text = ""
    while time.monotonic() < deadline:
        text = path.read_text(errors="replace") if path.exists() else ""
        if done(text):
            break
        time.sleep(0.05)
    return text


def _request(url: str, method: str, path: str, body: bytes | None = None) -> int:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    conn.request(method, path, body=body)
    status = conn.getresponse().status
    conn.close()
    return status


def _create(home: Path, tmp_path: Path) -> None:
    zip_file = tmp_path / "f.zip"
    zip_file.write_bytes(make_zip())
    r = run_cli("create-function", "--function-name", "f", "--runtime", "python3.12", "--handler", "app.handler",
                "--role", "arn:aws:iam::123456789012:role/lambda", "--zip-file", f"fileb://{zip_file}", home=home)
    assert r.code == 0, r.stderr


def test_start_up_line_and_access_log(home: Path, tmp_path: Path) -> None:
    for info in start_server(home):
        errors = home / "server.stderr"
        start = _lines_when(errors, lambda t: "listening on" in t)
        assert re.search(rf"^lambdactl serve: listening on {re.escape(info['url'])} \(home {re.escape(str(home))}, sandbox (bubblewrap|fallback)\)$",
                         start, re.M), start
        _create(home, tmp_path)
        assert _request(info["url"], "POST", "/2015-03-31/functions/f/invocations", b"{}") == 200
        assert _request(info["url"], "POST", "/2015-03-31/functions/missing/invocations?x=secret", b"{}") == 404
        assert _request(info["url"], "GET", "/2015-03-31/functions/f") == 200
        assert _request(info["url"], "GET", "/no/such/route") == 404
        text = _lines_when(errors, lambda t: "/no/such/route" in t)
        lines = [m.groups()[:4] for m in ACCESS.finditer(text)]
        assert ("POST", "/2015-03-31/functions", "CreateFunction", "201") in lines, text
        assert ("POST", "/2015-03-31/functions/f/invocations", "Invoke", "200") in lines, text
        assert ("POST", "/2015-03-31/functions/missing/invocations", "Invoke", "404") in lines, text
        assert ("GET", "/2015-03-31/functions/f", "GetFunction", "200") in lines, text
        assert ("GET", "/no/such/route", "-", "404") in lines, text
        assert "secret" not in text  # the query is not logged


def test_quiet_keeps_the_start_up_line_only(home: Path, tmp_path: Path) -> None:
    for info in start_server(home, "--quiet"):
        errors = home / "server.stderr"
        _create(home, tmp_path)
        assert _request(info["url"], "GET", "/2015-03-31/functions/f") == 200
        assert _request(info["url"], "GET", "/lambdactl/health") == 200
        text = _lines_when(errors, lambda t: "listening on" in t)
    info["proc"].wait(30)
    text = errors.read_text()
    assert "listening on" in text
    assert not ACCESS.search(text), text


def test_detached_server_logs_to_its_file(home: Path, tmp_path: Path) -> None:
    r = run_cli("serve", "--detach", "--port", "0", home=home)
    assert r.code == 0, r.stderr
    try:
        _create(home, tmp_path)
        log = home / "server.log"
        text = _lines_when(log, lambda t: "CreateFunction 201" in t)
        assert "lambdactl serve: listening on" in text
        assert re.search(r"^POST /2015-03-31/functions CreateFunction 201 \d+\.\dms$", text, re.M), text
    finally:
        assert run_cli("serve", "stop", home=home).code == 0


def test_a_detached_servers_log_is_kept_under_its_cap(home: Path) -> None:
    (home / "config.toml").write_text("[server]\nlog_max_mb = 0.004\n")  # ~4 KB
    r = run_cli("serve", "--detach", "--port", "0", home=home)
    assert r.code == 0, r.stderr
    try:
        url = __import__("json").loads(r.stdout)["url"]
        log, old = home / "server.log", home / "server.log.1"
        for _ in range(3):  # three rounds of ~3 KB of lines, each round written before the next
            for _ in range(40):
                assert _request(url, "GET", "/2015-03-31/functions/") == 200
            _lines_when(log, lambda t: t.count("ListFunctions 200") >= 40 or old.exists())
        assert old.exists(), "server.log never rotated"
        assert log.stat().st_size < 8192 and old.stat().st_size < 8192
        assert oct(old.stat().st_mode & 0o777) == oct(log.stat().st_mode & 0o777) == "0o600"
        assert _request(url, "GET", "/2015-03-31/functions/") == 200
        assert "ListFunctions 200" in _lines_when(log, lambda t: "ListFunctions 200" in t)
    finally:
        assert run_cli("serve", "stop", home=home).code == 0


def test_a_detached_server_runs_the_installed_package_not_a_folder_here(home: Path, tmp_path: Path) -> None:
    import os
    import subprocess

    from .helpers import console_script

    decoy = tmp_path / "cwd" / "lambdactl"
    decoy.mkdir(parents=True)
    (decoy / "__init__.py").write_text("")
    (decoy / "__main__.py").write_text("raise SystemExit('the decoy package ran')\n")
    done = subprocess.run([console_script(), "serve", "--detach", "--port", "0", "--home", str(home)],
                          cwd=decoy.parent, capture_output=True, text=True, timeout=60,
                          env={**os.environ, "LAMBDACTL_HOME": str(home)})
    try:
        assert done.returncode == 0, done.stderr + (home / "server.log").read_text(errors="replace")
    finally:
        run_cli("serve", "stop", home=home)
