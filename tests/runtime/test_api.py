"""The Runtime API server on the wire: status codes, headers, keep-alive, chunked bodies."""

from __future__ import annotations

import http.client
import json
import socket
import threading
import time

import pytest

from lambdactl.runtime.api import Invocation, RuntimeAPI


@pytest.fixture
def api():
    server = RuntimeAPI(max_response_bytes=1000)
    yield server
    server.close()


def invocation(**kw) -> Invocation:
    base = {"payload": b'{"x": 1}', "deadline_ms": 1_900_000_000_000,
            "invoked_function_arn": "arn:aws:lambda:us-east-1:123456789012:function:f"}
    base.update(kw)
    return Invocation(**base)


def conn(api: RuntimeAPI) -> http.client.HTTPConnection:
    return http.client.HTTPConnection(api.address, timeout=5)


def get_next(c: http.client.HTTPConnection) -> http.client.HTTPResponse:
    c.request("GET", "/2018-06-01/runtime/invocation/next")
    return c.getresponse()


def test_address_is_loopback_with_own_port():
    a, b = RuntimeAPI(), RuntimeAPI()
    try:
        assert a.address.startswith("127.0.0.1:") and a.port != b.port
    finally:
        a.close()
        b.close()


@pytest.mark.parametrize("field", ["client_context", "cognito_identity", "invoked_function_arn"])
@pytest.mark.parametrize("bad", ["\r\n\r\nX", "a\nb", "a\0b"])
def test_header_values_with_cr_lf_nul_are_refused(api, field, bad):
    with pytest.raises(ValueError):
        api.post(invocation(**{field: "{}" + bad}))
    api.post(invocation())  # nothing was left half-posted


def test_next_blocks_until_posted_then_hands_headers(api):
    inv = invocation(client_context='{"custom":{}}')
    c = conn(api)
    result = {}

    def poll():
        r = get_next(c)
        result["r"], result["body"] = r, r.read()

    t = threading.Thread(target=poll)
    t.start()
    assert api.init_done.wait(2)  # the first `next` ends INIT
    time.sleep(0.05)
    assert "r" not in result  # long poll: nothing posted yet
    api.post(inv)
    t.join(2)
    r = result["r"]
    assert r.status == 200 and result["body"] == b'{"x": 1}'
    assert r.getheader("Lambda-Runtime-Aws-Request-Id") == inv.request_id
    assert r.getheader("Lambda-Runtime-Deadline-Ms") == "1900000000000"
    assert r.getheader("Lambda-Runtime-Invoked-Function-Arn").endswith(":function:f")
    assert r.getheader("Lambda-Runtime-Trace-Id").startswith("Root=1-")
    assert r.getheader("Lambda-Runtime-Client-Context") == '{"custom":{}}'
    assert r.getheader("Lambda-Runtime-Cognito-Identity") is None
    assert r.getheader("Content-Type") == "application/json"
    # request ids are uuid4: unguessable
    assert len(inv.request_id) == 36 and inv.request_id[14] == "4"


def test_response_then_keepalive_and_sequence_rules(api):
    c = conn(api)
    inv = invocation()
    api.post(inv)
    r = get_next(c)
    r.read()
    # a second `next` while the first is unanswered is out of sequence
    c2 = conn(api)
    r2 = get_next(c2)
    assert r2.status == 403 and json.loads(r2.read())["errorType"] == "InvalidStateTransition"
    c.request("POST", "/2018-06-01/runtime/invocation/not-the-id/response", b"{}")
    bad = c.getresponse()
    assert bad.status == 400 and json.loads(bad.read())["errorType"] == "InvalidRequestID"
    c.request("POST", f"/2018-06-01/runtime/invocation/{inv.request_id}/response", b'"ok"')
    ok = c.getresponse()
    assert ok.status == 202 and json.loads(ok.read()) == {"status": "OK"}
    assert inv.done.is_set() and inv.kind == "response" and inv.body == b'"ok"'
    # answering twice is refused
    c.request("POST", f"/2018-06-01/runtime/invocation/{inv.request_id}/response", b'"again"')
    again = c.getresponse()
    assert again.status == 400
    again.read()
    # init/error after INIT is over is out of sequence
    c.request("POST", "/2018-06-01/runtime/init/error", b"{}")
    late = c.getresponse()
    assert late.status == 403
    late.read()
    c.request("GET", "/2018-06-01/runtime/nope")
    nf = c.getresponse()
    assert nf.status == 404
    nf.read()


def test_error_with_any_body_and_type_header(api):
    c = conn(api)
    inv = invocation()
    api.post(inv)
    get_next(c).read()
    c.request("POST", f"/2018-06-01/runtime/invocation/{inv.request_id}/error", b"\xff\x00 not json",
              {"Lambda-Runtime-Function-Error-Type": "Custom.Thing"})
    r = c.getresponse()
    assert r.status == 202
    r.read()
    assert inv.kind == "error" and inv.body == b"\xff\x00 not json" and inv.error_type == "Custom.Thing"


def test_oversized_response_is_413_and_marks_invocation(api):
    c = conn(api)
    inv = invocation()
    api.post(inv)
    get_next(c).read()
    c.request("POST", f"/2018-06-01/runtime/invocation/{inv.request_id}/response", b"x" * 5000)
    r = c.getresponse()
    assert r.status == 413
    assert json.loads(r.read())["errorType"] == "RequestEntityTooLarge"
    assert inv.kind == "too_large"
    # the connection is still usable afterwards (the body was drained)
    inv2 = invocation()
    api.post(inv2)
    assert get_next(c).getheader("Lambda-Runtime-Aws-Request-Id") == inv2.request_id


def test_chunked_request_body(api):
    inv = invocation()
    api.post(inv)
    s = socket.create_connection(("127.0.0.1", api.port))
    s.sendall(b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while b'{"x": 1}' not in data:
        data += s.recv(4096)
    s.sendall(f"POST /2018-06-01/runtime/invocation/{inv.request_id}/response HTTP/1.1\r\n"
              "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n".encode()
              + b"5\r\nhello\r\n6;ext=1\r\n world\r\n0\r\nX-Trailer: 1\r\n\r\n")
    resp = b""
    while b"\r\n\r\n" not in resp or not resp.endswith(b"}"):
        resp += s.recv(4096)
    assert resp.startswith(b"HTTP/1.1 202")
    assert inv.body == b"hello world"
    s.close()


def test_init_error_is_202_exactly(api):
    c = conn(api)
    c.request("POST", "/2018-06-01/runtime/init/error", b'{"errorType":"X","errorMessage":"m"}',
              {"Lambda-Runtime-Function-Error-Type": "Runtime.X"})
    r = c.getresponse()
    assert r.status == 202
    r.read()
    assert api.init_error == (b'{"errorType":"X","errorMessage":"m"}', "Runtime.X")


def test_close_releases_waiting_next(api):
    c = conn(api)
    done = threading.Event()

    def poll():
        try:
            get_next(c).read()
        except (OSError, http.client.HTTPException):
            pass
        done.set()

    threading.Thread(target=poll, daemon=True).start()
    api.init_done.wait(2)
    api.close()
    assert done.wait(2)


def test_server_side_round_trip_is_fast(api):
    """Event handed out -> response accepted, measured over many keep-alive round trips."""
    c = conn(api)
    n = 500
    t0 = time.perf_counter()
    for _ in range(n):
        inv = invocation()
        api.post(inv)
        get_next(c).read()
        c.request("POST", f"/2018-06-01/runtime/invocation/{inv.request_id}/response", b"1")
        c.getresponse().read()
        assert inv.done.is_set()
    per_ms = (time.perf_counter() - t0) * 1000 / n
    assert per_ms < 2.0, f"{per_ms:.3f} ms per round trip (client included)"

