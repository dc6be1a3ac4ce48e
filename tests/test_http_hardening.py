"""`lambdactl serve` against hostile HTTP: raw-socket clients for request smuggling, header floods,
slow heads and bodies, descriptor exhaustion, foreign Host and Origin headers, body caps per
operation, thousands of idle connections, malformed function URL responses, and a fuzzer."""

from __future__ import annotations

import json
import resource
import signal
import socket
import subprocess
import time
from pathlib import Path

import hypothesis
import hypothesis.strategies as st
import pytest

from lambdactl.httpwire import Conn
from lambdactl.settings import load_config, write_config

from .conftest import start_server
from .helpers import ROLE, console_script, make_zip, run_cli

HEALTH = "/lambdactl/health"


def configure(home: Path, **server: object) -> None:
    config = load_config(home)
    config.setdefault("server", {}).update(server)
    write_config(home, config)


def port_of(server: dict) -> int:
    return int(server["url"].rsplit(":", 1)[1])


def read_response(sock: socket.socket) -> tuple[int, dict[str, str], bytes] | None:
    """The next response on `sock`, or None when the server closed without one."""
    conn = Conn(sock)
    try:
        head = conn.read_head()
    except ConnectionResetError:
        return None
    if head is None:
        return None
    first, _, rest = head.partition(b"\r\n")
    assert first.startswith(b"HTTP/1.1 "), first
    headers: dict[str, str] = {}
    for line in rest.decode("latin-1").split("\r\n") if rest else ():
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    body, _ = conn.read_body(int(headers.get("content-length", "0")), 1 << 30)
    return int(first.split(b" ")[1]), headers, body


def raw(port: int, data: bytes, timeout: float = 15) -> tuple[int, dict[str, str], bytes] | None:
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def closed_by_server(sock: socket.socket) -> bool:
    """Whether the server has closed `sock` (reads to the end, dropping any answer)."""
    try:
        while sock.recv(65536):
            pass
    except ConnectionResetError:
        pass
    return True


def head(port: int, *lines: str, method: str = "GET", target: str = HEALTH, host: str | None = None) -> bytes:
    first = [f"{method} {target} HTTP/1.1", f"Host: {host if host is not None else f'127.0.0.1:{port}'}"]
    return ("\r\n".join([*first, *lines]) + "\r\n\r\n").encode("latin-1")


@pytest.fixture
def quick_server(home: Path):
    """A server with short timeouts, so slow clients are cut off within a test's patience."""
    configure(home, header_timeout_s=0.5, keepalive_timeout_s=1.0, body_timeout_s=0.5)
    yield from start_server(home)


# ---------------------------------------------------------------------------------------------
# Smuggling and malformed heads


SMUGGLING = {
    "cl-and-te": ["Content-Length: 5", "Transfer-Encoding: chunked"],
    "te-not-chunked-last": ["Transfer-Encoding: chunked, identity"],
    "te-gzip": ["Transfer-Encoding: gzip"],
    "cl-negative": ["Content-Length: -1"],
    "cl-signed": ["Content-Length: +0"],
    "cl-hex": ["Content-Length: 0x0"],
    "cl-list-differs": ["Content-Length: 0, 1"],
    "cl-repeated-differs": ["Content-Length: 0", "Content-Length: 1"],
    "space-before-colon": ["Content-Length : 0"],
    "obs-fold": ["X-One: a", " folded"],
    "bad-name": ["X(One): a"],
    "bare-lf": ["X-One: a\nX-Two: b"],
    "bare-cr": ["X-One: a\rb"],
    "nul-in-value": ["X-One: a\x00b"],
    "two-hosts": ["Host: evil.example"],
}


@pytest.mark.parametrize("lines", list(SMUGGLING.values()), ids=list(SMUGGLING))
def test_ambiguous_or_malformed_heads_are_400(server, lines: list[str]) -> None:
    port = port_of(server)
    answer = raw(port, head(port, *lines) + b"0\r\n\r\n")
    assert answer is not None and answer[0] == 400, answer


@pytest.mark.parametrize("size_line", [b"zz", b"0x0", b"-1", b"+0", b" 0", b"1;\x00"])
def test_bad_chunk_sizes_are_400(server, size_line: bytes) -> None:
    port = port_of(server)
    answer = raw(port, head(port, "Transfer-Encoding: chunked", method="POST") + size_line + b"\r\n\r\n")
    assert answer is not None and answer[0] == 400, answer
    answer = raw(port, head(port, "Transfer-Encoding: chunked", method="POST") + b"0\r\n\r\n")
    assert answer is not None and answer[0] == 200, answer


def test_request_without_host_and_bad_request_lines_are_400(server) -> None:
    port = port_of(server)
    for data in (b"GET /lambdactl/health HTTP/1.1\r\n\r\n", b"GET  /lambdactl/health HTTP/1.1\r\nHost: x\r\n\r\n",
                 b"GET /lambdactl/health HTTP/2.0\r\nHost: x\r\n\r\n", b"\x16\x03\x01\x00\xa5\x01\x00\x00\r\n\r\n"):
        answer = raw(port, data)
        assert answer is not None and answer[0] == 400, (data, answer)


def test_chunked_body_is_read_and_its_trailers_checked(server) -> None:
    port = port_of(server)
    body = b'{"Tags": {"a": "1"}}'
    data = head(port, "Transfer-Encoding: chunked", "Content-Type: application/json", method="POST",
                target="/2017-03-31/tags/arn:aws:lambda:us-east-1:123456789012:function:none")
    data += b"5;ext=1\r\n" + body[:5] + b"\r\n" + f"{len(body) - 5:x}".encode() + b"\r\n" + body[5:] + b"\r\n0\r\n"
    answer = raw(port, data + b"\r\n")
    assert answer is not None and answer[0] == 404 and b"Function not found" in answer[2], answer
    answer = raw(port, data + b"X-Trailer : folded\r\n\r\n")  # a malformed trailer
    assert answer is not None and answer[0] == 400, answer


# ---------------------------------------------------------------------------------------------
# Header floods


def test_chunk_lines_ended_by_a_bare_lf_are_400_at_once(quick_server) -> None:
    port = port_of(quick_server)
    post = head(port, "Transfer-Encoding: chunked", method="POST")
    for tail in (b"0\n\n", b"2\n{}\r\n0\r\n\r\n", b"0\r\nX-T: 1\n\r\n"):
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(post + tail)  # and wait: the client has sent all it means to
            answer = read_response(sock)
            assert answer is not None and answer[0] == 400, (tail, answer)


def test_too_many_headers_is_431(server) -> None:
    port = port_of(server)
    answer = raw(port, head(port, *(f"X-H{i}: v" for i in range(101))))
    assert answer is not None and answer[0] == 431


def test_oversized_head_is_431(server) -> None:
    port = port_of(server)
    answer = raw(port, head(port, "X-Big: " + "a" * 17_000))
    assert answer is not None and answer[0] == 431


def test_a_flood_of_one_repeated_header_is_refused_whole(server) -> None:
    # Once joined in quadratic time (seconds of CPU); now refused at the head's size cap, and the
    # server answers the next client.
    port = port_of(server)
    answer = raw(port, head(port, *["X-A: " + "b" * 30] * 40_000))
    assert answer is not None and answer[0] == 431
    answer = raw(port, head(port, *["X-A: b"] * 99))
    assert answer is not None and answer[0] == 200


# ---------------------------------------------------------------------------------------------
# Slow clients


def test_slowloris_head_is_cut_off(quick_server) -> None:
    port = port_of(quick_server)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(f"GET {HEALTH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode())
        closed = False
        for _ in range(50):  # a header line every 0.1 s, for up to 5 s
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.1)
            try:
                if sock.recv(65536) == b"":
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed, "the server kept a dribbling head open"


def test_silent_and_idle_connections_are_closed(quick_server) -> None:
    port = port_of(quick_server)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as silent, \
            socket.create_connection(("127.0.0.1", port), timeout=10) as idle:
        idle.sendall(head(port))
        answer = read_response(idle)
        assert answer is not None and answer[0] == 200
        assert closed_by_server(silent) and idle.recv(1) == b""  # within the socket's 10 s


def test_slow_body_is_cut_off(quick_server) -> None:
    port = port_of(quick_server)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head(port, "Content-Length: 100", method="POST", target="/2015-03-31/functions"))
        closed = False
        for _ in range(50):
            try:
                sock.sendall(b" ")
            except (BrokenPipeError, ConnectionResetError):
                closed = True
                break
            sock.settimeout(0.1)
            try:
                data = sock.recv(65536)
                if data == b"" or data.startswith(b"HTTP/1.1 408"):
                    closed = True
                    break
            except TimeoutError:
                pass
        assert closed, "the server kept waiting for a dribbling body"


# ---------------------------------------------------------------------------------------------
# Descriptors and connection counts


def test_running_out_of_descriptors_pauses_accepting_only(home: Path) -> None:
    configure(home, max_connections=1000)  # more than the descriptors: accept() itself fails
    errors = home / "server.stderr"

    def low_limit() -> None:
        resource.setrlimit(resource.RLIMIT_NOFILE, (96, 96))

    proc = subprocess.Popen([console_script(), "serve", "--port", "0", "--home", str(home)], stdout=subprocess.PIPE,
                            stderr=open(errors, "wb"), text=True, preexec_fn=low_limit)  # noqa: SIM115
    try:
        assert proc.stdout is not None
        port = port_of(json.loads(proc.stdout.readline()))
        hogs = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(150)]
        time.sleep(0.5)
        assert proc.poll() is None
        for s in hogs:
            s.close()
        answer = raw(port, head(port), timeout=20)  # answered once descriptors are free again
        assert answer is not None and answer[0] == 200
        assert proc.poll() is None
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)


def test_thousands_of_idle_connections_cost_no_threads(server) -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = 5_300
    if hard != resource.RLIM_INFINITY and hard < want:
        pytest.skip(f"RLIMIT_NOFILE hard limit {hard} < {want}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, want), hard))
    port = port_of(server)
    idle: list[socket.socket] = []
    try:
        for i in range(5_000):
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            if i % 50 == 0:  # some keep-alive connections that already made a request
                s.sendall(head(port))
                assert read_response(s) is not None
            idle.append(s)
        answer = raw(port, head(port))
        assert answer is not None and answer[0] == 200
        status = Path(f"/proc/{server['pid']}/status").read_text()
        threads = int(status.split("Threads:", 1)[1].split()[0])
        assert threads < 200, f"{threads} threads for 5,000 idle connections"
        idle[0].sendall(head(port))  # the idle ones are still served
        assert (read_response(idle[0]) or (0,))[0] == 200
    finally:
        for s in idle:
            s.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def test_at_the_cap_the_longest_idle_connection_makes_room(home: Path) -> None:
    configure(home, max_connections=3)
    gen = start_server(home)
    server = next(gen)
    try:
        port = port_of(server)
        oldest = socket.create_connection(("127.0.0.1", port), timeout=10)
        others = [socket.create_connection(("127.0.0.1", port), timeout=10) for _ in range(2)]
        time.sleep(0.2)
        answer = raw(port, head(port))  # the fourth: admitted, the oldest idle one closed
        assert answer is not None and answer[0] == 200
        assert closed_by_server(oldest)
        for s in [oldest, *others]:
            s.close()
    finally:
        next(gen, None)  # stops the server


def test_a_client_that_drains_answers_at_a_trickle_is_closed_and_holds_no_slot(home: Path) -> None:
    import threading

    configure(home, max_connections=1, body_timeout_s=1)
    gen = start_server(home)
    server = next(gen)
    try:
        port = port_of(server)
        # Pipelined requests whose answers (404s naming the long path) add up to more than the
        # socket buffers hold, read 2 KB at a time: every send makes a little progress.
        request = head(port, target="/x/" + "a" * 8000)
        slow = socket.socket()
        slow.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 2048)
        slow.connect(("127.0.0.1", port))

        def flood() -> None:
            try:
                slow.sendall(request * 2000)
            except OSError:
                pass

        threading.Thread(target=flood, daemon=True).start()
        slow.settimeout(0.25)
        closed = False
        try:
            for _ in range(60):  # 15 s
                try:
                    if slow.recv(2048) == b"":
                        closed = True
                        break
                except TimeoutError:
                    pass
                time.sleep(0.25)
        except ConnectionResetError:
            closed = True
        answer = raw(port, head(port), timeout=5)  # the one connection slot is free again
        slow.close()
        assert closed, "a connection draining answers at 8 KB/s was kept open"
        assert answer is not None and answer[0] == 200
    finally:
        next(gen, None)


def test_a_long_pipeline_is_answered_whole_and_in_order(server) -> None:
    port = port_of(server)  # served in turns, requeued behind other connections between them
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(b"".join(head(port, target=f"/lambdactl/nothing-{i}") for i in range(300)) + head(port))
        conn = Conn(sock)
        for i in range(301):
            answer = conn.read_head()
            assert answer is not None and answer.startswith(b"HTTP/1.1 404 " if i < 300 else b"HTTP/1.1 200 "), i
            length = int(answer.lower().split(b"content-length: ", 1)[1].split(b"\r\n", 1)[0])
            conn.read_body(length, length)


# ---------------------------------------------------------------------------------------------
# Browsers and remote hosts


@pytest.mark.parametrize("host", ["evil.example", "evil.example:{port}", "127.0.0.1:1", "localhost.evil.example:{port}",
                                  "0123456789abcdef0123456789abcdef.lambda-url.us-east-1.evil.example:{port}", ""])
def test_foreign_host_names_are_refused(server, host: str) -> None:
    port = port_of(server)
    for target in (HEALTH, "/2015-03-31/functions"):
        answer = raw(port, head(port, host=host.format(port=port), target=target))
        assert answer is not None and answer[0] == 403 and b"is not served here" in answer[2], (host, answer)
    for served in ("127.0.0.1:{port}", "localhost:{port}", "localhost", "127.0.0.1", "LOCALHOST:{port}"):
        answer = raw(port, head(port, host=served.format(port=port)))
        assert answer is not None and answer[0] == 200, served


def test_foreign_origin_is_refused_on_the_control_plane(lam, server, home: Path) -> None:
    assert lam.list_functions()["Functions"] == []  # botocore sends no Origin
    result = run_cli("list-functions", home=home)  # nor does the CLI's client
    assert result.code == 0 and result.json == {"Functions": []}
    port = port_of(server)
    for origin in ("http://evil.example", "null", f"http://127.0.0.1:{port + 1}"):
        answer = raw(port, head(port, f"Origin: {origin}", target="/2015-03-31/functions"))
        assert answer is not None and answer[0] == 403, (origin, answer)
        assert answer[1]["x-amzn-errortype"] == "AccessDeniedException"
    answer = raw(port, head(port, f"Origin: http://127.0.0.1:{port}", target="/2015-03-31/functions"))
    assert answer is not None and answer[0] == 200


def test_non_loopback_host_needs_require_auth(home: Path) -> None:
    result = run_cli("serve", "--host", "0.0.0.0", "--port", "0", home=home, timeout=30)
    assert result.code == 252 and "--require-auth" in result.stderr
    result = run_cli("serve", "--host", "0.0.0.0", "--port", "0", "--detach", home=home, timeout=30)
    assert result.code == 252 and not (home / "server.json").exists()


# ---------------------------------------------------------------------------------------------
# Body caps per operation


@pytest.mark.parametrize("method,target,length,code", [
    ("POST", "/2015-03-31/functions/f/invocations", 6_291_457, "RequestTooLargeException"),
    ("POST", "/2015-03-31/functions", 70_167_212, "RequestEntityTooLargeException"),
    ("PUT", "/2015-03-31/functions/f/code", 70_167_212, "RequestEntityTooLargeException"),
    ("POST", "/2018-10-31/layers/l/versions", 70_167_212, "RequestEntityTooLargeException"),
    ("POST", "/2017-03-31/tags/arn:aws:lambda:us-east-1:123456789012:function:f", 1_048_577, "RequestEntityTooLargeException"),
    ("PUT", "/2015-03-31/functions/f/configuration", 1_048_577, "RequestEntityTooLargeException"),
])
def test_over_cap_bodies_are_refused_unread(server, method: str, target: str, length: int, code: str) -> None:
    port = port_of(server)
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head(port, f"Content-Length: {length}", method=method, target=target))  # and no body
        answer = read_response(sock)
        assert answer is not None and answer[0] == 413, answer
        assert answer[1]["x-amzn-errortype"] == code and str(length - 1) in answer[2].decode()
        assert closed_by_server(sock)


def test_chunked_body_over_cap_is_refused(server) -> None:
    port = port_of(server)
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head(port, "Transfer-Encoding: chunked", method="PUT", target="/2015-03-31/functions/f/configuration"))
        sock.sendall(b"100000\r\n" + b" " * 0x100000 + b"\r\n" + b"1\r\n \r\n")
        answer = read_response(sock)
        assert answer is not None and answer[0] == 413
    body = b"x" * 2_000_000  # over the 1 MB of other operations, under CreateFunction's cap: read
    answer = raw(port, head(port, f"Content-Length: {len(body)}", method="POST", target="/2015-03-31/functions") + body)
    assert answer is not None and answer[0] == 400 and answer[1]["x-amzn-errortype"] == "InvalidRequestContentException"


def test_expect_continue_is_answered_only_under_the_cap(server) -> None:
    port = port_of(server)
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head(port, "Content-Length: 6291457", "Expect: 100-continue", method="POST",
                          target="/2015-03-31/functions/f/invocations"))
        answer = read_response(sock)
        assert answer is not None and answer[0] == 413
    with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
        sock.sendall(head(port, "Content-Length: 2", "Expect: 100-continue", method="POST",
                          target="/2015-03-31/functions/none/invocations"))
        assert sock.recv(65536).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(b"{}")
        answer = read_response(sock)
        assert answer is not None and answer[0] == 404


# ---------------------------------------------------------------------------------------------
# Function URL responses

URL_HANDLER = r'''
def handler(event, context):
    path = event["rawPath"]
    if path == "/framing":
        return {"statusCode": 200, "headers": {"Content-Length": "999", "Transfer-Encoding": "chunked",
                                               "Connection": "close", "X-Ok": "1"}, "body": "hello"}
    if path == "/nul":
        return {"statusCode": 200, "headers": {"X-Bad": "a\u0000b"}, "body": "x"}
    if path == "/name":
        return {"statusCode": 200, "headers": {"Bad Name": "v"}, "body": "x"}
    if path == "/multi":
        return {"statusCode": 200, "multiValueHeaders": {"X-M": ["ok", "b\rc"]}, "body": "x"}
    if path == "/latin":
        return {"statusCode": 200, "headers": {"X-U": "\u2028"}, "body": "x"}
    if path.startswith("/status/"):  # a body that is a whole forged answer of its own
        return {"statusCode": int(path[8:]), "headers": {"Upgrade": "websocket"},
                "body": "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nforged"}
    return {"statusCode": 200, "body": "plain"}
'''


def test_function_url_response_headers_are_sanitised(lam, server) -> None:
    from urllib.parse import urlsplit

    lam.create_function(FunctionName="web", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Code={"ZipFile": make_zip({"app.py": URL_HANDLER})})
    lam.get_waiter("function_active_v2").wait(FunctionName="web")
    url = lam.create_function_url_config(FunctionName="web", AuthType="NONE")["FunctionUrl"]
    lam.add_permission(FunctionName="web", StatementId="url", Action="lambda:InvokeFunctionUrl", Principal="*",
                       FunctionUrlAuthType="NONE")
    lam.add_permission(FunctionName="web", StatementId="invoke", Action="lambda:InvokeFunction", Principal="*",
                       InvokedViaFunctionUrl=True)
    netloc = urlsplit(url).netloc
    port = port_of(server)
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        sock.sendall(head(port, host=netloc, target="/framing"))
        answer = read_response(sock)
        assert answer is not None and answer[:1] == (200,) and answer[2] == b"hello"
        assert answer[1]["content-length"] == "5" and "transfer-encoding" not in answer[1]
        assert answer[1]["x-ok"] == "1" and answer[1].get("connection") != "close"
        for path in ("/nul", "/name", "/multi", "/latin", "/status/100", "/status/101", "/status/199"):
            sock.sendall(head(port, host=netloc, target=path))  # the same connection stays in step
            answer = read_response(sock)
            assert answer is not None and answer[0] == 502, (path, answer)
        for status in (204, 304):  # no body, so nothing a client could take for the next answer
            sock.sendall(head(port, host=netloc, target=f"/status/{status}") + head(port, host=netloc, target="/"))
            answer = read_response(sock)
            assert answer is not None and answer[0] == status and "content-length" not in answer[1], answer
            answer = read_response(sock)
            assert answer is not None and answer[:1] == (200,) and answer[2] == b"plain", answer
    # By path, the URL shares the control plane's origin: its pages are sandboxed to an opaque one.
    by_path = raw(port, head(port, target=f"/lambdactl/url/{netloc.split('.', 1)[0]}/"))
    assert by_path is not None and by_path[:1] == (200,) and by_path[2] == b"plain"
    assert by_path[1]["content-security-policy"].startswith("sandbox ")
    assert "allow-same-origin" not in by_path[1]["content-security-policy"]
    by_host = raw(port, head(port, host=netloc, target="/"))
    assert by_host is not None and "content-security-policy" not in by_host[1]
    # A function URL name under a foreign domain is refused before any lookup.
    foreign = netloc.replace("localhost", "evil.example")
    answer = raw(port, head(port, host=foreign, target="/framing"))
    assert answer is not None and answer[0] == 403


# ---------------------------------------------------------------------------------------------
# Fuzzing the parser through a real server


VALID = [
    b"GET /lambdactl/health HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\n\r\n",
    b"GET /2015-03-31/functions?MaxItems=1 HTTP/1.1\r\nHost: localhost:PORT\r\nConnection: close\r\n\r\n",
    b"POST /2015-03-31/functions/f/invocations HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nContent-Length: 2\r\n\r\n{}",
    b"POST /2017-03-31/tags/x HTTP/1.1\r\nHost: 127.0.0.1:PORT\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(VALID)))
    for _ in range(draw(st.integers(1, 4))):
        at = draw(st.integers(0, len(data)))
        kind = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.sampled_from([b"\r", b"\n", b"\r\n", b" ", b":", b"\x00", b",", b"-1", b"chunked", b"\t", b"0", b"\xff"])
                     | st.binary(min_size=1, max_size=4))
        if kind == "insert":
            data[at:at] = piece
        elif kind == "delete":
            del data[at:at + len(piece)]
        else:
            data[at:at + len(piece)] = piece
    return bytes(data)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory):
    home = tmp_path_factory.mktemp("fuzz") / "home"
    home.mkdir()
    configure(home, header_timeout_s=1.0, body_timeout_s=1.0)
    yield from start_server(home)


def _answer_of(port: int, data: bytes) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        try:
            sock.sendall(data.replace(b"PORT", str(port).encode()))
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            pass
        out = bytearray()
        try:
            while chunk := sock.recv(65536):
                out += chunk
        except ConnectionResetError:
            pass
        return bytes(out)


@hypothesis.settings(max_examples=150, deadline=None, suppress_health_check=list(hypothesis.HealthCheck))
@hypothesis.given(data=st.one_of(st.binary(max_size=600), mutated()))
def test_fuzzed_requests_get_4xx_or_success(fuzz_server, data: bytes) -> None:
    out = _answer_of(port_of(fuzz_server), data)
    if b"\r\n\r\n" in data.lstrip(b"\r\n"):  # a whole head is answered, never dropped silently
        assert out, data
    if out:
        assert out.startswith(b"HTTP/1.1 "), out[:80]
        status = int(out[9:12])
        assert 100 <= status < 500, out[:300]
        assert b"\r\n\r\n" in out
    port = port_of(fuzz_server)  # and the server still answers
    answer = raw(port, head(port))
    assert answer is not None and answer[0] == 200
    assert fuzz_server["proc"].poll() is None


@hypothesis.settings(max_examples=300, deadline=None)
@hypothesis.given(data=st.one_of(st.binary(max_size=400), mutated()))
def test_parser_refuses_or_parses_but_never_crashes(data: bytes) -> None:
    from lambdactl.httpwire import BadRequest, body_length, parse_head

    head_bytes = data.split(b"\r\n\r\n", 1)[0]
    try:
        req = parse_head(head_bytes)
        n = body_length(req)
    except BadRequest as exc:
        assert exc.status in (400, 431)
        return
    assert n is None or n >= 0
    for name, value in req.headers.items():
        assert name == name.lower() and "\r" not in value and "\n" not in value and "\x00" not in value


@hypothesis.settings(max_examples=200, deadline=None)
@hypothesis.given(fields=st.lists(st.tuples(st.from_regex(r"[A-Za-z0-9!#$%&'*+.^_`|~-]{1,12}", fullmatch=True),
                                            st.from_regex(r"[\x21-\x7e]([\x20-\x7e]{0,20}[\x21-\x7e])?", fullmatch=True)),
                                  max_size=20))
def test_parser_reads_back_valid_fields(fields: list[tuple[str, str]]) -> None:
    from lambdactl.httpwire import BadRequest, parse_head

    lines = [f"{k}: {v}" for k, v in fields if k.lower() != "host"]
    req = parse_head("\r\n".join(["GET / HTTP/1.1", "Host: x", *lines]).encode())
    expected: dict[str, list[str]] = {}
    for k, v in fields:
        if k.lower() != "host":
            expected.setdefault(k.lower(), []).append(v)
    assert {k: v for k, v in req.headers.items() if k != "host"} == {k: ",".join(v) for k, v in expected.items()}
    if lines:  # the same head with whitespace before one colon is refused
        lines[-1] = lines[-1].replace(":", " :", 1)
        with pytest.raises(BadRequest):
            parse_head("\r\n".join(["GET / HTTP/1.1", "Host: x", *lines]).encode())


# ---------------------------------------------------------------------------------------------
# Signatures are checked from the head, before a body is read


def test_bad_signature_is_refused_before_the_body(auth_server) -> None:
    from .conftest import ACCESS_KEY

    port = port_of(auth_server)
    target = "/2015-03-31/functions"
    auth = ("Authorization: AWS4-HMAC-SHA256 Credential={key}/20261205/us-east-1/lambda/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=" + "0" * 64)
    date = "X-Amz-Date: " + time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
    cases = [
        ([], "MissingAuthenticationTokenException"),
        ([auth.format(key="AKIDUNKNOWN"), date], "UnrecognizedClientException"),
        ([auth.format(key=ACCESS_KEY), date, "X-Amz-Content-SHA256: " + "a" * 64], "InvalidSignatureException"),
    ]
    for lines, code in cases:
        with socket.create_connection(("127.0.0.1", port), timeout=15) as sock:
            sock.sendall(head(port, *lines, "Content-Length: 50000000", method="POST", target=target))  # no body
            answer = read_response(sock)
            assert answer is not None and answer[0] == 403 and answer[1]["x-amzn-errortype"] == code, answer


def test_header_signatures_over_unsigned_payload_are_refused(auth_server) -> None:
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    from .conftest import ACCESS_KEY, SECRET_KEY

    port = port_of(auth_server)
    for declared, expected in (("UNSIGNED-PAYLOAD", 403), (None, 200)):
        signed = AWSRequest(method="GET", url=f"http://127.0.0.1:{port}/2015-03-31/functions", data=b"{}",
                            headers={"X-Amz-Content-Sha256": declared} if declared else {})
        SigV4Auth(Credentials(ACCESS_KEY, SECRET_KEY), "lambda", "us-east-1").add_auth(signed)
        lines = [f"{k}: {v}" for k, v in signed.headers.items() if k.lower() != "content-length"]
        # UNSIGNED-PAYLOAD would let any body ride on this signature: refused from the head.
        answer = raw(port, head(port, *lines, "Content-Length: 2", target="/2015-03-31/functions") + b"{}")
        assert answer is not None and answer[0] == expected, (declared, answer)
        if expected == 403:
            assert answer[1]["x-amzn-errortype"] == "InvalidSignatureException"


# ---------------------------------------------------------------------------------------------
# The Runtime API of an environment has the same kind of limits


def test_runtime_api_caps_connections_and_slow_heads(monkeypatch: pytest.MonkeyPatch) -> None:
    from lambdactl.runtime import api

    monkeypatch.setattr(api, "HEAD_TIMEOUT_S", 0.5)
    rapi = api.RuntimeAPI()
    conns: list[socket.socket] = []
    try:
        conns = [socket.create_connection(("127.0.0.1", rapi.port), timeout=10) for _ in range(api.MAX_CONNECTIONS + 1)]
        assert closed_by_server(conns[-1])  # one too many
        first = conns[0]
        first.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n")  # and no end
        assert closed_by_server(first)  # within the socket's 10 s: the head timeout cut it off
        with socket.create_connection(("127.0.0.1", rapi.port), timeout=10) as again:  # room again
            again.sendall(b"GET /2018-06-01/runtime/nothing HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = read_response(again)
            assert answer is not None and answer[0] == 404
        with socket.create_connection(("127.0.0.1", rapi.port), timeout=10) as bad:
            bad.sendall(b"POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n")
            assert closed_by_server(bad) and rapi.init_error is None
    finally:
        for s in conns:
            s.close()
        rapi.close()
